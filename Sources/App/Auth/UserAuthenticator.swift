import Crypto
import Fluent
import FluentSQL
import Vapor

/// Finds the caller: an `Authorization: Bearer` API key first, else the session cookie.
/// A request with neither goes on unauthenticated; `RequireUser` turns that away where needed.
struct UserAuthenticator: AsyncMiddleware {
    static let sessionKey = "user_id"

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        if let bearer = request.headers.bearerAuthorization {
            // An explicit key that does not work is an error, not a fall-back to the cookie.
            guard let user = try await Self.user(forAPIKey: bearer.token, on: request.db) else {
                throw AppError.unauthenticated
            }
            guard user.disabledAt == nil else { throw AppError.accountDisabled }
            request.auth.login(user)
        } else if request.hasSession, let raw = request.session.data[Self.sessionKey], let id = UUID(uuidString: raw),
                  let user = try await User.find(id, on: request.db) {
            if user.disabledAt == nil {
                request.auth.login(user)
            } else {
                // Disabled while signed in: signed out, so the next page is the sign-in form,
                // which says why.
                request.session.destroy()
            }
        }
        return try await next.respond(to: request)
    }

    /// The owner of a live (unrevoked) key, in one query: this runs before every API call.
    static func user(forAPIKey key: String, on db: any Database) async throws -> User? {
        guard key.hasPrefix(APIKeys.prefix), key.count < 200 else { return nil }
        let sql = db as! any SQLDatabase // both supported drivers are SQL databases
        return try await sql.raw("""
            SELECT users.* FROM api_keys JOIN users ON users.id = api_keys.user_id
            WHERE api_keys.key_hash = \(bind: APIKeys.hash(key)) AND api_keys.revoked_at IS NULL
            """).first()?.decode(fluentModel: User.self)
    }
}

/// Lets only signed-in callers through.
struct RequireUser: AsyncMiddleware {
    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard request.auth.has(User.self) else { throw AppError.unauthenticated }
        return try await next.respond(to: request)
    }
}

/// How API keys look and are stored: `phim_` and 43 random characters; only the SHA-256 is
/// kept, which is safe for keys this random (no dictionary to try).
enum APIKeys {
    static let prefix = "phim_"

    static func generate() -> String { prefix + VideoCreation.randomToken() }

    static func hash(_ key: String) -> String { SHA256.hash(data: Data(key.utf8)).hexString }
}

extension Request {
    /// The signed-in user; only call behind `RequireUser`.
    var user: User {
        get throws {
            guard let user = auth.get(User.self) else { throw AppError.unauthenticated }
            return user
        }
    }
}
