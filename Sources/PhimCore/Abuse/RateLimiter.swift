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

    /// Takes back one counted event (an attempt that turned out not to be a failure); never below zero.
    public func forgive(_ rule: Rule, key: String, on db: Database) throws {
        try db.write {
            try db.run("UPDATE rate_limit_counters SET hits = hits - 1 WHERE bucket = :bucket AND window_start = :window_start AND hits > 0",
                       ["bucket": .text(Self.bucket(rule, key)), "window_start": .integer(windowStart(rule))])
        }
    }

    /// No rule's window is longer than this; a row whose window started earlier counts for nothing.
    public static let longestWindowSeconds: Int64 = 86_400

    /// Deletes the rows of windows that have ended (every window is at most a day long); returns how many.
    @discardableResult
    public func prune(on db: Database) throws -> Int {
        try db.write {
            try db.run("DELETE FROM rate_limit_counters WHERE window_start < :cutoff",
                       ["cutoff": .integer(nowSeconds() - Self.longestWindowSeconds)])
        }
    }

    private func nowSeconds() -> Int64 { clock.nowMillis() / 1000 }

    private func windowStart(_ rule: Rule) -> Int64 {
        let now = nowSeconds()
        return now - now % rule.windowSeconds
    }

    private static func bucket(_ rule: Rule, _ key: String) -> String { Crypto.sha256Hex("\(rule.name):\(key)") }
}
