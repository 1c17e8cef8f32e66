import Foundation
import PhimProvider
import PhimSupport

/// Creates a video job: price, hold, record, queue. Nothing is sent on the request's thread:
/// the job is `queued` with its hold open, in one transaction, and the dispatcher
/// (`ProviderQueue`) sends it within the provider's limits.
public struct VideoCreation: Sendable {
    public var queue: ProviderQueue
    public var lifecycle: JobLifecycle
    public var settings: Settings
    public var clock: AppClock
    public var moderator: any PromptModerator
    /// Tells this process's dispatcher that a job was queued (it would find it on its next look).
    public var queued: @Sendable () -> Void

    public init(queue: ProviderQueue, lifecycle: JobLifecycle, settings: Settings, clock: AppClock,
                moderator: (any PromptModerator)? = nil, queued: @escaping @Sendable () -> Void = {}) {
        self.queue = queue
        self.lifecycle = lifecycle
        self.settings = settings
        self.clock = clock
        self.moderator = moderator ?? BlockedTermsModerator(terms: settings.blockedTerms)
        self.queued = queued
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

        let jobID = UUID().uuidString.lowercased()
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
                      AND status IN ('queued', 'submitting', 'pending', 'processing') LIMIT :limit)
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
                      :upload, :image_url, :price, :idempotency_key, :fingerprint, :request_id, 'queued', 0,
                      'open', '', :now, :now, NULL, :deadline, :webhook_url,
                      :webhook_events, :family, :provider_model, :provider_list)
                    ON CONFLICT (user_id, idempotency_key) DO NOTHING
                    """, ["id": .text(jobID), "user": .text(user.id), "mode": .text(request.mode.rawValue),
                          "model": .text(request.model.id), "prompt": .text(request.prompt), "aspect_ratio": .text(request.aspectRatio),
                          "duration": .int(request.durationSeconds), "resolution": .text(request.resolution),
                          "audio": .bool(request.audio), "upload": .optionalText(request.uploadID),
                          "image_url": .optionalText(priced.imageURL), "price": .int(priced.priceCredits),
                          "idempotency_key": .optionalText(idempotencyKey), "fingerprint": .text(request.fingerprint),
                          "request_id": .optionalText(requestID), "now": .integer(now),
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

        // The callback secret is made when the job is sent (`ProviderQueue.claimNext`).
        if settings.dispatchOnCreate { try queue.runPass(on: db, only: jobID) } else { queued() }
        Log.info("video queued", ["job_id": jobID, "user_id": user.id, "request_id": requestID ?? ""])
        // Read again: in `dispatchOnCreate` mode it was sent already.
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

    private func findByKey(_ key: String, userID: String, on db: Database) throws -> VideoRecord? {
        try db.first("SELECT \(VideoRecord.columns) FROM video_jobs WHERE user_id = ? AND idempotency_key = ?",
                     [.text(userID), .text(key)]).map(VideoRecord.init)
    }

    private func replay(_ earlier: VideoRecord, for request: VideoRequest) throws -> Created {
        guard earlier.requestFingerprint == request.fingerprint else { throw AppError.idempotencyKeyReused }
        return Created(video: earlier, replayed: true)
    }
}
