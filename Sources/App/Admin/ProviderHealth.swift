import Fluent
import Foundation
import Logging
import SQLKit
import Vapor

/// How the provider has been doing: calls, errors and latency over the last hour (from
/// `ProviderCallLog`, all instances together), the last success and the last error, and the
/// provider account's balance with a warning when it runs low.
struct ProviderHealth: Sendable {
    let store: Store
    let clock: AppClock
    let provider: any VideoProvider
    let callLog: ProviderCallLog
    let lowBalance: Int

    struct CallSummary: Sendable {
        var call: String
        var count: Int
        var errors: Int
        var averageMilliseconds: Int
        var maxMilliseconds: Int
        /// The upper bound of the latency bucket holding the 95th percentile; `nil` past the last bound.
        var p95AtMostMilliseconds: Int?
        /// Failed calls by how they failed, most frequent first.
        var errorsByOutcome: [(outcome: String, count: Int)]

        var errorRate: Double { count == 0 ? 0 : Double(errors) / Double(count) }
    }

    struct Report: Sendable {
        var since: Date
        var calls: [CallSummary]
        var lastSuccess: Date?
        var lastError: (at: Date, outcome: String)?
        var balance: Int?
        var balanceError: String?
        var previousBalance: (credits: Int, checkedAt: Date)?
        var lowBalance: Int

        var isBalanceLow: Bool { balance.map { $0 < lowBalance } ?? false }
    }

    private struct Row: Decodable {
        var call: String
        var outcome: String
        var count: Int
        var totalMs: Int
        var maxMs: Int
        var buckets: [Int]

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: AnyKey.self)
            call = try container.decode(String.self, forKey: AnyKey("call"))
            outcome = try container.decode(String.self, forKey: AnyKey("outcome"))
            count = try container.decode(Int.self, forKey: AnyKey("count"))
            totalMs = try container.decode(Int.self, forKey: AnyKey("total_ms"))
            maxMs = try container.decode(Int.self, forKey: AnyKey("max_ms"))
            buckets = try ProviderCallLog.bucketColumns.map { try container.decode(Int.self, forKey: AnyKey($0)) }
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private struct LastCall: Decodable {
        var outcome: String
        var lastAt: Date
        enum CodingKeys: String, CodingKey { case outcome, lastAt = "last_at" }
    }

    /// The last hour. With `checkBalance`, the provider is asked for its balance now (and the
    /// answer kept); otherwise the last stored check is shown.
    func report(checkBalance: Bool) async throws -> Report {
        try await callLog.flush(to: store) // this instance's latest calls count too
        let now = clock.now()
        let since = now.addingTimeInterval(-3600)
        let sql = store.db as! any SQLDatabase // both supported drivers are SQL databases
        // PostgreSQL sums BIGINTs as NUMERIC; the casts keep every driver answering integers.
        let sums = ProviderCallLog.bucketColumns.map { "CAST(SUM(\($0)) AS BIGINT) AS \($0)" }.joined(separator: ", ")
        let rows = try await sql.raw("""
            SELECT call, outcome, CAST(SUM(count) AS BIGINT) AS count, CAST(SUM(total_ms) AS BIGINT) AS total_ms,
                   CAST(MAX(max_ms) AS BIGINT) AS max_ms, \(unsafeRaw: sums)
            FROM provider_call_minutes WHERE minute >= \(bind: since.addingTimeInterval(-60)) AND last_at >= \(bind: since)
            GROUP BY call, outcome
            """).all(decoding: Row.self)
        let calls = Dictionary(grouping: rows, by: \.call).map { call, rows in
            let count = rows.map(\.count).reduce(0, +)
            let failed = rows.filter { $0.outcome != "ok" }
            let buckets = rows.map(\.buckets).reduce([Int](repeating: 0, count: ProviderCallLog.bucketColumns.count)) { zip($0, $1).map(+) }
            return CallSummary(
                call: call, count: count, errors: failed.map(\.count).reduce(0, +),
                averageMilliseconds: count == 0 ? 0 : rows.map(\.totalMs).reduce(0, +) / count,
                maxMilliseconds: rows.map(\.maxMs).max() ?? 0,
                p95AtMostMilliseconds: Self.percentileBound(0.95, buckets: buckets),
                errorsByOutcome: failed.map { ($0.outcome, $0.count) }.sorted { $0.1 > $1.1 })
        }.sorted { Self.order($0.call) < Self.order($1.call) }

        let lastSuccess = try await sql.raw("""
            SELECT outcome, last_at FROM provider_call_minutes WHERE outcome = 'ok' ORDER BY last_at DESC LIMIT 1
            """).first(decoding: LastCall.self)
        let lastError = try await sql.raw("""
            SELECT outcome, last_at FROM provider_call_minutes WHERE outcome <> 'ok' ORDER BY last_at DESC LIMIT 1
            """).first(decoding: LastCall.self)

        var report = Report(since: since, calls: calls, lastSuccess: lastSuccess?.lastAt,
                            lastError: lastError.map { ($0.lastAt, $0.outcome) }, lowBalance: lowBalance)
        let previous = try await ProviderBalanceCheck.query(on: store.db).sort(\.$checkedAt, .descending).first()
        if checkBalance {
            report.previousBalance = previous.map { ($0.credits, $0.checkedAt) }
            do {
                report.balance = try await ProviderBalanceCheck.take(from: provider, at: now, on: store.db)
            } catch {
                report.balanceError = "\(error)"
            }
        } else if let previous {
            report.balance = previous.credits
        }
        return report
    }

    /// The bucket bound under which at least `fraction` of the calls fell.
    static func percentileBound(_ fraction: Double, buckets: [Int]) -> Int? {
        let total = buckets.reduce(0, +)
        guard total > 0 else { return 0 }
        var seen = 0
        for (index, count) in buckets.enumerated() {
            seen += count
            if Double(seen) >= fraction * Double(total) {
                return index < ProviderCallLog.bucketBounds.count ? ProviderCallLog.bucketBounds[index] : nil
            }
        }
        return nil
    }

    private static func order(_ call: String) -> Int { ["create", "status", "credit"].firstIndex(of: call) ?? 9 }
}

/// Checks the provider balance every hour while `serve` runs, keeps each answer (the admin
/// page and provider reconciliation show how it moved) and logs a warning when it is low.
struct ProviderBalanceWatch: Sendable {
    let store: Store
    let provider: any VideoProvider
    let clock: AppClock
    let lowBalance: Int
    let logger: Logger

    init(app: Application, logger: Logger) {
        store = app.store
        provider = app.provider
        clock = app.clock
        lowBalance = app.phimConfig.providerLowBalance
        self.logger = logger
    }

    func run() async {
        // The first check a minute after start: in demo mode the provider is this server,
        // which is not listening yet while the workers boot.
        do { try await clock.sleep(.seconds(60)) } catch { return }
        while !Task.isCancelled {
            do {
                let credits = try await ProviderBalanceCheck.take(from: provider, at: clock.now(), on: store.db)
                if credits < lowBalance {
                    logger.warning("provider balance is low", metadata: ["credits": .stringConvertible(credits),
                                                                         "warn_below": .stringConvertible(lowBalance)])
                }
            } catch {
                logger.warning("could not read the provider balance", metadata: ["error": .string("\(error)")])
            }
            do { try await clock.sleep(.seconds(3600)) } catch { return }
        }
    }
}
