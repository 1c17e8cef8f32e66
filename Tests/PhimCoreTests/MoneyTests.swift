import Foundation
import PhimCore
import PhimProvider
import PhimServer
import PhimSupport
import XCTest

/// Money is never created or lost: holds, settles and releases happen exactly once, whatever
/// the order and number of the provider's messages.
final class MoneyTests: XCTestCase {
    func testFinishedVideoIsChargedOnceAndFailedOneRefunded() throws {
        let world = try TestWorld()
        let alice = try world.user("alice", credits: 20_000)
        let made = world.createVideo(alice)
        XCTAssertEqual(made.status, 202, made.bodyText)
        let failing = world.createVideo(alice, prompt: "a storm #fail")
        XCTAssertEqual(failing.status, 202)
        XCTAssertEqual(world.balance(alice).available, 20_000 - 2 * TestWorld.price)
        XCTAssertEqual(world.balance(alice).held, 2 * TestWorld.price)

        world.clock.advance(25)
        let answers = world.deliverCallbacks()
        XCTAssertFalse(answers.isEmpty)
        XCTAssertTrue(answers.allSatisfy { $0.status == 200 }, answers.map(\.bodyText).joined())

        let done = world.video(alice, made.bodyJSON!["id"]!.stringValue!)!
        XCTAssertEqual(done["status"]?.stringValue, "completed")
        XCTAssertNotNil(done["video_url"]?.stringValue)
        XCTAssertEqual(done["receipt"]?["state"]?.stringValue, "settled")
        let failed = world.video(alice, failing.bodyJSON!["id"]!.stringValue!)!
        XCTAssertEqual(failed["status"]?.stringValue, "failed")
        XCTAssertEqual(failed["credits_refunded"], .bool(true))
        XCTAssertEqual(failed["failure"]?["code"]?.stringValue, "provider_failed")
        XCTAssertEqual(world.balance(alice).available, 20_000 - TestWorld.price)
        XCTAssertEqual(world.balance(alice).held, 0)
        try world.assertLedgerClean()
    }

    /// Callbacks duplicated, reordered, forged and mixed with reconciler polls: each job's hold
    /// is closed exactly once, and the outcome is the provider's.
    func testExactlyOnceUnderDuplicatedReorderedAndForgedCallbacks() throws {
        let world = try TestWorld()
        let bob = try world.user("bob", credits: 100_000)
        var ids: [String] = []
        for index in 0..<8 {
            let prompt = index % 3 == 0 ? "scene \(index) #fail" : "scene \(index)"
            let response = world.createVideo(bob, prompt: prompt)
            XCTAssertEqual(response.status, 202)
            ids.append(response.bodyJSON!["id"]!.stringValue!)
        }
        world.clock.advance(10)
        world.deliverCallbacks { $0 + $0.reversed() } // progress callbacks, twice, reversed
        world.clock.advance(15)
        var due: [KieSimulator.Callback] = []
        world.deliverCallbacks { callbacks in due = callbacks; return [] } // lost for now
        XCTAssertFalse(due.isEmpty)

        // Forged: another job's secret, a flipped outcome on a genuine URL, another task's id.
        let victim = due.first { $0.body.range(of: Data("\"fail\"".utf8)) != nil }!
        let flipped = String(decoding: victim.body, as: UTF8.self)
            .replacingOccurrences(of: "\"state\":\"fail\"", with: "\"state\":\"success\"")
            .replacingOccurrences(of: "\"resultJson\":null", with: "\"resultJson\":\"{\\\"resultUrls\\\":[\\\"https://evil.example/x.mp4\\\"]}\"")
        let forgedFlip = world.send("POST", URL(string: victim.url)!.path, body: Array(flipped.utf8))
        XCTAssertEqual(forgedFlip.status, 200, "a genuine URL is acknowledged, but the provider is asked")
        let wrongSecret = world.send("POST", URL(string: victim.url)!.deletingLastPathComponent().appendingPathComponent("not-the-secret").path,
                                     body: Array(victim.body))
        XCTAssertEqual(wrongSecret.status, 404)
        let other = due.first { $0.taskID != victim.taskID && $0.kind == .completion }!
        let crossed = world.send("POST", URL(string: victim.url)!.path, body: Array(other.body))
        XCTAssertEqual(crossed.status, 422)
        XCTAssertEqual(crossed.bodyJSON?["error"]?["code"]?.stringValue, "task_mismatch")

        // A reconciler pass, then every callback three times in a scrambled order.
        world.clock.advance(61)
        _ = try world.reconcile()
        for callback in (due + due.reversed() + due).shuffled() {
            _ = world.send("POST", URL(string: callback.url)!.path, body: Array(callback.body),
                           headers: Dictionary(uniqueKeysWithValues: callback.headers.map { ($0.key.lowercased(), $0.value) }))
        }
        _ = try world.reconcile()

        for (index, id) in ids.enumerated() {
            let video = world.video(bob, id)!
            XCTAssertEqual(video["status"]?.stringValue, index % 3 == 0 ? "failed" : "completed", "video \(index)")
            XCTAssertNotEqual(video["video_url"]?.stringValue, "https://evil.example/x.mp4")
        }
        // 5 finished at 7,000 each, 3 refunded.
        XCTAssertEqual(world.balance(bob).available, 100_000 - 5 * TestWorld.price)
        XCTAssertEqual(world.balance(bob).held, 0)
        let entries = try world.db.query("SELECT kind, COUNT(*) FROM credit_entries WHERE user_id = ? GROUP BY kind ORDER BY kind", [.text(bob.id)])
        XCTAssertEqual(entries.map { "\($0.string(0))=\($0.int(1))" }, ["grant=1", "hold=8", "release=3", "settle=5"])
        try world.assertLedgerClean()
    }

    /// Lost callbacks: the reconciler finishes the jobs, asking about each at most once an interval.
    func testReconcilerFinishesJobsWhoseCallbacksWereLostWithOneQueryPerInterval() throws {
        let world = try TestWorld()
        let carol = try world.user("carol", credits: 50_000)
        let id = world.createVideo(carol).bodyJSON!["id"]!.stringValue!
        world.clock.advance(30)
        _ = world.simulator.takeDueCallbacks() // every callback lost
        XCTAssertEqual(world.video(carol, id)?["status"]?.stringValue, "pending")
        world.clock.advance(31) // past staleAfter (60 s since the create reply)
        for _ in 0..<5 { _ = try world.reconcile() } // five passes in the same instant
        XCTAssertEqual(world.video(carol, id)?["status"]?.stringValue, "completed")
        XCTAssertEqual(world.simulator.statistics().calls.recordInfo, 1)
        try world.assertLedgerClean()
    }

    /// 50 creates at once from 10 threads, each with its own connection, on a balance for 10.
    func testFiftySimultaneousCreatesOnABalanceForTenMakeExactlyTen() throws {
        let world = try TestWorld { // the balance is the only limit here
            $0.maxUnfinishedVideos = 100
            $0.createsPerMinute = 100
        }
        let dave = try world.user("dave", credits: 10 * TestWorld.price)
        let statuses = Locked<[Int]>([])
        let group = DispatchGroup()
        for _ in 0..<10 {
            group.enter()
            let connection = try world.connection()
            DispatchQueue.global().async {
                for _ in 0..<5 {
                    let response = world.createVideo(dave, prompt: "race", on: connection)
                    statuses.withLock { $0.append(response.status) }
                }
                group.leave()
            }
        }
        group.wait()
        XCTAssertEqual(statuses.current.filter { $0 == 202 }.count, 10, "\(statuses.current)")
        XCTAssertEqual(statuses.current.filter { $0 == 402 }.count, 40)
        XCTAssertEqual(try world.db.first("SELECT COUNT(*) FROM video_jobs WHERE user_id = ?", [.text(dave.id)])?.int(0), 10)
        XCTAssertEqual(world.balance(dave).available, 0)
        try world.assertLedgerClean()
    }

    func testUnfinishedVideosPerAccountAreLimited() throws {
        let world = try TestWorld { $0.maxUnfinishedVideos = 2 }
        let user = try world.user("busy", credits: 70_000)
        XCTAssertEqual(world.createVideo(user).status, 202)
        XCTAssertEqual(world.createVideo(user).status, 202)
        let third = world.createVideo(user)
        XCTAssertEqual(third.status, 429)
        XCTAssertEqual(third.bodyJSON?["error"]?["code"]?.stringValue, "too_many_unfinished_videos")
        XCTAssertEqual(third.header("Retry-After"), "60")
        XCTAssertEqual(world.balance(user).held, 2 * TestWorld.price)
        try world.assertLedgerClean()
    }

    func testIdempotentRetryMakesOneVideoAndReusedKeyWithOtherBodyIsRefused() throws {
        let world = try TestWorld()
        let erin = try world.user("erin", credits: 30_000)
        let first = world.createVideo(erin, prompt: "a lighthouse", key: "order-1")
        let again = world.createVideo(erin, prompt: "a lighthouse", key: "order-1")
        XCTAssertEqual(first.status, 202)
        XCTAssertEqual(again.status, 200)
        XCTAssertEqual(again.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(first.bodyJSON!["id"], again.bodyJSON!["id"])
        XCTAssertEqual(world.balance(erin).available, 30_000 - TestWorld.price)
        let reused = world.createVideo(erin, prompt: "something else", key: "order-1")
        XCTAssertEqual(reused.status, 422)
        XCTAssertEqual(reused.bodyJSON?["error"]?["code"]?.stringValue, "idempotency_key_reused")
        XCTAssertEqual(world.balance(erin).available, 30_000 - TestWorld.price)
        XCTAssertEqual(world.createVideo(erin, key: "bad key with spaces").status, 400)
        try world.assertLedgerClean()
    }

    func testProviderRefusalRefundsAtOnceAndUnknownOutcomeKeepsTheHold() throws {
        let world = try TestWorld()
        let frank = try world.user("frank", credits: 30_000)
        // Refused by the provider (its account is out of credits): the create was queued and
        // answered; the send failed, and the video is failed and refunded at once.
        let refused = world.createVideo(frank, prompt: "anything #error402")
        XCTAssertEqual(refused.status, 202)
        XCTAssertEqual(refused.bodyJSON?["status"]?.stringValue, "failed")
        XCTAssertEqual(refused.bodyJSON?["failure"]?["code"]?.stringValue, "provider_error")
        XCTAssertEqual(refused.bodyJSON?["credits_refunded"], .bool(true))
        XCTAssertEqual(world.balance(frank).available, 30_000)
        XCTAssertEqual(world.balance(frank).held, 0)

        world.simulator.inject(.acceptThenHang)
        let unknown = world.createVideo(frank, prompt: "a quiet lake")
        XCTAssertEqual(unknown.status, 202)
        XCTAssertEqual(unknown.bodyJSON?["status"]?.stringValue, "submitting")
        XCTAssertEqual(world.balance(frank).held, TestWorld.price)
        // The provider made it after all: its callback names the task and finishes the job.
        world.clock.advance(25)
        world.deliverCallbacks()
        XCTAssertEqual(world.video(frank, unknown.bodyJSON!["id"]!.stringValue!)?["status"]?.stringValue, "completed")
        XCTAssertEqual(world.balance(frank).available, 30_000 - TestWorld.price)
        try world.assertLedgerClean()
    }

    /// Nothing has been sent while a video is queued: a cancel refunds it at once, and it is
    /// never sent. Once the provider has the task, Kie cannot stop it and bills it: a cancel only
    /// stops waiting; the video still arrives and is charged, or refunded if the provider fails it.
    func testCancelWhileQueuedRefundsAtOnceAndCancelAfterSendingOnlyStopsWaiting() throws {
        let world = try TestWorld()
        let gina = try world.user("gina", credits: 3 * TestWorld.price)
        try world.holdQueue()
        let queued = world.createVideo(gina).bodyJSON!["id"]!.stringValue!
        XCTAssertEqual(world.video(gina, queued)?["status"]?.stringValue, "queued")
        let canceled = world.send("POST", "/api/v1/videos/\(queued)/cancel", as: gina)
        XCTAssertEqual(canceled.bodyJSON?["status"]?.stringValue, "canceled")
        XCTAssertEqual(canceled.bodyJSON?["credits_refunded"], .bool(true))
        XCTAssertEqual(world.balance(gina).available, 3 * TestWorld.price, "refunded at once")
        XCTAssertEqual(world.send("POST", "/api/v1/videos/\(queued)/cancel", as: gina).status, 200, "a repeat changes nothing")
        let creates = world.simulator.callCounts.createTask
        try world.releaseQueue()
        XCTAssertEqual(world.simulator.callCounts.createTask, creates, "a canceled video is never sent")

        let sent = world.createVideo(gina).bodyJSON!["id"]!.stringValue!
        let failing = world.createVideo(gina, prompt: "a storm at sea #fail").bodyJSON!["id"]!.stringValue!
        for id in [sent, failing] {
            let stopped = world.send("POST", "/api/v1/videos/\(id)/cancel", as: gina)
            XCTAssertEqual(stopped.status, 200)
            XCTAssertEqual(stopped.bodyJSON?["status"]?.stringValue, "pending", "the provider's task runs on")
            XCTAssertEqual(stopped.bodyJSON?["stopped_waiting"], .bool(true))
            XCTAssertEqual(stopped.bodyJSON?["credits_refunded"], .bool(false))
        }
        XCTAssertEqual(world.balance(gina).held, 2 * TestWorld.price, "nothing refunded for a task the provider runs")
        world.clock.advance(30)
        world.deliverCallbacks()
        XCTAssertEqual(world.video(gina, sent)?["status"]?.stringValue, "completed", "the video still arrives")
        XCTAssertNotNil(world.video(gina, sent)?["video_url"]?.stringValue)
        XCTAssertEqual(world.video(gina, failing)?["status"]?.stringValue, "failed")
        XCTAssertEqual(world.balance(gina).available, 3 * TestWorld.price - TestWorld.price, "charged for the one the provider made")
        XCTAssertEqual(world.balance(gina).held, 0)
        XCTAssertEqual(world.send("POST", "/api/v1/videos/\(sent)/cancel", as: gina).status, 409, "an ended video cannot be canceled")
        try world.assertLedgerClean()
    }

    func testSignedCallbacksAreRequiredWhenTheKeyIsSet() throws {
        let world = try TestWorld { $0.webhookHMACKey = "kie-console-key" }
        let hank = try world.user("hank", credits: 10_000)
        let id = world.createVideo(hank).bodyJSON!["id"]!.stringValue!
        world.clock.advance(25)
        let callbacks = world.simulator.takeDueCallbacks()
        let completion = callbacks.first { $0.kind == .completion }!
        let unsigned = world.send("POST", URL(string: completion.url)!.path, body: Array(completion.body))
        XCTAssertEqual(unsigned.status, 401)
        XCTAssertEqual(world.video(hank, id)?["status"]?.stringValue, "pending")
        let signed = world.send("POST", URL(string: completion.url)!.path, body: Array(completion.body),
                                headers: Dictionary(uniqueKeysWithValues: completion.headers.map { ($0.key.lowercased(), $0.value) }))
        XCTAssertEqual(signed.status, 200, signed.bodyText)
        XCTAssertEqual(world.video(hank, id)?["status"]?.stringValue, "completed")
        try world.assertLedgerClean()
    }

    func testLedgerVerifierFindsMoneyCreatedOutsideTheLedger() throws {
        let world = try TestWorld()
        let ivan = try world.user("ivan", credits: 1_000)
        try world.assertLedgerClean()
        try world.db.run("UPDATE users SET credits_available = credits_available + 1 WHERE id = ?", [.text(ivan.id)])
        XCTAssertFalse(try LedgerVerifier.verify(on: world.db).isClean)
    }

    /// A deadline bounds the wait in the queue: one that passes before the video is sent fails
    /// and refunds it (nothing was sent); once sent, the provider bills the task, so a deadline
    /// that passes then changes nothing and the video arrives, charged.
    func testADeadlineRefundsAVideoStillQueuedAndNotOneTheProviderHas() throws {
        let world = try TestWorld()
        let user = try world.user("hurry", credits: 10_000)
        XCTAssertEqual(world.send("POST", "/api/v1/videos", json: .object([("prompt", .string("x")), ("deadline_seconds", .int(30))]),
                                  as: user).bodyJSON?["error"]?["code"]?.stringValue, "invalid_deadline")
        func make(_ prompt: String) -> Response {
            world.send("POST", "/api/v1/videos", json: .object([("prompt", .string(prompt)), ("deadline_seconds", .int(60))]), as: user)
        }
        try world.holdQueue()
        let waiting = make("a queued one")
        XCTAssertEqual(waiting.status, 202, waiting.bodyText)
        XCTAssertEqual(waiting.bodyJSON?["deadline_at"]?.stringValue, "2027-01-15T08:01:00.000Z")
        let waitingID = waiting.bodyJSON!["id"]!.stringValue!
        world.clock.advance(61)
        XCTAssertEqual(try world.reconcile().deadlinesPassed, 1)
        XCTAssertEqual(try world.reconcile().deadlinesPassed, 0, "failed once")
        let failed = world.video(user, waitingID)!
        XCTAssertEqual(failed["status"]?.stringValue, "failed")
        XCTAssertEqual(failed["failure"]?["code"]?.stringValue, "deadline_exceeded")
        XCTAssertEqual(failed["credits_refunded"], .bool(true))
        XCTAssertEqual(world.balance(user).available, 10_000)
        let creates = world.simulator.callCounts.createTask
        try world.releaseQueue()
        XCTAssertEqual(world.simulator.callCounts.createTask, creates, "never sent")

        let sent = make("a slow one #slow")
        let sentID = sent.bodyJSON!["id"]!.stringValue!
        XCTAssertEqual(sent.bodyJSON?["status"]?.stringValue, "pending")
        world.clock.advance(61)
        XCTAssertEqual(try world.reconcile().deadlinesPassed, 0, "the provider has it: the deadline no longer refunds")
        XCTAssertEqual(world.video(user, sentID)?["status"]?.stringValue, "processing")
        world.clock.advance(200) // #slow: 10 × 20 s
        world.deliverCallbacks()
        XCTAssertEqual(world.video(user, sentID)?["status"]?.stringValue, "completed")
        XCTAssertEqual(world.balance(user).available, 10_000 - TestWorld.price)
        try world.assertLedgerClean()
    }

    func testBatchesAreAffordableWholeAndEachVariantIsHeldOnItsOwn() throws {
        let world = try TestWorld()
        let credits = 3 * TestWorld.price - 1
        let user = try world.user("batch", credits: credits)
        let body: JSON = .object([("prompt", .string("three takes of a sunrise")), ("variants", .int(3))])
        let short = world.send("POST", "/api/v1/videos/batch", json: body, as: user)
        XCTAssertEqual(short.status, 402)
        XCTAssertEqual(short.bodyJSON?["error"]?["needed"]?.intValue, 3 * TestWorld.price)
        XCTAssertEqual(try world.db.first("SELECT COUNT(*) FROM video_jobs")?.int(0), 0, "nothing held for an unaffordable batch")
        XCTAssertEqual(world.send("POST", "/api/v1/videos/batch", json: .object([("prompt", .string("x")), ("variants", .int(5))]),
                                  as: user).bodyJSON?["error"]?["code"]?.stringValue, "invalid_variants")
        let two: JSON = .object([("prompt", .string("two takes #fail")), ("variants", .int(2))])
        let made = world.send("POST", "/api/v1/videos/batch", json: two, headers: ["idempotency-key": "batch-1"], as: user)
        XCTAssertEqual(made.status, 202, made.bodyText)
        guard case .array(let videos) = made.bodyJSON!["videos"]! else { return XCTFail() }
        XCTAssertEqual(videos.count, 2)
        XCTAssertNotEqual(videos[0]["id"], videos[1]["id"])
        let again = world.send("POST", "/api/v1/videos/batch", json: two, headers: ["idempotency-key": "batch-1"], as: user)
        XCTAssertEqual(again.status, 200)
        XCTAssertEqual(again.bodyJSON?["videos"], made.bodyJSON?["videos"])
        XCTAssertEqual(world.balance(user).held, 2 * TestWorld.price)
        world.clock.advance(25)
        world.deliverCallbacks()
        XCTAssertEqual(world.balance(user).available, credits, "each failed variant refunded on its own")
        try world.assertLedgerClean()
    }
}
