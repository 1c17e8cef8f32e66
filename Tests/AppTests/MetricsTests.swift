@testable import App
import Foundation
import Testing
import Vapor
import VaporTesting

@Suite("Prometheus metrics")
struct MetricsTests {
    static let token = "metrics-token-0123456789"

    /// The value of the sample whose name and labels match (labels in any order).
    static func sample(_ text: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { continue }
            if labels.allSatisfy({ line.contains("\($0.key)=\"\($0.value)\"") }) { return Double(parts[1]) }
        }
        return nil
    }

    @Test("requests, jobs, credits, callbacks and provider calls are counted; only a scraper with the token is answered")
    func scrape() async throws {
        try await withTestApp(adjust: { $0.metricsToken = Self.token }) { t in
            t.app.provider = MeasuredProvider(inner: t.app.provider, metrics: t.app.metrics, log: t.app.providerCallLog, clock: t.app.clock)
            let user = try await t.makeUser(credits: 50_000)
            _ = try await t.createTextVideo(as: user)
            _ = try await t.createVideo(#"{"prompt": "Breaks #fail"}"#, as: user)
            _ = try await t.createVideo(#"{"prompt": ""}"#, as: user)
            try await t.advance(by: 25)

            #expect(try await t.tester.sendRequest(.GET, "/metrics").status == .notFound)
            #expect(try await t.tester.sendRequest(.GET, "/metrics", headers: ["Authorization": "Bearer wrong-token-0123456789"]).status == .notFound)
            let response = try await t.tester.sendRequest(.GET, "/metrics", headers: ["Authorization": "Bearer \(Self.token)"])
            #expect(response.status == .ok)
            #expect(response.headers.contentType?.description.hasPrefix("text/plain") == true)
            let text = response.body.string

            #expect(Self.sample(text, "phim_http_requests_total", ["route": "/api/v1/videos", "method": "POST", "status": "202"]) == 2)
            #expect(Self.sample(text, "phim_http_requests_total", ["route": "/api/v1/videos", "method": "POST", "status": "422"]) == 1)
            #expect(Self.sample(text, "phim_jobs_count", ["state": "completed"]) == 1)
            #expect(Self.sample(text, "phim_jobs_count", ["state": "failed"]) == 1)
            #expect(Self.sample(text, "phim_jobs_count", ["state": "pending"]) == 0)
            #expect(Self.sample(text, "phim_credits_total", ["movement": "held"]) == 14_000)
            #expect(Self.sample(text, "phim_credits_total", ["movement": "settled"]) == 7_000)
            #expect(Self.sample(text, "phim_credits_total", ["movement": "released"]) == 7_000)
            #expect(Self.sample(text, "phim_credits_on_hold_count") == 0)
            #expect((Self.sample(text, "phim_provider_callbacks_total", ["kind": "completion", "outcome": "accepted"]) ?? 0) == 2)
            #expect(Self.sample(text, "phim_provider_calls_total", ["call": "create", "outcome": "ok"]) == 2)
            #expect((Self.sample(text, "phim_provider_call_duration_seconds_count", ["call": "create"]) ?? 0) == 2)
            #expect(Self.sample(text, "phim_reconciler_lag_seconds") == 0)
        }
    }

    @Test("provider errors are counted by kind, and a forged callback as refused")
    func errorsByKind() async throws {
        try await withTestApp(adjust: { $0.metricsToken = Self.token }) { t in
            t.app.provider = MeasuredProvider(inner: t.app.provider, metrics: t.app.metrics, log: t.app.providerCallLog, clock: t.app.clock)
            let user = try await t.makeUser()
            _ = try await t.createVideo(#"{"prompt": "Busy #error429"}"#, as: user)
            let id = try await t.createTextVideo(as: user)
            let forged = try await t.tester.sendRequest(.POST, "/api/v1/webhooks/kie/\(id.uuidString.lowercased())/not-the-secret",
                                                        headers: ["Content-Type": "application/json"],
                                                        body: ByteBuffer(string: #"{"code":200,"data":{"taskId":"x","state":"success"}}"#))
            #expect(forged.status == .notFound)
            let text = try await t.tester.sendRequest(.GET, "/metrics", headers: ["Authorization": "Bearer \(Self.token)"]).body.string
            #expect(Self.sample(text, "phim_provider_calls_total", ["call": "create", "outcome": "rejected_429"]) == 1)
            #expect(Self.sample(text, "phim_provider_callbacks_total", ["outcome": "not_found"]) == 1)
        }
    }
}
