import Foundation
import PhimCore
import PhimProvider
import PhimSupport

/// Creating, listing, reading, canceling and deleting a user's videos, and their ledger.
///
/// Reading never calls the provider: status comes from our database, kept current by callbacks
/// and the reconciler. Another user's video answers exactly like a missing one (404).
enum VideoHandlers {
    static func pricing(_ context: Context) throws -> Response {
        let rows = try Prices.all(on: context.db)
        return .json(.object([("currency", .string("credits")), ("demo", .bool(context.app.settings.isDemo)), ("prices", .array(rows.map { row in
            .object([("model", .string(row.model.rawValue)), ("mode", .string(row.model.mode.rawValue)),
                     ("duration", .int(row.durationSeconds)), ("quality", .string(row.quality.rawValue)), ("credits", .int(row.credits))])
        }))]), status: 200)
    }

    static func create(_ context: Context) throws -> Response {
        let key = try idempotencyKey(context.request)
        let request = try VideoRequest.validate(try context.jsonBody())
        let created = try context.app.creation.create(request, user: try context.user, idempotencyKey: key,
                                                      requestID: context.request.requestID, on: context.db)
        var response = Response.json(VideoJSON.video(created.video, context), status: created.replayed ? 200 : 202)
        response.addHeader("Location", "/api/v1/videos/\(created.video.id)")
        if created.replayed { response.addHeader("Idempotent-Replayed", "true") }
        return response
    }

    /// `POST /api/v1/videos/batch`: the create body plus `variants` (2–4). 202 with every video
    /// made; when a later variant was refused, its error comes with the ones made (`refused`).
    static func createBatch(_ context: Context) throws -> Response {
        let key = try idempotencyKey(context.request)
        let body = try context.jsonBody()
        let request = try VideoRequest.validate(body)
        guard let variants = body["variants"]?.intValue else { throw AppError.invalidVariants }
        let batch = try context.app.creation.createBatch(request, variants: variants, user: try context.user, idempotencyKey: key,
                                                         requestID: context.request.requestID, on: context.db)
        var fields: [(String, JSON)] = [("videos", .array(batch.videos.map { VideoJSON.video($0.video, context) }))]
        if let refusal = batch.refusal {
            fields.append(("refused", .object([("code", .string(refusal.code)),
                                               ("message", .string(Messages.message(for: refusal, in: context.language)))])))
        }
        var response = Response.json(.object(fields), status: batch.replayed ? 200 : 202)
        if batch.replayed { response.addHeader("Idempotent-Replayed", "true") }
        return response
    }

    /// What the same body would cost now, the balance after it, and when credits come back.
    static func quote(_ context: Context) throws -> Response {
        let request = try VideoRequest.validate(try context.jsonBody())
        let user = try context.user
        let quote = try context.app.creation.quote(request, user: user, on: context.db)
        return .json(.object([
            ("mode", .string(request.mode.rawValue)), ("model", .string(request.model.rawValue)),
            ("aspect_ratio", .string(request.aspectRatio.rawValue)), ("duration", .int(request.durationSeconds)),
            ("quality", .string(request.quality.rawValue)), ("price_credits", .int(quote.priceCredits)),
            ("credits", .int(user.creditsAvailable)), ("credits_after", .int(user.creditsAvailable - quote.priceCredits)),
            ("affordable", .bool(user.creditsAvailable >= quote.priceCredits)),
            ("refund_policy", .array((FailureReason.allCases.map(\.rawValue) + ["canceled"]).map { .string($0) })),
        ]))
    }

    static func list(_ context: Context) throws -> Response {
        let page = try Gallery(userID: try context.user.id).page(limit: try context.limit(default: 24, maximum: 100),
                                                                  cursor: context.request.query["cursor"], on: context.db)
        var fields: [(String, JSON)] = [("data", VideoJSON.videos(page.videos, context))]
        if let next = page.nextCursor { fields.append(("next_cursor", .string(next))) }
        fields.append(("version", .int64(page.version)))
        return .json(.object(fields))
    }

    /// The live feed the studio polls: 304 when nothing changed since `after` (one primary-key
    /// read), else the changed videos and the ids deleted.
    static func changes(_ context: Context) throws -> Response {
        guard let raw = context.request.query["after"], let after = Int64(raw), after >= 0 else { throw AppError.invalidCursor }
        guard let changes = try Gallery(userID: try context.user.id).changes(after: after, on: context.db) else {
            var response = Response(status: 304)
            response.addHeader("ETag", "\"v\(after)\"")
            return response
        }
        var response = Response.json(.object([
            ("version", .int64(changes.version)),
            ("videos", VideoJSON.videos(changes.changed, context)),
            ("deleted", .array(changes.deleted.map { .string($0) })),
        ]))
        response.addHeader("ETag", "\"v\(changes.version)\"")
        return response
    }

    /// One video with its receipt: the price held and its ledger entries.
    static func show(_ context: Context) throws -> Response {
        let video = try Gallery(userID: try context.user.id).video(context.parameter("id"), on: context.db)
        let entries = try CreditLedger.entries(jobID: video.id, on: context.db)
        var json = VideoJSON.video(video, context)
        if case .object(var fields) = json {
            fields.append(("receipt", .object([
                ("price_credits", .int(video.priceCredits)), ("state", .string(video.holdState.rawValue)),
                ("held_at", .string(Timestamps.iso(video.createdAt))),
                ("closed_at", video.holdState == .open ? .null : Timestamps.isoOrNull(video.finishedAt)),
                ("entries", .array(entries.map(VideoJSON.transaction))),
            ])))
            json = .object(fields)
        }
        return .json(json)
    }

    static func delete(_ context: Context) throws -> Response {
        try Gallery(userID: try context.user.id).delete(context.parameter("id"), at: context.app.clock.nowMillis(), on: context.db)
        return .noContent()
    }

    static func cancel(_ context: Context) throws -> Response {
        let video = try context.app.lifecycle.cancel(jobID: context.parameter("id").lowercased(), ownerID: try context.user.id,
                                                     on: context.db)
        return .json(VideoJSON.video(video, context))
    }

    static func transactions(_ context: Context) throws -> Response {
        var before: Int64?
        if let cursor = context.request.query["cursor"] {
            guard let value = Int64(cursor), value > 0 else { throw AppError.invalidCursor }
            before = value
        }
        let page = try CreditLedger.entries(userID: try context.user.id, limit: try context.limit(default: 50, maximum: 200),
                                            beforeRowID: before, on: context.db)
        var fields: [(String, JSON)] = [("data", .array(page.entries.map(VideoJSON.transaction)))]
        if let next = page.nextCursor { fields.append(("next_cursor", .string(String(next)))) }
        return .json(.object(fields))
    }

    static func idempotencyKey(_ request: Request) throws -> String? {
        guard let key = request.header("idempotency-key") else { return nil }
        guard !key.isEmpty, key.count <= 200, key.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value <= 0x7E }) else {
            throw AppError.invalidIdempotencyKey
        }
        return key
    }
}

/// The JSON shapes of videos and ledger entries.
enum VideoJSON {
    static func video(_ video: VideoRecord, _ context: Context) -> JSON {
        self.video(video, language: context.language, sharing: Sharing(clock: context.app.clock, settings: context.app.settings))
    }

    /// A page of videos: the caller's language and the sharing rules worked out once, not per video.
    static func videos(_ videos: [VideoRecord], _ context: Context) -> JSON {
        let language = context.language, sharing = Sharing(clock: context.app.clock, settings: context.app.settings)
        return .array(videos.map { video($0, language: language, sharing: sharing) })
    }

    static func video(_ video: VideoRecord, language: Language, sharing: Sharing) -> JSON {
        let failure: JSON = video.failureReason.map { reason in
            .object([("code", .string(reason.rawValue)), ("message", .string(Messages.text("failure.\(reason.rawValue)", language))),
                     ("provider_code", .optional(video.providerFailCode)), ("provider_message", .optional(video.providerFailMessage))])
        } ?? .null
        let base = sharing.settings.publicBaseURL
        let playable = video.status == .completed && video.videoURL != nil
        return .object([
            ("id", .string(video.id)), ("status", .string(video.status.rawValue)), ("progress", .int(video.progress)),
            ("mode", .string(video.mode.rawValue)), ("model", .string(video.model)), ("prompt", .string(video.prompt)),
            ("aspect_ratio", .string(video.aspectRatio.rawValue)), ("duration", .int(video.durationSeconds)),
            ("quality", .string(video.quality.rawValue)), ("price_credits", .int(video.priceCredits)),
            ("image_url", .optional(video.imageURL)), ("video_url", .optional(video.videoURL)),
            ("watermark_video_url", .optional(video.watermarkVideoURL)), ("failure", failure),
            ("credits_refunded", .bool(video.holdState == .released)), ("provider_task_id", .optional(video.providerTaskID)),
            ("created_at", .string(Timestamps.iso(video.createdAt))), ("updated_at", .string(Timestamps.iso(video.updatedAt))),
            ("finished_at", Timestamps.isoOrNull(video.finishedAt)), ("deadline_at", Timestamps.isoOrNull(video.deadlineAt)),
            // Where to play and download it now (a redirect that outlives the provider's URL), and
            // when the provider deletes it.
            ("media_url", playable ? .string("\(base)/api/v1/videos/\(video.id)/media") : .null),
            ("expires_at", Timestamps.isoOrNull(sharing.expiresAt(video))),
            ("expired", .bool(sharing.isExpired(video))),
            ("share_url", video.shareToken.map { .string(Sharing.url(base: base, token: $0)) } ?? .null),
            ("embed_code", video.shareToken.map { .string(ShareHandlers.embedCode(base: base, token: $0, aspect: video.aspectRatio)) } ?? .null),
            ("share_views", .int(video.shareViews)),
        ])
    }

    static func transaction(_ entry: CreditLedger.Entry) -> JSON {
        .object([("id", .string(entry.id)), ("kind", .string(entry.kind)), ("amount", .int(entry.availableDelta)),
                 ("held_change", .int(entry.heldDelta)), ("video_id", .optional(entry.jobID)), ("reason", .optional(entry.reason)),
                 ("created_at", .string(Timestamps.iso(entry.createdAt)))])
    }
}
