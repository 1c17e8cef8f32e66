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

    /// Prometheus' text format, for a scraper that sends `Authorization: Bearer
    /// <PHIM_METRICS_TOKEN>`, or one on this machine: a loopback peer, asking for a loopback host,
    /// with no proxy header at all (anything that came through a proxy may be anyone, and a
    /// foreign Host is a browser led here by DNS rebinding). To anyone else it does not exist.
    static func metrics(_ context: Context) throws -> Response {
        let request = context.request
        let hasToken = context.app.settings.metricsToken.map {
            Crypto.constantTimeEqual(request.header("authorization") ?? "", "Bearer \($0)")
        } ?? false
        let allowed = hasToken || isFromThisHost(request)
        guard allowed else { throw AppError.routeNotFound }
        let text = try Metrics.shared.exposition(on: context.db, queue: context.app.queue)
        return Response(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], body: Array(text.utf8))
    }

    static func openAPI(_ context: Context) throws -> Response {
        Response(status: 200, headers: [("Content-Type", "application/json"), ("Cache-Control", "public, max-age=300")],
                 body: openAPIDocument)
    }

    static func livez(_ context: Context) throws -> Response {
        .json(.object([("status", .string("ok"))]))
    }

    /// A request straight from this machine: loopback peer, loopback Host, no proxy header.
    static func isFromThisHost(_ request: Request) -> Bool {
        let proxyHeaders = ["x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-host", "x-forwarded-proto", "via"]
        guard ["127.0.0.1", "::1"].contains(request.remoteAddress), proxyHeaders.allSatisfy({ request.header($0) == nil }) else { return false }
        guard let host = request.header("host") else { return true }
        let name = host.hasPrefix("[") ? String(host.prefix { $0 != "]" }.dropFirst()) : String(host.split(separator: ":").first ?? "")
        return ["localhost", "127.0.0.1", "::1"].contains(name.lowercased())
    }

    /// The database answers a read (its schema version: no table scanned, nothing about accounts).
    static func healthz(_ context: Context) throws -> Response {
        _ = try context.db.first("PRAGMA user_version")
        return .json(.object([("status", .string("ok")), ("database", .string("ok"))]))
    }
}
