import Fluent
import Vapor

/// The API keys page: make a key (shown once), see the keys, revoke one after a confirmation.
/// Plain forms, no script: the confirmation is the same page asking first (`?revoke=<id>`).
struct KeysPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let pages = routes.grouped(RedirectToSignIn())
        pages.get("keys", use: show)
        pages.post("keys", use: create)
        pages.post("keys", ":keyID", "revoke", use: revoke)
    }

    struct KeysPage: Encodable {
        var frame: PageFrame
        var keys: [KeyRow]
        var hasKeys: Bool
        /// The key just made, shown this once.
        var newKey: String?
        var newKeyName: String?
        /// The key the visitor asked to revoke, awaiting confirmation.
        var confirming: KeyRow?
        var error: String?
    }

    struct KeyRow: Encodable {
        var id: String
        var name: String
        var prefix: String
        var createdAt: String
        var createdText: String
        var revoked: Bool
        var revokedText: String?

        init(_ key: APIKey, language: Language) throws {
            id = try key.requireID().uuidString
            name = key.name
            prefix = key.keyPrefix
            createdAt = Formatting.iso(key.createdAt)
            createdText = Formatting.time(key.createdAt, language)
            revoked = key.revokedAt != nil
            revokedText = key.revokedAt.map { Formatting.time($0, language) }
        }
    }

    struct CreateForm: Content {
        var name: String?
    }

    @Sendable func show(req: Request) async throws -> Response {
        try await render(req, confirming: req.query[UUID.self, at: "revoke"])
    }

    /// The anti-forgery token was checked by `CSRFGuard`, as for every form of a signed-in user.
    @Sendable func create(req: Request) async throws -> Response {
        let form = try req.content.decode(CreateForm.self)
        do {
            let (record, key) = try await AuthController.makeAPIKey(named: form.name, req: req)
            return try await render(req, newKey: (record.name, key))
        } catch let error as AppError {
            return try await render(req, error: error)
        }
    }

    @Sendable func revoke(req: Request) async throws -> Response {
        try await AuthController.revokeAPIKey(req.parameters.get("keyID", as: UUID.self), req: req)
        return req.redirect(to: "/keys", redirectType: .normal)
    }

    private func render(_ req: Request, newKey: (name: String, key: String)? = nil, confirming: UUID? = nil,
                        error: AppError? = nil) async throws -> Response {
        let language = req.pageLanguage
        let keys = try await req.owner.apiKeys().sort(\.$createdAt, .descending).sort(\.$id, .descending).all()
        let rows = try keys.map { try KeyRow($0, language: language) }
        let page = KeysPage(
            frame: PageFrame(req, title: Localizer.shared.text("keys.title", language), user: try req.user),
            keys: rows, hasKeys: !rows.isEmpty, newKey: newKey?.key, newKeyName: newKey?.name,
            confirming: confirming.flatMap { id in rows.first { $0.id == id.uuidString && !$0.revoked } },
            error: error?.message(in: language))
        let response = try await req.view.render("keys", page).encodeResponse(for: req)
        error?.mark(response)
        // A page that shows a secret is not kept by the browser or any cache.
        if newKey != nil { response.headers.replaceOrAdd(name: .cacheControl, value: "no-store") }
        return response
    }
}
