import Foundation
import PhimSupport

/// The operators' view of the admission queue, and the two limits they may change without a
/// restart (Kie raises them on request).
extension Administration {
    public struct QueueReport: Sendable {
        public struct Account: Sendable {
            public var userID: String
            public var email: String
            public var queued: Int
            public var oldestQueuedAt: Int64
        }

        public var limits: ProviderQueue.Limits
        public var queued: Int
        public var oldestQueuedAt: Int64?
        public var accounts: [Account]
        /// Sent to the provider and not finished: what counts against the running cap.
        public var running: Int
        public var sentLastMinute: Int
        public var sentLast10Seconds: Int
        /// Sends the provider refused as busy (429, 455, 5xx) in the last hour: each went back to the queue.
        public var busyLastHour: Int
        public var pausedUntil: Int64?
        public var leaseHolder: String?
        public var leaseUntil: Int64?
    }

    public func queueReport(queue: ProviderQueue, on db: Database) throws -> QueueReport {
        let now = clock.nowMillis()
        return try db.read {
            let accounts = try db.rows("""
                SELECT j.user_id, u.email, COUNT(*) AS queued, MIN(j.created_at) AS oldest
                FROM video_jobs j JOIN users u ON u.id = j.user_id
                WHERE j.status = 'queued' GROUP BY j.user_id ORDER BY queued DESC, oldest LIMIT 50
                """).map { QueueReport.Account(userID: $0.string("user_id"), email: $0.string("email"), queued: $0.int("queued"),
                                   oldestQueuedAt: $0.int64("oldest")) }
            let totals = try db.firstRow("SELECT COUNT(*) AS queued, MIN(created_at) AS oldest FROM video_jobs WHERE status = 'queued'")
            let sends = try db.firstRow("""
                SELECT SUM(sent_at > :minute) AS minute, SUM(sent_at > :window) AS window,
                       SUM(outcome = 'busy') AS busy
                FROM provider_sends WHERE sent_at > :hour
                """, ["minute": .integer(now - 60_000), "window": .integer(now - 10_000), "hour": .integer(now - 3_600_000)])
            let dispatch = try db.firstRow("SELECT holder, lease_until, paused_until FROM provider_dispatch WHERE id = 1")
            let pausedUntil = dispatch?.int64("paused_until") ?? 0, leaseUntil = dispatch?.int64("lease_until") ?? 0
            return QueueReport(
                limits: try queue.limits(on: db), queued: totals?.int("queued") ?? 0, oldestQueuedAt: totals?.optionalInt64("oldest"),
                accounts: accounts, running: try queue.runningCount(on: db),
                sentLastMinute: Int(sends?.optionalInt64("minute") ?? 0), sentLast10Seconds: Int(sends?.optionalInt64("window") ?? 0),
                busyLastHour: Int(sends?.optionalInt64("busy") ?? 0),
                pausedUntil: pausedUntil > now ? pausedUntil : nil,
                leaseHolder: leaseUntil > now ? dispatch?.optionalString("holder") : nil, leaseUntil: leaseUntil > now ? leaseUntil : nil)
        }
    }

    /// Sets the limits the queue keeps to (nil keeps one as it is), or with `reset` gives both
    /// back to the settings; audited. Kie's defaults are 20 creates per 10 s; its cap on running
    /// tasks is per account ("usually more than 100").
    @discardableResult
    public func setQueueLimits(createsPer10s: Int?, maxRunning: Int?, reset: Bool = false, reason rawReason: String?, by actor: Actor,
                               queue: ProviderQueue, on db: Database) throws -> ProviderQueue.Limits {
        let reason = try Self.reason(rawReason)
        for value in [createsPer10s, maxRunning].compactMap({ $0 }) where !(1...100_000).contains(value) {
            throw AppError.invalidQueueLimit(maximum: 100_000)
        }
        guard reset != (createsPer10s != nil || maxRunning != nil) else { throw AppError.invalidQueueLimit(maximum: 100_000) }
        let now = clock.nowMillis()
        return try db.write {
            let before = try queue.limits(on: db)
            if reset {
                try db.run("UPDATE provider_dispatch SET creates_per_10s = NULL, max_running = NULL WHERE id = 1")
            }
            try db.run("""
                UPDATE provider_dispatch SET creates_per_10s = COALESCE(:creates, creates_per_10s),
                  max_running = COALESCE(:running, max_running) WHERE id = 1
                """, ["creates": .optionalInt(createsPer10s.map(Int64.init)), "running": .optionalInt(maxRunning.map(Int64.init))])
            let after = try queue.limits(on: db)
            try record(actor, "queue.limits", targetUserID: nil, target: "provider queue", reason: reason,
                       before: [("creates_per_10s", .int(before.createsPer10s)), ("max_running", .int(before.maxRunning))],
                       after: [("creates_per_10s", .int(after.createsPer10s)), ("max_running", .int(after.maxRunning))], at: now, on: db)
            return after
        }
    }
}
