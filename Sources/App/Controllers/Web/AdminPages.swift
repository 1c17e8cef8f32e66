import Fluent
import Vapor

/// The operator's pages. Only accounts marked admin see them; to anyone else they do not
/// exist (404), so their addresses reveal nothing.
///
/// `/admin/provider`: the provider's health (calls, errors and latency over the last hour, the
/// last success, the account balance with a low-balance warning) and provider reconciliation
/// over a chosen period. Running it asks the
/// provider about every video of the period, so it is a form (POST), never a page load.
struct AdminPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let admin = routes.grouped(RedirectToSignIn()).grouped(RequireAdmin()).grouped("admin")
        admin.get("provider", use: provider)
        admin.post("provider", "reconcile", use: reconcile)
    }

    static let periods = [1, 24, 168, 720]

    struct ProviderPage: Encodable {
        var frame: PageFrame
        var health: HealthView
        var periods: [PeriodChoice]
        var report: ReportView?
    }

    /// The provider's last hour and its balance, every label in the reader's language.
    struct HealthView: Encodable {
        var calls: [CallRow]
        var hasCalls: Bool
        var lastSuccess: String
        var lastError: String?
        var balance: String?
        var balanceMoved: String?
        var balanceError: Bool
        var balanceLow: Bool
        var lowWarning: String

        struct CallRow: Encodable {
            var call: String
            var count: String
            var errorRate: String
            var errorRateHigh: Bool
            var average: String
            var p95: String
            var max: String
            var errors: String
        }
    }

    struct PeriodChoice: Encodable {
        var hours: Int
        var label: String
        var selected: Bool
    }

    struct ReportView: Encodable {
        var periodText: String
        var videos: String
        var charged: String
        var chargedCredits: String
        var refunded: String
        var running: String
        var providerAnswers: [Count]
        var balance: String?
        var balanceMoved: String?
        var balanceError: Bool
        var differences: [DifferenceRow]
        var hasDifferences: Bool
        var overcharges: Int
    }

    struct Count: Encodable {
        var label: String
        var count: String
    }

    struct DifferenceRow: Encodable {
        var videoID: String
        var shortID: String
        var createdAt: String
        var createdText: String
        var ours: String
        var price: String
        var provider: String
        var taskID: String
        var verdict: String
        var verdictCode: String
        var explanation: String
    }

    struct ReconcileForm: Content {
        var hours: Int?
    }

    @Sendable func provider(req: Request) async throws -> View {
        try await req.view.render("admin-provider", ProviderPage(frame: frame(req), health: try await health(req),
                                                                 periods: choices(selected: 24, req), report: nil))
    }

    @Sendable func reconcile(req: Request) async throws -> View {
        let hours = try req.content.decode(ReconcileForm.self).hours ?? 24
        guard Self.periods.contains(hours) else { throw AppError.invalidFilter(name: "hours") }
        let until = req.clock.now()
        let since = until.addingTimeInterval(-3600 * Double(hours))
        let report = try await ProviderReconciliation(db: req.db, provider: req.application.provider, clock: req.clock)
            .run(since: since, until: until)
        req.logger.notice("provider reconciliation run from the admin page", metadata: [
            "hours": .stringConvertible(hours), "differences": .stringConvertible(report.differences.count),
        ])
        return try await req.view.render("admin-provider", ProviderPage(frame: frame(req), health: try await health(req, checkBalance: false),
                                                                         periods: choices(selected: hours, req),
                                                                         report: view(of: report, req)))
    }

    /// Asks the provider for its balance on every view: one cheap call, and the operator sees the truth.
    private func health(_ req: Request, checkBalance: Bool = true) async throws -> HealthView {
        let language = req.pageLanguage
        func t(_ key: String, _ values: [String: String] = [:]) -> String { Localizer.shared.text(key, language, values) }
        func duration(_ milliseconds: Int?) -> String {
            guard let milliseconds else { return "> 10 s" }
            return milliseconds < 1000 ? "\(milliseconds) ms" : String(format: "%.1f s", Double(milliseconds) / 1000)
        }
        let report = try await req.providerHealth.report(checkBalance: checkBalance)
        return HealthView(
            calls: report.calls.map { call in
                HealthView.CallRow(
                    call: t("admin.health.call.\(call.call)"), count: Formatting.credits(call.count, language),
                    errorRate: String(format: "%.1f %%", call.errorRate * 100), errorRateHigh: call.errorRate >= 0.05,
                    average: duration(call.averageMilliseconds), p95: "≤ " + duration(call.p95AtMostMilliseconds),
                    max: duration(call.maxMilliseconds),
                    errors: call.errorsByOutcome.map { "\($0.outcome) × \($0.count)" }.joined(separator: ", "))
            },
            hasCalls: !report.calls.isEmpty,
            lastSuccess: report.lastSuccess.map { Formatting.time($0, language) } ?? t("admin.health.never"),
            lastError: report.lastError.map { "\(Formatting.time($0.at, language)) · \($0.outcome)" },
            balance: report.balance.map { Formatting.credits($0, language) },
            balanceMoved: report.balance.flatMap { now in
                report.previousBalance.map { previous in
                    t("admin.provider.balance_moved", ["moved": Formatting.credits(now - previous.credits, language),
                                                       "since": Formatting.time(previous.checkedAt, language)])
                }
            },
            balanceError: report.balance == nil,
            balanceLow: report.isBalanceLow,
            lowWarning: t("admin.health.low", ["threshold": Formatting.credits(report.lowBalance, language)]))
    }

    private func frame(_ req: Request) throws -> PageFrame {
        PageFrame(req, title: Localizer.shared.text("admin.provider.title", req.pageLanguage), user: try req.user)
    }

    private func choices(selected: Int, _ req: Request) -> [PeriodChoice] {
        Self.periods.map { hours in
            PeriodChoice(hours: hours, label: Localizer.shared.text("admin.period.\(hours)", req.pageLanguage), selected: hours == selected)
        }
    }

    private func view(of report: ProviderReconciliation.Report, _ req: Request) -> ReportView {
        let language = req.pageLanguage
        func t(_ key: String, _ values: [String: String] = [:]) -> String { Localizer.shared.text(key, language, values) }
        func number(_ value: Int) -> String { Formatting.credits(value, language) }
        let answers = Dictionary(grouping: report.lines, by: { $0.provider.summaryKey }).mapValues(\.count)
        return ReportView(
            periodText: t("admin.provider.period", ["since": Formatting.time(report.since, language),
                                                    "until": Formatting.time(report.until, language)]),
            videos: number(report.lines.count),
            charged: number(report.count(.settled)),
            chargedCredits: number(report.settledCredits),
            refunded: number(report.count(.released)),
            running: number(report.count(.open)),
            providerAnswers: answers.sorted { $0.key < $1.key }.map { Count(label: t("admin.answer.\($0.key)"), count: number($0.value)) },
            balance: report.balanceNow.map(number),
            balanceMoved: report.balanceNow.flatMap { now in
                report.previousBalance.map { previous in
                    t("admin.provider.balance_moved", ["moved": number(now - previous.credits),
                                                       "since": Formatting.time(previous.checkedAt, language)])
                }
            },
            balanceError: report.balanceNow == nil,
            differences: report.differences.map { line in
                DifferenceRow(
                    videoID: line.videoID.uuidString.lowercased(), shortID: String(line.videoID.uuidString.lowercased().prefix(8)),
                    createdAt: Formatting.iso(line.createdAt), createdText: Formatting.time(line.createdAt, language),
                    ours: t("admin.hold.\(line.hold.rawValue)") + (line.failure.map { " · " + $0.rawValue } ?? ""),
                    price: number(line.priceCredits),
                    provider: t("admin.answer.\(line.provider.summaryKey)"),
                    taskID: line.providerTaskID ?? "–",
                    verdict: t("admin.verdict.\(line.verdict.rawValue)"),
                    verdictCode: line.verdict.rawValue,
                    explanation: t("admin.verdict.\(line.verdict.rawValue).explain"))
            },
            hasDifferences: !report.differences.isEmpty,
            overcharges: report.overcharges.count)
    }
}

extension ProviderReconciliation.ProviderAnswer {
    /// The translation key's last part for this answer.
    var summaryKey: String {
        switch self {
        case .notAsked: "not_asked"
        case .state(let state):
            switch state {
            case .success: "success"
            case .fail: "fail"
            default: "running"
            }
        case .unknownTask: "unknown_task"
        case .failed: "query_failed"
        }
    }
}

/// Lets only admins through; to anyone else the route does not exist.
struct RequireAdmin: AsyncMiddleware {
    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard let user = request.auth.get(User.self), user.isAdmin else { throw AppError.routeNotFound }
        return try await next.respond(to: request)
    }
}

extension Request {
    var providerHealth: ProviderHealth {
        ProviderHealth(store: store, clock: clock, provider: application.provider, callLog: application.providerCallLog,
                       lowBalance: application.phimConfig.providerLowBalance)
    }
}
