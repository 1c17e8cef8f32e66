import Crypto
import Fluent
import Foundation
import Logging
import SQLKit

/// Creates a video job: review, price, hold, record, then ask the provider.
///
/// Everything that can refuse a request for free (moderation, the account's limits, the price
/// table, the balance) comes before or inside the hold's transaction, so a refused create
/// leaves no trace but the rate counter.
///
/// The hold and the job row are committed together before the provider is called, so a crash
/// at any point leaves either nothing, or a `submitting` job with its hold open that the
/// reconciler resolves. The provider is called once; a create whose outcome is unknown is
/// never sent again.
struct VideoCreation: Sendable {
    let store: Store
    let provider: any VideoProvider
    let clock: AppClock
    let logger: Logger
    let lifecycle: JobLifecycle
    let moderator: any PromptModerator
    let rateLimiter: RateLimiter
    let limits: AppConfig.AbuseLimits
    let webhookPolicy: WebhookTargetPolicy
    /// Base URL for callbacks and uploaded images, as the provider reaches us.
    let publicBaseURL: String
    /// The creating request's id, kept on the job so its whole life can be found in the logs.
    var requestID: String? = nil

    enum Outcome {
        case created(VideoRecord)
        /// An earlier request with the same `Idempotency-Key` made this job.
        case replayed(VideoJob)
    }

    /// What a create would cost, after every check a create makes before holding credits
    /// (moderation, the price table, the reference image) except the rate limit.
    struct Quote: Sendable {
        var priceCredits: Int
        var imageURL: String?
    }

    func quote(_ request: VideoRequest, userID: UUID) async throws -> Quote {
        if case .rejected(let term) = try await moderator.review(prompt: request.prompt) {
            logger.notice("prompt refused by moderation", metadata: ["user_id": .string(userID.uuidString), "term": .string(term)])
            throw AppError.promptRejected
        }
        guard let price = try await Price.query(on: store.db)
            .filter(\.$model == request.model.rawValue)
            .filter(\.$durationSeconds == request.durationSeconds)
            .filter(\.$quality == request.quality.rawValue)
            .first()
        else {
            throw AppError.optionUnavailable(model: request.model.rawValue, duration: request.durationSeconds,
                                             quality: request.quality.rawValue)
        }
        var imageURL: String?
        if let uploadID = request.uploadID {
            guard let upload = try await OwnerScope(userID: userID, db: store.db).upload(uploadID) else {
                throw AppError.uploadNotFound
            }
            imageURL = "\(publicBaseURL)/files/\(upload.storageKey)"
        }
        if let url = request.webhookURL { try await webhookPolicy.require(url) }
        return Quote(priceCredits: price.credits, imageURL: imageURL)
    }

    func create(_ request: VideoRequest, userID: UUID, idempotencyKey: String?) async throws -> Outcome {
        if let idempotencyKey, let earlier = try await findByKey(idempotencyKey, userID: userID) {
            return try replay(earlier, for: request)
        }

        let priced = try await quote(request, userID: userID)
        let imageURL = priced.imageURL
        if request.webhookURL != nil {
            // Deliveries are signed with the account's secret; make it now if this is the first.
            _ = try await WebhookOutbox.endpoint(forUser: userID, at: clock.now(), on: store.db)
        }

        // The secret goes to the provider inside the callback URL; only its hash is kept.
        let jobID = UUID()
        let secret = Self.randomToken()
        let now = clock.now()
        let job = VideoJob()
        job.id = jobID
        job.$user.id = userID
        job.mode = request.mode
        job.model = request.model.rawValue
        job.prompt = request.prompt
        job.aspectRatio = request.aspectRatio
        job.durationSeconds = request.durationSeconds
        job.quality = request.quality
        job.uploadID = request.uploadID
        job.imageURL = imageURL
        job.priceCredits = priced.priceCredits
        job.idempotencyKey = idempotencyKey
        job.requestFingerprint = request.fingerprint
        job.requestID = requestID
        job.status = .submitting
        job.progress = 0
        job.holdState = .open
        job.callbackSecretHash = Self.hash(secret)
        job.createdAt = now
        job.updatedAt = now
        job.deadlineAt = request.deadlineSeconds.map { now.addingTimeInterval(TimeInterval($0)) }
        job.webhookURL = request.webhookURL
        job.webhookEvents = request.webhookURL == nil ? nil : request.webhookEvents.stored

        let maxUnfinished = limits.maxUnfinishedJobs
        let createRule = limits.createPerAccount
        let rateLimiter = rateLimiter
        do {
            try await store.writeTransaction { db in
                // Counted in the transaction that holds the credits: a create refused here or
                // later in it rolls back and does not count, and the count costs no commit of its own.
                guard try await rateLimiter.hit(createRule, key: userID.uuidString, on: db) <= createRule.limit else {
                    throw AppError.tooManyCreates(retryAfter: rateLimiter.secondsUntilReset(createRule))
                }
                // The hold updates the user's row first, which on PostgreSQL makes a concurrent
                // create for the same user wait here until this one commits, so the count
                // below sees every job of the user's that will exist.
                try await CreditLedger.hold(userID: userID, jobID: jobID, amount: priced.priceCredits, at: now, on: db)
                let unfinished = try await Self.unfinishedCount(userID: userID, on: db)
                guard unfinished < maxUnfinished else { throw AppError.tooManyUnfinishedVideos(limit: maxUnfinished) }
                try await job.create(on: db)
            }
        } catch CreditLedger.LedgerError.insufficientCredits(let needed, let available) {
            throw AppError.insufficientCredits(needed: needed, available: available)
        } catch let error as AppError {
            throw error
        } catch {
            // A concurrent request with the same key won the race; its hold stands, ours rolled back.
            guard let idempotencyKey, (error as? any DatabaseError)?.isConstraintFailure == true,
                  let earlier = try await findByKey(idempotencyKey, userID: userID)
            else { throw error }
            return try replay(earlier, for: request)
        }

        let callbackBase = "\(publicBaseURL)/api/v1/webhooks/kie/\(jobID.uuidString.lowercased())/\(secret)"
        let taskRequest = ProviderTaskRequest(
            model: request.model, prompt: request.prompt, aspectRatio: request.aspectRatio,
            durationSeconds: request.durationSeconds, quality: request.quality, imageURL: imageURL,
            callbackURL: callbackBase, progressCallbackURL: callbackBase + "/progress")

        do {
            let taskID = try await provider.createTask(taskRequest)
            // The create reply is news like any other: if a fast callback already moved the job
            // on, this changes nothing.
            try await lifecycle.apply(ProviderTaskStatus(taskID: taskID, state: .waiting), toJob: jobID, source: .createReply)
        } catch let error as ProviderError {
            try await handleFailedSubmission(error, jobID: jobID)
        }
        // Read again: a fast callback may have moved the job on already.
        return .created(try await OwnerScope(userID: userID, db: store.db).videoRecord(jobID))
    }

    /// A create that certainly made nothing is failed and refunded at once, and the caller gets
    /// the reason. One that may have made a task stays `submitting`, its hold open, until a
    /// callback names its task or the reconciler gives up on it.
    static let variantRange = 2...4

    /// Several videos from one request ("variants": the same prompt and options, each its own
    /// task at the provider, so each comes out different). Each is held, charged and refunded
    /// on its own, exactly like a single create. The whole batch must be affordable when it
    /// starts, or nothing is made; if a later variant is refused on the way (the balance was
    /// spent meanwhile, a rate limit), the ones already made stand and the refusal is returned
    /// with them. With an `Idempotency-Key`, variant n uses `<key>#n`, so a retry makes nothing twice.
    func createBatch(_ request: VideoRequest, variants: Int, userID: UUID,
                     idempotencyKey: String?) async throws -> (videos: [Outcome], refusal: AppError?) {
        guard Self.variantRange.contains(variants) else { throw AppError.invalidVariants }
        let priced = try await quote(request, userID: userID)
        let available = try await User.find(userID, on: store.db)?.creditsAvailable ?? 0
        var alreadyMade = false // a retry of a batch whose first video exists: answered, not refused
        if let idempotencyKey { alreadyMade = try await findByKey("\(idempotencyKey)#1", userID: userID) != nil }
        if !alreadyMade, available < priced.priceCredits * variants {
            throw AppError.insufficientCredits(needed: priced.priceCredits * variants, available: available)
        }
        var made: [Outcome] = []
        for variant in 1...variants {
            do {
                made.append(try await create(request, userID: userID, idempotencyKey: idempotencyKey.map { "\($0)#\(variant)" }))
            } catch let error as AppError where !made.isEmpty {
                return (made, error)
            }
        }
        return (made, nil)
    }

    private func handleFailedSubmission(_ error: ProviderError, jobID: UUID) async throws {
        let metadata: Logger.Metadata = ["job_id": .string(jobID.uuidString), "error": .string("\(error)")]
        switch error {
        case .ambiguous, .invalidResponse:
            logger.warning("provider create outcome unknown; waiting for a callback", metadata: metadata)
        case .unreachable(let detail):
            logger.error("provider unreachable", metadata: metadata)
            try await lifecycle.fail(jobID: jobID, reason: .providerError, providerMessage: detail, onlyIf: [.submitting])
            throw AppError.providerUnavailable(videoID: jobID)
        case .rejected(let code, let message):
            try await lifecycle.fail(jobID: jobID, reason: .providerError, providerCode: String(code),
                                     providerMessage: message, onlyIf: [.submitting])
            switch code {
            case 401, 403, 505:
                logger.error("provider refused our credentials or the feature", metadata: metadata)
                throw AppError.providerMisconfigured(videoID: jobID)
            case 402:
                logger.error("provider account is out of credits", metadata: metadata)
                throw AppError.providerOutOfCredits(videoID: jobID)
            case 429:
                logger.warning("provider rate limit hit", metadata: metadata)
                throw AppError.providerBusy(videoID: jobID)
            case 400, 422:
                logger.warning("provider rejected the input", metadata: metadata)
                throw AppError.providerRejectedInput(videoID: jobID, message: String(message.prefix(300)))
            default:
                logger.error("provider error on create", metadata: metadata)
                throw AppError.providerUnavailable(videoID: jobID)
            }
        }
    }

    private func findByKey(_ key: String, userID: UUID) async throws -> VideoJob? {
        try await OwnerScope(userID: userID, db: store.db).video(idempotencyKey: key)
    }

    private func replay(_ earlier: VideoJob, for request: VideoRequest) throws -> Outcome {
        guard earlier.requestFingerprint == request.fingerprint else { throw AppError.idempotencyKeyReused }
        return .replayed(earlier)
    }

    /// How many of the user's videos are not finished. `COUNT(*)` is answered from the
    /// (user, status) index alone; Fluent's `count()` counts ids, which reads every row.
    static func unfinishedCount(userID: UUID, on db: any Database) async throws -> Int {
        let unfinished = JobStatus.unfinished.map(\.rawValue)
        let row = try await (db as! any SQLDatabase).raw("""
            SELECT COUNT(*) AS unfinished FROM video_jobs WHERE user_id = \(bind: userID) AND status IN (\(binds: unfinished))
            """).first()
        return try row?.decode(column: "unfinished", as: Int.self) ?? 0
    }

    static func randomToken() -> String {
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        return bytes.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).hexString
    }
}
