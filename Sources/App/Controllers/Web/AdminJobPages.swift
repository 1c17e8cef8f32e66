import Fluent
import Vapor

/// `/admin/jobs`: every account's videos with filters (state, model, age), the stuck ones,
/// failures grouped by reason, and "ask the provider now" for one video (admins only).
struct AdminJobPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let admin = routes.grouped(RedirectToSignIn()).grouped(RequireAdmin()).grouped("admin")
        admin.get("jobs", use: show)
        admin.post("jobs", ":videoID", "reconcile", use: reconcile)
    }

    static let ages = [1, 24, 168, 720]
    static let results: Set<String> = ["finished", "no_task", "asked_recently", "unchanged", "updated", "query_failed"]

    struct JobsPage: Encodable {
        var frame: PageFrame
        var states: [Choice]
        var models: [Choice]
        var ages: [Choice]
        var rows: [JobRow]
        var hasRows: Bool
        var stuck: [JobRow]
        var stuckCount: Int
        var hasStuck: Bool
        var stuckNote: String
        var failures: [FailureRow]
        var hasFailures: Bool
        var failureHours: Int
        var notice: String?
    }

    struct Choice: Encodable {
        var value: String
        var label: String
        var selected: Bool
    }

    struct JobRow: Encodable {
        var id: String
        var shortID: String
        var userID: String
        var email: String
        var status: String
        var statusLabel: String
        var model: String
        var prompt: String
        var price: String
        var createdAt: String
        var createdText: String
        var lastNews: String
        var failure: String?
        var deleted: Bool
        var canReconcile: Bool

        init(_ row: JobAdministration.Row, language: Language) {
            let t = { (key: String) in Localizer.shared.text(key, language) }
            id = row.id.uuidString.lowercased()
            shortID = String(id.prefix(8))
            userID = row.userID.uuidString.lowercased()
            email = row.email
            status = row.status.rawValue
            statusLabel = t("status.\(row.status.rawValue)")
            model = row.model
            prompt = String(row.prompt.prefix(120))
            price = Formatting.credits(row.priceCredits, language)
            createdAt = Formatting.iso(row.createdAt)
            createdText = Formatting.time(row.createdAt, language)
            lastNews = row.lastHeardAt.map { Formatting.time($0, language) } ?? "–"
            failure = row.failureReason.map { reason in
                t("failure.\(reason.rawValue)") + (row.providerFailMessage.map { " (\($0.prefix(120)))" } ?? "")
            }
            deleted = row.deletedAt != nil
            canReconcile = !row.status.isTerminal && row.providerTaskID != nil
        }
    }

    struct FailureRow: Encodable {
        var reason: String
        var code: String
        var count: String
        var example: String
    }

    @Sendable func show(req: Request) async throws -> View {
        let language = req.pageLanguage
        let t = { (key: String) in Localizer.shared.text(key, language) }
        let filter = try Self.filter(req)
        let jobs = req.jobAdministration
        let rows = try await jobs.list(filter)
        let stuck = try await jobs.stuck()
        let failures = try await jobs.failures(hours: 24)
        let notice = req.query[String.self, at: "result"].flatMap { Self.results.contains($0) ? t("admin.jobs.result.\($0)") : nil }
        return try await req.view.render("admin-jobs", JobsPage(
            frame: PageFrame(req, title: t("admin.jobs.title"), user: try req.user),
            states: [Choice(value: "", label: t("admin.jobs.any_state"), selected: filter.status == nil)]
                + JobStatus.allCases.map { Choice(value: $0.rawValue, label: t("status.\($0.rawValue)"), selected: $0 == filter.status) },
            models: [Choice(value: "", label: t("admin.jobs.any_model"), selected: filter.model == nil)]
                + VideoModel.allCases.map { Choice(value: $0.rawValue, label: $0.rawValue, selected: $0 == filter.model) },
            ages: [Choice(value: "", label: t("admin.jobs.any_age"), selected: filter.hours == nil)]
                + Self.ages.map { Choice(value: String($0), label: t("admin.period.\($0)"), selected: $0 == filter.hours) },
            rows: rows.map { JobRow($0, language: language) }, hasRows: !rows.isEmpty,
            stuck: stuck.map { JobRow($0, language: language) }, stuckCount: stuck.count, hasStuck: !stuck.isEmpty,
            stuckNote: Localizer.shared.text("admin.jobs.stuck_note", language, ["minutes": String(Int((jobs.stuckAfter / 60).rounded(.up)))]),
            failures: failures.map { group in
                FailureRow(reason: group.failureReason.map { t("failure.\($0.rawValue)") } ?? "–", code: group.providerFailCode ?? "–",
                           count: Formatting.credits(group.count, language), example: String((group.example ?? "").prefix(160)))
            },
            hasFailures: !failures.isEmpty, failureHours: 24, notice: notice))
    }

    /// Asks the provider about one video now; the page says what came of it.
    @Sendable func reconcile(req: Request) async throws -> Response {
        guard let id = req.parameters.get("videoID", as: UUID.self) else { throw AppError.videoNotFound }
        let result = try await req.jobAdministration.reconcileNow(id, by: .admin(try req.user))
        let code = switch result {
        case .finished: "finished"
        case .noTask: "no_task"
        case .askedRecently: "asked_recently"
        case .queried(let before, let after, _): before == after ? "unchanged" : "updated"
        case .queryFailed: "query_failed"
        }
        return req.redirect(to: "/admin/jobs?result=\(code)", redirectType: .normal)
    }

    /// The list's filters from the query string; an unknown value is an error, not ignored.
    static func filter(_ req: Request) throws -> JobAdministration.Filter {
        var filter = JobAdministration.Filter()
        if let raw = req.query[String.self, at: "state"], !raw.isEmpty {
            guard let status = JobStatus(rawValue: raw) else { throw AppError.invalidFilter(name: "state") }
            filter.status = status
        }
        if let raw = req.query[String.self, at: "model"], !raw.isEmpty {
            guard let model = VideoModel(rawValue: raw) else { throw AppError.invalidFilter(name: "model") }
            filter.model = model
        }
        if let raw = req.query[String.self, at: "age"], !raw.isEmpty {
            guard let hours = Int(raw), ages.contains(hours) else { throw AppError.invalidFilter(name: "age") }
            filter.hours = hours
        }
        return filter
    }
}

extension Request {
    var jobAdministration: JobAdministration {
        JobAdministration(store: store, clock: clock, logger: logger, provider: application.provider,
                          lifecycle: jobLifecycle, settings: application.phimConfig.reconciler)
    }
}
