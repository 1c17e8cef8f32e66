import Foundation
import PhimCore
import PhimServer
import PhimSupport
import XCTest

/// `/api/metrics`: Prometheus' text format, for this machine's scraper or a token holder only.
final class MetricsTests: XCTestCase {
    func value(_ text: String, _ series: String) -> Int? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Int($0.split(separator: " ").last!) }
    }

    func testMetricsCountRequestsProviderCallsAndJobsForLocalScrapersOnly() throws {
        let world = try TestWorld()
        let user = try world.user("metrics", credits: 20_000)
        XCTAssertEqual(world.createVideo(user).status, 202)
        let refused = world.createVideo(user, prompt: "x #error500") // the provider made nothing: back in the queue
        XCTAssertEqual(refused.status, 202)
        XCTAssertEqual(refused.bodyJSON?["status"]?.stringValue, "queued")
        world.send("GET", "/api/v1/videos/\(UUID().uuidString)", as: user)
        let scrape = world.app.handle(Request(method: "GET", path: "/api/metrics", remoteAddress: "127.0.0.1"), db: world.db)
        XCTAssertEqual(scrape.status, 200)
        XCTAssertEqual(scrape.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        let text = scrape.bodyText
        XCTAssertTrue(text.contains("# TYPE phim_http_requests_total counter"))
        XCTAssertGreaterThanOrEqual(value(text, #"phim_http_requests_total{route="/api/v1/videos",status="202"}"#) ?? 0, 1)
        XCTAssertGreaterThanOrEqual(value(text, #"phim_http_requests_total{route="/api/v1/videos/:id",status="404"}"#) ?? 0, 1,
                                    "routes are labelled by pattern, never by id")
        XCTAssertFalse(text.contains("/api/v1/videos/0"), "no raw paths")
        XCTAssertGreaterThanOrEqual(value(text, #"phim_provider_calls_total{call="create_task",outcome="rejected_500"}"#) ?? 0, 1)
        XCTAssertEqual(value(text, #"phim_jobs{state="pending"}"#), 1)
        XCTAssertEqual(value(text, #"phim_jobs{state="queued"}"#), 1)
        XCTAssertEqual(value(text, "phim_credits_held"), 2 * TestWorld.price)

        let remote = world.app.handle(Request(method: "GET", path: "/api/metrics", remoteAddress: "203.0.113.9"), db: world.db)
        XCTAssertEqual(remote.status, 404)
        let forwarded = world.app.handle(Request(method: "GET", path: "/api/metrics", headers: ["x-forwarded-for": "203.0.113.9"],
                                                 remoteAddress: "127.0.0.1"), db: world.db)
        XCTAssertEqual(forwarded.status, 404)
    }

    /// The admission queue for a scraper: its length and oldest wait, what runs at the provider,
    /// every send by outcome (a busy provider's refusal too) and the limits in force.
    func testMetricsShowTheQueueTheSendsByOutcomeAndTheLimitsInForce() throws {
        let world = try TestWorld {
            $0.dispatchOnCreate = false
            $0.providerCreatesPer10s = 2
            $0.providerMaxRunning = 40
        }
        let user = try world.user("queued", credits: 100_000)
        for index in 0..<4 { XCTAssertEqual(world.createVideo(user, prompt: "clip \(index)").status, 202) }
        world.simulator.inject(.reply(code: 429, message: "Rate limit exceeded"))
        try world.app.queue.runPass(on: world.db) // refused as busy: back in the queue, the dispatch paused
        world.clock.advance(5)
        try world.app.queue.runPass(on: world.db) // one place left in the 10-second window
        func scrape() -> String {
            world.app.handle(Request(method: "GET", path: "/api/metrics", remoteAddress: "127.0.0.1"), db: world.db).bodyText
        }
        var text = scrape()
        XCTAssertTrue(text.contains("# TYPE phim_provider_sends_total counter"), text)
        XCTAssertEqual(value(text, "phim_queue_length"), 3)
        XCTAssertEqual(value(text, "phim_queue_oldest_wait_seconds"), 5)
        XCTAssertEqual(value(text, "phim_provider_running"), 1)
        XCTAssertEqual(value(text, #"phim_provider_sends_total{outcome="busy"}"#), 1)
        XCTAssertEqual(value(text, #"phim_provider_sends_total{outcome="accepted"}"#), 1)
        XCTAssertEqual(value(text, #"phim_queue_limit{limit="creates_per_10s"}"#), 2, "the settings' limit")
        XCTAssertEqual(value(text, #"phim_queue_limit{limit="max_running"}"#), 40)

        try Administration(clock: world.app.clock).setQueueLimits(createsPer10s: 7, maxRunning: nil, reason: "Kie raised it", by: .commandLine(),
                                                                  queue: world.app.queue, on: world.db)
        try world.app.queue.runPass(on: world.db)
        text = scrape()
        XCTAssertEqual(value(text, #"phim_queue_limit{limit="creates_per_10s"}"#), 7, "an operator's limit, at once")
        XCTAssertEqual(value(text, "phim_queue_length"), 0)
        XCTAssertEqual(value(text, "phim_queue_oldest_wait_seconds"), 0, "nothing waits")
        XCTAssertEqual(value(text, "phim_provider_running"), 4)
        XCTAssertEqual(value(text, #"phim_provider_sends_total{outcome="accepted"}"#), 4)
    }

    func testAMetricsTokenOpensMetricsToAScraperElsewhere() throws {
        let world = try TestWorld { $0.metricsToken = "a-long-scrape-token" }
        XCTAssertEqual(world.app.handle(Request(method: "GET", path: "/api/metrics", remoteAddress: "203.0.113.9"), db: world.db).status, 404)
        XCTAssertEqual(world.app.handle(Request(method: "GET", path: "/api/metrics", headers: ["authorization": "Bearer wrong-scrape-token!!"],
                                                remoteAddress: "203.0.113.9"), db: world.db).status, 404)
        let scrape = world.app.handle(Request(method: "GET", path: "/api/metrics", headers: ["authorization": "Bearer a-long-scrape-token",
                                                                                            "x-forwarded-for": "203.0.113.9"],
                                              remoteAddress: "203.0.113.9"), db: world.db)
        XCTAssertEqual(scrape.status, 200, "the token is enough, through a proxy too")
        XCTAssertEqual(world.app.handle(Request(method: "GET", path: "/api/metrics", headers: ["host": "127.0.0.1:8080"]), db: world.db).status, 200,
                       "this machine's own scraper needs no token")
    }

    func testWithoutTheTokenOnlyThisMachineWithNoProxyBetweenSeesMetrics() throws {
        let world = try TestWorld()
        func status(_ headers: [String: String], from address: String = "127.0.0.1") -> Int {
            world.app.handle(Request(method: "GET", path: "/api/metrics", headers: headers, remoteAddress: address), db: world.db).status
        }
        XCTAssertEqual(status(["host": "127.0.0.1:8080"]), 200)
        XCTAssertEqual(status(["host": "localhost"]), 200)
        XCTAssertEqual(status(["host": "[::1]:8080"], from: "::1"), 200)
        for header in ["x-forwarded-for", "forwarded", "x-real-ip"] {
            XCTAssertEqual(status(["host": "127.0.0.1", header: "127.0.0.1"]), 404, "\(header) means it came through a proxy")
        }
        XCTAssertEqual(status(["host": "127.0.0.1"], from: "10.0.0.5"), 404, "a private address is not this machine")
        XCTAssertEqual(status(["host": "127.0.0.1"], from: "127.0.0.1.example.com"), 404)
        XCTAssertEqual(status(["host": "rebind.attacker.example:8080"]), 404, "a browser led to loopback by DNS rebinding")
        XCTAssertEqual(status(["host": "127.0.0.1", "authorization": "Bearer a-long-scrape-token"], from: "203.0.113.9"), 404,
                       "no token is configured, so none opens it")
    }

    func testHealthSaysNothingAboutAccounts() throws {
        let world = try TestWorld()
        _ = try world.user("one")
        _ = try world.user("two")
        let health = world.send("GET", "/api/healthz")
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(health.bodyJSON?["status"]?.stringValue, "ok")
        XCTAssertEqual(health.bodyJSON?["database"]?.stringValue, "ok")
        XCTAssertNil(health.bodyJSON?["users"])
        XCTAssertFalse(health.bodyText.contains("2"), health.bodyText)
    }

    func testLogLinesNeverCarryCallbackSecretsOrShareTokens() {
        XCTAssertEqual(LogRedaction.path("/api/v1/webhooks/kie/1234/s3cr3t-value/progress"), "/api/v1/webhooks/kie/1234/***/progress")
        XCTAssertEqual(LogRedaction.path("/v/AbCdEf/media"), "/v/***/media")
        XCTAssertEqual(LogRedaction.path("/api/v1/videos/42"), "/api/v1/videos/42")
        XCTAssertEqual(LogRedaction.path("//v/AbCdEf/"), "//v/***/")
        XCTAssertEqual(LogRedaction.path("/api/v1//webhooks/kie/1234/s3cr3t-value"), "/api/v1//webhooks/kie/1234/***")
    }
}
