import Fluent
import Foundation
import NIOConcurrencyHelpers
import SQLKit

/// Every provider call, counted per minute, call and outcome, with its latency, in the
/// database, so the admin page can show the provider's last hour as seen by all instances
/// together, across restarts.
///
/// Calls are tallied in memory and added to the minute's row every few seconds (one upsert
/// per minute, call and outcome), so measuring costs no write per call.
final class ProviderCallLog: Sendable {
    /// Upper bounds, in milliseconds, of the latency buckets kept per row; the last is open.
    static let bucketBounds = [250, 500, 1000, 2500, 5000, 10000]
    static let bucketColumns = ["le_250ms", "le_500ms", "le_1s", "le_2500ms", "le_5s", "le_10s", "over_10s"]

    struct Key: Hashable {
        var minute: Date
        var call: String
        var outcome: String
    }

    struct Tally {
        var count = 0
        var totalMilliseconds = 0
        var maxMilliseconds = 0
        var buckets = [Int](repeating: 0, count: ProviderCallLog.bucketColumns.count)
        var lastAt = Date.distantPast
    }

    private let pending = NIOLockedValueBox<[Key: Tally]>([:])

    func record(call: String, outcome: String, duration: Duration, at now: Date) {
        let milliseconds = Int(duration.timeInterval * 1000)
        let minute = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 60).rounded(.down) * 60)
        let bucket = Self.bucketBounds.firstIndex { milliseconds <= $0 } ?? Self.bucketBounds.count
        pending.withLockedValue { tallies in
            var tally = tallies[Key(minute: minute, call: call, outcome: outcome), default: Tally()]
            tally.count += 1
            tally.totalMilliseconds += milliseconds
            tally.maxMilliseconds = max(tally.maxMilliseconds, milliseconds)
            tally.buckets[bucket] += 1
            tally.lastAt = max(tally.lastAt, now)
            tallies[Key(minute: minute, call: call, outcome: outcome)] = tally
        }
    }

    /// Adds what was tallied since the last flush to the database. On failure the tallies are
    /// kept for the next flush.
    func flush(to store: Store) async throws {
        let taken = pending.withLockedValue { tallies in
            defer { tallies = [:] }
            return tallies
        }
        guard !taken.isEmpty else { return }
        do {
            try await store.writeTransaction { db in
                let sql = db as! any SQLDatabase // both supported drivers are SQL databases
                let columns = Self.bucketColumns.joined(separator: ", ")
                let additions = Self.bucketColumns.map { "\($0) = provider_call_minutes.\($0) + excluded.\($0)" }.joined(separator: ", ")
                for (key, tally) in taken {
                    let buckets = tally.buckets.map { "\($0)" }.joined(separator: ", ")
                    try await sql.raw("""
                        INSERT INTO provider_call_minutes (minute, call, outcome, count, total_ms, max_ms, last_at, \(unsafeRaw: columns))
                        VALUES (\(bind: key.minute), \(bind: key.call), \(bind: key.outcome), \(bind: tally.count),
                                \(bind: tally.totalMilliseconds), \(bind: tally.maxMilliseconds), \(bind: tally.lastAt), \(unsafeRaw: buckets))
                        ON CONFLICT (minute, call, outcome) DO UPDATE SET
                          count = provider_call_minutes.count + excluded.count,
                          total_ms = provider_call_minutes.total_ms + excluded.total_ms,
                          max_ms = CASE WHEN excluded.max_ms > provider_call_minutes.max_ms THEN excluded.max_ms ELSE provider_call_minutes.max_ms END,
                          last_at = CASE WHEN excluded.last_at > provider_call_minutes.last_at THEN excluded.last_at ELSE provider_call_minutes.last_at END,
                          \(unsafeRaw: additions)
                        """).run()
                }
            }
        } catch {
            pending.withLockedValue { tallies in
                for (key, tally) in taken {
                    var merged = tallies[key, default: Tally()]
                    merged.count += tally.count
                    merged.totalMilliseconds += tally.totalMilliseconds
                    merged.maxMilliseconds = max(merged.maxMilliseconds, tally.maxMilliseconds)
                    merged.buckets = zip(merged.buckets, tally.buckets).map(+)
                    merged.lastAt = max(merged.lastAt, tally.lastAt)
                    tallies[key] = merged
                }
            }
            throw error
        }
    }

    /// Rows older than this are deleted by the hourly sweep.
    static let retention: TimeInterval = 30 * 86_400

    func prune(before cutoff: Date, on db: any Database) async throws {
        try await (db as! any SQLDatabase).raw("DELETE FROM provider_call_minutes WHERE minute < \(bind: cutoff)").run()
    }
}

/// The table `ProviderCallLog` writes.
struct CreateProviderCallMinutes: AsyncMigration {
    func prepare(on database: any Database) async throws {
        var schema = database.schema("provider_call_minutes")
            .field("minute", .datetime, .required)
            .field("call", .string, .required)
            .field("outcome", .string, .required)
            .field("count", .int64, .required)
            .field("total_ms", .int64, .required)
            .field("max_ms", .int64, .required)
            .field("last_at", .datetime, .required)
        for column in ProviderCallLog.bucketColumns { schema = schema.field(.string(column), .int64, .required) }
        try await schema.unique(on: "minute", "call", "outcome").create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("provider_call_minutes").delete()
    }
}
