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
        XCTAssertEqual(world.createVideo(user, prompt: "x #error500").status, 503)
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
        XCTAssertEqual(value(text, "phim_credits_held"), TestWorld.price)

        let remote = world.app.handle(Request(method: "GET", path: "/api/metrics", remoteAddress: "203.0.113.9"), db: world.db)
        XCTAssertEqual(remote.status, 404)
        let forwarded = world.app.handle(Request(method: "GET", path: "/api/metrics", headers: ["x-forwarded-for": "203.0.113.9"],
                                                 remoteAddress: "127.0.0.1"), db: world.db)
        XCTAssertEqual(forwarded.status, 404)
    }

    func testAMetricsTokenIsDemandedWhenSet() throws {
        let world = try TestWorld { $0.metricsToken = "a-long-scrape-token" }
        XCTAssertEqual(world.app.handle(Request(method: "GET", path: "/api/metrics"), db: world.db).status, 404)
        let scrape = world.app.handle(Request(method: "GET", path: "/api/metrics", headers: ["authorization": "Bearer a-long-scrape-token"],
                                              remoteAddress: "203.0.113.9"), db: world.db)
        XCTAssertEqual(scrape.status, 200)
    }

    func testLogLinesNeverCarryCallbackSecretsOrShareTokens() {
        XCTAssertEqual(LogRedaction.path("/api/v1/webhooks/kie/1234/s3cr3t-value/progress"), "/api/v1/webhooks/kie/1234/***/progress")
        XCTAssertEqual(LogRedaction.path("/v/AbCdEf/media"), "/v/***/media")
        XCTAssertEqual(LogRedaction.path("/api/v1/videos/42"), "/api/v1/videos/42")
        XCTAssertEqual(LogRedaction.path("//v/AbCdEf/"), "//v/***/")
        XCTAssertEqual(LogRedaction.path("/api/v1//webhooks/kie/1234/s3cr3t-value"), "/api/v1//webhooks/kie/1234/***")
    }
}
