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
        /// Phim's own URL of the reference image (what its owner sees).
        public var imageURL: String?
        /// The image's name in the uploads directory (its real extension included).
        public var imageKey: String?
    }

    /// The catalog model a create or quote may use (see `ModelCatalog.offered`).
    public func findModel(_ id: String?, on db: Database) throws -> CatalogModel {
        try ModelCatalog.offered(id, at: clock.nowMillis(), on: db)
    }

    /// What a create would cost, after every check a create makes before holding credits.
    public func quote(_ request: VideoRequest, user: User, on db: Database) throws -> Quote {
        if case .rejected(let term) = try moderator.review(prompt: request.prompt) {
            Log.info("prompt refused by moderation", ["user_id": user.id, "term": term])
            throw AppError.promptRejected
        }
        var imageKey: String?
        if let uploadID = request.uploadID {
            guard let key = try db.firstRow("SELECT storage_key FROM uploads WHERE id = :id AND user_id = :user",
                                            ["id": .text(uploadID), "user": .text(user.id)])?.string("storage_key")
            else { throw AppError.uploadNotFound }
            imageKey = key
        }
        // What the URL's form tells, before anything is held; where its name leads is checked before each attempt (no DNS here).
        if let url = request.webhookURL { try WebhookTargetPolicy(settings: settings.webhooks).require(url) }
        return Quote(priceCredits: request.price.credits, imageURL: imageKey.map { "\(settings.publicBaseURL)/files/\($0)" },
                     imageKey: imageKey)
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
                let unfinished = try db.firstRow("""
                    SELECT COUNT(*) AS count FROM (SELECT 1 FROM video_jobs WHERE user_id = :user
                      AND status IN ('submitting', 'pending', 'processing') LIMIT :limit)
                    """, ["user": .text(user.id), "limit": .int(maxUnfinished)])?.int("count") ?? 0
                guard unfinished < maxUnfinished else { throw AppError.tooManyUnfinishedVideos(limit: maxUnfinished) }
                // Asked again under the write lock: the upload sweep may have deleted it since the quote.
                if let uploadID = request.uploadID,
                   try db.firstRow("SELECT 1 AS found FROM uploads WHERE id = :id", ["id": .text(uploadID)]) == nil {
                    throw AppError.uploadNotFound
                }
                let inserted = try db.run("""
                    INSERT INTO video_jobs (id, user_id, mode, model, prompt, aspect_ratio, duration_seconds, resolution, audio,
                      upload_id, image_url, price_credits, idempotency_key, request_fingerprint, request_id, status, progress,
                      hold_state, callback_secret_hash, created_at, updated_at, next_check_at, deadline_at, webhook_url,
                      webhook_events, provider_family, provider_model, provider_list_millicredits)
                    VALUES (:id, :user, :mode, :model, :prompt, :aspect_ratio, :duration, :resolution, :audio,
                      :upload, :image_url, :price, :idempotency_key, :fingerprint, :request_id, 'submitting', 0,
                      'open', :secret_hash, :now, :now, :next_check, :deadline, :webhook_url,
                      :webhook_events, :family, :provider_model, :provider_list)
                    ON CONFLICT (user_id, idempotency_key) DO NOTHING
                    """, ["id": .text(jobID), "user": .text(user.id), "mode": .text(request.mode.rawValue),
                          "model": .text(request.model.id), "prompt": .text(request.prompt), "aspect_ratio": .text(request.aspectRatio),
                          "duration": .int(request.durationSeconds), "resolution": .text(request.resolution),
                          "audio": .bool(request.audio), "upload": .optionalText(request.uploadID),
                          "image_url": .optionalText(priced.imageURL), "price": .int(priced.priceCredits),
                          "idempotency_key": .optionalText(idempotencyKey), "fingerprint": .text(request.fingerprint),
                          "request_id": .optionalText(requestID), "secret_hash": .text(Crypto.sha256Hex(secret)), "now": .integer(now),
                          "next_check": .integer(now + Int64(settings.staleAfterSeconds * 1000)),
                          "deadline": .optionalInt(request.deadlineSeconds.map { now + Int64($0) * 1000 }),
                          "webhook_url": .optionalText(request.webhookURL),
                          "webhook_events": .optionalText(request.webhookURL == nil ? nil : request.webhookEvents.stored),
                          "family": .text(request.model.wire.family.rawValue),
                          "provider_model": .optionalText(request.model.wire.providerModels[request.mode]),
                          "provider_list": request.price.providerCredits.map { .integer(Int64(($0 * 1000).rounded())) } ?? .null])
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

        do {
            let taskRequest = ProviderTaskRequest(
                wire: request.model.wire, mode: request.mode, prompt: request.prompt, aspectRatio: request.aspectRatio,
                durationSeconds: request.durationSeconds, resolution: request.resolution, audio: request.audio,
                imageURL: try deliveredImageURL(priced, jobID: jobID),
                callbackURL: "\(settings.publicBaseURL)/api/v1/webhooks/kie/\(jobID)/\(secret)")
            let taskID = try provider.createTask(taskRequest)
            // The create reply is news like any other: if a fast callback already moved the job
            // on, this changes nothing.
            try lifecycle.apply(ProviderTaskStatus(taskID: taskID, state: .waiting), toJob: jobID, source: .createReply, on: db)
            try ModelCatalog.markAccepted(request.model, at: clock.nowMillis(), on: db)
        } catch let error as ProviderError {
            try handleFailedSubmission(error, model: request.model, jobID: jobID, on: db)
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
    private func handleFailedSubmission(_ error: ProviderError, model: CatalogModel, jobID: String, on db: Database) throws {
        let fields: KeyValuePairs<String, String> = ["job_id": jobID, "model": model.id, "error": "\(error)"]
        if case .rejected(let code, let message) = error, ModelCatalog.isModelRefusal(code: code, message: message) {
            // The model itself is gone at the provider: refund, and refuse its creates up front
            // until it is worth trying again.
            Log.error("provider refused the model; marked unavailable", fields)
            let now = clock.nowMillis()
            try db.write { // the refund and the mark together (the failure's write nests in this one)
                try ModelCatalog.markUnavailable(model.id, reason: message, at: now, recheckMinutes: settings.modelRecheckMinutes, on: db)
                try lifecycle.fail(jobID: jobID, reason: .modelUnavailable, providerCode: String(code), providerMessage: message,
                                   onlyIf: [.submitting], on: db)
            }
            throw AppError.modelUnavailable(model: model.id, reason: message, retryAfter: settings.modelRecheckMinutes * 60, videoID: jobID)
        }
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

    /// The image URL the provider is given. With a public Phim, its own `/files/` URL; without
    /// one, a copy on Kie's file host, made now (its files live a day at least), named with the
    /// image's real extension, since that host serves a file with the type its name says.
    /// A copy that cannot be made means no task: the provider error says so.
    private func deliveredImageURL(_ quote: Quote, jobID: String) throws -> String? {
        guard let key = quote.imageKey else { return nil }
        guard settings.imageDelivery == .kieUpload else { return quote.imageURL }
        guard let bytes = FileManager.default.contents(atPath: "\(settings.uploadsDirectory)/\(key)") else {
            Log.error("a reference image is missing from the uploads directory", ["job_id": jobID, "key": key])
            throw ProviderError.unreachable(detail: "the reference image is missing")
        }
        do {
            return try provider.uploadFile(bytes, fileName: key)
        } catch ProviderError.ambiguous(let detail), ProviderError.invalidResponse(let detail) {
            // An upload that may have landed still made no task: nothing to wait for.
            throw ProviderError.unreachable(detail: "image upload: \(detail)")
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
