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
