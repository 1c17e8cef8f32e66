import Foundation
import PhimCore
import PhimSupport

/// Liveness (the process answers, no database), health (one query) and the API's description.
enum HealthHandlers {
    /// The OpenAPI document of this API, read once from the bundle.
    static let openAPIDocument: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json", subdirectory: "OpenAPI"),
              let data = try? Data(contentsOf: url)
        else { return Array(#"{"openapi":"3.1.0","info":{"title":"Phim","version":"0"},"paths":{}}"#.utf8) }
        return Array(data)
    }()

    /// Prometheus' text format, for a scraper on this machine (loopback, not forwarded by a
    /// proxy) or one that sends `Authorization: Bearer <PHIM_METRICS_TOKEN>`; to anyone else it
    /// does not exist.
    static func metrics(_ context: Context) throws -> Response {
        let request = context.request
        let allowed: Bool
        if let token = context.app.settings.metricsToken {
            allowed = Crypto.constantTimeEqual(request.header("authorization") ?? "", "Bearer \(token)")
        } else {
            allowed = ["127.0.0.1", "::1"].contains(request.remoteAddress) && request.header("x-forwarded-for") == nil
        }
        guard allowed else { throw AppError.routeNotFound }
        let text = try Metrics.shared.exposition(on: context.db)
        return Response(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], body: Array(text.utf8))
    }

    static func openAPI(_ context: Context) throws -> Response {
        Response(status: 200, headers: [("Content-Type", "application/json"), ("Cache-Control", "public, max-age=300")],
                 body: openAPIDocument)
    }

    static func livez(_ context: Context) throws -> Response {
        .json(.object([("status", .string("ok"))]))
    }

    static func healthz(_ context: Context) throws -> Response {
        let users = try context.db.first("SELECT COUNT(*) FROM users")?.int(0) ?? 0
        return .json(.object([("status", .string("ok")), ("database", .string("ok")), ("users", .int(users))]))
    }
}
