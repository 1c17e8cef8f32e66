import Foundation
import PhimCore
import PhimSupport
#if canImport(Glibc)
import Glibc
#endif

/// Counters of what this process did, flushed every few seconds into `metric_counters` under this
/// process's own name. `GET /api/metrics` sums every process's rows (so a scrape that nginx sends
/// to any process sees them all), adds what the database knows at scrape time (jobs by state,
/// credits held), and writes Prometheus' text format.
public final class Metrics: @unchecked Sendable {
    public static let shared = Metrics()

    /// `name{labels}` → count since this process started.
    private let counters = Locked<[Key: Int64]>([:])
    /// hostname:pid:start, so a restarted process adds rows instead of resetting old ones.
    let processName = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(Date().unixMillis)"

    struct Key: Hashable {
        var name: String
        /// Already in Prometheus' form: `route="/api/v1/videos",status="200"`.
        var labels: String
    }

    public func count(_ name: String, _ labels: [(String, String)] = [], by amount: Int64 = 1) {
        let key = Key(name: name, labels: labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ","))
        counters.withLock { $0[key, default: 0] += amount }
    }

    /// Writes this process's counters (their totals, so a lost flush is made good by the next).
    public func flush(on db: Database) throws {
        try ProviderCallLog.shared.flush(process: processName, on: db)
        let snapshot = counters.current
        guard !snapshot.isEmpty else { return }
        let now = Date().unixMillis
        try db.write {
            for (key, value) in snapshot {
                try db.run("""
                    INSERT INTO metric_counters (process, name, labels, value, updated_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (process, name, labels) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                    """, [.text(processName), .text(key.name), .text(key.labels), .integer(value), .integer(now)])
            }
        }
    }

    /// Flushes every few seconds on a thread of its own.
    public func startFlushing(databasePath: String) {
        startThread(name: "metrics") { [self] in
            var database: Database?
            while true {
                Thread.sleep(forTimeInterval: 5)
                do {
                    if database == nil { database = try Database(path: databasePath) }
                    try flush(on: database!)
                } catch {
                    Log.warning("could not write metrics", ["error": "\(error)"])
                }
            }
        }
    }

    static let help: [String: (type: String, text: String)] = [
        "phim_http_requests_total": ("counter", "Requests answered by the FastCGI processes, by route and status."),
        "phim_provider_calls_total": ("counter", "Calls to the video provider, by call and outcome."),
        "phim_provider_call_microseconds_total": ("counter", "Time spent in provider calls, in microseconds, by call."),
        "phim_callbacks_total": ("counter", "Provider callbacks received, by kind and outcome."),
        "phim_reconciler_passes_total": ("counter", "Reconciler passes run."),
        "phim_webhook_attempts_total": ("counter", "Outbound webhook attempts, by outcome."),
        "phim_fastcgi_busy_refusals_total": ("counter", "Requests that would call the provider, refused (503) while every worker thread was taken."),
        "phim_reconciler_queries_total": ("counter", "Provider queries made by the reconciler."),
        "phim_jobs": ("gauge", "Videos by state."),
        "phim_credits_held": ("gauge", "Credits held for unfinished videos, over every account."),
        "phim_credits_available": ("gauge", "Spendable credits, over every account."),
        "phim_accounts": ("gauge", "Accounts."),
        "phim_queue_length": ("gauge", "Videos waiting in the admission queue to be sent to the provider."),
        "phim_queue_oldest_wait_seconds": ("gauge", "How long the oldest queued video has waited (0 when none waits)."),
        "phim_provider_running": ("gauge", "Videos sent to the provider and not finished: what counts against max_running."),
        "phim_provider_sends_total": ("counter", "Sends of queued videos to the provider, by outcome (busy: refused as busy and queued again)."),
        "phim_queue_limit": ("gauge", "The limits the dispatch keeps to: creates per 10 seconds, tasks running at once."),
    ]

    /// The exposition: this process flushes first, so its latest counts are in the sums.
    public func exposition(on db: Database, queue: ProviderQueue) throws -> String {
        try flush(on: db)
        var lines: [String: [String]] = [:]
        for row in try db.query("SELECT name, labels, SUM(value) FROM metric_counters GROUP BY name, labels ORDER BY name, labels") {
            let labels = row.string(1)
            lines[row.string(0), default: []].append("\(row.string(0))\(labels.isEmpty ? "" : "{\(labels)}") \(row.int64(2))")
        }
        for row in try db.query("SELECT status, COUNT(*) FROM video_jobs GROUP BY status ORDER BY status") {
            lines["phim_jobs", default: []].append("phim_jobs{state=\"\(row.string(0))\"} \(row.int64(1))")
        }
        if let totals = try db.first("SELECT COALESCE(SUM(credits_held), 0), COALESCE(SUM(credits_available), 0), COUNT(*) FROM users") {
            lines["phim_credits_held"] = ["phim_credits_held \(totals.int64(0))"]
            lines["phim_credits_available"] = ["phim_credits_available \(totals.int64(1))"]
            lines["phim_accounts"] = ["phim_accounts \(totals.int64(2))"]
        }
        queueLines(try Administration(clock: queue.clock).queueReport(queue: queue, on: db), now: queue.clock.nowMillis(), into: &lines)
        // Every send is journaled with its outcome, in every process, so the table is the counter.
        for row in try db.rows("SELECT outcome, COUNT(*) AS sends FROM provider_sends GROUP BY outcome ORDER BY outcome") {
            lines["phim_provider_sends_total", default: []]
                .append("phim_provider_sends_total{outcome=\"\(Self.escape(row.string("outcome")))\"} \(row.int64("sends"))")
        }
        var out = ""
        for name in lines.keys.sorted() {
            if let help = Self.help[name] {
                out += "# HELP \(name) \(help.text)\n# TYPE \(name) \(help.type)\n"
            }
            out += lines[name]!.joined(separator: "\n") + "\n"
        }
        return out
    }

    /// The queue as the admin Queue page and `phim queue` report it.
    private func queueLines(_ report: Administration.QueueReport, now: Int64, into lines: inout [String: [String]]) {
        lines["phim_queue_length"] = ["phim_queue_length \(report.queued)"]
        lines["phim_queue_oldest_wait_seconds"] = ["phim_queue_oldest_wait_seconds \(report.oldestQueuedAt.map { max(0, now - $0) / 1000 } ?? 0)"]
        lines["phim_provider_running"] = ["phim_provider_running \(report.running)"]
        lines["phim_queue_limit"] = ["phim_queue_limit{limit=\"creates_per_10s\"} \(report.limits.createsPer10s)",
                                     "phim_queue_limit{limit=\"max_running\"} \(report.limits.maxRunning)"]
    }

    static func escape(_ value: String) -> String {
        // Counted on every request: the usual value (a route pattern, a status) needs no escape,
        // and Foundation's replacing was a visible part of a request's time.
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") }) else { return value }
        return value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
