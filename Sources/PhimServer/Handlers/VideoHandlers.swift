import Foundation
import PhimCore
import PhimProvider
import PhimSupport

/// Creating, listing, reading, canceling and deleting a user's videos, and their ledger.
///
/// Reading never calls the provider: status comes from our database, kept current by callbacks
/// and the reconciler. Another user's video answers exactly like a missing one (404).
enum VideoHandlers {
    static func create(_ context: Context) throws -> Response {
        let key = try idempotencyKey(context.request)
        let request = try validate(try context.jsonBody(), context)
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
        let request = try validate(body, context)
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
        let request = try validate(try context.jsonBody(), context)
        let user = try context.user
        let quote = try context.app.creation.quote(request, user: user, on: context.db)
        return .json(.object([
            ("mode", .string(request.mode.rawValue)), ("model", .string(request.model.id)),
            ("aspect_ratio", .string(request.aspectRatio)), ("duration", .int(request.durationSeconds)),
            ("resolution", .string(request.resolution)), ("audio", .bool(request.audio)), ("price_credits", .int(quote.priceCredits)),
            ("credits", .int(user.creditsAvailable)), ("credits_after", .int(user.creditsAvailable - quote.priceCredits)),
            ("affordable", .bool(user.creditsAvailable >= quote.priceCredits)),
            ("refund_policy", .array((FailureReason.allCases.map(\.rawValue) + ["canceled"]).map { .string($0) })),
        ]))
    }

    static func list(_ context: Context) throws -> Response {
        let page = try Gallery(userID: try context.user.id).page(limit: try context.limit(default: 24, maximum: 100),
                                                                  cursor: context.request.query["cursor"], on: context.db)
        let writer = JSONWriter(capacity: 1024 + 768 * page.videos.count)
        writer.beginObject()
        writer.key("data"); VideoJSON.array(page.videos, context, into: writer)
        if let next = page.nextCursor { writer.key("next_cursor"); writer.string(next) }
        writer.key("version"); writer.int(page.version)
        writer.endObject()
        return .json(writer)
    }

    /// The live feed the studio polls: 304 when nothing changed since `after` (one primary-key
    /// read), else the changed videos and the ids deleted.
    ///
    /// While the caller has videos in the queue, their places (`queue`) are read again at every
    /// poll: they move as the queue moves, which writes nothing to those videos.
    static func changes(_ context: Context) throws -> Response {
        guard let raw = context.request.query["after"], let after = Int64(raw), after >= 0 else { throw AppError.invalidCursor }
        let userID = try context.user.id
        let changes = try Gallery(userID: userID).changes(after: after, on: context.db)
        let places = try context.app.queue.places(userID: userID, on: context.db)
        guard changes != nil || !places.isEmpty else {
            var response = Response(status: 304)
            response.addHeader("ETag", "\"v\(after)\"")
            return response
        }
        let changed = changes?.changed ?? [], version = changes?.version ?? after
        let writer = JSONWriter(capacity: 1024 + 768 * changed.count)
        writer.beginObject()
        writer.key("version"); writer.int(version)
        writer.key("videos"); VideoJSON.array(changed, context, places: places, into: writer)
        writer.key("deleted"); writer.value(.array((changes?.deleted ?? []).map { .string($0) }))
        writer.key("queue")
        writer.beginArray()
        for (id, place) in places.sorted(by: { $0.value.position < $1.value.position }) {
            writer.beginObject()
            writer.key("id"); writer.string(id)
            writer.key("queue_position"); writer.int(place.position)
            writer.key("estimated_start_seconds"); writer.int(place.estimatedStartSeconds)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        var response = Response.json(writer)
        // No ETag while queued: the same version answers with other places as the queue moves.
        if places.isEmpty { response.addHeader("ETag", "\"v\(version)\"") }
        return response
    }

    /// One video with its receipt: the price held and its ledger entries.
    static func show(_ context: Context) throws -> Response {
        let video = try Gallery(userID: try context.user.id).video(context.parameter("id"), on: context.db)
        let entries = try CreditLedger.entries(jobID: video.id, on: context.db)
        let writer = JSONWriter(capacity: 2048)
        VideoJSON.object(video, language: context.language, sharing: VideoJSON.sharing(context),
                         places: VideoJSON.places(for: [video], context), into: writer) { writer in
            writer.key("receipt")
            writer.value(.object([
                ("price_credits", .int(video.priceCredits)), ("state", .string(video.holdState.rawValue)),
                ("held_at", .string(Timestamps.iso(video.createdAt))),
                ("closed_at", video.holdState == .open ? .null : Timestamps.isoOrNull(video.finishedAt)),
                ("entries", .array(entries.map(VideoJSON.transaction))),
            ]))
        }
        return .json(writer)
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

    /// A create body checked against the catalog model it names (or the default).
    private static func validate(_ body: JSON, _ context: Context) throws -> VideoRequest {
        let db = try context.db
        return try VideoRequest.validate(body) { try context.app.creation.findModel($0, on: db) }
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
///
/// A video is written field by field into bytes (`JSONWriter`), never built as a tree: a gallery
/// page is 24 of them, and building and freeing the tree cost as much as writing it (profiled).
enum VideoJSON {
    /// One video as its owner reads it, ready to put into any answer.
    static func video(_ video: VideoRecord, _ context: Context) -> JSON {
        self.video(video, language: context.language, sharing: sharing(context), places: places(for: [video], context))
    }

    static func video(_ video: VideoRecord, language: Language, sharing: Sharing, places: [String: ProviderQueue.Place] = [:]) -> JSON {
        let writer = JSONWriter()
        object(video, language: language, sharing: sharing, places: places, into: writer)
        return .raw(writer.bytes)
    }

    /// Where the caller's queued videos stand, read only when one of `videos` is queued.
    static func places(for videos: [VideoRecord], _ context: Context) -> [String: ProviderQueue.Place] {
        guard videos.contains(where: { $0.status == .queued }), let db = try? context.db else { return [:] }
        return (try? context.app.queue.places(of: videos, on: db)) ?? [:]
    }

    /// A video's object with the caller's fields after the video's own (an operator's list adds
    /// the owner; a single read adds the receipt).
    static func object(_ video: VideoRecord, language: Language, sharing: Sharing, places: [String: ProviderQueue.Place] = [:],
                       into writer: JSONWriter, forOperator: Bool = false, adding more: (JSONWriter) -> Void = { _ in }) {
        writer.beginObject()
        fields(video, language: language, sharing: sharing, place: places[video.id], forOperator: forOperator, into: writer)
        more(writer)
        writer.endObject()
    }

    /// A list of videos: the caller's language and the sharing rules worked out once, not per video.
    static func array(_ videos: [VideoRecord], _ context: Context, places: [String: ProviderQueue.Place]? = nil, into writer: JSONWriter) {
        let language = context.language, sharing = sharing(context), places = places ?? self.places(for: videos, context)
        writer.beginArray()
        for video in videos { object(video, language: language, sharing: sharing, places: places, into: writer) }
        writer.endArray()
    }

    static func sharing(_ context: Context) -> Sharing { Sharing(clock: context.app.clock, settings: context.app.settings) }

    private static func fields(_ video: VideoRecord, language: Language, sharing: Sharing, place: ProviderQueue.Place?,
                               forOperator: Bool, into writer: JSONWriter) {
        let base = sharing.settings.publicBaseURL
        writer.key("id"); writer.string(video.id)
        writer.key("status"); writer.string(video.status.rawValue)
        writer.key("progress"); writer.int(video.progress)
        writer.key("mode"); writer.string(video.mode.rawValue)
        writer.key("model"); writer.string(video.model)
        writer.key("prompt"); writer.string(video.prompt)
        writer.key("aspect_ratio"); writer.string(video.aspectRatio)
        writer.key("duration"); writer.int(video.durationSeconds)
        writer.key("resolution"); writer.string(video.resolution)
        writer.key("audio"); writer.bool(video.audio)
        writer.key("price_credits"); writer.int(video.priceCredits)
        writer.key("image_url"); writer.string(video.imageURL)
        writer.key("video_url"); writer.string(video.videoURL)
        writer.key("watermark_video_url"); writer.string(video.watermarkVideoURL)
        writer.key("failure")
        if let reason = video.failureReason {
            writer.beginObject()
            writer.key("code"); writer.string(reason.rawValue)
            writer.key("message"); writer.string(Messages.text("failure.\(reason.rawValue)", language))
            writer.key("provider_code"); writer.string(video.providerFailCode)
            // The provider's own words may name its internals or Phim's account: operators only.
            writer.key("provider_message"); writer.string(forOperator ? video.providerFailMessage : nil)
            writer.endObject()
        } else {
            writer.null()
        }
        writer.key("credits_refunded"); writer.bool(video.holdState == .released)
        writer.key("provider_task_id"); writer.string(video.providerTaskID)
        writer.key("created_at"); writer.time(video.createdAt)
        writer.key("updated_at"); writer.time(video.updatedAt)
        writer.key("finished_at"); writer.time(video.finishedAt)
        writer.key("deadline_at"); writer.time(video.deadlineAt)
        writer.key("sent_at"); writer.time(video.sentAt)
        // While queued: its place in the queue and a rough wait (see `ProviderQueue.places`).
        writer.key("queue_position"); if let place { writer.int(place.position) } else { writer.null() }
        writer.key("estimated_start_seconds"); if let place { writer.int(place.estimatedStartSeconds) } else { writer.null() }
        // Canceled after the provider had it: it runs on, and is charged unless the provider fails it.
        writer.key("stopped_waiting"); writer.bool(video.stoppedWaitingAt != nil)
        // Where to play and download it now (a redirect that outlives the provider's URL), and
        // when the provider deletes it.
        writer.key("media_url")
        writer.string(video.status == .completed && video.videoURL != nil ? "\(base)/api/v1/videos/\(video.id)/media" : nil)
        writer.key("expires_at"); writer.time(sharing.expiresAt(video))
        writer.key("expired"); writer.bool(sharing.isExpired(video))
        writer.key("share_url"); writer.string(video.shareToken.map { Sharing.url(base: base, token: $0) })
        writer.key("embed_code")
        writer.string(video.shareToken.map { ShareHandlers.embedCode(base: base, token: $0, aspect: video.aspectRatio) })
        writer.key("share_views"); writer.int(video.shareViews)
    }

    static func transaction(_ entry: CreditLedger.Entry) -> JSON {
        .object([("id", .string(entry.id)), ("kind", .string(entry.kind)), ("amount", .int(entry.availableDelta)),
                 ("held_change", .int(entry.heldDelta)), ("video_id", .optional(entry.jobID)), ("reason", .optional(entry.reason)),
                 ("created_at", .string(Timestamps.iso(entry.createdAt)))])
    }
}
