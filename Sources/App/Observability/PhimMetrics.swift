import Fluent
import Foundation
import Prometheus
import SQLKit

/// Phim's Prometheus metrics, one registry per application, shown at `GET /metrics`.
///
/// Events are counted where they happen (requests, provider calls, callbacks, webhook
/// attempts, reconciler passes). What the database already knows exactly — jobs by state,
/// credits held, settled and released, webhook deliveries by state, how late the reconciler is —
/// is read from it when the metrics are scraped, so every instance reports the same true
/// figures and nothing drifts across restarts.
final class PhimMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    private static let latencyBuckets: [Duration] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000]
        .map { .milliseconds($0) }

    private func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "phim", metricName: metric, unitName: unit, helpText: help)
    }

    // MARK: - Events

    func request(route: String, method: String, status: UInt, duration: Duration) {
        let labels = [("route", route), ("method", method), ("status", String(status))]
        registry.makeCounter(descriptor: name("http_requests", "total", "HTTP requests by route, method and status."), labels: labels).increment()
        registry.makeDurationHistogram(descriptor: name("http_request_duration", "seconds", "HTTP request latency by route."),
                                       labels: [("route", route), ("method", method)], buckets: Self.latencyBuckets).record(duration)
    }

    /// A call to the provider: `call` is `create`, `status` or `credit`; `error` the kind of
    /// failure (`rejected_<code>`, `unreachable`, `ambiguous`, `invalid_response`) or nil.
    func providerCall(_ call: String, duration: Duration, error: String?) {
        registry.makeDurationHistogram(descriptor: name("provider_call_duration", "seconds", "Provider call latency by call."),
                                       labels: [("call", call)], buckets: Self.latencyBuckets).record(duration)
        registry.makeCounter(descriptor: name("provider_calls", "total", "Provider calls by call and outcome."),
                             labels: [("call", call), ("outcome", error ?? "ok")]).increment()
    }

    /// A provider callback: `accepted`, or the error code it was refused with.
    func callback(_ outcome: String, progress: Bool) {
        registry.makeCounter(descriptor: name("provider_callbacks", "total", "Provider callbacks received, by kind and outcome."),
                             labels: [("kind", progress ? "progress" : "completion"), ("outcome", outcome)]).increment()
    }

    func webhookAttempt(_ state: WebhookDeliveryState) {
        registry.makeCounter(descriptor: name("webhook_attempts", "total", "Outbound webhook attempts by the delivery's state after them."),
                             labels: [("result", state.rawValue)]).increment()
    }

    func reconcilerPass(duration: Duration, queried: Int) {
        registry.makeDurationHistogram(descriptor: name("reconciler_pass_duration", "seconds", "Reconciler pass duration."),
                                       labels: [], buckets: Self.latencyBuckets).record(duration)
        registry.makeCounter(descriptor: name("reconciler_queries", "total", "Provider queries made by the reconciler."), labels: [])
            .increment(by: Int64(queried))
    }

    // MARK: - Read from the database at scrape time

    func refresh(from db: any Database, now: Date) async throws {
        let sql = db as! any SQLDatabase // both supported drivers are SQL databases

        struct StateCount: Decodable { var status: String; var n: Int }
        let states = try await sql.raw("SELECT status, COUNT(*) AS n FROM video_jobs GROUP BY status").all(decoding: StateCount.self)
        for status in JobStatus.allCases {
            registry.makeGauge(descriptor: name("jobs", "count", "Video jobs by state."), labels: [("state", status.rawValue)])
                .set(Double(states.first { $0.status == status.rawValue }?.n ?? 0))
        }

        struct KindSum: Decodable { var kind: String; var available: Int?; var held: Int? }
        // PostgreSQL sums BIGINTs as NUMERIC; the casts keep both databases answering integers.
        let sums = try await sql.raw("SELECT kind, CAST(SUM(available_delta) AS BIGINT) AS available, CAST(SUM(held_delta) AS BIGINT) AS held FROM credit_entries GROUP BY kind")
            .all(decoding: KindSum.self)
        func sum(_ kind: CreditEntry.Kind) -> KindSum? { sums.first { $0.kind == kind.rawValue } }
        let credits = [
            ("granted", Double(sum(.grant)?.available ?? 0)),
            ("held", Double(sum(.hold)?.held ?? 0)),
            ("settled", Double(-(sum(.settle)?.held ?? 0))),
            ("released", Double(-(sum(.release)?.held ?? 0))),
        ]
        for (movement, amount) in credits {
            registry.makeGauge(descriptor: name("credits", "total", "Credits moved by the ledger since the start, by movement."),
                               labels: [("movement", movement)]).set(amount)
        }
        struct Held: Decodable { var held: Int? }
        let onHold = try await sql.raw("SELECT CAST(SUM(credits_held) AS BIGINT) AS held FROM users").first(decoding: Held.self)?.held ?? 0
        registry.makeGauge(descriptor: name("credits_on_hold", "count", "Credits held by unfinished videos right now."), labels: [])
            .set(Double(onHold))

        struct Deliveries: Decodable { var state: String; var n: Int }
        let deliveries = try await sql.raw("SELECT state, COUNT(*) AS n FROM webhook_deliveries GROUP BY state").all(decoding: Deliveries.self)
        for state in WebhookDeliveryState.allCases {
            registry.makeGauge(descriptor: name("webhook_deliveries", "count", "Outbound webhook deliveries by state."), labels: [("state", state.rawValue)])
                .set(Double(deliveries.first { $0.state == state.rawValue }?.n ?? 0))
        }

        // How far behind the reconciler is: the oldest check that is due and not yet made.
        let oldestDue = try await VideoJob.query(on: db)
            .filter(\.$status ~~ [.pending, .processing]).filter(\.$nextCheckAt <= now)
            .sort(\.$nextCheckAt).first()?.nextCheckAt
        registry.makeGauge(descriptor: name("reconciler_lag", "seconds", "How long the oldest due provider check has waited."), labels: [])
            .set(oldestDue.map { max(0, now.timeIntervalSince($0)) } ?? 0)
    }
}
