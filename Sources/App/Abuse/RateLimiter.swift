import Crypto
import Fluent
import Foundation
import SQLKit
import Vapor

/// Counts events per key in fixed time windows, in the database, so every instance behind a
/// load balancer sees the same counts and a restart forgets nothing.
///
/// Keys are stored as SHA-256 digests: the table never holds an email or an address.
struct RateLimiter: Sendable {
    let store: Store
    let clock: AppClock

    /// What is counted, how many are allowed, and over how long.
    struct Rule: Sendable {
        let name: String
        let limit: Int
        let window: Duration

        var windowSeconds: Int64 { max(1, window.components.seconds) }
    }

    /// Counts one event and returns the window's count including it.
    @discardableResult
    func hit(_ rule: Rule, key: String) async throws -> Int {
        try await store.writeTransaction { db in try await hit(rule, key: key, on: db) }
    }

    /// Counts one event inside a transaction the caller opened: rolled back with it, the event
    /// does not count.
    func hit(_ rule: Rule, key: String, on db: any Database) async throws -> Int {
        let sql = db as! any SQLDatabase // both supported drivers are SQL databases
        let row = try await sql.raw("""
            INSERT INTO \(ident: RateLimitCounter.schema) (bucket, window_start, hits) VALUES (\(bind: Self.bucket(rule, key)), \(bind: windowStart(rule)), 1)
            ON CONFLICT (bucket, window_start) DO UPDATE SET hits = \(ident: RateLimitCounter.schema).hits + 1
            RETURNING hits
            """).first()
        return try row?.decode(column: "hits", as: Int.self) ?? 1
    }

    /// The window's count so far.
    func count(_ rule: Rule, key: String) async throws -> Int {
        let sql = store.db as! any SQLDatabase
        let row = try await sql.select().column("hits").from(RateLimitCounter.schema)
            .where("bucket", .equal, Self.bucket(rule, key))
            .where("window_start", .equal, windowStart(rule))
            .first()
        return try row?.decode(column: "hits", as: Int.self) ?? 0
    }

    /// Seconds until the current window ends (at least 1), for `Retry-After`.
    func secondsUntilReset(_ rule: Rule) -> Int {
        let now = Int64(clock.now().timeIntervalSince1970)
        return Int(max(1, windowStart(rule) + rule.windowSeconds - now))
    }

    /// Throws the error `error` makes (from the seconds until the window ends) when the
    /// window's count has reached the limit.
    func refuseIfSpent(_ rule: Rule, key: String, error: (Int) -> AppError) async throws {
        if try await count(rule, key: key) >= rule.limit { throw error(secondsUntilReset(rule)) }
    }

    /// Forgets windows that ended long ago.
    func prune(olderThan age: Duration = .seconds(2 * 24 * 3600)) async throws {
        let cutoff = Int64(clock.now().timeIntervalSince1970) - age.components.seconds
        try await store.writeTransaction { db in
            try await (db as! any SQLDatabase).delete(from: RateLimitCounter.schema).where("window_start", .lessThan, cutoff).run()
        }
    }

    private func windowStart(_ rule: Rule) -> Int64 {
        let now = Int64(clock.now().timeIntervalSince1970)
        return now - now % rule.windowSeconds
    }

    private static func bucket(_ rule: Rule, _ key: String) -> String {
        SHA256.hash(data: Data("\(rule.name):\(key)".utf8)).hexString
    }
}

/// The table `RateLimiter` counts in: one row per key and window, written with an upsert.
enum RateLimitCounter {
    static let schema = "rate_limit_counters"
}

struct CreateRateLimitCounter: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema(RateLimitCounter.schema)
            .field("bucket", .string, .required)
            .field("window_start", .int64, .required)
            .field("hits", .int, .required)
            .unique(on: "bucket", "window_start")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(RateLimitCounter.schema).delete()
    }
}

/// The rules the service applies, from the operator's settings.
extension AppConfig.AbuseLimits {
    var loginPerAccount: RateLimiter.Rule { .init(name: "login-account", limit: loginFailuresPerAccount, window: loginWindow) }
    var loginPerAddress: RateLimiter.Rule { .init(name: "login-address", limit: loginFailuresPerAddress, window: loginWindow) }
    var signupPerAddress: RateLimiter.Rule { .init(name: "signup-address", limit: signupsPerAddressPerHour, window: .seconds(3600)) }
    var createPerAccount: RateLimiter.Rule { .init(name: "create-account", limit: createsPerMinute, window: .seconds(60)) }
}

extension Request {
    var rateLimiter: RateLimiter { RateLimiter(store: store, clock: clock) }

    /// The client's address: the peer, or the last `X-Forwarded-For` hop when the operator says
    /// a proxy in front sets it (otherwise anyone could claim any address).
    var clientAddress: String {
        if application.phimConfig.trustsForwardedFor,
           let hop = headers.first(name: "X-Forwarded-For")?.split(separator: ",").last?.trimmingCharacters(in: .whitespaces),
           !hop.isEmpty {
            return hop
        }
        return remoteAddress?.ipAddress ?? "unknown"
    }
}
