import Foundation
import PhimCore
import PhimSupport

/// The caller's outbound webhooks: the account endpoint with its signing secret, and the
/// delivery log with its replay action. Another user's delivery answers exactly like a missing one.
public enum WebhookHandlers {
    /// A webhook body's `data`: the video as `GET /api/v1/videos/{id}` shows it (without the
    /// receipt), in the API's default language. The domain queues the bodies, but this JSON and
    /// its texts live here, so `Configuration` hands it to `Settings.webhooks` (tests do the same).
    public static let videoJSON: WebhookVideoJSON = { video, sharing in
        VideoJSON.video(video, language: .vi, sharing: sharing)
    }

    // MARK: - Endpoint and secret

    /// `GET /api/v1/webhook-endpoint`: the settings, with the secret receivers verify with (made on first read).
    static func showEndpoint(_ context: Context) throws -> Response {
        secretBearing(try endpoints(context).endpoint(userID: try context.user.id, on: context.db))
    }

    /// `PUT /api/v1/webhook-endpoint {url?, events?}`: replaces the account endpoint.
    static func updateEndpoint(_ context: Context) throws -> Response {
        secretBearing(try endpoints(context).update(userID: try context.user.id, body: try context.jsonBody(), on: context.db))
    }

    /// `POST /api/v1/webhook-endpoint/rotate-secret`: a new secret, effective at once.
    static func rotateSecret(_ context: Context) throws -> Response {
        secretBearing(try endpoints(context).rotateSecret(userID: try context.user.id, on: context.db))
    }

    private static func endpoints(_ context: Context) -> WebhookEndpoints {
        WebhookEndpoints(clock: context.app.clock, settings: context.app.settings)
    }

    /// An answer carrying the secret is never stored by a cache.
    private static func secretBearing(_ endpoint: WebhookEndpoints.Endpoint) -> Response {
        var response = Response.json(.object([
            ("url", .optional(endpoint.url)), ("events", .array(endpoint.events.names.map { .string($0) })),
            ("secret", .string(endpoint.secret)),
            ("created_at", .string(Timestamps.iso(endpoint.createdAt))), ("updated_at", .string(Timestamps.iso(endpoint.updatedAt))),
        ]))
        response.addHeader("Cache-Control", "no-store")
        return response
    }

    // MARK: - Delivery log

    /// `GET /api/v1/webhook-deliveries?video_id=&state=&limit=&cursor=`: newest first.
    static func listDeliveries(_ context: Context) throws -> Response {
        let query = context.request.query
        let page = try WebhookDeliveryLog(userID: try context.user.id).page(
            videoID: query["video_id"], state: query["state"], limit: try context.limit(default: 50, maximum: 100),
            cursor: query["cursor"], on: context.db)
        var fields: [(String, JSON)] = [("data", .array(page.deliveries.map { delivery($0) }))]
        if let next = page.nextCursor { fields.append(("next_cursor", .string(next))) }
        return .json(.object(fields))
    }

    /// `GET /api/v1/webhook-deliveries/{id}`: one delivery with the exact body that is signed and every attempt.
    static func showDelivery(_ context: Context) throws -> Response {
        let log = WebhookDeliveryLog(userID: try context.user.id)
        let found = try log.delivery(context.parameter("id"), on: context.db)
        return .json(delivery(found, attempts: try log.attempts(of: found, on: context.db)))
    }

    /// `POST /api/v1/webhook-deliveries/{id}/replay`: 202, sent again now (same `webhook-id` and body) with a fresh schedule;
    /// 429 `too_many_replays` past `PHIM_WEBHOOK_REPLAYS_PER_HOUR`.
    static func replay(_ context: Context) throws -> Response {
        let replayed = try WebhookDeliveryLog(userID: try context.user.id)
            .replay(context.parameter("id"), clock: context.app.clock, perHour: context.app.settings.webhooks.replaysPerHour,
                    on: context.db)
        return .json(delivery(replayed), status: 202)
    }

    static func delivery(_ delivery: WebhookDelivery, attempts: [WebhookAttempt]? = nil) -> JSON {
        var fields: [(String, JSON)] = [
            ("id", .string(delivery.id)), ("webhook_id", .string(delivery.messageID)), ("video_id", .string(delivery.videoID)),
            ("event", .string(delivery.eventType)), ("url", .string(delivery.url)), ("state", .string(delivery.state.rawValue)),
            ("attempts", .int(delivery.attempts)),
            ("next_attempt_at", delivery.state == .pending ? Timestamps.isoOrNull(delivery.nextAttemptAt) : .null),
            ("last_attempt_at", Timestamps.isoOrNull(delivery.lastAttemptAt)),
            ("last_status_code", delivery.lastStatusCode.map { .int($0) } ?? .null), ("last_error", .optional(delivery.lastError)),
            ("created_at", .string(Timestamps.iso(delivery.createdAt))), ("delivered_at", Timestamps.isoOrNull(delivery.deliveredAt)),
        ]
        if let attempts {
            fields.append(("payload", .string(delivery.payload)))
            fields.append(("attempt_log", .array(attempts.map { attempt in
                .object([("attempted_at", .string(Timestamps.iso(attempt.attemptedAt))),
                         ("status_code", attempt.statusCode.map { .int($0) } ?? .null), ("error", .optional(attempt.error)),
                         ("duration_ms", .int(attempt.durationMillis))])
            })))
        }
        return .object(fields)
    }
}
