// Webhooks as an attacker would use them: DNS kept off request threads, the checked address pinned
// (DNS rebinding), replays limited, accounts served in turn, old deliveries pruned.
import Foundation
import PhimCore
import PhimProvider
import PhimServer
import PhimSupport
import XCTest

final class WebhookSafetyTests: XCTestCase {
    // MARK: - No DNS on a request thread

    func testQuoteCreateAndEndpointAnswerWithoutEverAskingAResolverThatNeverAnswers() throws {
        // A name server that drops queries: the resolver waits until released (10 s at most, so
        // a regression fails the test instead of hanging it).
        let calls = Locked(0)
        let released = DispatchSemaphore(value: 0)
        defer { for _ in 0..<8 { released.signal() } }
        let t = try Hooks {
            $0.webhooks.resolve = { _ in
                calls.withLock { $0 += 1 }
                _ = released.wait(timeout: .now() + 10)
                return [IPAddress("93.184.215.14")!]
            }
        }
        let user = try t.world.user("slowdns", credits: 100_000)
        let url = "https://slow-dns.shop.test/hook"
        let quote = t.world.send("POST", "/api/v1/videos/quote",
                                 json: .object([("prompt", .string("a quiet street")), ("webhook_url", .string(url))]), as: user)
        XCTAssertEqual(quote.status, 200, quote.bodyText)
        let created = t.create(user, ["webhook_url": .string(url)])
        XCTAssertEqual(created.status, 202, created.bodyText)
        let put = t.world.send("PUT", "/api/v1/webhook-endpoint", json: .object([("url", .string(url))]), as: user)
        XCTAssertEqual(put.status, 200, put.bodyText)
        XCTAssertEqual(put.bodyJSON?["url"]?.stringValue, url)
        XCTAssertEqual(calls.current, 0, "no request asked DNS: the dispatcher does, before each attempt")
    }

    func testANameThatLeadsInsideIsAcceptedWhenGivenAndEachDeliveryFailsWithItsReasonInTheLog() throws {
        let t = try Hooks()
        let user = try t.world.user("inside", credits: 100_000)
        let inside = ["https://inside.shop.test/hook", "https://half-inside.shop.test/hook", "https://metadata.shop.test/",
                      "https://mapped.shop.test/"]
        try t.world.holdQueue() // kept in the queue, so the cancels announce `video.canceled`
        for url in inside {
            let created = t.create(user, ["webhook_url": .string(url)])
            XCTAssertEqual(created.status, 202, "\(url): judged when sent, not when given: \(created.bodyText)")
            guard let id = created.bodyJSON?["id"]?.stringValue else { return }
            XCTAssertEqual(t.world.send("POST", "/api/v1/videos/\(id)/cancel", as: user).status, 200)
        }
        XCTAssertEqual(t.dns.totalLookups, 0)
        let report = try t.dispatch()
        XCTAssertEqual(report.outcomes, ["refused_target": inside.count])
        XCTAssertEqual(report.failed, inside.count, "refused for good: no retry can make the address public")
        XCTAssertTrue(t.sender.posts.isEmpty, "nothing was sent inside")
        XCTAssertEqual(t.dns.totalLookups, inside.count, "one lookup per attempt")
        guard case .array(let entries) = t.world.send("GET", "/api/v1/webhook-deliveries", as: user).bodyJSON?["data"] ?? .null
        else { return XCTFail("no log") }
        XCTAssertEqual(entries.count, inside.count)
        for entry in entries {
            let host = URLComponents(string: entry["url"]!.stringValue!)!.host!
            XCTAssertEqual(entry["state"]?.stringValue, "failed")
            XCTAssertEqual(entry["last_error"]?.stringValue,
                           "target refused: \(host) is or resolves to an address that is not public (loopback, private, link-local or reserved)")
            let detail = t.world.send("GET", "/api/v1/webhook-deliveries/\(entry["id"]!.stringValue!)", as: user).bodyJSON!
            guard case .array(let attempts) = detail["attempt_log"] ?? .null else { return XCTFail("no attempt log") }
            XCTAssertEqual(attempts.map { $0["error"] }, [entry["last_error"]], "the attempt log says why")
            XCTAssertFalse(entry["last_error"]?.stringValue?.contains("10.0.0.7") ?? true, "the internal address is not shown")
        }

        // A name that does not resolve is accepted too, and its delivery retried (DNS trouble may pass).
        let nowhere = t.create(user, ["webhook_url": .string("https://nowhere.shop.test/hook")])
        XCTAssertEqual(nowhere.status, 202, nowhere.bodyText)
        guard let nowhereID = nowhere.bodyJSON?["id"]?.stringValue else { return }
        XCTAssertEqual(t.world.send("POST", "/api/v1/videos/\(nowhereID)/cancel", as: user).status, 200)
        try t.world.releaseQueue()
        let retried = try t.dispatch()
        XCTAssertEqual(retried.retrying, 1)
        XCTAssertEqual(retried.outcomes, ["no_answer": 1])
        let row = try XCTUnwrap(try t.world.db.firstRow("SELECT last_error FROM webhook_deliveries WHERE url = :url",
                                                         ["url": .text("https://nowhere.shop.test/hook")]))
        XCTAssertEqual(row.optionalString("last_error"), "host nowhere.shop.test could not be resolved")
    }

    // MARK: - DNS rebinding: one lookup per attempt, the connection pinned to its answer

    func testEachAttemptLooksTheNameUpOnceAndIsToldToConnectToExactlyThatAnswer() throws {
        // A rebinding name: public to the first question, loopback to every later one.
        let answers = Locked(0)
        let t = try Hooks {
            $0.webhooks.resolve = { host in
                XCTAssertEqual(host, "rebind.shop.test")
                let asked = answers.withLock { count -> Int in count += 1; return count }
                return [IPAddress(asked == 1 ? "93.184.215.14" : "127.0.0.1")!]
            }
        }
        let user = try t.world.user("rebind", credits: 100_000)
        let url = "https://rebind.shop.test/hook"
        let first = try t.createAndCancel(user, ["webhook_url": .string(url)])
        XCTAssertEqual(answers.current, 0)
        XCTAssertEqual(try t.dispatch().delivered, 1)
        XCTAssertEqual(answers.current, 1, "asked once: never a second time for the connection, which would get loopback")
        XCTAssertEqual(t.sender.posts.map(\.addresses), [[IPAddress("93.184.215.14")!]], "connected to the address that was checked")

        // The next attempt asks again, gets loopback, and sends nothing.
        let second = try t.createAndCancel(user, ["webhook_url": .string(url)])
        XCTAssertEqual(try t.dispatch().outcomes, ["refused_target": 1])
        XCTAssertEqual(answers.current, 2)
        XCTAssertEqual(t.sender.posts.count, 1)
    }

    /// libcurl itself: a name that only the injected resolver knows (`.test` never resolves in
    /// real DNS) is delivered to the address the resolver gave, so the connection used the pin and
    /// did no lookup of its own. Private targets are allowed here only so the receiver can be on
    /// loopback; the resolver is still asked once per attempt.
    func testTheRealSenderConnectsToThePinnedAddressOfANameOnlyTheResolverKnows() throws {
        HTTPClient.globalInit()
        let receiver = try LocalReceiver(answers: [204])
        defer { receiver.stop() }
        let answers = Locked(0)
        let t = try Hooks {
            $0.webhooks.allowsPrivateTargets = true
            $0.webhooks.resolve = { _ in
                let asked = answers.withLock { count -> Int in count += 1; return count }
                // A second answer would lead nowhere (TEST-NET-1): it must never be used.
                return [IPAddress(asked == 1 ? "127.0.0.1" : "192.0.2.1")!]
            }
        }
        let user = try t.world.user("pinned", credits: 100_000)
        let url = "http://rebind.test:\(receiver.port)/hook"
        let id = try t.createAndCancel(user, ["webhook_url": .string(url)])
        let dispatcher = WebhookDispatcher(sender: HTTPWebhookSender(), settings: t.world.settings, clock: t.world.clock.clock)
        let report = try dispatcher.runPass(on: t.world.db)
        let lastError = try t.world.db.firstRow("SELECT last_error FROM webhook_deliveries")?.optionalString("last_error")
        XCTAssertEqual(report.outcomes, ["delivered": 1], lastError ?? "")
        XCTAssertEqual(answers.current, 1)
        let head = try XCTUnwrap(receiver.requests.current.first?.head)
        XCTAssertTrue(head.hasPrefix("POST /hook HTTP/1.1\r\n"), head)
        XCTAssertTrue(head.lowercased().contains("\r\nhost: rebind.test:\(receiver.port)"), "the URL's name is kept for Host (and TLS): \(head)")
    }

    // MARK: - Replays limited per account

    func testThe31stReplayInAnHourIsRefusedWith429AndChangesNothing() throws {
        let t = try Hooks()
        XCTAssertEqual(t.world.settings.webhooks.replaysPerHour, 30)
        let user = try t.world.user("replays", credits: 100_000)
        let id = try t.createAndCancel(user, ["webhook_url": .string(WebhookTests.hook)])
        XCTAssertEqual(try t.dispatch().delivered, 1)
        let delivery = try XCTUnwrap(try t.world.db.firstRow("SELECT id FROM webhook_deliveries")?.string("id"))
        let replay = "/api/v1/webhook-deliveries/\(delivery)/replay"
        for number in 1...30 {
            XCTAssertEqual(t.world.send("POST", replay, as: user).status, 202, "replay \(number)")
        }
        XCTAssertEqual(try t.dispatch().delivered, 1)
        let before = try XCTUnwrap(try t.world.db.firstRow("SELECT state, attempts, next_attempt_at, delivered_at FROM webhook_deliveries"))

        let refused = t.world.send("POST", replay, as: user)
        XCTAssertEqual(refused.status, 429)
        XCTAssertEqual(refused.bodyJSON?["error"]?["code"]?.stringValue, "too_many_replays")
        let retryAfter = try XCTUnwrap(refused.header("Retry-After").flatMap(Int.init))
        XCTAssertTrue((1...3_600).contains(retryAfter), String(retryAfter))
        XCTAssertTrue(refused.bodyJSON?["error"]?["message"]?.stringValue?.contains("webhook") ?? false, refused.bodyText)
        let english = t.world.send("POST", replay, headers: ["accept-language": "en"], as: user)
        XCTAssertTrue(english.bodyJSON?["error"]?["message"]?.stringValue?.hasPrefix("You have replayed too many") ?? false, english.bodyText)

        let after = try XCTUnwrap(try t.world.db.firstRow("SELECT state, attempts, next_attempt_at, delivered_at FROM webhook_deliveries"))
        XCTAssertEqual(after.string("state"), "delivered")
        XCTAssertEqual(after.string("state"), before.string("state"))
        XCTAssertEqual(after.int("attempts"), before.int("attempts"))
        XCTAssertEqual(after.optionalInt64("delivered_at"), before.optionalInt64("delivered_at"))
        XCTAssertEqual(try t.dispatch().attempted, 0, "nothing was queued again")

        // Another account is not held back by this one's count; the hour's end frees it.
        let other = try t.world.user("other", credits: 100_000)
        XCTAssertEqual(t.world.send("POST", replay, as: other).status, 404)
        t.world.clock.advance(TimeInterval(retryAfter))
        XCTAssertEqual(t.world.send("POST", replay, as: user).status, 202)
    }

    // MARK: - Accounts take turns

    func testAnAccountWith200DueDeliveriesDoesNotHoldBackAnotherAccountsOne() throws {
        let t = try Hooks()
        let busy = try t.world.user("busy", credits: 100_000)
        let quiet = try t.world.user("quiet", credits: 100_000)
        let busyVideo = t.create(busy).bodyJSON!["id"]!.stringValue!
        // 200 deliveries of the busy account, all due before the quiet account's one.
        let busyURL = "https://hooks.shop.test/busy"
        let earlier = t.world.clock.now.unixMillis - 60_000
        try t.world.db.write {
            for index in 0..<200 {
                try t.world.db.run("""
                    INSERT INTO webhook_deliveries (id, user_id, job_id, message_id, event_type, url, payload, state, attempts,
                      next_attempt_at, created_at)
                    VALUES (:id, :user, :job, :message, 'video.progress', :url, :payload, 'pending', 0, :due, :due)
                    """, ["id": .text(UUID().uuidString.lowercased()), "user": .text(busy.id), "job": .text(busyVideo),
                          "message": .text("msg_busy\(index)"), "url": .text(busyURL), "payload": .text("{\"n\":\(index)}"),
                          "due": .integer(earlier + Int64(index))])
            }
        }
        let quietURL = "https://backup.shop.test/quiet"
        let quietVideo = try t.createAndCancel(quiet, ["webhook_url": .string(quietURL)])

        _ = try t.dispatch()
        XCTAssertEqual(t.sender.posts(to: quietURL).map(\.type), ["video.canceled"], "the quiet account's delivery went in the first pass")
        let busyPosts = t.sender.posts(to: busyURL)
        XCTAssertEqual(busyPosts.count, t.dispatcher.deliveriesPerAccountPerPass, "a few of the busy account's per pass")
        XCTAssertEqual(busyPosts.map(\.body), (0..<busyPosts.count).map { "{\"n\":\($0)}" }, "its oldest, in the order queued")

        // The backlog still drains, a few per pass, in order.
        for _ in 0..<60 where try t.dispatch().attempted > 0 {}
        XCTAssertEqual(t.sender.posts(to: busyURL).map(\.body), (0..<200).map { "{\"n\":\($0)}" })
    }

    func testAnAccountWhoseReceiversHangHoldsOneLaneNotAll() throws {
        // The slow account's four receivers each hang until the other account's delivery has gone
        // (10 s at most, so the old behaviour fails instead of hanging).
        let t = try Hooks()
        let slow = try t.world.user("slow", credits: 100_000)
        let other = try t.world.user("other", credits: 100_000)
        let slowURLs = (1...4).map { "https://hooks.shop.test/hang\($0)" }
        for url in slowURLs {
            let id = try t.createAndCancel(slow, ["webhook_url": .string(url)])
        }
        let otherURL = "https://backup.shop.test/other"
        let otherVideo = try t.createAndCancel(other, ["webhook_url": .string(otherURL)])

        let sender = GatedSender(gate: otherURL)
        let report = try WebhookDispatcher(sender: sender, settings: t.world.settings, clock: t.world.clock.clock).runPass(on: t.world.db)
        XCTAssertEqual(report.delivered, 5)
        XCTAssertEqual(sender.waitedInVain.current, 0, "no hanging receiver waited for a lane the other account never got")
    }

    // MARK: - Retention

    func testFinishedDeliveriesOlderThanTheRetentionPeriodArePrunedRecentAndPendingOnesKept() throws {
        let t = try Hooks()
        XCTAssertEqual(t.world.settings.webhooks.deliveryRetentionDays, 30)
        let user = try t.world.user("retention", credits: 100_000)
        let video = t.create(user).bodyJSON!["id"]!.stringValue!
        let now = t.world.clock.now.unixMillis, day: Int64 = 86_400_000
        // (name, state, created, last attempt)
        let rows: [(String, String, Int64, Int64?)] = [
            ("old-delivered", "delivered", now - 40 * day, now - 31 * day),
            ("old-failed", "failed", now - 40 * day, now - 30 * day - 1),
            ("recent-delivered", "delivered", now - 40 * day, now - 29 * day),
            ("recent-failed", "failed", now - 2 * day, now - day),
            ("old-pending", "pending", now - 90 * day, now - 60 * day),
            ("never-tried", "pending", now - 90 * day, nil),
        ]
        try t.world.db.write {
            for (name, state, created, last) in rows {
                try t.world.db.run("""
                    INSERT INTO webhook_deliveries (id, user_id, job_id, message_id, event_type, url, payload, state, attempts,
                      next_attempt_at, last_attempt_at, created_at)
                    VALUES (:id, :user, :job, :message, 'video.completed', :url, '{}', :state, 1, :next, :last, :created)
                    """, ["id": .text(name), "user": .text(user.id), "job": .text(video), "message": .text("msg_\(name)"),
                          "url": .text(WebhookTests.hook), "state": .text(state),
                          "next": state == "pending" ? .integer(now + day) : .null, "last": .optionalInt(last), "created": .integer(created)])
                if let last {
                    try t.world.db.run("""
                        INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, error, duration_ms)
                        VALUES (:id, :at, 500, 'HTTP 500', 3)
                        """, ["id": .text(name), "at": .integer(last)])
                }
            }
        }
        XCTAssertEqual(try t.dispatcher.pruneFinishedDeliveries(on: t.world.db), 2)
        let kept = try t.world.db.rows("SELECT id FROM webhook_deliveries ORDER BY id").map { $0.string("id") }
        XCTAssertEqual(kept, ["never-tried", "old-pending", "recent-delivered", "recent-failed"])
        let attempts = try t.world.db.rows("SELECT DISTINCT delivery_id FROM webhook_attempts ORDER BY delivery_id").map { $0.string("delivery_id") }
        XCTAssertEqual(attempts, ["old-pending", "recent-delivered", "recent-failed"], "the pruned ones' attempts went with them")
        XCTAssertEqual(try t.dispatcher.pruneFinishedDeliveries(on: t.world.db), 0)
    }

    // MARK: - Settings

    func testTheNewWebhookLimitsAreReadFromTheEnvironment() throws {
        let defaults = try Configuration.load(dataDirectory: "/tmp/phim-config-test", environment: [:]).settings.webhooks
        XCTAssertEqual(defaults.replaysPerHour, 30)
        XCTAssertEqual(defaults.deliveryRetentionDays, 30)
        let set = try Configuration.load(dataDirectory: "/tmp/phim-config-test", environment: [
            "PHIM_WEBHOOK_REPLAYS_PER_HOUR": "5", "PHIM_WEBHOOK_DELIVERY_RETENTION_DAYS": "7",
        ]).settings.webhooks
        XCTAssertEqual(set.replaysPerHour, 5)
        XCTAssertEqual(set.deliveryRetentionDays, 7)
        XCTAssertThrowsError(try Configuration.load(dataDirectory: "/tmp/phim-config-test", environment: [
            "PHIM_WEBHOOK_REPLAYS_PER_HOUR": "0", "PHIM_WEBHOOK_DELIVERY_RETENTION_DAYS": "99999999999999",
        ])) { error in
            XCTAssertTrue("\(error)".contains("PHIM_WEBHOOK_REPLAYS_PER_HOUR"), "\(error)")
            XCTAssertTrue("\(error)".contains("PHIM_WEBHOOK_DELIVERY_RETENTION_DAYS"), "\(error)")
        }
    }
}

/// Answers 200 to every post, but a post to any URL other than `gate` first waits (10 s at most)
/// until `gate` has been posted to: a receiver that hangs while another account waits for a lane.
final class GatedSender: WebhookSender, @unchecked Sendable {
    let gate: String
    let opened = DispatchSemaphore(value: 0)
    let waitedInVain = Locked(0)

    init(gate: String) { self.gate = gate }

    func post(url: String, connectingTo addresses: [IPAddress], headers: [(String, String)], body: String,
              timeoutSeconds: Double) throws -> Int {
        if url == gate {
            for _ in 0..<16 { opened.signal() }
        } else if opened.wait(timeout: .now() + 10) == .timedOut {
            waitedInVain.withLock { $0 += 1 }
        } else {
            opened.signal()
        }
        return 200
    }
}
