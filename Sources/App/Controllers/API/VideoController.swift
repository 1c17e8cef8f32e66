import Fluent
import Vapor

/// Creating, listing, reading, canceling and deleting a user's videos.
///
/// Every query is filtered by the caller's id, so another user's video answers exactly like a
/// missing one (404). Reading never calls the provider: status comes from our database, kept
/// current by callbacks and the reconciler.
struct VideoController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let videos = routes.grouped(RequireUser()).grouped("videos")
        videos.post(use: create)
        videos.post("quote", use: quote)
        videos.post("batch", use: createBatch)
        videos.get(use: index)
        videos.get(":videoID", use: show)
        videos.delete(":videoID", use: delete)
        videos.post(":videoID", "cancel", use: cancel)
        videos.get(":videoID", "media", use: media)
        videos.post(":videoID", "share", use: share)
        videos.delete(":videoID", "share", use: unshare)
    }

    /// Redirects to where the finished video plays now (`MediaLinks`); 410 once it has expired.
    @Sendable func media(req: Request) async throws -> Response {
        try await req.redirectToMedia(of: try await Self.ownedJob(req))
    }

    /// Publishes a finished video at an unguessable link; asking again gives the same link.
    @Sendable func share(req: Request) async throws -> API.ShareLink {
        let video = try await Self.ownedJob(req)
        let shared = try await Sharing(store: req.store, clock: req.clock, logger: req.logger).share(video, expiry: req.videoExpiry)
        return API.ShareLink(url: Sharing.url(base: req.application.publicBaseURL, token: shared.token), sharedAt: shared.at)
    }

    /// Withdraws the link at once: it answers 404 from now on. A later share makes a new one.
    @Sendable func unshare(req: Request) async throws -> HTTPStatus {
        let video = try await Self.ownedJob(req)
        try await Sharing(store: req.store, clock: req.clock, logger: req.logger).unshare(video)
        return .noContent
    }

    @Sendable func create(req: Request) async throws -> Response {
        let idempotencyKey = try Self.idempotencyKey(req)
        let request = try VideoRequest.validate(try req.decodeJSON(API.CreateVideoInput.self))
        let user = try req.user
        switch try await Self.creation(req).create(request, userID: try user.requireID(), idempotencyKey: idempotencyKey) {
        case .created(let job):
            let video = try API.Video(job, language: req.language, shareBase: req.application.publicBaseURL,
                                  lifetimeDays: req.application.phimConfig.resultLifetimeDays)
            let response = try await video.encodeResponse(status: .accepted, for: req)
            response.headers.replaceOrAdd(name: .location, value: "/api/v1/videos/\(video.id.uuidString)")
            return response
        case .replayed(let job):
            let response = try await API.Video(job, language: req.language, shareBase: req.application.publicBaseURL,
                                  lifetimeDays: req.application.phimConfig.resultLifetimeDays)
                .encodeResponse(status: .ok, for: req)
            response.headers.replaceOrAdd(name: "Idempotent-Replayed", value: "true")
            return response
        }
    }

    /// `POST /api/v1/videos/batch`: the create body plus `variants` (2–4). 202 with every video
    /// made; if a later variant was refused, its error comes with the ones made (`refused`).
    @Sendable func createBatch(req: Request) async throws -> Response {
        let idempotencyKey = try Self.idempotencyKey(req)
        let request = try VideoRequest.validate(try req.decodeJSON(API.CreateVideoInput.self))
        guard case .value(let variants) = try req.decodeJSON(API.BatchInput.self).variants else { throw AppError.invalidVariants }
        let batch = try await Self.creation(req).createBatch(request, variants: variants, userID: try req.user.requireID(),
                                                             idempotencyKey: idempotencyKey)
        let base = req.application.publicBaseURL, days = req.application.phimConfig.resultLifetimeDays
        let videos = try batch.videos.map { outcome -> API.Video in
            switch outcome {
            case .created(let job): try API.Video(job, language: req.language, shareBase: base, lifetimeDays: days)
            case .replayed(let job): try API.Video(job, language: req.language, shareBase: base, lifetimeDays: days)
            }
        }
        let replayed = batch.videos.allSatisfy { if case .replayed = $0 { true } else { false } }
        let refused = batch.refusal.map { API.BatchRefusal(code: $0.code, message: $0.message(in: req.language)) }
        let response = try await API.Batch(videos: videos, refused: refused)
            .encodeResponse(status: replayed ? .ok : .accepted, for: req)
        if replayed { response.headers.replaceOrAdd(name: "Idempotent-Replayed", value: "true") }
        return response
    }

    /// What the same body would cost if created now, the balance after it, and when the credits
    /// come back. Nothing is held and the creation rate limit is not spent.
    @Sendable func quote(req: Request) async throws -> API.Quote {
        let request = try VideoRequest.validate(try req.decodeJSON(API.CreateVideoInput.self))
        let user = try req.user
        let quote = try await Self.creation(req).quote(request, userID: try user.requireID())
        return API.Quote(request, priceCredits: quote.priceCredits, available: user.creditsAvailable, language: req.language)
    }

    @Sendable func index(req: Request) async throws -> API.Page<API.Video> {
        let page = try await req.owner.videoRecords(PageRequest(req))
        let language = req.language
        let base = req.application.publicBaseURL, days = req.application.phimConfig.resultLifetimeDays
        return API.Page(data: try page.items.map { try API.Video($0, language: language, shareBase: base, lifetimeDays: days) },
                        nextCursor: page.nextCursor)
    }

    /// One video with its receipt: the price it was held at and its ledger entries.
    @Sendable func show(req: Request) async throws -> API.Video {
        let (job, entries) = try await req.owner.videoWithLedger(req.parameters.get("videoID", as: UUID.self))
        var video = try API.Video(job, language: req.language, shareBase: req.application.publicBaseURL,
                                  lifetimeDays: req.application.phimConfig.resultLifetimeDays)
        video.receipt = try API.Receipt(job, entries: entries)
        return video
    }

    /// Soft delete: hidden from the owner at once; the job still runs and settles, the ledger is untouched.
    @Sendable func delete(req: Request) async throws -> HTTPStatus {
        let job = try await Self.ownedJob(req)
        job.deletedAt = req.clock.now()
        try await job.save(on: req.db)
        req.logger.info("video deleted", metadata: ["job_id": .string(job.id?.uuidString ?? "")])
        // The owner's other tabs and devices drop the card too (the event reads the video as absent).
        await req.application.jobEvents.publish(JobEvent(userID: job.$user.id, jobID: try job.requireID(),
                                                         status: job.status, progress: job.progress))
        return .noContent
    }

    @Sendable func cancel(req: Request) async throws -> API.Video {
        let job = try await Self.ownedJob(req)
        let canceled = try await req.jobLifecycle.cancel(jobID: try job.requireID(), ownerID: try req.user.requireID())
        return try API.Video(canceled, language: req.language, shareBase: req.application.publicBaseURL,
                                  lifetimeDays: req.application.phimConfig.resultLifetimeDays)
    }

    // MARK: - Helpers

    static func creation(_ req: Request) -> VideoCreation {
        VideoCreation(store: req.store, provider: req.application.provider, clock: req.clock,
                      logger: req.logger, lifecycle: req.jobLifecycle,
                      moderator: req.application.moderator, rateLimiter: req.rateLimiter,
                      limits: req.application.phimConfig.limits, webhookPolicy: req.application.webhookTargetPolicy,
                      publicBaseURL: req.application.publicBaseURL, requestID: req.id)
    }

    static func ownedJob(_ req: Request) async throws -> VideoJob {
        try await req.owner.video(req.parameters.get("videoID", as: UUID.self))
    }

    static func idempotencyKey(_ req: Request) throws -> String? {
        guard let key = req.headers.first(name: "Idempotency-Key") else { return nil }
        guard !key.isEmpty, key.count <= 200, key.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value <= 0x7E }) else {
            throw AppError.invalidIdempotencyKey
        }
        return key
    }
}

