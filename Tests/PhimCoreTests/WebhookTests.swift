// Outbound webhooks: queued with the job change, signed, retried, replayed, filtered, kept off private networks.
import Foundation
import PhimCore
import PhimProvider
import PhimServer
import PhimSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class WebhookTests: XCTestCase {
    static let hook = "https://hooks.shop.test/phim"

    /// Public names the tests use, and names that lead inside; DNS is the outside world.
    static let hosts: [String: [IPAddress]] = [
        "hooks.shop.test": [IPAddress("93.184.215.14")!],
        "backup.shop.test": [IPAddress("2606:2800:21f:cb07:6820:80da:af6b:8b2c")!],
        "inside.shop.test": [IPAddress("10.0.0.7")!],
        "half-inside.shop.test": [IPAddress("93.184.215.14")!, IPAddress("192.168.1.20")!],
        "metadata.shop.test": [IPAddress("169.254.169.254")!],
        "mapped.shop.test": [IPAddress("::ffff:127.0.0.1")!],
    ]

    // MARK: - Signing and the body

    func testDeliveriesAreSignedAsStandardWebhooksSayAndCarryTheVideoAsItWas() throws {
        let t = try Hooks(configure: Self.pollingOften)
        let user = try t.world.user("signed", credits: 100_000)
        let created = t.create(user, ["webhook_url": .string(Self.hook)])
        XCTAssertEqual(created.status, 202, created.bodyText)
        let id = created.bodyJSON!["id"]!.stringValue!
        let endpoint = t.world.send("GET", "/api/v1/webhook-endpoint", as: user)
        XCTAssertEqual(endpoint.header("Cache-Control"), "no-store")
        let secret = endpoint.bodyJSON!["secret"]!.stringValue!
        XCTAssertTrue(secret.hasPrefix("whsec_"))
        XCTAssertEqual(endpoint.bodyJSON!["url"], .null, "a per-video URL needs no account endpoint")

        t.advance(10)
        _ = try t.world.reconcile() // the reconciler asks: generating, so started
        XCTAssertEqual(try t.dispatch().delivered, 1)
        t.advance(15) // done
        XCTAssertEqual(try t.dispatch().delivered, 1)
        var shown = try XCTUnwrap(t.world.video(user, id))
        if case .object(let fields) = shown { shown = .object(fields.filter { $0.0 != "receipt" }) }

        let posts = t.sender.posts(to: Self.hook)
        XCTAssertEqual(posts.map(\.type), ["video.started", "video.completed"])
        let key = try XCTUnwrap(Data(base64Encoded: String(secret.dropFirst("whsec_".count))))
        for post in posts {
            // Verified from the specification's formula, independently of WebhookSigner.
            let messageID = try XCTUnwrap(post.headers["webhook-id"]), stamp = try XCTUnwrap(post.headers["webhook-timestamp"])
            let mac = Crypto.hmacSHA256(key: Array(key), message: Array("\(messageID).\(stamp).\(post.body)".utf8))
            XCTAssertEqual(post.headers["webhook-signature"], "v1," + Data(mac).base64EncodedString())
            XCTAssertTrue(messageID.hasPrefix("msg_"))
            XCTAssertNotEqual(post.headers["webhook-signature"], "v1," + Data(Crypto.hmacSHA256(
                key: Array(key), message: Array("\(messageID).\(stamp).\(post.body) ".utf8))).base64EncodedString())
        }
        // Each attempt is stamped with the time it was sent: 15 s apart here.
        let now = Int(t.world.clock.now.timeIntervalSince1970)
        XCTAssertEqual(posts.compactMap { $0.headers["webhook-timestamp"].flatMap(Int.init) }, [now - 15, now])
        XCTAssertEqual(posts.first?.json["data"]?["status"]?.stringValue, "processing")
        let done = try XCTUnwrap(posts.last?.json)
        XCTAssertEqual(done["timestamp"]?.stringValue, ISOTime.string(t.world.clock.now.unixMillis))
        XCTAssertEqual(done["data"], shown, "data is the video exactly as GET /api/v1/videos/{id} shows it")
        XCTAssertTrue(done["data"]?["video_url"]?.stringValue?.hasPrefix("http") ?? false)
        XCTAssertEqual(try t.dispatch().attempted, 0, "nothing left to send")
    }

    func testARotatedSecretSignsTheNextDeliveriesAndTheOldOneNoLongerVerifies() throws {
        let t = try Hooks()
        let user = try t.world.user("rotate", credits: 100_000)
        let old = t.world.send("GET", "/api/v1/webhook-endpoint", as: user).bodyJSON!["secret"]!.stringValue!
        let rotated = t.world.send("POST", "/api/v1/webhook-endpoint/rotate-secret", as: user)
        XCTAssertEqual(rotated.header("Cache-Control"), "no-store")
        let new = rotated.bodyJSON!["secret"]!.stringValue!
        XCTAssertTrue(new != old && new.hasPrefix("whsec_"))
        XCTAssertEqual(t.create(user, ["webhook_url": .string(Self.hook), "webhook_events": .array([.string("completed")])]).status, 202)
        t.advance(25)
        _ = try t.dispatch()
        let post = try XCTUnwrap(t.sender.posts(to: Self.hook).first)
        let id = post.headers["webhook-id"]!, stamp = Int64(post.headers["webhook-timestamp"]!)!
        XCTAssertEqual(post.headers["webhook-signature"], WebhookSigner.signature(secret: new, messageID: id, timestamp: stamp, body: post.body))
        XCTAssertNotEqual(post.headers["webhook-signature"], WebhookSigner.signature(secret: old, messageID: id, timestamp: stamp, body: post.body))
    }

    // MARK: - The outbox

    func testDeliveriesAreQueuedInTheJobChangesTransactionAndARolledBackChangeQueuesNothing() throws {
        let t = try Hooks()
        let user = try t.world.user("outbox", credits: 100_000)
        try t.world.holdQueue() // kept in the queue, so that a cancel ends it
        let first = t.create(user, ["webhook_url": .string(Self.hook)]).bodyJSON!["id"]!.stringValue!
        XCTAssertEqual(try t.deliveryCount(), 0, "queuing announces nothing: the create's answer said so")

        // A change that rolls back with the transaction around it queues nothing.
        struct RolledBack: Error {}
        XCTAssertThrowsError(try t.world.db.write {
            _ = try t.world.app.lifecycle.cancel(jobID: first, ownerID: user.id, on: t.world.db)
            XCTAssertEqual(try t.deliveryCount(), 1, "queued inside the transaction")
            throw RolledBack()
        })
        XCTAssertEqual(try t.deliveryCount(), 0)
        XCTAssertEqual(t.world.video(user, first)?["status"]?.stringValue, "queued")

        // Another path closed the hold first: the ledger's unique key rolls this change back, and
        // its announcement with it.
        try t.world.db.run("""
            INSERT INTO credit_entries (id, user_id, job_id, kind, available_delta, held_delta, unique_key, created_at)
            VALUES (?, ?, ?, 'settle', 0, 0, ?, 0)
            """, [.text(UUID().uuidString), .text(user.id), .text(first), .text("close:\(first)")])
        XCTAssertEqual(try t.world.app.lifecycle.fail(jobID: first, reason: .timedOut, on: t.world.db), .unchanged)
        XCTAssertEqual(try t.deliveryCount(), 0)

        // A committed change has its delivery, body and all, before any dispatcher runs.
        let second = try t.createAndCancel(user, ["webhook_url": .string(Self.hook)])
        let row = try XCTUnwrap(try t.world.db.first("SELECT event_type, state, payload, next_attempt_at FROM webhook_deliveries WHERE job_id = ?",
                                                     [.text(second)]))
        XCTAssertEqual(row.string(0), "video.canceled")
        XCTAssertEqual(row.string(1), "pending")
        XCTAssertEqual(JSON.parse(Data(row.string(2).utf8))?["data"]?["credits_refunded"], .bool(true))
        XCTAssertEqual(row.int64(3), t.world.clock.now.unixMillis)
    }

    func testARepeatedCallbackAnnouncesTheCompletionOnce() throws {
        let t = try Hooks()
        let user = try t.world.user("twice", credits: 100_000)
        XCTAssertEqual(t.create(user, ["webhook_url": .string(Self.hook), "webhook_events": .array([.string("completed")])]).status, 202)
        t.world.clock.advance(25)
        let callbacks = t.world.simulator.takeDueCallbacks()
        t.world.deliverCallbacks { _ in callbacks }
        t.world.deliverCallbacks { _ in callbacks }
        _ = try t.world.reconcile()
        _ = try t.dispatch()
        XCTAssertEqual(t.sender.posts(to: Self.hook).count, 1)
    }

    // MARK: - Retries and replay

    func testAReceiverAnswering500TwiceGetsTheSameMessageAfter5sAnd5minThenItIsDelivered() throws {
        let t = try Hooks()
        t.sender.queue([.status(500), .status(500)], for: Self.hook)
        let user = try t.world.user("retry", credits: 100_000)
        let id = t.create(user, ["webhook_url": .string(Self.hook), "webhook_events": .array([.string("completed")])]).bodyJSON!["id"]!.stringValue!
        t.advance(25)

        var report = try t.dispatch()
        XCTAssertEqual([report.delivered, report.retrying, report.failed], [0, 1, 0])
        XCTAssertEqual(report.outcomes, ["rejected": 1])
        t.world.clock.advance(4)
        XCTAssertEqual(try t.dispatch().attempted, 0, "not yet")
        t.world.clock.advance(1)
        XCTAssertEqual(try t.dispatch().retrying, 1)
        t.world.clock.advance(299)
        XCTAssertEqual(try t.dispatch().attempted, 0)
        t.world.clock.advance(1)
        report = try t.dispatch()
        XCTAssertEqual(report.delivered, 1)
        XCTAssertEqual(report.outcomes, ["delivered": 1])

        let posts = t.sender.posts(to: Self.hook)
        XCTAssertEqual(posts.count, 3)
        XCTAssertEqual(Set(posts.compactMap { $0.headers["webhook-id"] }).count, 1, "one message, three attempts")
        XCTAssertEqual(Set(posts.map(\.body)).count, 1)

        let log = t.world.send("GET", "/api/v1/webhook-deliveries?video_id=\(id)", as: user).bodyJSON!["data"]!
        guard case .array(let entries) = log else { return XCTFail("no log") }
        XCTAssertEqual(entries.count, 1)
        XCTAssertEqual(entries[0]["state"]?.stringValue, "delivered")
        XCTAssertEqual(entries[0]["attempts"]?.intValue, 3)
        XCTAssertEqual(entries[0]["event"]?.stringValue, "video.completed")
        XCTAssertEqual(entries[0]["webhook_id"]?.stringValue, posts[0].headers["webhook-id"])
        XCTAssertEqual(entries[0]["payload"], nil, "the list leaves the body out")
        let detail = t.world.send("GET", "/api/v1/webhook-deliveries/\(entries[0]["id"]!.stringValue!)", as: user).bodyJSON!
        guard case .array(let attempts) = detail["attempt_log"]! else { return XCTFail("no attempt log") }
        XCTAssertEqual(attempts.map { $0["status_code"]?.intValue }, [500, 500, 200])
        XCTAssertEqual(attempts.map { $0["error"]?.stringValue }, ["HTTP 500", "HTTP 500", nil])
        XCTAssertEqual(detail["payload"]?.stringValue, posts[0].body, "the exact signed body")
    }

    func testAReceiverThatNeverAnswersIsRetriedByTheScheduleForMoreThanADayThenFailsAndAReplaySendsItAgain() throws {
        let t = try Hooks()
        t.sender.alwaysAnswer(.noAnswer, for: Self.hook)
        let user = try t.world.user("fails", credits: 100_000)
        XCTAssertEqual(t.create(user, ["webhook_url": .string(Self.hook), "webhook_events": .array([.string("completed")])]).status, 202)
        t.advance(25)

        let first = t.world.clock.now
        var report = try t.dispatch()
        while report.failed == 0 {
            // Every time here is a whole second, so the clock lands on it exactly.
            let next = try XCTUnwrap(try t.world.db.first("SELECT next_attempt_at FROM webhook_deliveries")?.optionalInt64(0))
            t.world.clock.advance(Date(unixMillis: next).timeIntervalSince(t.world.clock.now).rounded() - 1)
            XCTAssertEqual(try t.dispatch().attempted, 0, "never before its time")
            t.world.clock.advance(1)
            report = try t.dispatch()
            XCTAssertEqual(report.outcomes, ["no_answer": 1])
        }
        let posts = t.sender.posts(to: Self.hook)
        XCTAssertEqual(posts.count, 8)
        let stamps = posts.compactMap { $0.headers["webhook-timestamp"].flatMap(Int.init) }
        XCTAssertEqual(zip(stamps.dropFirst(), stamps).map { $0 - $1 }, [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000])
        XCTAssertGreaterThanOrEqual(t.world.clock.now.timeIntervalSince(first), 27.5 * 3_600)
        let log = t.world.send("GET", "/api/v1/webhook-deliveries?state=failed", as: user).bodyJSON!["data"]!
        guard case .array(let entries) = log, let failed = entries.first else { return XCTFail("no failed delivery") }
        XCTAssertEqual(failed["attempts"]?.intValue, 8)
        XCTAssertEqual(failed["next_attempt_at"], .null)
        XCTAssertEqual(failed["last_error"]?.stringValue, "read timed out")
        t.world.clock.advance(86_400)
        XCTAssertEqual(try t.dispatch().attempted, 0, "failed stays failed")

        t.sender.alwaysAnswer(.status(204), for: Self.hook)
        let deliveryID = failed["id"]!.stringValue!
        let replay = t.world.send("POST", "/api/v1/webhook-deliveries/\(deliveryID)/replay", as: user)
        XCTAssertEqual(replay.status, 202)
        XCTAssertEqual(replay.bodyJSON?["state"]?.stringValue, "pending")
        XCTAssertEqual(replay.bodyJSON?["id"]?.stringValue, deliveryID)
        XCTAssertEqual(replay.bodyJSON?["attempts"]?.intValue, 0, "a fresh schedule")
        XCTAssertEqual(try t.dispatch().delivered, 1)
        XCTAssertEqual(t.sender.posts(to: Self.hook).last?.headers["webhook-id"], failed["webhook_id"]?.stringValue)
        XCTAssertEqual(t.sender.posts(to: Self.hook).last?.body, posts[0].body, "the same body")
        let detail = t.world.send("GET", "/api/v1/webhook-deliveries/\(deliveryID)", as: user).bodyJSON!
        XCTAssertEqual(detail["state"]?.stringValue, "delivered")
        guard case .array(let attempts) = detail["attempt_log"]! else { return XCTFail("no attempt log") }
        XCTAssertEqual(attempts.count, 9, "the log keeps the attempts before the replay")
    }

    func testAClaimedDeliveryIsNotSentByAnotherDispatcherUntilItsLeaseRunsOut() throws {
        let t = try Hooks()
        let user = try t.world.user("lease", credits: 100_000)
        XCTAssertEqual(t.create(user, ["webhook_url": .string(Self.hook), "webhook_events": .array([.string("completed")])]).status, 202)
        t.advance(25)
        // While the first process's attempt is in flight, a second process's pass finds nothing.
        let other = try t.world.connection()
        let seenByOther = Locked<[Int]>([])
        t.sender.onPost = { [t] in
            seenByOther.withLock { $0.append((try? t.dispatcher.runPass(on: other).attempted) ?? -1) }
        }
        XCTAssertEqual(try t.dispatch().delivered, 1)
        t.sender.onPost = nil
        XCTAssertEqual(seenByOther.current, [0])
        XCTAssertEqual(t.sender.posts.count, 1)

        // A process that died mid-attempt left its claim: the delivery waits out the lease, then goes.
        let second = try t.createAndCancel(user, ["webhook_url": .string(Self.hook)])
        let lease = t.dispatcher.attemptWindowSeconds + t.world.settings.webhooks.attemptTimeoutSeconds + 30
        try t.world.db.run("UPDATE webhook_deliveries SET claim = 'dead', next_attempt_at = ? WHERE job_id = ?",
                           [.integer(t.world.clock.now.unixMillis + Int64(lease * 1000)), .text(second)])
        t.world.clock.advance(lease - 1)
        XCTAssertEqual(try t.dispatch().attempted, 0)
        t.world.clock.advance(1)
        XCTAssertEqual(try t.dispatch().delivered, 1)
        XCTAssertEqual(t.sender.posts.map(\.type), ["video.completed", "video.canceled"])
    }

    func testWhatAPassHasNoTimeLeftForIsReleasedAndGoesInTheNextPass() throws {
        let t = try Hooks()
        let user = try t.world.user("window", credits: 100_000)
        let id = try t.createAndCancel(user, ["webhook_url": .string(Self.hook)])
        var late = t.dispatcher
        late.attemptWindowSeconds = -1
        let report = try late.runPass(on: t.world.db)
        XCTAssertEqual(report.attempted, 0)
        XCTAssertEqual(report.outcomes, [:])
        XCTAssertTrue(t.sender.posts.isEmpty)
        let row = try XCTUnwrap(try t.world.db.first("SELECT claim, next_attempt_at, attempts FROM webhook_deliveries"))
        XCTAssertNil(row.optionalString(0), "released")
        XCTAssertEqual(row.int64(1), t.world.clock.now.unixMillis, "due at once")
        XCTAssertEqual(row.int(2), 0)
        XCTAssertEqual(try t.world.db.first("SELECT COUNT(*) FROM webhook_attempts")?.int(0), 0)
        XCTAssertEqual(try t.dispatch().delivered, 1)
    }

    // MARK: - Targets and filters

    func testAVideosURLGetsOnlyTheEventsItAskedForAndTheAccountEndpointGetsEveryEvent() throws {
        let t = try Hooks(configure: Self.pollingOften)
        let user = try t.world.user("filters", credits: 100_000)
        let account = "https://backup.shop.test/all"
        let put = t.world.send("PUT", "/api/v1/webhook-endpoint", json: .object([("url", .string(account))]), as: user)
        XCTAssertEqual(put.status, 200, put.bodyText)
        XCTAssertEqual(put.header("Cache-Control"), "no-store")
        XCTAssertEqual(put.bodyJSON?["url"]?.stringValue, account)
        XCTAssertEqual(put.bodyJSON?["events"], .array(["started", "progress", "completed", "failed", "canceled"].map { .string($0) }))

        let own = t.create(user, ["webhook_url": .string(Self.hook), "webhook_events": .array([.string("failed"), .string("completed")])])
        XCTAssertEqual(own.status, 202, own.bodyText)
        let failing = t.create(user, ["prompt": .string("clouds #fail")]).bodyJSON!["id"]!.stringValue!
        t.advance(10)
        _ = try t.world.reconcile() // both generating: started
        t.advance(15)
        _ = try t.dispatch()

        XCTAssertEqual(t.sender.posts(to: Self.hook).map(\.type), ["video.completed"])
        let accountTypes = t.sender.posts(to: account).map(\.type)
        XCTAssertEqual(accountTypes.filter { $0 == "video.started" }.count, 2)
        XCTAssertEqual(accountTypes.filter { $0 == "video.completed" }.count, 1)
        XCTAssertEqual(accountTypes.filter { $0 == "video.failed" }.count, 1)
        let failed = try XCTUnwrap(t.sender.posts(to: account).first { $0.type == "video.failed" }?.json)
        XCTAssertEqual(failed["data"]?["id"]?.stringValue, failing)
        XCTAssertEqual(failed["data"]?["credits_refunded"], .bool(true))
        XCTAssertEqual(failed["data"]?["failure"]?["code"]?.stringValue, "provider_failed")
        XCTAssertFalse(failed["data"]?["failure"]?["message"]?.stringValue?.isEmpty ?? true, "the failure in words, as GET shows it")

        // An account filter, from the endpoint's events.
        let narrowed = t.world.send("PUT", "/api/v1/webhook-endpoint",
                                    json: .object([("url", .string(account)), ("events", .array([.string("canceled")]))]), as: user)
        XCTAssertEqual(narrowed.bodyJSON?["events"], .array([.string("canceled")]))
        let before = t.sender.posts(to: account).count
        let canceled = try t.createAndCancel(user)
        _ = t.create(user)
        t.advance(25)
        _ = try t.dispatch()
        XCTAssertEqual(t.sender.posts(to: account).dropFirst(before).map(\.type), ["video.canceled"])

        // Removing the endpoint stops account-wide deliveries (its secret stays).
        let removed = t.world.send("PUT", "/api/v1/webhook-endpoint", json: .object([("url", .null)]), as: user)
        XCTAssertEqual(removed.bodyJSON?["url"], .null)
        XCTAssertEqual(removed.bodyJSON?["secret"], put.bodyJSON?["secret"])
        let count = t.sender.posts(to: account).count
        _ = t.create(user)
        t.advance(25)
        _ = try t.dispatch()
        XCTAssertEqual(t.sender.posts(to: account).count, count)
    }

    func testTheSameURLForTheVideoAndTheAccountGetsOneDeliveryPerEvent() throws {
        let t = try Hooks()
        let user = try t.world.user("shared", credits: 100_000)
        let url = "https://hooks.shop.test/shared"
        XCTAssertEqual(t.world.send("PUT", "/api/v1/webhook-endpoint", json: .object([("url", .string(url))]), as: user).status, 200)
        let id = try t.createAndCancel(user, ["webhook_url": .string(url)])
        _ = try t.dispatch()
        XCTAssertEqual(t.sender.posts(to: url).map(\.type), ["video.canceled"])
    }

    /// Kie reports no percentage for these models, so a video announces its start and its end,
    /// and no invented progress in between (`video.progress` needs the provider's own figure).
    func testASlowVideoAnnouncesItsStartAndItsEndInOrderAndNoInventedProgress() throws {
        let t = try Hooks()
        let user = try t.world.user("slow", credits: 100_000)
        let id = t.create(user, ["prompt": .string("a glacier calving #slow"), "webhook_url": .string(Self.hook)]).bodyJSON!["id"]!.stringValue!
        t.advance(50) // 50 s of 200: generating, but nobody says so yet (no progress callbacks)
        t.world.clock.advance(61) // quiet for longer than PHIM_STALE_AFTER_SECONDS: the reconciler asks
        _ = try t.world.reconcile()
        t.world.clock.advance(30)
        _ = try t.world.reconcile() // asked again, still generating: nothing new to announce
        t.world.clock.advance(90)
        t.world.deliverCallbacks()
        // Everything queued so far goes in one pass, in order, to the one target.
        _ = try t.dispatch()
        let posts = t.sender.posts(to: Self.hook)
        XCTAssertEqual(posts.map(\.type), ["video.started", "video.completed"])
        XCTAssertEqual(posts.compactMap { $0.json["data"]?["progress"]?.intValue }, [0, 100])
        XCTAssertEqual(posts.compactMap { $0.json["data"]?["id"]?.stringValue }, [id, id])
    }

    func testBatchesAndIdempotentRetriesCarryTheirWebhook() throws {
        let t = try Hooks()
        let user = try t.world.user("batch", credits: 100_000)
        let batch = t.world.send("POST", "/api/v1/videos/batch", json: .object([
            ("prompt", .string("two kites")), ("variants", .int(2)), ("webhook_url", .string(Self.hook)),
            ("webhook_events", .array([.string("completed")])),
        ]), as: user)
        XCTAssertEqual(batch.status, 202, batch.bodyText)
        t.advance(25)
        XCTAssertEqual(try t.dispatch().delivered, 2)
        XCTAssertEqual(t.sender.posts(to: Self.hook).map(\.type), ["video.completed", "video.completed"])

        let body: [String: JSON] = ["webhook_url": .string(Self.hook)]
        XCTAssertEqual(t.create(user, body, key: "same-key").status, 202)
        XCTAssertEqual(t.create(user, body, key: "same-key").status, 200)
        let other = t.create(user, ["webhook_url": .string("https://backup.shop.test/x")], key: "same-key")
        XCTAssertEqual(other.bodyJSON?["error"]?["code"]?.stringValue, "idempotency_key_reused")
        XCTAssertEqual(t.world.createVideo(user, key: "no-hook").status, 202)
        XCTAssertEqual(t.world.createVideo(user, key: "no-hook").status, 200)
    }

    // MARK: - Where webhooks may go

    func testURLsIntoThePrivateNetworkAreRefusedWithAPreciseErrorAndNothingIsHeld() throws {
        let t = try Hooks()
        let user = try t.world.user("ssrf", credits: 100_000)
        let cases: [(String, String)] = [
            ("http://127.0.0.1:8080/hook", "webhook_url_not_allowed"),
            ("http://127.1/hook", "webhook_url_not_allowed"),
            ("http://2130706433/hook", "webhook_url_not_allowed"),
            ("http://0x7f000001/hook", "webhook_url_not_allowed"),
            ("http://localhost/hook", "webhook_url_not_allowed"),
            ("http://LOCALHOST./hook", "webhook_url_not_allowed"),
            ("http://api.localhost/hook", "webhook_url_not_allowed"),
            ("http://10.1.2.3/hook", "webhook_url_not_allowed"),
            ("http://172.20.0.1/hook", "webhook_url_not_allowed"),
            ("http://192.168.0.10/hook", "webhook_url_not_allowed"),
            ("http://100.64.0.1/hook", "webhook_url_not_allowed"),
            ("http://169.254.169.254/latest/meta-data/", "webhook_url_not_allowed"),
            ("http://0.0.0.0/", "webhook_url_not_allowed"),
            ("http://[::1]/hook", "webhook_url_not_allowed"),
            ("http://[::]/hook", "webhook_url_not_allowed"),
            ("http://[fd00:ec2::254]/latest", "webhook_url_not_allowed"),
            ("http://[fe80::1]/hook", "webhook_url_not_allowed"),
            ("http://[::ffff:127.0.0.1]/hook", "webhook_url_not_allowed"),
            ("http://[::ffff:a9fe:a9fe]/hook", "webhook_url_not_allowed"),
            ("http://[64:ff9b::a00:1]/hook", "webhook_url_not_allowed"),
            ("http://[2002:c0a8:1::1]/hook", "webhook_url_not_allowed"),
            ("https://metadata.google.internal/", "webhook_url_not_allowed"),
            ("ftp://hooks.shop.test/hook", "invalid_webhook_url"),
            ("https://user:secret@hooks.shop.test/hook", "invalid_webhook_url"),
            ("hooks.shop.test/hook", "invalid_webhook_url"),
            ("https://hooks.shop.test/a b", "invalid_webhook_url"),
            ("https:///hook", "invalid_webhook_url"),
            // Judged without DNS, so spellings a resolver might read as an address are refused by form.
            ("http://127.0.0.1%00.example.com/", "invalid_webhook_url"),
            ("http://%31%32%37.0.0.1/", "webhook_url_not_allowed"),
            ("http://\u{2460}\u{2461}\u{2466}.0.0.1/", "webhook_url_not_allowed"), // read as 127.0.0.1
            ("http://hooks%2eshop.test%2f@x/", "invalid_webhook_url"),
            ("http://[fe80::1%25lo]/", "webhook_url_not_allowed"),
            ("https://hooks.shop.test/" + String(repeating: "a", count: 2_000), "invalid_webhook_url"),
        ]
        for (url, code) in cases {
            let body: [String: JSON] = ["webhook_url": .string(url)]
            let created = t.create(user, body)
            XCTAssertEqual(created.status, 422, url)
            XCTAssertEqual(created.bodyJSON?["error"]?["code"]?.stringValue, code, url)
            XCTAssertFalse(created.bodyJSON?["error"]?["message"]?.stringValue?.contains("{") ?? true, url)
            if code != "invalid_webhook_url" {
                XCTAssertNotNil(created.bodyJSON?["error"]?["host"]?.stringValue, url)
            }
            var quoteBody: [(String, JSON)] = [("prompt", .string("a quiet street"))]
            quoteBody.append(("webhook_url", .string(url)))
            XCTAssertEqual(t.world.send("POST", "/api/v1/videos/quote", json: .object(quoteBody), as: user)
                .bodyJSON?["error"]?["code"]?.stringValue, code, url)
            XCTAssertEqual(t.world.send("POST", "/api/v1/videos/batch", json: .object(quoteBody + [("variants", .int(2))]), as: user)
                .bodyJSON?["error"]?["code"]?.stringValue, code, url)
            XCTAssertEqual(t.world.send("PUT", "/api/v1/webhook-endpoint", json: .object([("url", .string(url))]), as: user)
                .bodyJSON?["error"]?["code"]?.stringValue, code, url)
        }
        let english = t.world.send("POST", "/api/v1/videos", json: .object([("prompt", .string("x")), ("webhook_url", .string("http://10.1.2.3/"))]),
                                   headers: ["accept-language": "en"], as: user)
        XCTAssertTrue(english.bodyJSON?["error"]?["message"]?.stringValue?.contains("10.1.2.3") ?? false, english.bodyText)
        XCTAssertEqual(t.world.send("PUT", "/api/v1/webhook-endpoint", json: .object([("url", .int(5))]), as: user)
            .bodyJSON?["error"]?["code"]?.stringValue, "invalid_webhook_url")
        XCTAssertEqual(t.world.send("GET", "/api/v1/webhook-endpoint", as: user).bodyJSON?["url"], .null)
        XCTAssertEqual(try t.world.db.first("SELECT COUNT(*) FROM video_jobs")?.int(0), 0)
        XCTAssertEqual(t.world.balance(user).available, 100_000)
        XCTAssertEqual(t.world.balance(user).held, 0)
        XCTAssertTrue(t.sender.posts.isEmpty)
        XCTAssertEqual(t.dns.totalLookups, 0, "judged without DNS: names are looked up before each attempt (WebhookSafetyTests)")
    }

    func testAddressesAreJudgedByWhereTheyLead() {
        for text in ["93.184.215.14", "8.8.8.8", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "::ffff:93.184.215.14", "2002:5db8:d70e::1"] {
            XCTAssertTrue(IPAddress(text)?.isPublic ?? false, text)
        }
        for text in ["127.0.0.1", "10.0.0.1", "172.31.255.255", "192.168.1.1", "100.127.0.1", "169.254.169.254", "0.0.0.0", "224.0.0.1",
                     "255.255.255.255", "198.18.0.1", "::1", "::", "fc00::1", "fd00:ec2::254", "fe80::1%eth0", "ff02::1",
                     "::ffff:10.0.0.1", "::ffff:7f00:1", "::127.0.0.1", "64:ff9b::7f00:1", "64:ff9b:1::1", "2002:a00:1::", "2001:db8::1"] {
            XCTAssertFalse(IPAddress(text)?.isPublic ?? true, text)
        }
        XCTAssertEqual(IPAddress("127.1"), IPAddress("127.0.0.1"))
        XCTAssertEqual(IPAddress("0x7f.1"), IPAddress("127.0.0.1"))
        XCTAssertNil(IPAddress("hooks.shop.test"))
        XCTAssertNil(IPAddress("cafe"))
    }

    func testBadEventFiltersAreRefused() throws {
        let t = try Hooks()
        let user = try t.world.user("events", credits: 100_000)
        let bodies: [[String: JSON]] = [
            ["webhook_url": .string(Self.hook), "webhook_events": .array([.string("finished")])],
            ["webhook_url": .string(Self.hook), "webhook_events": .array([])],
            ["webhook_url": .string(Self.hook), "webhook_events": .string("completed")],
            ["webhook_url": .string(Self.hook), "webhook_events": .array([.int(1)])],
            ["webhook_events": .array([.string("completed")])],
        ]
        for body in bodies {
            let response = t.create(user, body)
            XCTAssertEqual(response.status, 422)
            XCTAssertEqual(response.bodyJSON?["error"]?["code"]?.stringValue, "invalid_webhook_events")
            XCTAssertTrue(response.bodyJSON?["error"]?["message"]?.stringValue?.contains("completed") ?? false)
        }
        XCTAssertEqual(t.create(user, ["webhook_url": .int(3)]).bodyJSON?["error"]?["code"]?.stringValue, "invalid_webhook_url")
        XCTAssertEqual(t.world.send("PUT", "/api/v1/webhook-endpoint", json: .object([("url", .string(Self.hook)), ("events", .array([.string("done")]))]),
                                    as: user).bodyJSON?["error"]?["code"]?.stringValue, "invalid_webhook_events")
        XCTAssertEqual(try t.world.db.first("SELECT COUNT(*) FROM video_jobs")?.int(0), 0)
    }

    func testAnOperatorWhoAllowsPrivateTargetsCanSendToAReceiverOnTheSameNetwork() throws {
        let t = try Hooks { $0.webhooks.allowsPrivateTargets = true }
        let user = try t.world.user("private", credits: 100_000)
        let url = "http://127.0.0.1:9999/hook"
        XCTAssertEqual(t.create(user, ["webhook_url": .string(url), "webhook_events": .array([.string("completed")])]).status, 202)
        t.advance(25)
        XCTAssertEqual(try t.dispatch().delivered, 1)
        XCTAssertEqual(t.sender.posts(to: url).count, 1)
        XCTAssertEqual(t.create(user, ["webhook_url": .string("ftp://127.0.0.1/")]).bodyJSON?["error"]?["code"]?.stringValue,
                       "invalid_webhook_url", "the form is still checked")
    }

    func testANameThatPointsInsideByTheTimeOfSendingIsNotCalledAndTheDeliveryFails() throws {
        let t = try Hooks()
        let user = try t.world.user("rebind", credits: 100_000)
        XCTAssertEqual(t.create(user, ["webhook_url": .string(Self.hook), "webhook_events": .array([.string("completed")])]).status, 202)
        t.advance(25)
        t.dns.table.withLock { $0["hooks.shop.test"] = [IPAddress("127.0.0.1")!] } // DNS rebinding
        let report = try t.dispatch()
        XCTAssertEqual(report.failed, 1)
        XCTAssertEqual(report.outcomes, ["refused_target": 1])
        XCTAssertTrue(t.sender.posts.isEmpty)
        let entry = t.world.send("GET", "/api/v1/webhook-deliveries", as: user).bodyJSON!["data"]!
        guard case .array(let entries) = entry else { return XCTFail("no log") }
        XCTAssertEqual(entries.first?["state"]?.stringValue, "failed")
        XCTAssertTrue(entries.first?["last_error"]?.stringValue?.contains("target refused") ?? false)

        // A name that stops resolving may come back: retried, not failed.
        t.dns.table.withLock { $0["hooks.shop.test"] = nil }
        let replayed = t.world.send("POST", "/api/v1/webhook-deliveries/\(entries[0]["id"]!.stringValue!)/replay", as: user)
        XCTAssertEqual(replayed.status, 202)
        XCTAssertEqual(try t.dispatch().retrying, 1)
        XCTAssertTrue(t.sender.posts.isEmpty)
    }

    // MARK: - Privacy

    func testOneUserNeverSeesReadsOrReplaysAnothersDeliveriesNorTheirSecret() throws {
        let t = try Hooks()
        let alice = try t.world.user("alice", credits: 100_000)
        let bob = try t.world.user("bob", credits: 100_000)
        let video = t.create(alice, ["webhook_url": .string(Self.hook)]).bodyJSON!["id"]!.stringValue!
        t.advance(25)
        _ = try t.dispatch()
        guard case .array(let entries) = t.world.send("GET", "/api/v1/webhook-deliveries", as: alice).bodyJSON!["data"]!,
              let delivery = entries.first?["id"]?.stringValue
        else { return XCTFail("alice has no delivery") }

        XCTAssertEqual(t.world.send("GET", "/api/v1/webhook-deliveries", as: bob).bodyJSON?["data"], .array([]))
        XCTAssertEqual(t.world.send("GET", "/api/v1/webhook-deliveries?video_id=\(video)", as: bob).bodyJSON?["data"], .array([]))
        let missing = UUID().uuidString.lowercased()
        for (method, suffix) in [("GET", ""), ("POST", "/replay")] {
            let theirs = t.world.send(method, "/api/v1/webhook-deliveries/\(delivery)\(suffix)", as: bob)
            let nothing = t.world.send(method, "/api/v1/webhook-deliveries/\(missing)\(suffix)", as: bob)
            XCTAssertEqual(theirs.status, 404)
            XCTAssertEqual(theirs.bodyJSON?["error"]?["code"]?.stringValue, "webhook_delivery_not_found")
            XCTAssertEqual(theirs.bodyText, nothing.bodyText, "\(method) \(suffix)")
        }
        XCTAssertEqual(t.world.send("GET", "/api/v1/webhook-deliveries/not-an-id", as: bob).status, 404)
        XCTAssertEqual(try t.world.db.first("SELECT state FROM webhook_deliveries WHERE id = ?", [.text(delivery)])?.string(0), "delivered",
                       "bob's replay changed nothing")
        let alicesSecret = t.world.send("GET", "/api/v1/webhook-endpoint", as: alice).bodyJSON?["secret"]
        let bobsSecret = t.world.send("GET", "/api/v1/webhook-endpoint", as: bob).bodyJSON?["secret"]
        XCTAssertNotEqual(alicesSecret, bobsSecret)

        for route in ["/api/v1/webhook-endpoint", "/api/v1/webhook-deliveries", "/api/v1/webhook-deliveries/\(delivery)"] {
            XCTAssertEqual(t.world.send("GET", route).status, 401)
        }
        XCTAssertEqual(t.world.send("POST", "/api/v1/webhook-endpoint/rotate-secret").status, 401)
        for (query, status, code) in [("state=lost", 400, "invalid_filter"), ("video_id=42", 400, "invalid_filter"),
                                      ("cursor=x", 400, "invalid_cursor"), ("limit=0", 400, "invalid_limit")] {
            let response = t.world.send("GET", "/api/v1/webhook-deliveries?\(query)", as: alice)
            XCTAssertEqual(response.status, status, query)
            XCTAssertEqual(response.bodyJSON?["error"]?["code"]?.stringValue, code, query)
        }
    }

    func testTheDeliveryLogPagesNewestFirst() throws {
        let t = try Hooks()
        let user = try t.world.user("pages", credits: 100_000)
        var videos: [String] = []
        for _ in 0..<3 {
            let id = try t.createAndCancel(user, ["webhook_url": .string(Self.hook)])
            videos.append(id)
        }
        let first = t.world.send("GET", "/api/v1/webhook-deliveries?limit=2", as: user).bodyJSON!
        guard case .array(let page) = first["data"]! else { return XCTFail("no page") }
        XCTAssertEqual(page.map { $0["video_id"]!.stringValue! }, [videos[2], videos[1]])
        let cursor = try XCTUnwrap(first["next_cursor"]?.stringValue)
        let second = t.world.send("GET", "/api/v1/webhook-deliveries?limit=2&cursor=\(cursor)", as: user).bodyJSON!
        guard case .array(let rest) = second["data"]! else { return XCTFail("no page") }
        XCTAssertEqual(rest.map { $0["video_id"]!.stringValue! }, [videos[0]])
        XCTAssertNil(second["next_cursor"])
        let pending = t.world.send("GET", "/api/v1/webhook-deliveries?state=pending&video_id=\(videos[1].uppercased())", as: user).bodyJSON!
        guard case .array(let one) = pending["data"]! else { return XCTFail("no page") }
        XCTAssertEqual(one.map { $0["video_id"]!.stringValue! }, [videos[1]])
    }

    func testSecretsNeverReachTheLogs() throws {
        let t = try Hooks()
        t.sender.queue([.status(500), .noAnswer], for: Self.hook)
        let user = try t.world.user("quiet", credits: 100_000)
        var secrets: [String] = []
        let output = try capturingStandardError {
            secrets.append(t.world.send("GET", "/api/v1/webhook-endpoint", as: user).bodyJSON!["secret"]!.stringValue!)
            secrets.append(t.world.send("POST", "/api/v1/webhook-endpoint/rotate-secret", as: user).bodyJSON!["secret"]!.stringValue!)
            secrets.append(t.world.send("PUT", "/api/v1/webhook-endpoint", json: .object([("url", .string("https://backup.shop.test/a"))]), as: user)
                .bodyJSON!["secret"]!.stringValue!)
            _ = t.create(user, ["webhook_url": .string(Self.hook)])
            t.advance(25)
            for _ in 0..<3 {
                _ = try t.dispatch()
                t.world.clock.advance(400)
            }
            let entries = t.world.send("GET", "/api/v1/webhook-deliveries", as: user).bodyJSON!["data"]!
            if case .array(let list) = entries, let id = list.first?["id"]?.stringValue {
                t.world.send("POST", "/api/v1/webhook-deliveries/\(id)/replay", as: user)
            }
            _ = try t.dispatch()
            Log.error("webhook log capture check")
        }
        XCTAssertTrue(output.contains("webhook log capture check"), "the capture works")
        if Log.isEnabled(.info) { // Tests/run.sh runs with LOG_LEVEL=error
            XCTAssertTrue(output.contains("webhook delivered"), String(output.prefix(500)))
            XCTAssertTrue(output.contains("webhook attempt failed; will retry"))
            XCTAssertTrue(output.contains("webhook secret rotated"))
        }
        for secret in Set(secrets) {
            XCTAssertFalse(output.contains(secret))
            XCTAssertFalse(output.contains(String(secret.dropFirst("whsec_".count))))
        }
        XCTAssertFalse(output.contains("webhook-signature"))
        XCTAssertFalse(output.contains("v1,"))
    }

    // MARK: - The real sender and the settings

    func testTheHTTPSenderPostsTheSignedBodyAndFollowsNoRedirect() throws {
        HTTPClient.globalInit()
        let receiver = try LocalReceiver(answers: [302, 204])
        defer { receiver.stop() }
        let t = try Hooks { $0.webhooks.allowsPrivateTargets = true }
        let user = try t.world.user("wire", credits: 100_000)
        let url = "http://127.0.0.1:\(receiver.port)/hook"
        XCTAssertEqual(t.create(user, ["webhook_url": .string(url), "webhook_events": .array([.string("completed")])]).status, 202)
        t.advance(25)
        let dispatcher = WebhookDispatcher(sender: HTTPWebhookSender(), settings: t.world.settings, clock: t.world.clock.clock)
        var report = try dispatcher.runPass(on: t.world.db)
        XCTAssertEqual(report.retrying, 1, "a redirect is an answer that is not 2xx")
        XCTAssertEqual(receiver.requests.current.count, 1, "the redirect's Location was not followed")
        t.world.clock.advance(5)
        report = try dispatcher.runPass(on: t.world.db)
        XCTAssertEqual(report.delivered, 1)
        let requests = receiver.requests.current
        XCTAssertEqual(requests.count, 2)
        let (head, body) = try XCTUnwrap(requests.last)
        XCTAssertTrue(head.hasPrefix("POST /hook HTTP/1.1\r\n"), head)
        let headers = Dictionary(head.split(separator: "\r\n").dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }, uniquingKeysWith: { $1 })
        XCTAssertEqual(headers["content-type"], "application/json")
        XCTAssertEqual(headers["user-agent"], "Phim-Webhooks/1.0")
        let secret = t.world.send("GET", "/api/v1/webhook-endpoint", as: user).bodyJSON!["secret"]!.stringValue!
        let id = try XCTUnwrap(headers["webhook-id"]), stamp = try XCTUnwrap(headers["webhook-timestamp"].flatMap { Int64($0) })
        XCTAssertEqual(headers["webhook-signature"], WebhookSigner.signature(secret: secret, messageID: id, timestamp: stamp, body: body))
        XCTAssertEqual(JSON.parse(Data(body.utf8))?["type"]?.stringValue, "video.completed")

        // No one listening: no answer, retried.
        receiver.stop()
        t.world.clock.advance(1)
        let closed = try t.createAndCancel(user, ["webhook_url": .string(url)])
        XCTAssertEqual(try dispatcher.runPass(on: t.world.db).outcomes, ["no_answer": 1])
    }

    func testWebhookSettingsAreReadFromTheEnvironmentWithTheirOldNames() throws {
        let defaults = try Configuration.load(dataDirectory: "/tmp/phim-config-test", environment: [:]).settings.webhooks
        XCTAssertFalse(defaults.allowsPrivateTargets)
        XCTAssertEqual(defaults.retrySchedule, [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000])
        XCTAssertEqual(defaults.retrySchedule.reduce(0, +) / 3_600, 27.58, accuracy: 0.01, "8 attempts over 27.6 hours")
        XCTAssertEqual(defaults.attemptTimeoutSeconds, 10)
        XCTAssertNotNil(defaults.videoJSON, "the web side's video JSON is wired in")

        let set = try Configuration.load(dataDirectory: "/tmp/phim-config-test", environment: [
            "PHIM_WEBHOOK_ALLOW_PRIVATE_TARGETS": "1", "PHIM_WEBHOOK_RETRY_SCHEDULE": "1, 1.5,60", "PHIM_WEBHOOK_TIMEOUT_SECONDS": "3",
        ]).settings.webhooks
        XCTAssertTrue(set.allowsPrivateTargets)
        XCTAssertEqual(set.retrySchedule, [1, 1.5, 60])
        XCTAssertEqual(set.attemptTimeoutSeconds, 3)

        XCTAssertThrowsError(try Configuration.load(dataDirectory: "/tmp/phim-config-test", environment: [
            "PHIM_WEBHOOK_ALLOW_PRIVATE_TARGETS": "maybe", "PHIM_WEBHOOK_RETRY_SCHEDULE": "5,,-1", "PHIM_WEBHOOK_TIMEOUT_SECONDS": "0",
        ])) { error in
            let text = "\(error)"
            for name in ["PHIM_WEBHOOK_ALLOW_PRIVATE_TARGETS", "PHIM_WEBHOOK_RETRY_SCHEDULE", "PHIM_WEBHOOK_TIMEOUT_SECONDS"] {
                XCTAssertTrue(text.contains(name), text)
            }
            XCTAssertFalse(text.contains("maybe"), "never printing a value")
        }
    }
}

// MARK: - Support

extension WebhookTests {
    /// Kie sends these models no progress callbacks: a video is seen generating when the
    /// reconciler asks, so these worlds ask soon (after 5 s of quiet, every 5 s).
    static func pollingOften(_ settings: inout Settings) {
        settings.staleAfterSeconds = 5
        settings.reconcileIntervalSeconds = 5
    }
}

/// A test world whose webhooks go to a recorder, with DNS from a table.
final class Hooks {
    let world: TestWorld
    let sender = RecordingWebhookSender()
    let dns: TestDNS

    init(configure: (inout Settings) -> Void = { _ in }) throws {
        let dns = TestDNS(WebhookTests.hosts)
        self.dns = dns
        world = try TestWorld(configure: { settings in
            settings.webhooks.videoJSON = WebhookHandlers.videoJSON
            settings.webhooks.resolve = { host in try dns.resolve(host) }
            configure(&settings)
        })
    }

    var dispatcher: WebhookDispatcher { WebhookDispatcher(sender: sender, settings: world.settings, clock: world.clock.clock) }

    func dispatch() throws -> WebhookDispatcher.PassReport { try dispatcher.runPass(on: world.db) }

    /// Moves time and lets the provider's due callbacks arrive.
    func advance(_ seconds: TimeInterval) {
        world.clock.advance(seconds)
        world.deliverCallbacks()
    }

    func create(_ caller: TestWorld.Caller, _ fields: [String: JSON] = [:], key: String? = nil) -> Response {
        var body: [(String, JSON)] = [("prompt", fields["prompt"] ?? .string("a paper boat drifts across a puddle"))]
        body += fields.filter { $0.key != "prompt" }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return world.send("POST", "/api/v1/videos", json: .object(body), headers: key.map { ["idempotency-key": $0] } ?? [:], as: caller)
    }

    func deliveryCount() throws -> Int { try world.db.first("SELECT COUNT(*) FROM webhook_deliveries")?.int(0) ?? 0 }

    /// A video canceled while still in the queue (nothing sent, refunded): the shortest way to a
    /// `video.canceled` event. Later creates are sent as usual.
    func createAndCancel(_ caller: TestWorld.Caller, _ fields: [String: JSON] = [:]) throws -> String {
        try world.holdQueue()
        let id = create(caller, fields).bodyJSON!["id"]!.stringValue!
        XCTAssertEqual(world.send("POST", "/api/v1/videos/\(id)/cancel", as: caller).status, 200)
        try world.releaseQueue()
        return id
    }
}

/// DNS as a table a test may change (to point a name elsewhere between two looks), counting
/// the lookups of each name.
final class TestDNS: Sendable {
    let table: Locked<[String: [IPAddress]]>
    let lookups = Locked<[String: Int]>([:])

    init(_ hosts: [String: [IPAddress]]) { table = Locked(hosts) }

    func resolve(_ host: String) throws -> [IPAddress] {
        lookups.withLock { $0[host, default: 0] += 1 }
        guard let addresses = table.current[host] else { throw WebhookTargetPolicy.Refusal.unresolvable(host: host) }
        return addresses
    }

    var totalLookups: Int { lookups.current.values.reduce(0, +) }
}

/// Stands in for the receivers: records every post and answers with the statuses a test queued
/// for its URL (200 once the queue is empty), or with no answer at all.
final class RecordingWebhookSender: WebhookSender, @unchecked Sendable {
    struct Post {
        var url: String
        /// The checked addresses the attempt was told to connect to (never looked up again).
        var addresses: [IPAddress]
        var headers: [String: String]
        var body: String
        var json: JSON { JSON.parse(Data(body.utf8)) ?? .null }
        var type: String? { json["type"]?.stringValue }
    }

    enum Answer {
        case status(Int)
        case noAnswer
    }

    private struct State {
        var posts: [Post] = []
        var answers: [String: [Answer]] = [:]
        var always: [String: Answer] = [:]
    }

    private let state = Locked(State())
    /// Runs during each post, as if it took that long.
    var onPost: (() -> Void)?

    var posts: [Post] { state.current.posts }
    func posts(to url: String) -> [Post] { posts.filter { $0.url == url } }
    func queue(_ answers: [Answer], for url: String) { state.withLock { $0.answers[url, default: []] += answers } }
    func alwaysAnswer(_ answer: Answer, for url: String) { state.withLock { $0.always[url] = answer } }

    func post(url: String, connectingTo addresses: [IPAddress], headers: [(String, String)], body: String,
              timeoutSeconds: Double) throws -> Int {
        onPost?()
        let answer = state.withLock { state -> Answer in
            state.posts.append(Post(url: url, addresses: addresses, headers: Dictionary(headers, uniquingKeysWith: { $1 }), body: body))
            if var queued = state.answers[url], !queued.isEmpty {
                let next = queued.removeFirst()
                state.answers[url] = queued
                return next
            }
            return state.always[url] ?? .status(200)
        }
        switch answer {
        case .status(let code): return code
        case .noAnswer: throw NoAnswer()
        }
    }

    struct NoAnswer: Error, CustomStringConvertible { var description: String { "read timed out" } }
}

/// A real HTTP receiver on 127.0.0.1: answers each request with the next queued status (then
/// 204), one request per connection, and records what came.
final class LocalReceiver: @unchecked Sendable {
    let port: Int
    let requests = Locked<[(head: String, body: String)]>([])
    private let answers: Locked<[Int]>
    private let listener: Int32
    private let stopped = Locked(false)

    init(answers: [Int]) throws {
        self.answers = Locked(answers)
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(listener, socketAddress, length) == 0 && listen(listener, 16) == 0
                    && getsockname(listener, socketAddress, &length) == 0
            }
        }
        guard bound else {
            close(listener)
            throw POSIXError(.EADDRINUSE)
        }
        self.listener = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        startThread(name: "test-receiver") { [self] in
            while true {
                let connection = accept(listener, nil, nil)
                if connection < 0 { return }
                serve(connection)
            }
        }
    }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var head = "", expected = -1
        while expected < 0 || received.count < expected {
            let count = read(connection, &buffer, buffer.count)
            if count <= 0 { return }
            received += buffer[0..<count]
            if expected < 0, let end = String(decoding: received, as: UTF8.self).range(of: "\r\n\r\n") {
                let text = String(decoding: received, as: UTF8.self)
                head = String(text[..<end.lowerBound])
                received = Array(text[end.upperBound...].utf8)
                let lengthLine = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                expected = lengthLine.flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            }
        }
        requests.withLock { $0.append((head, String(decoding: received, as: UTF8.self))) }
        let status = answers.withLock { $0.isEmpty ? 204 : $0.removeFirst() }
        var reply = "HTTP/1.1 \(status) Answer\r\nContent-Length: 0\r\nConnection: close\r\n"
        if status == 302 { reply += "Location: http://127.0.0.1:\(port)/elsewhere\r\n" }
        reply += "\r\n"
        _ = reply.withCString { write(connection, $0, strlen($0)) }
    }

    func stop() {
        guard !stopped.withLock({ value -> Bool in defer { value = true }; return value }) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}

/// Runs `body` with standard error (where `Log` writes) going to a file, and returns what was written.
func capturingStandardError(_ body: () throws -> Void) throws -> String {
    let path = NSTemporaryDirectory() + "phim-log-" + UUID().uuidString
    defer { unlink(path) }
    let file = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
    let saved = dup(2)
    dup2(file, 2)
    close(file)
    var failure: Error?
    do { try body() } catch { failure = error }
    dup2(saved, 2)
    close(saved)
    if let failure { throw failure }
    return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}
