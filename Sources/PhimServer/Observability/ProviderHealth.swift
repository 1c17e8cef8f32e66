import Foundation
import PhimCore
import PhimProvider
import PhimSupport

/// How the provider has been answering: every process tallies its calls per minute (flushed with
/// the metrics), so the health of the last hour covers them all; plus the last success and the
/// last error, and the provider account's balance with a low-balance warning.
public final class ProviderCallLog: @unchecked Sendable {
    public static let shared = ProviderCallLog()

    struct Key: Hashable {
        var minute: Int64
        var call: String
        var outcome: String
    }

    struct ModelKey: Hashable {
        var minute: Int64
        var model: String
        var outcome: String
    }

    struct Tally {
        var calls: Int64 = 0
        var microsTotal: Int64 = 0
        var microsMax: Int64 = 0
    }

    private let state = Locked<(tallies: [Key: Tally], models: [ModelKey: Int64], lastSuccess: (Int64, String, String)?,
                                lastError: (Int64, String, String)?)>(([:], [:], nil, nil))

    func record(call: String, outcome: String, micros: Int64, detail: String?, model: String? = nil) {
        let now = Date().unixMillis
        state.withLock { state in
            if let model { state.models[ModelKey(minute: now / 60_000, model: model, outcome: outcome), default: 0] += 1 }
            var tally = state.tallies[Key(minute: now / 60_000, call: call, outcome: outcome), default: Tally()]
            tally.calls += 1
            tally.microsTotal += micros
            tally.microsMax = max(tally.microsMax, micros)
            state.tallies[Key(minute: now / 60_000, call: call, outcome: outcome)] = tally
            if outcome == "ok" { state.lastSuccess = (now, call, "") } else { state.lastError = (now, call, String((detail ?? outcome).prefix(300))) }
        }
    }

    /// Writes the tallies (as totals, so a second flush of the same minute corrects the first).
    func flush(process: String, on db: Database) throws {
        let snapshot = state.current
        let currentMinute = Date().unixMillis / 60_000
        try db.write {
            for (key, tally) in snapshot.tallies {
                try db.run("""
                    INSERT INTO provider_call_minutes (minute, process, call, outcome, calls, micros_total, micros_max) VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (minute, process, call, outcome) DO UPDATE SET calls = excluded.calls,
                      micros_total = excluded.micros_total, micros_max = excluded.micros_max
                    """, [.integer(key.minute), .text(process), .text(key.call), .text(key.outcome), .integer(tally.calls),
                          .integer(tally.microsTotal), .integer(tally.microsMax)])
            }
            for (kind, event) in [("success", snapshot.lastSuccess), ("error", snapshot.lastError)] {
                guard let (at, call, detail) = event else { continue }
                try db.run("""
                    INSERT INTO provider_last_events (kind, at, call, detail) VALUES (?, ?, ?, ?)
                    ON CONFLICT (kind) DO UPDATE SET at = excluded.at, call = excluded.call, detail = excluded.detail
                    WHERE excluded.at > provider_last_events.at
                    """, [.text(kind), .integer(at), .text(call), .text(detail)])
            }
            for (key, calls) in snapshot.models {
                try db.run("""
                    INSERT INTO provider_model_minutes (minute, process, model, outcome, calls) VALUES (:minute, :process, :model, :outcome, :calls)
                    ON CONFLICT (minute, process, model, outcome) DO UPDATE SET calls = excluded.calls
                    """, ["minute": .integer(key.minute), "process": .text(process), "model": .text(key.model),
                          "outcome": .text(key.outcome), "calls": .integer(calls)])
            }
            try db.run("DELETE FROM provider_call_minutes WHERE minute < ?", [.integer(currentMinute - 48 * 60)])
            try db.run("DELETE FROM provider_model_minutes WHERE minute < :oldest", ["oldest": .integer(currentMinute - 48 * 60)])
        }
        // Minutes that are over and written can be forgotten here.
        state.withLock { state in
            state.tallies = state.tallies.filter { $0.key.minute >= currentMinute }
            state.models = state.models.filter { $0.key.minute >= currentMinute }
        }
    }
}

/// The provider's health over the last hour, for `/api/v1/admin/provider` and `phim provider health`.
public enum ProviderHealth {
    public struct Report: Sendable {
        public var calls = 0
        public var failures = 0
        public var byOutcome: [(outcome: String, calls: Int)] = []
        public var averageMilliseconds = 0.0
        public var slowestMilliseconds = 0.0
        public var lastSuccess: (at: Int64, call: String)?
        public var lastError: (at: Int64, call: String, detail: String)?
        public var balance: Int?
        public var balanceError: String?
        public var lowBalanceThreshold: Int
        /// Creates per provider model over the last 24 hours, and how many the provider refused or failed.
        public var createsByModel: [(model: String, calls: Int, errors: Int)] = []
        /// Catalog models the provider refused, with since when and why.
        public var unavailableModels: [CatalogModel] = []
        public var isBalanceLow: Bool { balance.map { $0 < lowBalanceThreshold } ?? true }
        public var errorRate: Double { calls == 0 ? 0 : Double(failures) / Double(calls) }
    }

    public static func report(provider: any VideoProvider, lowBalance: Int, on db: Database) throws -> Report {
        try ProviderCallLog.shared.flush(process: Metrics.shared.processName, on: db)
        var report = Report(lowBalanceThreshold: lowBalance)
        let since = Date().unixMillis / 60_000 - 60
        for row in try db.query("""
            SELECT outcome, SUM(calls), SUM(micros_total), MAX(micros_max) FROM provider_call_minutes WHERE minute >= ?
            GROUP BY outcome ORDER BY SUM(calls) DESC
            """, [.integer(since)]) {
            report.byOutcome.append((row.string(0), row.int(1)))
            report.calls += row.int(1)
            if row.string(0) != "ok" { report.failures += row.int(1) }
            report.averageMilliseconds += Double(row.int64(2)) / 1000
            report.slowestMilliseconds = max(report.slowestMilliseconds, Double(row.int64(3)) / 1000)
        }
        if report.calls > 0 { report.averageMilliseconds /= Double(report.calls) }
        for row in try db.rows("""
            SELECT model, SUM(calls) AS calls, SUM(CASE WHEN outcome = 'ok' THEN 0 ELSE calls END) AS errors
            FROM provider_model_minutes WHERE minute >= :since GROUP BY model ORDER BY model
            """, ["since": .integer(Date().unixMillis / 60_000 - 24 * 60)]) {
            report.createsByModel.append((row.string("model"), row.int("calls"), row.int("errors")))
        }
        report.unavailableModels = try ModelCatalog.all(on: db).filter { $0.availability.unavailableSince != nil }
        if let row = try db.first("SELECT at, call FROM provider_last_events WHERE kind = 'success'") {
            report.lastSuccess = (row.int64(0), row.string(1))
        }
        if let row = try db.first("SELECT at, call, detail FROM provider_last_events WHERE kind = 'error'") {
            report.lastError = (row.int64(0), row.string(1), row.string(2))
        }
        do {
            report.balance = try provider.remainingCredits()
        } catch {
            report.balanceError = "\(error)"
        }
        return report
    }
}
