import Foundation
import PhimProvider
import PhimSupport

/// Creates a video job: price, hold, record, then ask the provider.
///
/// The hold and the job row are committed together before the provider is called, so a crash
/// at any point leaves either nothing, or a `submitting` job with its hold open that a callback
/// or the reconciler resolves. The provider is called once; a create whose outcome is unknown is
/// never sent again.
public struct VideoCreation: Sendable {
    public var provider: any VideoProvider
    public var lifecycle: JobLifecycle
    public var settings: Settings
    public var clock: AppClock
    public var moderator: any PromptModerator

    public init(provider: any VideoProvider, lifecycle: JobLifecycle, settings: Settings, clock: AppClock,
                moderator: (any PromptModerator)? = nil) {
        self.provider = provider
        self.lifecycle = lifecycle
        self.settings = settings
        self.clock = clock
        self.moderator = moderator ?? BlockedTermsModerator(terms: settings.blockedTerms)
    }

    public struct Created: Sendable {
        public var video: VideoRecord
        /// An earlier request with the same `Idempotency-Key` made this video.
        public var replayed: Bool
    }

    public struct Quote: Sendable {
        public var priceCredits: Int
        public var imageURL: String?
    }

    /// What a create would cost, after every check a create makes before holding credits.
    public func quote(_ request: VideoRequest, user: User, on db: Database) throws -> Quote {
        if case .rejected(let term) = try moderator.review(prompt: request.prompt) {
            Log.info("prompt refused by moderation", ["user_id": user.id, "term": term])
            throw AppError.promptRejected
        }
        guard let price = try Prices.credits(model: request.model, durationSeconds: request.durationSeconds,
                                             quality: request.quality, on: db)
        else {
            throw AppError.optionUnavailable(model: request.model.rawValue, duration: request.durationSeconds,
                                             quality: request.quality.rawValue)
        }
        var imageURL: String?
        if let uploadID = request.uploadID {
            guard let key = try db.first("SELECT storage_key FROM uploads WHERE id = ? AND user_id = ?",
                                         [.text(uploadID), .text(user.id)])?.string(0)
            else { throw AppError.uploadNotFound }
            imageURL = "\(settings.publicBaseURL)/files/\(key)"
        }
        // Where the URL leads, before anything is held (it resolves the name, outside any transaction).
        if let url = request.webhookURL { try WebhookTargetPolicy(settings: settings.webhooks).require(url) }
        return Quote(priceCredits: price, imageURL: imageURL)
    }

    public func create(_ request: VideoRequest, user: User, idempotencyKey: String?, requestID: String?,
                       on db: Database) throws -> Created {
        if let idempotencyKey, let earlier = try findByKey(idempotencyKey, userID: user.id, on: db) {
            return try replay(earlier, for: request)
        }
        let priced = try quote(request, user: user, on: db)

        // The secret goes to the provider inside the callback URL; only its hash is kept.
        let jobID = UUID().uuidString.lowercased()
        let secret = Crypto.randomToken()
        let now = clock.nowMillis()
        let maxUnfinished = settings.maxUnfinishedVideos
        do {
            try db.write {
                try AbuseLimits(settings: settings, clock: clock).countCreate(userID: user.id, on: db)
                // Counted only up to the limit: the count runs under the write lock, and counting
                // every unfinished video of an account that has thousands was most of a create's
                // time (profiled).
                let unfinished = try db.first("""
                    SELECT COUNT(*) FROM (SELECT 1 FROM video_jobs WHERE user_id = ? AND status IN ('submitting', 'pending', 'processing') LIMIT ?)
                    """, [.text(user.id), .int(maxUnfinished)])?.int(0) ?? 0
                guard unfinished < maxUnfinished else { throw AppError.tooManyUnfinishedVideos(limit: maxUnfinished) }
                let inserted = try db.run("""
                    INSERT INTO video_jobs (id, user_id, mode, model, prompt, aspect_ratio, duration_seconds, quality, upload_id,
                      image_url, price_credits, idempotency_key, request_fingerprint, request_id, status, progress, hold_state,
                      callback_secret_hash, created_at, updated_at, next_check_at, deadline_at, webhook_url, webhook_events)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'submitting', 0, 'open', ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (user_id, idempotency_key) DO NOTHING
                    """, [.text(jobID), .text(user.id), .text(request.mode.rawValue), .text(request.model.rawValue),
                          .text(request.prompt), .text(request.aspectRatio.rawValue), .int(request.durationSeconds),
                          .text(request.quality.rawValue), .optionalText(request.uploadID), .optionalText(priced.imageURL),
                          .int(priced.priceCredits), .optionalText(idempotencyKey), .text(request.fingerprint),
                          .optionalText(requestID), .text(Crypto.sha256Hex(secret)), .integer(now), .integer(now),
                          .integer(now + Int64(settings.staleAfterSeconds * 1000)),
                          .optionalInt(request.deadlineSeconds.map { now + Int64($0) * 1000 }),
                          .optionalText(request.webhookURL), .optionalText(request.webhookURL == nil ? nil : request.webhookEvents.stored)])
                // A concurrent request with the same key won the race: nothing of ours stays.
                guard inserted == 1 else { throw ConcurrentDuplicate() }
                // The hold fails (and the whole transaction with it) when the balance is short.
                try CreditLedger.hold(userID: user.id, jobID: jobID, amount: priced.priceCredits, at: now, on: db)
                try Feed.bump(userID: user.id, jobID: jobID, on: db)
                // Deliveries are signed with the account's secret: made now if this is the first.
                if request.webhookURL != nil { try WebhookEndpoints.ensure(userID: user.id, at: now, on: db) }
            }
        } catch CreditLedger.LedgerError.insufficientCredits(let needed, let available) {
            throw AppError.insufficientCredits(needed: needed, available: available)
        } catch is ConcurrentDuplicate {
            guard let idempotencyKey, let earlier = try findByKey(idempotencyKey, userID: user.id, on: db) else { throw AppError.internal }
            return try replay(earlier, for: request)
        }

        let callbackBase = "\(settings.publicBaseURL)/api/v1/webhooks/kie/\(jobID)/\(secret)"
        let taskRequest = ProviderTaskRequest(
            model: request.model, prompt: request.prompt, aspectRatio: request.aspectRatio,
            durationSeconds: request.durationSeconds, quality: request.quality, imageURL: priced.imageURL,
            callbackURL: callbackBase, progressCallbackURL: callbackBase + "/progress")
        do {
            let taskID = try provider.createTask(taskRequest)
            // The create reply is news like any other: if a fast callback already moved the job
            // on, this changes nothing.
            try lifecycle.apply(ProviderTaskStatus(taskID: taskID, state: .waiting), toJob: jobID, source: .createReply, on: db)
        } catch let error as ProviderError {
            try handleFailedSubmission(error, jobID: jobID, on: db)
        }
        Log.info("video created", ["job_id": jobID, "user_id": user.id, "request_id": requestID ?? ""])
        // Read again: a fast callback may have moved the job on already.
        return Created(video: try VideoRecord.find(jobID, on: db)!, replayed: false)
    }

    private struct ConcurrentDuplicate: Error {}

    public static let variantRange = 2...4

    public struct Batch: Sendable {
        public var videos: [Created]
        /// Why a later variant could not be made (the balance was spent meanwhile, a limit);
        /// the videos made before it stand.
        public var refusal: AppError?
        public var replayed: Bool { !videos.isEmpty && videos.allSatisfy(\.replayed) }
    }

    /// Several videos from one request ("variants": the same prompt and options, each its own
    /// task at the provider, so each comes out different), each held, charged and refunded on
    /// its own exactly like a single create. The whole batch must be affordable when it starts,
    /// or nothing is made. With an `Idempotency-Key`, variant n uses `<key>#n`, so a retry makes
    /// nothing twice.
    public func createBatch(_ request: VideoRequest, variants: Int, user: User, idempotencyKey: String?, requestID: String?,
                            on db: Database) throws -> Batch {
        guard Self.variantRange.contains(variants) else { throw AppError.invalidVariants }
        let priced = try quote(request, user: user, on: db)
        let available = try db.first("SELECT credits_available FROM users WHERE id = ?", [.text(user.id)])?.int(0) ?? 0
        // A retry of a batch whose first video exists is answered, not refused for the balance it spent.
        let alreadyMade = try idempotencyKey.map { try findByKey("\($0)#1", userID: user.id, on: db) != nil } ?? false
        if !alreadyMade, available < priced.priceCredits * variants {
            throw AppError.insufficientCredits(needed: priced.priceCredits * variants, available: available)
        }
        var made: [Created] = []
        for variant in 1...variants {
            do {
                made.append(try create(request, user: user, idempotencyKey: idempotencyKey.map { "\($0)#\(variant)" },
                                       requestID: requestID, on: db))
            } catch let error as AppError where !made.isEmpty {
                return Batch(videos: made, refusal: error)
            }
        }
        return Batch(videos: made, refusal: nil)
    }

    /// A create that certainly made nothing is failed and refunded at once, and the caller gets
    /// the reason. One that may have made a task stays `submitting`, its hold open, until a
    /// callback names its task or the reconciler gives up on it.
    private func handleFailedSubmission(_ error: ProviderError, jobID: String, on db: Database) throws {
        let fields: KeyValuePairs<String, String> = ["job_id": jobID, "error": "\(error)"]
        switch error {
        case .ambiguous, .invalidResponse:
            Log.warning("provider create outcome unknown; waiting for a callback", fields)
        case .unreachable(let detail):
            Log.error("provider unreachable", fields)
            try lifecycle.fail(jobID: jobID, reason: .providerError, providerMessage: detail, onlyIf: [.submitting], on: db)
            throw AppError.providerUnavailable(videoID: jobID)
        case .rejected(let code, let message):
            try lifecycle.fail(jobID: jobID, reason: .providerError, providerCode: String(code), providerMessage: message,
                               onlyIf: [.submitting], on: db)
            switch code {
            case 401, 403, 505:
                Log.error("provider refused our credentials or the feature", fields)
                throw AppError.providerMisconfigured(videoID: jobID)
            case 402:
                Log.error("provider account is out of credits", fields)
                throw AppError.providerOutOfCredits(videoID: jobID)
            case 429:
                Log.warning("provider rate limit hit", fields)
                throw AppError.providerBusy(videoID: jobID)
            case 400, 422:
                Log.warning("provider rejected the input", fields)
                throw AppError.providerRejectedInput(videoID: jobID, message: String(message.prefix(300)))
            default:
                Log.error("provider error on create", fields)
                throw AppError.providerUnavailable(videoID: jobID)
            }
        }
    }

    private func findByKey(_ key: String, userID: String, on db: Database) throws -> VideoRecord? {
        try db.first("SELECT \(VideoRecord.columns) FROM video_jobs WHERE user_id = ? AND idempotency_key = ?",
                     [.text(userID), .text(key)]).map(VideoRecord.init)
    }

    private func replay(_ earlier: VideoRecord, for request: VideoRequest) throws -> Created {
        guard earlier.requestFingerprint == request.fingerprint else { throw AppError.idempotencyKeyReused }
        return Created(video: earlier, replayed: true)
    }
}
