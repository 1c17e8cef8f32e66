import Foundation
import PhimCore
import PhimSupport

/// The operators' view of the admission queue and its two limits.
public enum AdminQueueHandlers {
    /// `GET /api/v1/admin/queue`.
    static func report(_ context: Context) throws -> Response {
        let report = try Administration(clock: context.app.clock).queueReport(queue: context.app.queue, on: context.db)
        return .json(json(report, now: context.app.clock.nowMillis()))
    }

    /// `PUT /api/v1/admin/queue/limits` `{creates_per_10s?, max_running?, reason}`, or
    /// `{reset: true, reason}` to go back to the settings; audited.
    static func setLimits(_ context: Context) throws -> Response {
        let body = try context.jsonBody()
        func limit(_ name: String) throws -> Int? {
            guard let value = body[name], !value.isNull else { return nil }
            guard let number = value.intValue else { throw AppError.invalidQueueLimit(maximum: 100_000) }
            return number
        }
        guard body["reset"] == nil || body["reset"] == .bool(true) || body["reset"] == .bool(false) else {
            throw AppError.invalidJSON(detail: "reset must be true or false")
        }
        try Administration(clock: context.app.clock).setQueueLimits(
            createsPer10s: try limit("creates_per_10s"), maxRunning: try limit("max_running"), reset: body["reset"] == .bool(true),
            reason: body["reason"]?.stringValue,
            by: .admin(try context.user), queue: context.app.queue, on: context.db)
        context.app.queueWakeup.signal()
        return try report(context)
    }

    public static func json(_ report: Administration.QueueReport, now: Int64) -> JSON {
        func waited(since millis: Int64) -> JSON { .int(Int(max(0, now - millis) / 1000)) }
        let limits: JSON = .object([("creates_per_10s", .int(report.limits.createsPer10s)), ("max_running", .int(report.limits.maxRunning)),
                                    ("set_by_operator", .bool(report.limits.changedByOperator))])
        let accounts: [JSON] = report.accounts.map { account in
            .object([("user_id", .string(account.userID)), ("email", .string(account.email)), ("queued", .int(account.queued)),
                     ("oldest_wait_seconds", waited(since: account.oldestQueuedAt))])
        }
        var fields: [(String, JSON)] = [("queued", .int(report.queued))]
        fields.append(("oldest_wait_seconds", report.oldestQueuedAt.map(waited(since:)) ?? .null))
        fields.append(("running", .int(report.running)))
        fields.append(("sent_last_minute", .int(report.sentLastMinute)))
        fields.append(("sent_last_10_seconds", .int(report.sentLast10Seconds)))
        fields.append(("busy_last_hour", .int(report.busyLastHour)))
        fields.append(("paused_until", Timestamps.isoOrNull(report.pausedUntil)))
        fields.append(("dispatcher", JSON.optional(report.leaseHolder)))
        fields.append(("limits", limits))
        fields.append(("accounts", .array(accounts)))
        return .object(fields)
    }
}
