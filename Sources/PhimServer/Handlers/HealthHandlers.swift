import PhimCore
import PhimSupport

/// Liveness (the process answers, no database) and health (one query).
enum HealthHandlers {
    static func livez(_ context: Context) throws -> Response {
        .json(.object([("status", .string("ok"))]))
    }

    static func healthz(_ context: Context) throws -> Response {
        let users = try context.db.first("SELECT COUNT(*) FROM users")?.int(0) ?? 0
        return .json(.object([("status", .string("ok")), ("database", .string("ok")), ("users", .int(users))]))
    }
}
