import Fluent
import Vapor

/// The operator's pages. Only accounts marked admin see them; to anyone else they do not
/// exist (404), so their addresses reveal nothing.
///
/// `/admin/provider`: provider reconciliation over a chosen period. Running it asks the
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
        var periods: [PeriodChoice]
        var report: ReportView?
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
        try await req.view.render("admin-provider", ProviderPage(frame: frame(req), periods: choices(selected: 24, req), report: nil))
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
        return try await req.view.render("admin-provider", ProviderPage(frame: frame(req), periods: choices(selected: hours, req),
                                                                         report: view(of: report, req)))
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
