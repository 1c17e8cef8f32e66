import Fluent
import Vapor

/// The operator's account pages (admins only, 404 to anyone else):
///
/// - `/admin/users?q=`: accounts by email, with balances.
/// - `/admin/users/<id>`: one account's balances, ledger and audit entries; grant or deduct
///   credits and disable or enable it, each with a required reason (plain forms, answered by
///   redirecting back with what was done, or the page again with the refusal).
/// - `/admin/audit`: every operator action, newest first.
/// - `/admin/ledger.csv?since=&until=`: the ledger for accounting, streamed.
struct AdminAccountPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let admin = routes.grouped(RedirectToSignIn()).grouped(RequireAdmin()).grouped("admin")
        admin.get("users", use: users)
        admin.get("users", ":userID", use: account)
        admin.post("users", ":userID", "credits", use: moveCredits)
        admin.post("users", ":userID", "status", use: setStatus)
        admin.get("audit", use: audit)
        admin.get("ledger.csv", use: ledgerCSV)
    }

    struct UsersPage: Encodable {
        var frame: PageFrame
        var query: String
        var users: [UserRow]
        var hasUsers: Bool
    }

    struct UserRow: Encodable {
        var id: String
        var email: String
        var available: String
        var held: String
        var isAdmin: Bool
        var disabled: Bool
        var createdAt: String
        var createdText: String

        init(_ user: User, language: Language) throws {
            id = try user.requireID().uuidString.lowercased()
            email = user.email
            available = Formatting.credits(user.creditsAvailable, language)
            held = Formatting.credits(user.creditsHeld, language)
            isAdmin = user.isAdmin
            disabled = user.disabledAt != nil
            createdAt = Formatting.iso(user.createdAt)
            createdText = Formatting.time(user.createdAt, language)
        }
    }

    struct AccountPage: Encodable {
        var frame: PageFrame
        var account: UserRow
        var disabledText: String?
        var videos: String
        var notice: String?
        var error: String?
        var form: MoveForm
        var lines: [LedgerLine]
        var actions: [ActionRow]
        var hasActions: Bool
    }

    struct ActionRow: Encodable {
        var createdAt: String
        var createdText: String
        var actor: String
        var action: String
        var target: String
        var targetID: String?
        var before: String
        var after: String
        var reason: String

        init(_ action: AdminAction, language: Language) {
            createdAt = Formatting.iso(action.createdAt)
            createdText = Formatting.time(action.createdAt, language)
            actor = action.actor
            self.action = Localizer.shared.text("admin.action.\(action.action.rawValue)", language)
            target = action.target ?? "–"
            targetID = action.targetUserID?.uuidString.lowercased()
            before = AdminAccountPages.readable(action.before, language)
            after = AdminAccountPages.readable(action.after, language)
            reason = action.reason ?? ""
        }
    }

    /// An audit entry's recorded fields as a reader wants them ("Available: 1.250"); the JSON
    /// as stored for a field this page does not know.
    static func readable(_ json: String, _ language: Language) -> String {
        guard let fields = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return json }
        return fields.keys.sorted().map { key in
            switch (key, fields[key]) {
            case ("credits_available", let value as Int):
                Localizer.shared.text("admin.col.available", language) + ": " + Formatting.credits(value, language)
            case ("credits", let value as Int):
                Localizer.shared.text("admin.col.price_credits", language) + ": " + Formatting.credits(value, language)
            case ("disabled", let value as Bool):
                Localizer.shared.text(value ? "admin.users.disabled" : "admin.users.active", language)
            default:
                "\(key): \(fields[key].map { "\($0)" } ?? "")"
            }
        }.joined(separator: ", ")
    }

    struct AuditPage: Encodable {
        var frame: PageFrame
        var actions: [ActionRow]
        var hasActions: Bool
        var exportSince: String
        var exportUntil: String
    }

    /// The credits form, kept as typed when it is refused.
    struct MoveForm: Content {
        var direction: String?
        var amount: String?
        var reason: String?
    }

    struct StatusForm: Content {
        var disable: String?
        var reason: String?
    }

    @Sendable func users(req: Request) async throws -> View {
        let language = req.pageLanguage
        let query = String((req.query[String.self, at: "q"] ?? "").prefix(200))
        let found = try await req.administration.search(query)
        return try await req.view.render("admin-users", UsersPage(
            frame: try frame(req, "admin.users.title"), query: query,
            users: try found.map { try UserRow($0, language: language) }, hasUsers: !found.isEmpty))
    }

    @Sendable func account(req: Request) async throws -> Response {
        let notice = req.query[String.self, at: "done"].flatMap { done in
            ["granted", "deducted", "disabled", "enabled"].contains(done) ? Localizer.shared.text("admin.done.\(done)", req.pageLanguage) : nil
        }
        return try await render(req, notice: notice)
    }

    @Sendable func moveCredits(req: Request) async throws -> Response {
        let user = try await target(req)
        let form = try req.content.decode(MoveForm.self)
        let actor = try AccountAdministration.Actor.admin(try req.user)
        do {
            guard let raw = form.amount?.trimmingCharacters(in: .whitespaces), let amount = Int(raw) else {
                throw AppError.invalidAmount(maximum: AccountAdministration.maximumAmount)
            }
            let deduct = form.direction == "deduct"
            if deduct {
                try await req.administration.deduct(amount, from: try user.requireID(), reason: form.reason ?? "", by: actor)
            } else {
                try await req.administration.grant(amount, to: try user.requireID(), reason: form.reason ?? "", by: actor)
            }
            return req.redirect(to: "/admin/users/\(try user.requireID().uuidString.lowercased())?done=\(deduct ? "deducted" : "granted")",
                                redirectType: .normal)
        } catch let error as AppError {
            return try await render(req, user: user, error: error, form: form)
        }
    }

    @Sendable func setStatus(req: Request) async throws -> Response {
        let user = try await target(req)
        let form = try req.content.decode(StatusForm.self)
        let actor = try AccountAdministration.Actor.admin(try req.user)
        let disable = form.disable == "1"
        do {
            if disable {
                guard try user.requireID() != (try req.user.requireID()) else { throw AppError.cannotDisableSelf }
                try await req.administration.disable(try user.requireID(), reason: form.reason ?? "", by: actor)
            } else {
                try await req.administration.enable(try user.requireID(), reason: form.reason ?? "", by: actor)
            }
            return req.redirect(to: "/admin/users/\(try user.requireID().uuidString.lowercased())?done=\(disable ? "disabled" : "enabled")",
                                redirectType: .normal)
        } catch let error as AppError {
            return try await render(req, user: user, error: error)
        }
    }

    @Sendable func audit(req: Request) async throws -> View {
        let language = req.pageLanguage
        let actions = try await req.administration.auditLog(limit: 200)
        let now = req.clock.now()
        return try await req.view.render("admin-audit", AuditPage(
            frame: try frame(req, "admin.audit.title"),
            actions: actions.map { ActionRow($0, language: language) }, hasActions: !actions.isEmpty,
            exportSince: Self.day(now.addingTimeInterval(-30 * 86_400)), exportUntil: Self.day(now.addingTimeInterval(86_400))))
    }

    /// `since` and `until` are days (`2026-11-01`) or ISO 8601 times; by default everything
    /// up to now. Streamed: the ledger may be long.
    @Sendable func ledgerCSV(req: Request) async throws -> Response {
        let since = try Self.moment(req, "since") ?? Date(timeIntervalSince1970: 0)
        let until = try Self.moment(req, "until") ?? req.clock.now()
        guard since < until else { throw AppError.invalidFilter(name: "until") }
        let export = LedgerExport(db: req.db)
        let logger = req.logger
        let body = Response.Body(managedAsyncStream: { writer in
            var chunk = ""
            try await export.write(since: since, until: until) { line in
                chunk += line + "\r\n"
                if chunk.utf8.count > 1 << 15 {
                    try await writer.writeBuffer(ByteBuffer(string: chunk))
                    chunk = ""
                }
            }
            try await writer.writeBuffer(ByteBuffer(string: chunk))
        })
        logger.notice("ledger exported", metadata: ["since": .string(Formatting.iso(since)), "until": .string(Formatting.iso(until)),
                                                    "actor": .string((try? req.user.email) ?? "")])
        let response = Response(status: .ok, body: body)
        response.headers.contentType = HTTPMediaType(type: "text", subType: "csv", parameters: ["charset": "utf-8"])
        response.headers.replaceOrAdd(name: .contentDisposition,
                                      value: "attachment; filename=\"phim-ledger-\(Self.day(since))-\(Self.day(until)).csv\"")
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return response
    }

    // MARK: - Helpers

    private func target(_ req: Request) async throws -> User {
        guard let id = req.parameters.get("userID", as: UUID.self), let user = try await User.find(id, on: req.db) else {
            throw AppError.userNotFound
        }
        return user
    }

    private func render(_ req: Request, user given: User? = nil, notice: String? = nil, error: AppError? = nil,
                        form: MoveForm = MoveForm()) async throws -> Response {
        let language = req.pageLanguage
        let user = if let given { given } else { try await target(req) }
        let userID = try user.requireID()
        let entries = try await CreditEntry.query(on: req.db).filter(\.$user.$id == userID)
            .sort(\.$createdAt, .descending).sort(\.$id, .descending).limit(50).all()
        let videos = try await VideoJob.query(on: req.db).filter(\.$user.$id == userID).count()
        let actions = try await req.administration.auditLog(for: userID, limit: 50)
        let page = AccountPage(
            frame: try frame(req, "admin.users.title"),
            account: try UserRow(user, language: language),
            disabledText: user.disabledAt.map { Formatting.time($0, language) },
            videos: Formatting.credits(videos, language),
            notice: notice, error: error?.message(in: language), form: form,
            lines: entries.map { LedgerLine($0, language: language) },
            actions: actions.map { ActionRow($0, language: language) }, hasActions: !actions.isEmpty)
        let response = try await req.view.render("admin-user", page).encodeResponse(for: req)
        error?.mark(response)
        return response
    }

    private func frame(_ req: Request, _ titleKey: String) throws -> PageFrame {
        PageFrame(req, title: Localizer.shared.text(titleKey, req.pageLanguage), user: try req.user)
    }

    private static func moment(_ req: Request, _ name: String) throws -> Date? {
        guard let raw = req.query[String.self, at: name], !raw.isEmpty else { return nil }
        if let date = try? Date(raw, strategy: .iso8601) { return date }
        if let day = try? Date(raw + "T00:00:00Z", strategy: .iso8601) { return day }
        throw AppError.invalidFilter(name: name)
    }

    private static func day(_ date: Date) -> String { String(Formatting.iso(date).prefix(10)) }
}

extension Request {
    var administration: AccountAdministration { AccountAdministration(store: store, clock: clock, logger: logger) }
}
