import Vapor

/// Headers that tell browsers to refuse what our pages never do, on every response.
///
/// The pages have no inline script or style (a test checks the templates), so the policy can
/// forbid both: an injected `<script>` or `onerror=` would not run even if escaping failed.
struct SecurityHeaders: AsyncMiddleware {
    /// The same for every response, so made once.
    let headers: [(name: String, value: String)]

    init(publicURL: String?) {
        let contentSecurityPolicy = [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            // blob: is the attached image's preview before upload.
            "img-src 'self' blob:",
            // Videos play from the provider's CDN, whose host is not known ahead; media cannot run code.
            "media-src 'self' https: http:",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ].joined(separator: "; ")
        var headers = [
            ("Content-Security-Policy", contentSecurityPolicy),
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
            // Links to the provider's CDN carry no trace of our pages.
            ("Referrer-Policy", "same-origin"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
            ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
        ]
        if publicURL?.hasPrefix("https://") == true {
            headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
        }
        self.headers = headers
    }

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let response = try await next.respond(to: request)
        for (name, value) in headers { response.headers.replaceOrAdd(name: name, value: value) }
        return response
    }
}
