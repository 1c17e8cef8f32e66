import Foundation
import PhimCore
import PhimSupport

/// Who may call a route. The rule lives in the table, so a route cannot forget it.
enum Access {
    /// Anyone; no database needed unless the handler asks.
    case anyone
    /// A signed-in user: session cookie (with the anti-forgery token on changes) or API key.
    case user
    /// Outside services calling in, no session: Kie's callbacks (the per-job secret in the path)
    /// and the bank notifications (SePay's API key, Casso's signature), each checked by its handler.
    case provider
    /// Operators: a signed-in user with the admin flag. To anyone else these routes do not
    /// exist (404), signed in or not.
    case admin
}

struct Route {
    var method: String
    var path: String
    /// Segments; a segment starting with `:` matches any one segment and is captured.
    var pattern: [String]
    var access: Access
    /// The handler may call the provider and so hold its thread as long as the provider takes;
    /// when every thread is taken, such a request is refused at once instead of queueing.
    var callsProvider: Bool
    /// The handler only reads: the caller's check and the handler's queries run in one read
    /// transaction. SQLite takes and drops a shared-memory lock (an `fcntl` call) for every
    /// statement outside a transaction; a video read made three of them (profiled: kernel lock
    /// work and the waits between the worker threads were a fifth of a read's time).
    var readsOnly: Bool
    var handler: (Context) throws -> Response

    init(_ method: String, _ path: String, _ access: Access, callsProvider: Bool = false, readsOnly: Bool = false,
         _ handler: @escaping (Context) throws -> Response) {
        self.method = method
        self.path = path
        self.callsProvider = callsProvider
        self.readsOnly = readsOnly
        pattern = path.split(separator: "/").map(String.init)
        self.access = access
        self.handler = handler
    }
}

/// Every route of the API, one line each.
enum Routes {
    static let all: [Route] = [
        Route("GET", "/api/livez", .anyone, HealthHandlers.livez),
        Route("GET", "/api/healthz", .anyone, HealthHandlers.healthz),
        Route("GET", "/api/v1/openapi.json", .anyone, HealthHandlers.openAPI),
        Route("GET", "/api/metrics", .anyone, HealthHandlers.metrics),

        Route("POST", "/api/v1/auth/register", .anyone, AuthHandlers.register),
        Route("POST", "/api/v1/auth/login", .anyone, AuthHandlers.login),
        Route("POST", "/api/v1/auth/logout", .anyone, AuthHandlers.logout),
        Route("POST", "/api/v1/auth/password", .user, AuthHandlers.changePassword),
        Route("POST", "/api/v1/auth/logout-all", .user, AuthHandlers.logoutAll),
        Route("GET", "/api/v1/me", .user, AuthHandlers.me),
        Route("POST", "/api/v1/api-keys", .user, AuthHandlers.createKey),
        Route("GET", "/api/v1/api-keys", .user, AuthHandlers.listKeys),
        Route("DELETE", "/api/v1/api-keys/:id", .user, AuthHandlers.revokeKey),
        // Top-ups: bank notifications (no session: SePay's Apikey or Casso's signature, checked by the handler), the demo's simulator, the review queue.
        Route("POST", "/api/v1/payments/sepay", .provider, PaymentHandlers.sepay),
        Route("POST", "/api/v1/payments/casso", .provider, PaymentHandlers.casso),
        Route("POST", "/api/v1/topups/:id/simulate-transfer", .user, PaymentHandlers.simulateTransfer),
        Route("GET", "/api/v1/admin/payments/reviews", .admin, PaymentHandlers.reviews),
        Route("POST", "/api/v1/admin/payments/reviews/:id/resolve", .admin, PaymentHandlers.resolve),
        Route("GET", "/api/v1/admin/payments/notifications", .admin, PaymentHandlers.notifications),
        Route("POST", "/api/v1/redeem", .user, CodeHandlers.redeem),
        // `packages` before `:id`: the first route that matches answers.
        Route("GET", "/api/v1/topups/packages", .user, TopupHandlers.packages),
        Route("POST", "/api/v1/topups", .user, TopupHandlers.create),
        Route("GET", "/api/v1/topups", .user, TopupHandlers.list),
        Route("GET", "/api/v1/topups/:id", .user, TopupHandlers.show),
        Route("GET", "/api/v1/topups/:id/qr.svg", .user, TopupHandlers.qrSVG),
        Route("POST", "/api/v1/topups/:id/cancel", .user, TopupHandlers.cancel),
        Route("GET", "/api/v1/admin/packages", .admin, TopupHandlers.adminPackages),
        Route("PUT", "/api/v1/admin/packages/:id", .admin, TopupHandlers.setPackage),
        Route("POST", "/api/v1/admin/packages/:id/disable", .admin, TopupHandlers.disablePackage),
        Route("GET", "/api/v1/admin/topups", .admin, TopupHandlers.adminOrders),

        Route("GET", "/api/v1/models", .anyone, readsOnly: true, ModelHandlers.list),
        Route("GET", "/api/v1/styles", .anyone, StyleHandlers.list),
        Route("POST", "/api/v1/uploads", .user, UploadHandlers.upload),
        Route("POST", "/api/v1/videos", .user, VideoHandlers.create),
        Route("POST", "/api/v1/videos/quote", .user, VideoHandlers.quote),
        Route("POST", "/api/v1/videos/batch", .user, VideoHandlers.createBatch),
        Route("GET", "/api/v1/videos", .user, readsOnly: true, VideoHandlers.list),
        Route("GET", "/api/v1/videos/changes", .user, readsOnly: true, VideoHandlers.changes),
        Route("GET", "/api/v1/videos/:id", .user, readsOnly: true, VideoHandlers.show),
        Route("DELETE", "/api/v1/videos/:id", .user, VideoHandlers.delete),
        Route("POST", "/api/v1/videos/:id/cancel", .user, VideoHandlers.cancel),
        Route("GET", "/api/v1/videos/:id/media", .user, callsProvider: true, ShareHandlers.media),
        Route("POST", "/api/v1/videos/:id/share", .user, ShareHandlers.share),
        Route("DELETE", "/api/v1/videos/:id/share", .user, ShareHandlers.unshare),
        // The public page of a shared video: rendered here so link previews see its tags.
        Route("GET", "/v/:token", .anyone, ShareHandlers.page),
        Route("GET", "/v/:token/media", .anyone, callsProvider: true, ShareHandlers.sharedMedia),
        Route("GET", "/v/:token/embed", .anyone, ShareHandlers.embed),
        Route("GET", "/api/v1/credits/transactions", .user, VideoHandlers.transactions),
        Route("GET", "/api/v1/webhook-endpoint", .user, WebhookHandlers.showEndpoint),
        Route("PUT", "/api/v1/webhook-endpoint", .user, WebhookHandlers.updateEndpoint),
        Route("POST", "/api/v1/webhook-endpoint/rotate-secret", .user, WebhookHandlers.rotateSecret),
        Route("GET", "/api/v1/webhook-deliveries", .user, WebhookHandlers.listDeliveries),
        Route("GET", "/api/v1/webhook-deliveries/:id", .user, WebhookHandlers.showDelivery),
        Route("POST", "/api/v1/webhook-deliveries/:id/replay", .user, WebhookHandlers.replay),

        Route("GET", "/api/v1/admin/users", .admin, AdminHandlers.users),
        Route("GET", "/api/v1/admin/users/:id", .admin, AdminHandlers.user),
        Route("POST", "/api/v1/admin/users/:id/credits", .admin, AdminHandlers.credits),
        Route("POST", "/api/v1/admin/users/:id/disable", .admin, AdminHandlers.disable),
        Route("POST", "/api/v1/admin/users/:id/enable", .admin, AdminHandlers.enable),
        Route("GET", "/api/v1/admin/models", .admin, ModelHandlers.adminList),
        Route("PUT", "/api/v1/admin/models/:id", .admin, ModelHandlers.adminUpdate),
        Route("PUT", "/api/v1/admin/models/:id/prices", .admin, ModelHandlers.adminSetPrice),
        Route("POST", "/api/v1/admin/models/:id/recheck", .admin, ModelHandlers.adminRecheck),
        Route("GET", "/api/v1/admin/styles", .admin, StyleHandlers.adminList),
        Route("PUT", "/api/v1/admin/styles", .admin, StyleHandlers.save),
        Route("GET", "/api/v1/admin/videos", .admin, AdminJobHandlers.list),
        Route("GET", "/api/v1/admin/videos/stuck", .admin, AdminJobHandlers.stuck),
        Route("POST", "/api/v1/admin/videos/:id/reconcile", .admin, callsProvider: true, AdminJobHandlers.reconcile),
        Route("GET", "/api/v1/admin/failures", .admin, AdminJobHandlers.failures),
        Route("GET", "/api/v1/admin/provider", .admin, callsProvider: true, AdminProviderHandlers.health),
        Route("POST", "/api/v1/admin/provider/reconciliation", .admin, callsProvider: true, AdminReconciliationHandlers.report),
        Route("GET", "/api/v1/admin/queue", .admin, AdminQueueHandlers.report),
        Route("PUT", "/api/v1/admin/queue/limits", .admin, AdminQueueHandlers.setLimits),
        Route("GET", "/api/v1/admin/analytics", .admin, AdminAnalyticsHandlers.report),
        Route("GET", "/api/v1/admin/audit", .admin, AdminHandlers.audit),
        Route("GET", "/api/v1/admin/ledger.csv", .admin, AdminHandlers.ledgerCSV),
        Route("POST", "/api/v1/admin/codes", .admin, CodeHandlers.create),
        Route("GET", "/api/v1/admin/codes", .admin, CodeHandlers.list),
        Route("GET", "/api/v1/admin/codes.csv", .admin, CodeHandlers.csv),
        Route("POST", "/api/v1/admin/codes/:id/disable", .admin, CodeHandlers.disable),

        Route("POST", "/api/v1/webhooks/kie/:job/:secret", .provider, CallbackHandlers.completion),
        Route("POST", "/api/v1/webhooks/kie/:job/:secret/progress", .provider, CallbackHandlers.progress),
    ]
}

/// Matches a request to its route, applies the route's access rule, and calls the handler.
enum Router {
    /// `route` is set to the matched route's pattern (for metrics: never the raw path, whose ids
    /// would make a label per video).
    static func dispatch(_ request: Request, app: App, db: Database?, route matched: inout String) throws -> Response {
        guard let segments = segments(of: request.path) else { throw AppError.routeNotFound }
        var allowed: [String] = []
        for route in Routes.all {
            guard let parameters = match(route.pattern, segments) else { continue }
            guard route.method == request.method || (route.method == "GET" && request.method == "HEAD") else {
                // The operators' routes do not exist for anyone else, so neither do their methods.
                if route.access != .admin, !allowed.contains(route.method) { allowed.append(route.method) }
                continue
            }
            matched = route.path
            func run() throws -> Response {
                var context = Context(request: request, app: app, database: db, parameters: parameters)
                switch route.access {
                case .user:
                    try context.authenticate()
                case .admin:
                    do { try context.authenticate() } catch AppError.csrfFailed where context.caller?.isAdmin == true {
                        throw AppError.csrfFailed
                    } catch { throw AppError.routeNotFound }
                    guard context.caller?.isAdmin == true else { throw AppError.routeNotFound }
                case .anyone, .provider:
                    break
                }
                return try route.handler(context)
            }
            if route.readsOnly, let db { return try db.read(run) }
            return try run()
        }
        guard !allowed.isEmpty else { throw AppError.routeNotFound }
        // A 405 names the methods the path does take (RFC 9110 §15.5.6).
        var refusal = App.errorResponse(.methodNotAllowed, language: request.language)
        refusal.addHeader("Allow", (allowed.contains("GET") ? allowed + ["HEAD"] : allowed).joined(separator: ", "))
        return refusal
    }

    /// Whether the route a request would reach may call the provider (matched exactly as
    /// `dispatch` matches, so no spelling of the path slips past).
    static func callsProvider(method: String, path: String) -> Bool {
        guard let segments = segments(of: path) else { return false }
        let effective = method == "HEAD" ? "GET" : method
        // Only the routes that may call the provider are tried (asked for every request, before
        // `dispatch` matches again: trying the whole table was 3 % of a video read).
        return providerRoutes.contains { $0.method == effective && match($0.pattern, segments) != nil }
    }

    private static let providerRoutes = Routes.all.filter(\.callsProvider)

    /// The path's segments; nil when one is empty (`/login/`, `//login`): such a path is not the
    /// route's, or nginx's limits, which match the normalized path, could be stepped around.
    private static func segments(of path: String) -> [String]? {
        guard path.hasPrefix("/") else { return nil }
        let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard !segments.contains(where: \.isEmpty) else { return nil }
        return segments.map(String.init)
    }

    /// Every request tries the routes in turn, so a miss costs no allocation and a segment is
    /// percent-decoded only when it has a `%` (Foundation's decoding was a tenth of a read's time).
    private static func match(_ pattern: [String], _ segments: [String]) -> [String: String]? {
        guard pattern.count == segments.count else { return nil }
        for (expected, actual) in zip(pattern, segments) where !expected.hasPrefix(":") && expected != actual {
            return nil
        }
        var parameters: [String: String] = [:]
        for (expected, actual) in zip(pattern, segments) where expected.hasPrefix(":") {
            parameters[String(expected.dropFirst())] = actual.utf8.contains(UInt8(ascii: "%")) ? (actual.removingPercentEncoding ?? actual) : actual
        }
        return parameters
    }
}

/// What a handler gets: the request, the app's services, this thread's database connection,
/// the path's parameters and, on `.user` routes, the caller.
struct Context {
    var request: Request
    var app: App
    var database: Database?
    var parameters: [String: String]
    private(set) var caller: User?
    /// Set when the caller came with the session cookie (not an API key).
    private(set) var sessionToken: String?

    init(request: Request, app: App, database: Database?, parameters: [String: String]) {
        self.request = request
        self.app = app
        self.database = database
        self.parameters = parameters
    }

    var db: Database {
        get throws {
            guard let database else { throw AppError.serviceBusy }
            return database
        }
    }

    var language: Language { request.language }

    var user: User {
        get throws {
            guard let caller else { throw AppError.unauthenticated }
            return caller
        }
    }

    /// API key (`Authorization: Bearer`) first, else the session cookie. A cookie-authenticated
    /// change must carry the session's anti-forgery token: a cross-site form can send the
    /// cookie, but cannot read the token.
    mutating func authenticate() throws {
        let db = try self.db
        if let authorization = request.header("authorization") {
            guard authorization.lowercased().hasPrefix("bearer "),
                  let user = try app.accounts.keyUser(key: authorization.dropFirst(7).trimmingSpaces, on: db)
            else { throw AppError.unauthenticated }
            guard !user.isDisabled else { throw AppError.accountDisabled }
            caller = user
            return
        }
        guard let token = request.cookies[Cookies.session], !token.isEmpty,
              let (user, csrf) = try app.accounts.sessionUser(token: token, on: db)
        else { throw AppError.unauthenticated }
        guard !user.isDisabled else { throw AppError.accountDisabled }
        // Known before the token is checked, so an administrator's missing token reads as 403, not 404.
        caller = user
        sessionToken = token
        if !["GET", "HEAD"].contains(request.method) {
            guard let given = request.header("x-csrf-token"), Crypto.constantTimeEqual(given, csrf) else { throw AppError.csrfFailed }
        }
    }

    func parameter(_ name: String) -> String { parameters[name] ?? "" }

    /// The body as a JSON object; an empty body reads as `{}`.
    func jsonBody() throws -> JSON {
        if request.body.isEmpty { return .object([]) }
        if let type = request.header("content-type"), !type.lowercased().hasPrefix("application/json") {
            throw AppError.unsupportedMediaType
        }
        guard let json = JSON.parse(Data(request.body)) else { throw AppError.invalidJSON(detail: "malformed JSON") }
        guard case .object = json else { throw AppError.invalidJSON(detail: "expected an object") }
        return json
    }

    /// `limit` between 1 and `maximum` (default when absent).
    func limit(default value: Int, maximum: Int) throws -> Int {
        guard let raw = request.query["limit"] else { return value }
        guard let limit = Int(raw), (1...maximum).contains(limit) else { throw AppError.invalidLimit }
        return limit
    }
}

enum Cookies {
    static let session = "phim_session"
    static let csrf = "phim_csrf"
}
