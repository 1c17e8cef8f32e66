import Crypto
import Vapor

/// Cross-site request forgery protection for everything a browser session can change.
///
/// A cookie travels with any request the browser makes, whoever's page asked for it, so a
/// change made with the session cookie must also prove it came from one of our pages: it
/// carries the session's random token, in the `X-CSRF-Token` header (the studio's scripts) or
/// a `csrf_token` form field (the sign-in, sign-up, sign-out and language forms). Other sites
/// can neither read the token nor set the header without our consent (we answer no CORS
/// preflight). The `SameSite=Lax` cookie is a second line: browsers leave it off cross-site
/// posts. Requests with an API key carry no ambient credential and need no token.
enum CSRF {
    static let sessionKey = "csrf"
    static let headerName = "X-CSRF-Token"
    static let formField = "csrf_token"

    /// The session's token, made on first use (which starts a session if there was none, so
    /// the sign-in form is protected too).
    static func token(for req: Request) -> String {
        if let existing = req.session.data[sessionKey] { return existing }
        let token = VideoCreation.randomToken()
        req.session.data[sessionKey] = token
        return token
    }

    /// Whether the request carries the session's token, in the header or the form body.
    static func isValid(_ req: Request) async throws -> Bool {
        guard req.hasSession, let expected = req.session.data[sessionKey] else { return false }
        var presented = req.headers.first(name: headerName)
        if presented == nil, req.headers.contentType == .urlEncodedForm {
            // Middleware runs before the route collects the body; collect it here (forms are small).
            if req.body.data == nil { _ = try await req.body.collect(max: 64 * 1024).get() }
            presented = try? req.content.get(String.self, at: formField)
        }
        guard let presented else { return false }
        // Compare digests so the time taken does not depend on how many characters matched.
        return SHA256.hash(data: Data(presented.utf8)) == SHA256.hash(data: Data(expected.utf8))
    }

    static func require(_ req: Request) async throws {
        guard try await isValid(req) else { throw AppError.csrfFailed }
    }
}

/// Refuses a state-changing request that comes with a session but without its token.
struct CSRFGuard: AsyncMiddleware {
    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let isSafe = [.GET, .HEAD, .OPTIONS].contains(request.method)
        // An API key wins over the cookie in `UserAuthenticator`, so the cookie carries no authority here.
        let usesAPIKey = request.headers.bearerAuthorization != nil
        if !isSafe, !usesAPIKey, request.hasSession, request.session.data[UserAuthenticator.sessionKey] != nil {
            try await CSRF.require(request)
        }
        return try await next.respond(to: request)
    }
}
