import Foundation
import PhimSupport

/// Counts events per key in fixed time windows, in the database, so every FastCGI process sees
/// the same counts and a restart forgets nothing. Keys are stored as SHA-256 digests: the table
/// never holds an email or an address.
public struct RateLimiter: Sendable {
    public var clock: AppClock

    public init(clock: AppClock) { self.clock = clock }

    /// What is counted, how many are allowed, and over how long.
    public struct Rule: Sendable {
        public var name: String
        public var limit: Int
        public var windowSeconds: Int64

        public init(name: String, limit: Int, windowSeconds: Int64) {
            self.name = name
            self.limit = limit
            self.windowSeconds = max(1, windowSeconds)
        }
    }

    /// Counts one event and returns the window's count including it. Inside the caller's
    /// transaction when there is one: rolled back with it, the event does not count.
    @discardableResult
    public func hit(_ rule: Rule, key: String, on db: Database) throws -> Int {
        try db.write {
            try db.first("""
                INSERT INTO rate_limit_counters (bucket, window_start, hits) VALUES (?, ?, 1)
                ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_counters.hits + 1 RETURNING hits
                """, [.text(Self.bucket(rule, key)), .integer(windowStart(rule))])?.int(0) ?? 1
        }
    }

    public func count(_ rule: Rule, key: String, on db: Database) throws -> Int {
        try db.first("SELECT hits FROM rate_limit_counters WHERE bucket = ? AND window_start = ?",
                     [.text(Self.bucket(rule, key)), .integer(windowStart(rule))])?.int(0) ?? 0
    }

    /// Seconds until the current window ends (at least 1), for `Retry-After`.
    public func secondsUntilReset(_ rule: Rule) -> Int {
        Int(max(1, windowStart(rule) + rule.windowSeconds - nowSeconds()))
    }

    /// Throws `error(seconds until the window ends)` when the window's count has reached the limit.
    public func refuseIfSpent(_ rule: Rule, key: String, on db: Database, error: (Int) -> AppError) throws {
        if try count(rule, key: key, on: db) >= rule.limit { throw error(secondsUntilReset(rule)) }
    }

    /// Forgets windows that ended more than two days ago.
    public func prune(on db: Database) throws {
        try db.write { try db.run("DELETE FROM rate_limit_counters WHERE window_start < ?", [.integer(nowSeconds() - 2 * 86_400)]) }
    }

    private func nowSeconds() -> Int64 { clock.nowMillis() / 1000 }

    private func windowStart(_ rule: Rule) -> Int64 {
        let now = nowSeconds()
        return now - now % rule.windowSeconds
    }

    private static func bucket(_ rule: Rule, _ key: String) -> String { Crypto.sha256Hex("\(rule.name):\(key)") }
}
