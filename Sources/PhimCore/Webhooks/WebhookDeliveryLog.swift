// The owner's view of their webhook deliveries: the log, one delivery with its attempts, replay.
import Foundation
import PhimSupport

/// The owner's view of their deliveries. Every query names the owner, so another user's
/// delivery answers exactly like a missing one.
public struct WebhookDeliveryLog: Sendable {
    public var userID: String

    public init(userID: String) { self.userID = userID }

    public struct Page: Sendable {
        public var deliveries: [WebhookDelivery]
        public var nextCursor: String?
    }

    /// Newest first; `videoID` and `state` narrow it. The cursor is the last one shown's sequence.
    public func page(videoID: String?, state: String?, limit: Int, cursor: String?, on db: Database) throws -> Page {
        var conditions = ["user_id = ?", "rowid < ?"]
        var before = Int64.max
        if let cursor {
            guard let value = Int64(cursor), value > 0 else { throw AppError.invalidCursor }
            before = value
        }
        var values: [SQLValue] = [.text(userID), .integer(before)]
        if let videoID {
            guard UUID(uuidString: videoID) != nil else { throw AppError.invalidFilter(name: "video_id") }
            conditions.append("job_id = ?")
            values.append(.text(videoID.lowercased()))
        }
        if let state {
            guard WebhookDeliveryState(rawValue: state) != nil else { throw AppError.invalidFilter(name: "state") }
            conditions.append("state = ?")
            values.append(.text(state))
        }
        let rows = try db.query("""
            SELECT \(WebhookDelivery.columns) FROM webhook_deliveries WHERE \(conditions.joined(separator: " AND "))
            ORDER BY rowid DESC LIMIT ?
            """, values + [.int(limit + 1)])
        let deliveries = rows.prefix(limit).map(WebhookDelivery.init)
        return Page(deliveries: deliveries, nextCursor: rows.count > limit ? deliveries.last.map { String($0.sequence) } : nil)
    }

    public func delivery(_ id: String?, on db: Database) throws -> WebhookDelivery {
        guard let id = id?.lowercased(), UUID(uuidString: id) != nil,
              let row = try db.first("SELECT \(WebhookDelivery.columns) FROM webhook_deliveries WHERE id = ? AND user_id = ?",
                                     [.text(id), .text(userID)])
        else { throw AppError.webhookDeliveryNotFound }
        return WebhookDelivery(row)
    }

    /// Every attempt at a delivery (replays included), oldest first.
    public func attempts(of delivery: WebhookDelivery, on db: Database) throws -> [WebhookAttempt] {
        try db.query("""
            SELECT attempted_at, status_code, error, duration_ms FROM webhook_attempts WHERE delivery_id = ? ORDER BY id
            """, [.text(delivery.id)]).map { row in
            WebhookAttempt(attemptedAt: row.int64(0), statusCode: row.optionalInt64(1).map(Int.init), error: row.optionalString(2),
                           durationMillis: row.int(3))
        }
    }

    /// Queues a delivery to be sent again at once, with a fresh retry schedule. Its id and body
    /// stay the same, so a receiver that already has it can tell. An attempt in flight keeps its
    /// answer in the log but no longer decides the delivery's state. At most `perHour` replays an
    /// account an hour: the one over the limit is refused and changes nothing.
    public func replay(_ id: String?, clock: AppClock, perHour: Int, on db: Database) throws -> WebhookDelivery {
        let delivery = try self.delivery(id, on: db)
        let limiter = RateLimiter(clock: clock)
        let rule = RateLimiter.Rule(name: "webhook-replay", limit: perHour, windowSeconds: 3_600)
        _ = try db.write {
            // Counted in the replay's own transaction: refused, it rolls back with the count.
            guard try limiter.hit(rule, key: userID, on: db) <= rule.limit else {
                throw AppError.tooManyReplays(retryAfter: limiter.secondsUntilReset(rule))
            }
            try db.run("""
                UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = :now, delivered_at = NULL,
                  claim = NULL WHERE id = :id AND user_id = :user
                """, ["now": .integer(clock.nowMillis()), "id": .text(delivery.id), "user": .text(userID)])
        }
        Log.info("webhook delivery replayed", ["webhook_id": delivery.messageID, "job_id": delivery.videoID])
        return try self.delivery(delivery.id, on: db)
    }
}
