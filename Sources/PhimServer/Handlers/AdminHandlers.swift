import Foundation
import PhimCore
import PhimProvider
import PhimSupport

/// The operators' API under /api/v1/admin (administrators only; everyone else gets 404, so its
/// existence is not even confirmed). The actions themselves are `Administration`'s.
enum AdminHandlers {
    static func users(_ context: Context) throws -> Response {
        let accounts = try administration(context).search(context.request.query["query"] ?? "",
                                                         limit: try context.limit(default: 50, maximum: 500), on: context.db)
        return .json(.object([("data", .array(accounts.map { account(user: $0.user, createdAt: $0.createdAt) }))]))
    }

    static func user(_ context: Context) throws -> Response {
        let user = try target(context)
        let db = try context.db
        let createdAt = try db.first("SELECT created_at FROM users WHERE id = ?", [.text(user.id)])?.int64(0) ?? 0
        let ledger = try CreditLedger.entries(userID: user.id, limit: 100, beforeRowID: nil, on: db).entries
        let audit = try administration(context).auditLog(userID: user.id, limit: 100, on: db)
        return .json(.object([("account", account(user: user, createdAt: createdAt)),
                              ("ledger", .array(ledger.map(VideoJSON.transaction))),
                              ("audit", .array(audit.map(auditJSON)))]))
    }

    /// `{action: "grant" | "deduct", amount, reason}`.
    static func credits(_ context: Context) throws -> Response {
        let body = try context.jsonBody()
        let move: Administration.CreditMove
        switch body["action"]?.stringValue {
        case "grant": move = .grant
        case "deduct": move = .deduct
        default: throw AppError.invalidJSON(detail: "action must be grant or deduct")
        }
        guard let amount = body["amount"]?.intValue else { throw AppError.invalidAmount(maximum: Administration.maximumAmount) }
        let user = try administration(context).move(move, amount: amount, userID: try target(context).id,
                                                    reason: body["reason"]?.stringValue, by: actor(context), on: context.db)
        return .json(account(user: user, createdAt: nil))
    }

    static func disable(_ context: Context) throws -> Response { try setDisabled(true, context) }
    static func enable(_ context: Context) throws -> Response { try setDisabled(false, context) }

    private static func setDisabled(_ disabled: Bool, _ context: Context) throws -> Response {
        let body = try context.jsonBody()
        let user = try administration(context).setDisabled(disabled, userID: try target(context).id, reason: body["reason"]?.stringValue,
                                                           by: actor(context), on: context.db)
        return .json(account(user: user, createdAt: nil))
    }

    static func audit(_ context: Context) throws -> Response {
        var userID: String?
        if let raw = context.request.query["user_id"] {
            guard UUID(uuidString: raw) != nil else { throw AppError.userNotFound }
            userID = raw.lowercased()
        }
        let entries = try administration(context).auditLog(userID: userID, limit: try context.limit(default: 100, maximum: 1000),
                                                           on: context.db)
        return .json(.object([("data", .array(entries.map(auditJSON)))]))
    }

    /// The ledger as CSV (`since` and `until`: ISO 8601 times or dates).
    static func ledgerCSV(_ context: Context) throws -> Response {
        func time(_ name: String) throws -> Int64? {
            guard let raw = context.request.query[name], !raw.isEmpty else { return nil }
            guard let value = ISOTime.parse(raw) else { throw AppError.invalidJSON(detail: "\(name) must be an ISO 8601 time") }
            return value
        }
        var body: [UInt8] = []
        try LedgerExport.export(since: try time("since"), until: try time("until"), on: context.db) { body += Array($0.utf8) }
        return Response(status: 200, headers: [("Content-Type", "text/csv; charset=utf-8"),
                                               ("Content-Disposition", "attachment; filename=\"phim-ledger.csv\"")], body: body)
    }

    // MARK: - Helpers

    private static func administration(_ context: Context) -> Administration { Administration(clock: context.app.clock) }

    private static func actor(_ context: Context) throws -> Administration.Actor { .admin(try context.user) }

    private static func target(_ context: Context) throws -> User {
        let id = context.parameter("id").lowercased()
        guard UUID(uuidString: id) != nil, let user = try context.app.accounts.user(id: id, on: context.db) else {
            throw AppError.userNotFound
        }
        return user
    }

    static func account(user: User, createdAt: Int64?) -> JSON {
        var fields: [(String, JSON)] = [("id", .string(user.id)), ("email", .string(user.email)), ("is_admin", .bool(user.isAdmin)),
                                        ("disabled", .bool(user.isDisabled)), ("credits", .int(user.creditsAvailable)),
                                        ("credits_on_hold", .int(user.creditsHeld))]
        if let createdAt { fields.append(("created_at", .string(Timestamps.iso(createdAt)))) }
        return .object(fields)
    }

    static func auditJSON(_ entry: Administration.AuditEntry) -> JSON {
        .object([("id", .string(entry.id)), ("actor", .string(entry.actor)), ("action", .string(entry.action)),
                 ("target", .optional(entry.target)), ("target_user_id", .optional(entry.targetUserID)),
                 ("reason", .optional(entry.reason)), ("before", JSON.parse(Data(entry.before.utf8)) ?? .null),
                 ("after", JSON.parse(Data(entry.after.utf8)) ?? .null), ("created_at", .string(Timestamps.iso(entry.createdAt)))])
    }
}

/// Every account's videos, for operators.
enum AdminJobHandlers {
    /// `GET /api/v1/admin/videos?state=&model=&hours=&limit=`.
    static func list(_ context: Context) throws -> Response {
        let query = context.request.query
        var state: JobStatus?
        if let raw = query["state"], !raw.isEmpty {
            guard let parsed = JobStatus(rawValue: raw) else { throw AppError.invalidJSON(detail: "unknown state") }
            state = parsed
        }
        var model: String?
        if let raw = query["model"], !raw.isEmpty {
            guard try ModelCatalog.find(raw, on: context.db) != nil else { throw AppError.invalidFilter(name: "model") }
            model = raw
        }
        var hours: Int?
        if let raw = query["hours"], !raw.isEmpty {
            guard let value = Int(raw), (1...100_000).contains(value) else { throw AppError.invalidJSON(detail: "hours must be a positive whole number") }
            hours = value
        }
        let videos = try jobs(context).list(state: state, model: model, hours: hours, limit: try context.limit(default: 100, maximum: 1000),
                                            on: context.db)
        return .json(.object([("data", .array(videos.map { listed($0, context) }))]))
    }

    /// `GET /api/v1/admin/videos/stuck`.
    static func stuck(_ context: Context) throws -> Response {
        .json(.object([("data", .array(try jobs(context).stuck(limit: try context.limit(default: 100, maximum: 1000), on: context.db)
            .map { listed($0, context) }))]))
    }

    /// `GET /api/v1/admin/failures?hours=24`.
    static func failures(_ context: Context) throws -> Response {
        let hours = Int(context.request.query["hours"] ?? "") ?? 24
        guard (1...100_000).contains(hours) else { throw AppError.invalidJSON(detail: "hours must be a positive whole number") }
        let groups = try jobs(context).failures(hours: hours, on: context.db)
        return .json(.object([("hours", .int(hours)), ("data", .array(groups.map { group in
            .object([("reason", .string(group.reason)), ("provider_code", .optional(group.providerCode)), ("count", .int(group.count)),
                     ("example", .optional(group.example)), ("latest_at", .string(Timestamps.iso(group.latestAt)))])
        }))]))
    }

    /// `POST /api/v1/admin/videos/{id}/reconcile`: ask the provider now.
    static func reconcile(_ context: Context) throws -> Response {
        let (video, result) = try jobs(context).reconcile(videoID: context.parameter("id"), provider: context.app.provider,
                                                          lifecycle: context.app.lifecycle, by: .admin(try context.user), on: context.db)
        let outcome: JSON = switch result {
        case .asked(let state, let changed): .object([("asked", .bool(true)), ("provider_state", .string(state)), ("changed", .bool(changed))])
        case .askedRecently: .object([("asked", .bool(false)), ("reason", .string("asked_recently"))])
        case .noTask: .object([("asked", .bool(false)), ("reason", .string("no_provider_task"))])
        case .providerRefused(let code, let message):
            .object([("asked", .bool(true)), ("changed", .bool(false)), ("provider_code", .int(code)), ("provider_message", .string(message))])
        }
        return .json(.object([("result", outcome), ("video", listed(video, context))]))
    }

    static func listed(_ listed: JobAdministration.Listed, _ context: Context) -> JSON {
        let writer = JSONWriter()
        VideoJSON.object(listed.video, language: context.language, sharing: VideoJSON.sharing(context), into: writer, forOperator: true) { writer in
            writer.key("owner_email"); writer.string(listed.ownerEmail)
            writer.key("last_heard_at"); writer.time(listed.lastHeardAt)
            writer.key("deleted"); writer.bool(listed.video.deletedAt != nil)
        }
        return .raw(writer.bytes)
    }

    private static func jobs(_ context: Context) -> JobAdministration {
        JobAdministration(clock: context.app.clock, settings: context.app.settings)
    }
}

/// The provider's health for operators.
enum AdminProviderHandlers {
    /// `GET /api/v1/admin/provider`: the last hour's calls, error rate by kind, latency, the last
    /// success and error, and the provider balance with its low-balance warning.
    static func health(_ context: Context) throws -> Response {
        let report = try ProviderHealth.report(provider: context.app.provider, lowBalance: context.app.settings.providerLowBalance,
                                               on: context.db)
        return .json(json(report))
    }

    static func json(_ report: ProviderHealth.Report) -> JSON {
        .object([
            ("window_minutes", .int(60)), ("calls", .int(report.calls)), ("failures", .int(report.failures)),
            ("error_rate", .number((report.errorRate * 10_000).rounded() / 10_000)),
            ("by_outcome", .array(report.byOutcome.map { .object([("outcome", .string($0.outcome)), ("calls", .int($0.calls))]) })),
            ("average_ms", .number((report.averageMilliseconds * 10).rounded() / 10)),
            ("slowest_ms", .number((report.slowestMilliseconds * 10).rounded() / 10)),
            ("last_success", report.lastSuccess.map { .object([("at", .string(Timestamps.iso($0.at))), ("call", .string($0.call))]) } ?? .null),
            ("last_error", report.lastError.map {
                .object([("at", .string(Timestamps.iso($0.at))), ("call", .string($0.call)), ("detail", .string($0.detail))])
            } ?? .null),
            ("balance", report.balance.map { .int($0) } ?? .null), ("balance_error", .optional(report.balanceError)),
            ("low_balance_threshold", .int(report.lowBalanceThreshold)), ("balance_low", .bool(report.isBalanceLow)),
            ("creates_by_model", .array(report.createsByModel.map {
                .object([("model", .string($0.model)), ("calls", .int($0.calls)), ("errors", .int($0.errors))])
            })),
            ("unavailable_models", .array(report.unavailableModels.map { model in
                .object([("id", .string(model.id)), ("since", Timestamps.isoOrNull(model.availability.unavailableSince)),
                         ("reason", .optional(model.availability.reason)), ("recheck_at", Timestamps.isoOrNull(model.availability.recheckAt))])
            })),
        ])
    }
}

/// The business at a glance, for operators.
enum AdminAnalyticsHandlers {
    /// `GET /api/v1/admin/analytics?days=30`.
    static func report(_ context: Context) throws -> Response {
        let days = Int(context.request.query["days"] ?? "") ?? 30
        guard (1...366).contains(days) else { throw AppError.invalidJSON(detail: "days must be from 1 to 366") }
        let report = try Analytics(clock: context.app.clock).report(days: days, on: context.db)
        return .json(.object([
            ("days", .int(report.days)),
            ("by_day_and_model", .array(report.rows.map { row in
                .object([("day", .string(row.day)), ("model", .string(row.model)), ("made", .int(row.made)),
                         ("completed", .int(row.completed)), ("failed", .int(row.failed)), ("canceled", .int(row.canceled)),
                         ("success_rate", .number((row.successRate * 1000).rounded() / 1000)),
                         ("credits_charged", .int(row.creditsCharged)), ("provider_cost_estimate", .number((row.providerCostEstimate * 10).rounded() / 10))])
            })),
            ("top_styles", .array(report.styles.map { .object([("key", .string($0.key)), ("uses", .int($0.uses))]) })),
            ("top_words", .array(report.words.map { .object([("word", .string($0.word)), ("uses", .int($0.uses))]) })),
            ("revenue", .array(report.revenue.map {
                .object([("day", .string($0.day)), ("amount_vnd", .int($0.amountVND)), ("topups", .int($0.topups)),
                         ("credits_sold", .int($0.creditsSold))])
            })),
        ]))
    }
}

/// Holding the ledger against the provider's own records, for operators.
enum AdminReconciliationHandlers {
    /// `POST /api/v1/admin/provider/reconciliation` `{"hours": 24}` (or `since`/`until`, ISO 8601).
    /// A POST with the anti-forgery token, not a GET: it asks the provider about every video of
    /// the period, which a link followed by a signed-in operator must not be able to start.
    static func report(_ context: Context) throws -> Response {
        let body = try context.jsonBody()
        if case .object(let fields) = body, let unknown = fields.first(where: { !["hours", "since", "until"].contains($0.0) }) {
            throw AppError.invalidJSON(detail: "unknown field \(unknown.0)")
        }
        func time(_ name: String) throws -> Int64? {
            guard let value = body[name], !value.isNull else { return nil }
            guard let text = value.stringValue, let millis = ISOTime.parse(text) else {
                throw AppError.invalidJSON(detail: "\(name) must be an ISO 8601 time")
            }
            return millis
        }
        // `until` is exclusive; by default it takes in a video made this very millisecond.
        let until = try time("until") ?? context.app.clock.nowMillis() + 1
        var since = until - 24 * 3_600_000
        if let value = try time("since") {
            since = value
        } else if let value = body["hours"], !value.isNull {
            guard let hours = value.intValue, (1...24 * 92).contains(hours) else { throw AppError.invalidJSON(detail: "hours must be from 1 to 2208") }
            since = until - Int64(hours) * 3_600_000
        }
        let report = try ProviderReconciliation(provider: context.app.provider, clock: context.app.clock)
            .run(since: since, until: until, on: context.db)
        var counts: [(String, JSON)] = []
        for verdict in ProviderReconciliation.Verdict.allCases {
            counts.append((verdict.rawValue, .int(report.lines.filter { $0.verdict == verdict }.count)))
        }
        return .json(.object([
            ("since", .string(Timestamps.iso(report.since))), ("until", .string(Timestamps.iso(report.until))),
            ("videos", .int(report.lines.count)), ("by_verdict", .object(counts)),
            ("settled_credits", .int(report.settledCredits)), ("provider_billed_tasks", .int(report.providerBilled)),
            ("differences", .array(report.differences.map { line in
                .object([("video_id", .string(line.videoID)), ("created_at", .string(Timestamps.iso(line.createdAt))),
                         ("price_credits", .int(line.priceCredits)), ("hold", .string(line.hold.rawValue)),
                         ("provider_task_id", .optional(line.providerTaskID)), ("provider", .string(line.providerAnswer)),
                         ("verdict", .string(line.verdict.rawValue)), ("model", .string(line.model)),
                         ("provider_list_credits", line.listCredits.map { .number($0) } ?? .null),
                         ("provider_charged_credits", line.providerCharged.map { .number($0) } ?? .null)])
            })),
            ("balance", report.balanceNow.map { .int($0) } ?? .null), ("balance_error", .optional(report.balanceError)),
            ("previous_balance", report.previousBalance.map {
                .object([("checked_at", .string(Timestamps.iso($0.checkedAt))), ("credits", .int($0.credits))])
            } ?? .null),
        ]))
    }
}
