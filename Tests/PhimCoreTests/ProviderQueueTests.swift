import Foundation
import PhimCore
import PhimProvider
import PhimServer
import PhimSupport
import XCTest

/// The admission queue in front of Kie: every create is held and queued at once; the dispatcher
/// sends within Kie's limits over every process together, accounts taking turns; a busy
/// provider's refusal sends the job again later; nothing waits for ever.
final class ProviderQueueTests: XCTestCase {
    /// A world whose creates only queue (the dispatcher's passes are run by the test), with
    /// Kie's limits on both sides: Phim's queue and the simulator.
    func world(creates: Int = 20, running: Int = 40, configure: (inout Settings) -> Void = { _ in }) throws -> TestWorld {
        let world = try TestWorld {
            $0.dispatchOnCreate = false
            $0.providerCreatesPer10s = creates
            $0.providerMaxRunning = running
            $0.maxUnfinishedVideos = 1_000
            configure(&$0)
        }
        world.simulator.setLimits(createsPer10s: creates, maxRunning: running)
        return world
    }

    func status(_ world: TestWorld, _ id: String) throws -> String {
        try world.db.firstRow("SELECT status FROM video_jobs WHERE id = :id", ["id": .text(id)])?.string("status") ?? "missing"
    }

    /// Two processes dispatch from one database: together they never send more than 20 in any
    /// 10 seconds nor keep more than 40 running, so Kie never answers 429 and nothing is refunded.
    func testTwoProcessesTogetherKeepToKiesWindowAndRunningCap() throws {
        let world = try world()
        let users = try (0..<6).map { try world.user("busy\($0)", credits: 100_000) }
        var ids: [String] = []
        for round in 0..<10 {
            for user in users {
                let made = world.createVideo(user, prompt: "clip \(round) of \(user.email)")
                XCTAssertEqual(made.status, 202, made.bodyText)
                XCTAssertEqual(made.bodyJSON?["status"]?.stringValue, "queued", "answered before anything is sent")
                ids.append(made.bodyJSON!["id"]!.stringValue!)
            }
        }
        XCTAssertEqual(world.simulator.callCounts.createTask, 0)
        let other = try world.connection() // the second process's connection
        func passes() throws {
            for _ in 0..<3 {
                try world.app.queue.runPass(on: world.db)
                try world.app.queue.runPass(on: other)
            }
        }
        try passes()
        XCTAssertEqual(world.simulator.callCounts.createTask, 20, "a full window, across both")
        world.clock.advance(10)
        try passes()
        XCTAssertEqual(world.simulator.callCounts.createTask, 40, "a second window; now 40 run")
        world.clock.advance(5)
        try passes()
        XCTAssertEqual(world.simulator.callCounts.createTask, 40, "the running cap holds while the window is free")
        var rounds = 0
        while try world.db.firstRow("SELECT COUNT(*) AS n FROM video_jobs WHERE status != 'completed'")?.int("n") != 0, rounds < 40 {
            rounds += 1
            world.clock.advance(5)
            world.deliverCallbacks()
            try passes()
        }
        let stats = world.simulator.statistics()
        XCTAssertEqual(stats.calls.createTask, 60, "each sent once")
        XCTAssertLessThanOrEqual(stats.peakCreatesPer10s, 20)
        XCTAssertLessThanOrEqual(stats.peakRunning, 40)
        for id in ids { XCTAssertEqual(try status(world, id), "completed") }
        XCTAssertEqual(try world.db.firstRow("SELECT COUNT(*) AS n FROM provider_sends WHERE outcome != 'accepted'")?.int("n"), 0,
                       "no 429 met, nothing refunded for a busy provider")
        try world.assertLedgerClean()
    }

    /// One account's long queue does not make another's single video wait behind it: the next
    /// send is the newcomer's.
    func testAnAccountWithOneVideoGoesBeforeAnotherAccountsLongQueue() throws {
        let world = try world(creates: 2)
        let heavy = try world.user("heavy", credits: 1_000_000), light = try world.user("light", credits: 100_000)
        for index in 0..<40 { XCTAssertEqual(world.createVideo(heavy, prompt: "heavy \(index)").status, 202) }
        try world.app.queue.runPass(on: world.db) // two of the heavy account's go
        world.clock.advance(1)
        let single = world.createVideo(light, prompt: "just one").bodyJSON!
        XCTAssertEqual(single["queue_position"]?.intValue, 1)
        XCTAssertEqual(world.video(light, single["id"]!.stringValue!)?["queue_position"]?.intValue, 1, "a single read says it too")
        XCTAssertNotNil(single["estimated_start_seconds"]?.intValue)
        let heavyPlaces = try world.app.queue.places(userID: heavy.id, on: world.db)
        XCTAssertEqual(heavyPlaces.values.map(\.position).sorted().first, 2, "the heavy account's next is behind it")
        world.clock.advance(10)
        try world.app.queue.runPass(on: world.db)
        XCTAssertNotEqual(try status(world, single["id"]!.stringValue!), "queued", "sent within the next two slots")
    }

    /// A create's answer reads the video, then its place; a dispatcher that claims the video in
    /// between must not leave a queued answer without a place.
    func testAVideoClaimedBetweenItsReadAndItsPlaceIsFirstInLine() throws {
        let world = try world()
        let ana = try world.user("ana", credits: 100_000)
        try world.holdQueue()
        let id = try XCTUnwrap(world.createVideo(ana).bodyJSON?["id"]?.stringValue)
        let read = try Gallery(userID: ana.id).video(id, on: world.db)
        XCTAssertEqual(read.status, .queued)
        try world.releaseQueue() // the dispatcher claims and sends it
        XCTAssertNotEqual(try status(world, id), "queued")
        XCTAssertEqual(try world.app.queue.places(of: [read], on: world.db)[id], .beingSent)
    }

    /// Kie answers 429 and makes nothing: the job goes back to the queue, the dispatch pauses,
    /// and the same job is sent again later, made once. An answer that never came keeps the job
    /// `submitting` (the provider may have it): never sent twice.
    func testABusyProviderSendsTheJobBackToTheQueueAndAnUnknownOutcomeIsNeverResent() throws {
        let world = try world()
        let user = try world.user("patient", credits: 100_000)
        let id = world.createVideo(user).bodyJSON!["id"]!.stringValue!
        world.simulator.inject(.reply(code: 429, message: "Rate limit exceeded"))
        XCTAssertEqual(try world.app.queue.runPass(on: world.db), .waitUntil(world.clock.now.unixMillis + 5_000))
        XCTAssertEqual(try status(world, id), "queued", "nothing was made: back in the queue")
        XCTAssertEqual(world.balance(user).held, TestWorld.price, "still held, not refunded")
        world.clock.advance(5)
        try world.app.queue.runPass(on: world.db)
        XCTAssertEqual(try status(world, id), "pending")
        XCTAssertEqual(world.simulator.callCounts.createTask, 2)
        XCTAssertEqual(world.simulator.statistics().tasks, 1, "made once")

        let unknown = world.createVideo(user, prompt: "a quiet lake").bodyJSON!["id"]!.stringValue!
        world.simulator.inject(.acceptThenHang)
        try world.app.queue.runPass(on: world.db)
        XCTAssertEqual(try status(world, unknown), "submitting")
        world.clock.advance(60)
        try world.app.queue.runPass(on: world.db)
        XCTAssertEqual(world.simulator.callCounts.createTask, 3, "a send whose outcome is unknown is never sent again")
        world.clock.advance(25)
        world.deliverCallbacks() // the provider made it after all: its callback names the task
        XCTAssertEqual(try status(world, unknown), "completed")
        try world.assertLedgerClean()
    }

    /// Kie counts a create when it arrives, which is after the claim that took its place in the
    /// window (a sender thread to wake, the request to make): a place frees 10 s after the
    /// provider answered the send that held it, never sooner, so the next send meets no 429.
    func testAWindowPlaceFreesTenSecondsAfterTheSendReachedTheProviderNotAfterItsClaim() throws {
        let world = try world(creates: 1)
        let user = try world.user("steady", credits: 100_000)
        let ids = ["first", "second"].map { world.createVideo(user, prompt: $0).bodyJSON!["id"]!.stringValue! }
        let (_, claim) = try world.app.queue.claimNext(on: world.db)
        let second = ids.first { $0 != claim?.job.id }!
        world.clock.advance(0.5) // the create reaches the provider half a second after its claim
        try world.app.queue.send(claim!, on: world.db)
        world.clock.advance(9.6) // 10.1 s after the claim, 9.6 s after Kie counted the create
        try world.app.queue.runPass(on: world.db)
        XCTAssertEqual(world.simulator.callCounts.createTask, 1, "nothing sent into a window Kie still counts as full")
        XCTAssertEqual(try status(world, second), "queued")
        world.clock.advance(0.5)
        try world.app.queue.runPass(on: world.db)
        XCTAssertEqual(try status(world, second), "pending")
        XCTAssertEqual(world.simulator.callCounts.createTask, 2, "sent once, accepted")
        XCTAssertEqual(try world.db.firstRow("SELECT COUNT(*) AS n FROM provider_sends WHERE outcome != 'accepted'")?.int("n"), 0,
                       "no 429 met")
    }

    /// A send whose answer was never recorded (its process died mid-send) may have reached Kie
    /// at any time until its timeout: it keeps its place in the window until then, so the sends
    /// after it meet no 429.
    func testASendWithNoAnswerKeepsItsWindowPlaceUntilItCouldLastHaveArrived() throws {
        let world = try world(creates: 1)
        let user = try world.user("crashed", credits: 100_000)
        let ids = ["lost", "next"].map { world.createVideo(user, prompt: $0).bodyJSON!["id"]!.stringValue! }
        let (_, claim) = try world.app.queue.claimNext(on: world.db) // claimed; the process dies before an answer
        let next = ids.first { $0 != claim?.job.id }!
        world.clock.advance(10.1)
        try world.app.queue.runPass(on: world.db)
        XCTAssertEqual(try status(world, next), "queued", "the lost send may still be in Kie's window")
        XCTAssertEqual(world.simulator.callCounts.createTask, 0)
        world.clock.advance(60)
        try world.app.queue.runPass(on: world.db)
        XCTAssertEqual(try status(world, next), "pending", "sent once the lost send cannot count any more")
        XCTAssertEqual(world.simulator.callCounts.createTask, 1)
    }

    /// A video the queue could not send in time is failed and refunded with its own reason.
    func testAVideoNotSentWithinTheQueueTimeoutIsRefunded() throws {
        let world = try world { $0.queueTimeoutSeconds = 900 }
        let user = try world.user("forgotten", credits: TestWorld.price)
        try world.holdQueue()
        let id = world.createVideo(user).bodyJSON!["id"]!.stringValue!
        world.clock.advance(899)
        XCTAssertEqual(try world.reconcile().queueTimedOut, 0)
        world.clock.advance(2)
        XCTAssertEqual(try world.reconcile().queueTimedOut, 1)
        let failed = world.video(user, id)!
        XCTAssertEqual(failed["status"]?.stringValue, "failed")
        XCTAssertEqual(failed["failure"]?["code"]?.stringValue, "queue_timeout")
        XCTAssertEqual(failed["credits_refunded"], .bool(true))
        XCTAssertEqual(world.balance(user).available, TestWorld.price)
        try world.releaseQueue()
        XCTAssertEqual(world.simulator.callCounts.createTask, 0, "never sent")
        let root = try world.admin()
        let report = world.send("POST", "/api/v1/admin/provider/reconciliation", json: .object([("hours", .int(1))]), as: root).bodyJSON!
        XCTAssertEqual(report["by_verdict"]?["match"]?.intValue, 1, "ended in the queue: nothing to hold against the provider")
        XCTAssertEqual(report["by_verdict"]?["unverifiable"]?.intValue, 0)
        try world.assertLedgerClean()
    }

    /// One process dispatches at a time; another takes over when its lease runs out.
    func testTheDispatchLeaseHasOneHolderUntilItRunsOut() throws {
        let world = try world()
        XCTAssertTrue(try world.app.queue.takeLease(holder: "a", seconds: 6, on: world.db))
        XCTAssertFalse(try world.app.queue.takeLease(holder: "b", seconds: 6, on: world.connection()))
        XCTAssertTrue(try world.app.queue.takeLease(holder: "a", seconds: 6, on: world.db), "renewed by its holder")
        world.clock.advance(7)
        XCTAssertTrue(try world.app.queue.takeLease(holder: "b", seconds: 6, on: world.connection()), "taken over")
        try world.app.queue.releaseLease(holder: "b", on: world.db)
        XCTAssertTrue(try world.app.queue.takeLease(holder: "a", seconds: 6, on: world.db), "given up at once")
    }

    /// The change feed tells an open tab where its queued videos stand, as the queue moves,
    /// without a write per video.
    func testTheChangeFeedCarriesTheQueuePlacesAsTheQueueMoves() throws {
        let world = try world(creates: 1)
        let user = try world.user("watcher", credits: 100_000)
        let ids = (0..<3).map { index -> String in
            world.clock.advance(1)
            return world.createVideo(user, prompt: "take \(index)").bodyJSON!["id"]!.stringValue!
        }
        let first = world.send("GET", "/api/v1/videos/changes?after=0", as: user).bodyJSON!
        let version = first["version"]!.intValue!
        guard case .array(let queue) = first["queue"]! else { return XCTFail() }
        XCTAssertEqual(queue.map { $0["id"]!.stringValue! }, ids)
        XCTAssertEqual(queue.map { $0["queue_position"]!.intValue! }, [1, 2, 3])
        XCTAssertEqual(queue.map { $0["estimated_start_seconds"]!.intValue! }, [0, 10, 20], "one send per 10 s here")
        try world.app.queue.runPass(on: world.db)
        let moved = world.send("GET", "/api/v1/videos/changes?after=\(version)", as: user)
        XCTAssertEqual(moved.status, 200)
        guard case .array(let after) = moved.bodyJSON!["queue"]! else { return XCTFail() }
        XCTAssertEqual(after.map { $0["queue_position"]!.intValue! }, [1, 2])
        XCTAssertEqual(after.map { $0["id"]!.stringValue! }, Array(ids.dropFirst()))
    }

    /// Operators see the queue, and change its limits without a restart (audited); a bad limit
    /// changes nothing.
    func testOperatorsSeeTheQueueAndSetItsLimits() throws {
        let world = try world(creates: 2)
        let root = try world.admin()
        let user = try world.user("waiting", credits: 100_000)
        for index in 0..<5 { XCTAssertEqual(world.createVideo(user, prompt: "clip \(index)").status, 202) }
        try world.app.queue.runPass(on: world.db)
        world.clock.advance(3)
        let report = world.send("GET", "/api/v1/admin/queue", as: root).bodyJSON!
        XCTAssertEqual(report["queued"]?.intValue, 3)
        XCTAssertEqual(report["running"]?.intValue, 2)
        XCTAssertEqual(report["sent_last_minute"]?.intValue, 2)
        XCTAssertEqual(report["oldest_wait_seconds"]?.intValue, 3)
        XCTAssertEqual(report["limits"]?["creates_per_10s"]?.intValue, 2)
        guard case .array(let accounts)? = report["accounts"] else { return XCTFail() }
        XCTAssertEqual(accounts.first?["queued"]?.intValue, 3)
        XCTAssertEqual(world.send("GET", "/api/v1/admin/queue", as: user).status, 404, "not there for users")

        let bad = world.send("PUT", "/api/v1/admin/queue/limits", json: .object([("creates_per_10s", .int(0)), ("reason", .string("x"))]), as: root)
        XCTAssertEqual(bad.status, 422)
        XCTAssertEqual(bad.bodyJSON?["error"]?["code"]?.stringValue, "invalid_queue_limit")
        let changed = world.send("PUT", "/api/v1/admin/queue/limits",
                                 json: .object([("creates_per_10s", .int(5)), ("reason", .string("Kie raised our limit"))]), as: root)
        XCTAssertEqual(changed.status, 200, changed.bodyText)
        XCTAssertEqual(changed.bodyJSON?["limits"]?["creates_per_10s"]?.intValue, 5)
        XCTAssertEqual(changed.bodyJSON?["limits"]?["max_running"]?.intValue, 40, "the other limit kept")
        world.simulator.setLimits(createsPer10s: 5, maxRunning: 40) // Kie raised it too
        try world.app.queue.runPass(on: world.db)
        XCTAssertEqual(world.simulator.callCounts.createTask, 5, "the new limit applies at once")
        let audit = world.send("GET", "/api/v1/admin/audit", as: root).bodyJSON!
        guard case .array(let entries)? = audit["data"] else { return XCTFail() }
        XCTAssertEqual(entries.first?["action"]?.stringValue, "queue.limits")

        // Back to the settings: those of the process holding the lease, which it records with it.
        XCTAssertTrue(try world.app.queue.takeLease(holder: "service", seconds: 6, on: world.db))
        let reset = world.send("PUT", "/api/v1/admin/queue/limits", json: .object([("reset", .bool(true)), ("reason", .string("as configured"))]), as: root)
        XCTAssertEqual(reset.bodyJSON?["limits"]?["creates_per_10s"]?.intValue, 2, reset.bodyText)
        XCTAssertEqual(reset.bodyJSON?["limits"]?["set_by_operator"], .bool(false))
        var shell = world.settings
        shell.providerCreatesPer10s = 20 // a shell without the service's environment
        let fromShell = ProviderQueue(provider: world.app.provider, lifecycle: world.app.lifecycle, settings: shell, clock: world.clock.clock)
        XCTAssertEqual(try fromShell.limits(on: world.db).createsPer10s, 2, "what the service has, not what the shell would")
    }
}
