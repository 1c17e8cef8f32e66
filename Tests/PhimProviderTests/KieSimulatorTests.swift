// The simulator behaves like Kie: keys, validation, states, tags, limits, credits, callbacks, statistics.
@testable import PhimProvider
import PhimSupport
import XCTest

final class KieSimulatorTests: XCTestCase {
    override func setUp() { TestEnvironment.setUp() }

    static func body(_ prompt: String, model: String = "sora-2-text-to-video", extra: String = "") -> Data {
        Data(#"{"model": "\#(model)", "callBackUrl": "https://phim.test/cb", "progressCallBackUrl": "https://phim.test/cb/progress", \#(extra) "input": {"prompt": "\#(prompt)", "aspect_ratio": "portrait", "n_frames": "10", "remove_watermark": true}}"#.utf8)
    }

    static func code(_ reply: KieSimulator.Reply) -> Int? {
        KieWire.Envelope.parse(reply.body)?.code
    }

    func testRefusesBadKeysAndBadInputLikeKie() {
        let simulator = KieSimulator(settings: .init(expectedAPIKey: "right"), clock: ManualClock().clock, mediaBaseURL: "")
        let noKey = simulator.createTask(authorization: nil, body: Data("{}".utf8))
        XCTAssertEqual(noKey.status, 200, "Kie answers HTTP 200 with the error in the envelope")
        XCTAssertEqual(Self.code(noKey), 401)
        XCTAssertEqual(Self.code(simulator.createTask(authorization: "Bearer wrong", body: Data("{}".utf8))), 401)
        XCTAssertEqual(Self.code(simulator.credit(authorization: "Bearer wrong")), 401)
        XCTAssertEqual(Self.code(simulator.recordInfo(authorization: "Basic right", taskID: "x")), 401)
        let noImage = #"{"model": "sora-2-image-to-video", "input": {"prompt": "x"}}"#
        XCTAssertEqual(Self.code(simulator.createTask(authorization: "Bearer right", body: Data(noImage.utf8))), 422)
        let badFrames = #"{"model": "sora-2-text-to-video", "input": {"prompt": "x", "n_frames": "25"}}"#
        XCTAssertEqual(Self.code(simulator.createTask(authorization: "Bearer right", body: Data(badFrames.utf8))), 422)
        let sizeOnStandard = #"{"model": "sora-2-text-to-video", "input": {"prompt": "x", "size": "high"}}"#
        XCTAssertEqual(Self.code(simulator.createTask(authorization: "Bearer right", body: Data(sizeOnStandard.utf8))), 422)
        XCTAssertEqual(Self.code(simulator.createTask(authorization: "Bearer right", body: Data("garbage".utf8))), 422)
        let fine = #"{"model": "sora-2-text-to-video", "input": {"prompt": "x", "n_frames": "10"}}"#
        XCTAssertEqual(Self.code(simulator.createTask(authorization: "Bearer right", body: Data(fine.utf8))), 200)
        let tagged = #"{"model": "sora-2-text-to-video", "input": {"prompt": "make it #error455 please"}}"#
        XCTAssertEqual(Self.code(simulator.createTask(authorization: "Bearer right", body: Data(tagged.utf8))), 455)
        simulator.setAccountCredits(0)
        XCTAssertEqual(Self.code(simulator.createTask(authorization: "Bearer right", body: Data(fine.utf8))), 402)
        XCTAssertEqual(simulator.callCounts.createTask, 9)
    }

    func testErrorTagNeedsThreeDigitsInRange() {
        XCTAssertEqual(KieSimulator.requestedErrorCode(in: "x #error402"), 402)
        XCTAssertEqual(KieSimulator.requestedErrorCode(in: "#error #error5000"), 500)
        XCTAssertNil(KieSimulator.requestedErrorCode(in: "#error42"))
        XCTAssertNil(KieSimulator.requestedErrorCode(in: "#error999"))
        XCTAssertNil(KieSimulator.requestedErrorCode(in: "#error٤٠٢"))
    }

    func testTaskGoesThroughKiesStatesAndEndsWithTheSampleVideo() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 20), clock: clock.clock, mediaBaseURL: "http://sim.test/media/")
        let id = try KieWire.parseCreateReply(simulator.createTask(authorization: "Bearer k", body: Self.body("a cat")).body)
        XCTAssertEqual(id.count, 32)
        func status() throws -> ProviderTaskStatus {
            try KieWire.parseRecordInfoReply(simulator.recordInfo(authorization: "Bearer k", taskID: id).body)
        }
        XCTAssertEqual(try status().state, .waiting)
        clock.advance(2.5)
        XCTAssertEqual(try status().state, .queuing)
        clock.advance(5)
        let generating = try status()
        XCTAssertEqual(generating.state, .generating)
        XCTAssertEqual(generating.progress, 37)
        XCTAssertEqual(generating.resultURLs, [])
        clock.advance(12.5)
        let done = try status()
        XCTAssertEqual(done.state, .success)
        XCTAssertEqual(done.resultURLs, ["http://sim.test/media/\(id)-portrait.mp4"])
        XCTAssertEqual(done.watermarkedURLs, ["http://sim.test/media/\(id)-portrait-wm.mp4"])
        XCTAssertNil(done.failCode)

        // The record echoes the request as `param`, and its times are Unix milliseconds.
        let record = try XCTUnwrap(KieWire.Envelope.parse(simulator.recordInfo(authorization: "Bearer k", taskID: id).body)?.data)
        XCTAssertEqual(record["param"]?.stringValue, String(decoding: Self.body("a cat"), as: UTF8.self))
        XCTAssertEqual(record["createTime"]?.intValue, 1_800_000_000_000)
        XCTAssertEqual(record["completeTime"]?.intValue, 1_800_000_020_000)
    }

    func testPromptTagsFailRejectAndSlow() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 10), clock: clock.clock, mediaBaseURL: "http://sim.test/media")
        func create(_ prompt: String) throws -> String {
            try KieWire.parseCreateReply(simulator.createTask(authorization: "Bearer k", body: Self.body(prompt)).body)
        }
        func status(_ id: String) throws -> ProviderTaskStatus {
            try KieWire.parseRecordInfoReply(simulator.recordInfo(authorization: "Bearer k", taskID: id).body)
        }
        let failing = try create("boom #fail")
        let rejected = try create("nsfw #reject")
        let slow = try create("patience #slow")
        XCTAssertEqual(try status(failing).failCode, nil, "a running task has no failCode yet")
        clock.advance(10)
        let failed = try status(failing)
        XCTAssertEqual(failed.state, .fail)
        XCTAssertEqual(failed.failCode, "500")
        XCTAssertEqual(failed.resultURLs, [])
        let refused = try status(rejected)
        XCTAssertEqual(refused.state, .fail)
        XCTAssertTrue(refused.failMessage?.contains("content policy") == true)
        XCTAssertEqual(try status(slow).state, .queuing, "ten times longer: 10 s of 100 s")
        clock.advance(90)
        XCTAssertEqual(try status(slow).state, .success)
    }

    func testUnknownTaskIsRecordInfoIsNull() {
        let simulator = KieSimulator(settings: .init(), clock: ManualClock().clock, mediaBaseURL: "")
        XCTAssertThrowsError(try KieWire.parseRecordInfoReply(simulator.recordInfo(authorization: "Bearer k", taskID: "nope").body)) {
            XCTAssertEqual($0 as? ProviderError, .rejected(code: 422, message: "recordInfo is null"))
        }
    }

    func testAccountRunsOutAndFailedTasksAreRefunded() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 10, accountCredits: 60, taskCost: 30), clock: clock.clock,
                                     mediaBaseURL: "")
        XCTAssertEqual(Self.code(simulator.createTask(authorization: "Bearer k", body: Self.body("one #fail"))), 200)
        XCTAssertEqual(Self.code(simulator.createTask(authorization: "Bearer k", body: Self.body("two"))), 200)
        XCTAssertEqual(try KieWire.parseCreditReply(simulator.credit(authorization: "Bearer k").body), 0)
        XCTAssertThrowsError(try KieWire.parseCreateReply(simulator.createTask(authorization: "Bearer k", body: Self.body("three")).body)) {
            XCTAssertEqual($0 as? ProviderError, .rejected(code: 402, message: "Credits insufficient"))
        }
        clock.advance(10)
        XCTAssertEqual(try KieWire.parseCreditReply(simulator.credit(authorization: "Bearer k").body), 30, "the failed task is given back")
        XCTAssertEqual(try KieWire.parseCreditReply(simulator.credit(authorization: "Bearer k").body), 30, "once")
        XCTAssertEqual(Self.code(simulator.createTask(authorization: "Bearer k", body: Self.body("three"))), 200)
    }

    func testRateLimitAnswers429PastTheLimitIn10Seconds() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(createRateLimitPer10s: 20), clock: clock.clock, mediaBaseURL: "")
        var codes: [Int] = []
        for _ in 0..<21 { codes.append(Self.code(simulator.createTask(authorization: "Bearer k", body: Self.body("x"))) ?? 0) }
        XCTAssertEqual(codes.filter { $0 == 200 }.count, 20)
        XCTAssertEqual(codes.last, 429)
        clock.advance(10)
        XCTAssertNoThrow(try KieWire.parseCreateReply(simulator.createTask(authorization: "Bearer k", body: Self.body("x")).body))
    }

    func testInjectedFaultsApplyInOrder() throws {
        let simulator = KieSimulator(settings: .init(), clock: ManualClock().clock, mediaBaseURL: "")
        simulator.inject(.reply(code: 455, message: "maintenance"))
        simulator.inject(.acceptThenHang)
        XCTAssertEqual(simulator.pendingFaults, 2)
        XCTAssertEqual(Self.code(simulator.createTask(authorization: "Bearer k", body: Self.body("x"))), 455)
        let hung = simulator.createTask(authorization: "Bearer k", body: Self.body("x"))
        XCTAssertTrue(hung.hangs)
        let id = try KieWire.parseCreateReply(hung.body)
        XCTAssertNoThrow(try KieWire.parseRecordInfoReply(simulator.recordInfo(authorization: "Bearer k", taskID: id).body),
                         "the task exists even though its answer was withheld")
        XCTAssertFalse(simulator.createTask(authorization: "Bearer k", body: Self.body("x")).hangs)
        XCTAssertEqual(simulator.pendingFaults, 0)
    }

    func testCallbacksComeOnceInTaskOrderSignedAndDecodable() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 10, webhookHMACKey: "hook-key"), clock: clock.clock,
                                     mediaBaseURL: "http://sim.test/media")
        var ids: [String] = []
        for prompt in ["a", "b #fail", "c"] {
            ids.append(try KieWire.parseCreateReply(simulator.createTask(authorization: "Bearer k", body: Self.body(prompt)).body))
        }
        XCTAssertEqual(simulator.takeDueCallbacks(), [], "nothing is due while waiting")
        clock.advance(3)
        let progress = simulator.takeDueCallbacks()
        XCTAssertEqual(progress.map(\.kind), [.progress, .progress, .progress])
        XCTAssertEqual(progress.map(\.taskID), ids.sorted())
        XCTAssertEqual(progress.first?.url, "https://phim.test/cb/progress")
        let report = try XCTUnwrap(KieWire.parseCallback(progress[0].body))
        XCTAssertEqual(report.state, .generating)
        XCTAssertEqual(report.progress, 30)
        XCTAssertEqual(simulator.takeDueCallbacks(), [], "one progress callback per task")

        clock.advance(7)
        let completions = simulator.takeDueCallbacks()
        XCTAssertEqual(completions.map(\.kind), [.completion, .completion, .completion])
        XCTAssertEqual(completions.map(\.taskID), ids.sorted())
        for callback in completions {
            XCTAssertEqual(callback.url, "https://phim.test/cb")
            XCTAssertEqual(callback.headers["Content-Type"], "application/json")
            let timestamp = try XCTUnwrap(callback.headers["X-Webhook-Timestamp"])
            XCTAssertEqual(timestamp, "1800000010")
            let signature = try XCTUnwrap(callback.headers["X-Webhook-Signature"])
            XCTAssertTrue(KieWire.isValidWebhookSignature(signature, taskID: callback.taskID, timestamp: timestamp, key: "hook-key"))
            let status = try XCTUnwrap(KieWire.parseCallback(callback.body))
            XCTAssertEqual(status.taskID, callback.taskID)
            let code = KieWire.Envelope.parse(callback.body)?.code
            if callback.taskID == ids[1] {
                XCTAssertEqual(status.state, .fail)
                XCTAssertEqual(code, 501)
            } else {
                XCTAssertEqual(status.state, .success)
                XCTAssertEqual(code, 200)
                XCTAssertEqual(status.resultURLs, ["http://sim.test/media/\(callback.taskID)-portrait.mp4"])
            }
        }
        XCTAssertEqual(simulator.takeDueCallbacks(), [])
        XCTAssertEqual(simulator.callCounts.callbacksQueued, 6)
    }

    func testUnsignedWithoutAKey() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 1), clock: clock.clock, mediaBaseURL: "")
        _ = simulator.createTask(authorization: "Bearer k", body: Self.body("x"))
        clock.advance(1)
        let callbacks = simulator.takeDueCallbacks()
        XCTAssertEqual(callbacks.map(\.kind), [.completion], "a task that ended unseen skips its progress report")
        XCTAssertEqual(callbacks[0].headers, ["Content-Type": "application/json"])
    }

    func testLosesTheShareOfCallbacksItIsToldToAndCountsThem() {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 1, seed: 7, callbackDropRate: 0.5), clock: clock.clock, mediaBaseURL: "")
        let body = Data(#"{"model": "sora-2-text-to-video", "callBackUrl": "https://phim.test/cb", "input": {"prompt": "x"}}"#.utf8)
        for _ in 0..<200 { _ = simulator.createTask(authorization: "Bearer k", body: body) }
        clock.advance(2)
        let delivered = simulator.takeDueCallbacks().count
        let counts = simulator.callCounts
        XCTAssertEqual(delivered + counts.callbacksDropped, 200)
        XCTAssertTrue((60...140).contains(counts.callbacksDropped), "dropped \(counts.callbacksDropped)")
        XCTAssertEqual(simulator.takeDueCallbacks(), [], "a lost callback is never sent later")
    }

    func testSeededRunsRepeatExactly() {
        func run() -> ([String], [String]) {
            let clock = ManualClock()
            let simulator = KieSimulator(settings: .init(jobDuration: 5, failureRate: 0.3, seed: 42, callbackDropRate: 0.2),
                                         clock: clock.clock, mediaBaseURL: "")
            let ids = (0..<30).compactMap { _ in try? KieWire.parseCreateReply(simulator.createTask(authorization: "Bearer k", body: Self.body("x")).body) }
            clock.advance(5)
            let outcomes = ids.map { id in (try? KieWire.parseRecordInfoReply(simulator.recordInfo(authorization: "Bearer k", taskID: id).body))?.state.rawValue ?? "?" }
            return (ids, outcomes + simulator.takeDueCallbacks().map(\.taskID))
        }
        let first = run(), second = run()
        XCTAssertEqual(first.0, second.0)
        XCTAssertEqual(first.1, second.1)
        XCTAssertTrue(first.1.contains("fail") && first.1.contains("success"), "a 30 % failure rate fails some of 30")
    }

    func testStatisticsCountCallsAndQueryGapsInSnakeCase() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(), clock: clock.clock, mediaBaseURL: "http://sim.test/media")
        let id = try KieWire.parseCreateReply(simulator.createTask(authorization: "Bearer k", body: Self.body("x")).body)
        _ = simulator.recordInfo(authorization: "Bearer k", taskID: id)
        clock.advance(4)
        _ = simulator.recordInfo(authorization: "Bearer k", taskID: id)
        clock.advance(1.5)
        _ = simulator.recordInfo(authorization: "Bearer k", taskID: id)
        _ = simulator.credit(authorization: "Bearer k")
        _ = simulator.downloadURL(authorization: "Bearer k", body: KieWire.downloadURLBody(for: "http://sim.test/media/\(id)-portrait.mp4"))
        let statistics = simulator.statistics()
        XCTAssertEqual(statistics.calls.createTask, 1)
        XCTAssertEqual(statistics.calls.recordInfo, 3)
        XCTAssertEqual(statistics.calls.credit, 1)
        XCTAssertEqual(statistics.calls.downloadURL, 1)
        XCTAssertEqual(statistics.tasks, 1)
        XCTAssertEqual(statistics.recordInfoPerQueriedTask, 3)
        XCTAssertEqual(statistics.shortestQueryGapSeconds ?? 0, 1.5, accuracy: 0.001)

        let json = try XCTUnwrap(JSON.parse(simulator.statisticsJSON()))
        XCTAssertEqual(json["calls"]?["record_info"]?.intValue, 3)
        XCTAssertEqual(json["calls"]?["create_task"]?.intValue, 1)
        XCTAssertEqual(json["calls"]?["download_url"]?.intValue, 1)
        XCTAssertEqual(json["record_info_per_queried_task"]?.intValue, 3)
        XCTAssertNotNil(json["shortest_query_gap_seconds"])
    }

    func testDownloadURLOnlyForItsOwnVideos() throws {
        let simulator = KieSimulator(settings: .init(), clock: ManualClock().clock, mediaBaseURL: "http://sim.test/media")
        let link = try KieWire.parseDownloadURLReply(simulator.downloadURL(authorization: "Bearer k",
                                                                           body: KieWire.downloadURLBody(for: "http://sim.test/media/a-landscape.mp4")).body)
        XCTAssertTrue(link.hasPrefix("http://sim.test/media/a-landscape.mp4?download="), link)
        XCTAssertThrowsError(try KieWire.parseDownloadURLReply(simulator.downloadURL(authorization: "Bearer k",
                                                                                     body: KieWire.downloadURLBody(for: "https://elsewhere.test/a.mp4")).body)) {
            XCTAssertEqual(($0 as? ProviderError), .rejected(code: 422, message: "Only Kie-generated URLs are supported"))
        }
        simulator.mediaBaseURL = "http://other.test/m/"
        XCTAssertEqual(simulator.mediaBaseURL, "http://other.test/m")
    }

    func testSettingsFromTheEnvironment() {
        let settings = KieSimulator.Settings.fromEnvironment([
            "PHIM_SIMULATOR_DELAY_SECONDS": "0.5", "PHIM_SIMULATOR_FAILURE_RATE": "0.25", "PHIM_SIMULATOR_RATE_LIMIT": "20",
            "PHIM_SIMULATOR_API_KEY": "sim-key", "PHIM_SIMULATOR_CALLBACK_DROP_RATE": "0.1", "PHIM_SIMULATOR_SEED": "99",
            "KIE_WEBHOOK_HMAC_KEY": "hmac",
        ])
        XCTAssertEqual(settings.jobDuration, 0.5)
        XCTAssertEqual(settings.failureRate, 0.25)
        XCTAssertEqual(settings.createRateLimitPer10s, 20)
        XCTAssertEqual(settings.expectedAPIKey, "sim-key")
        XCTAssertEqual(settings.callbackDropRate, 0.1)
        XCTAssertEqual(settings.seed, 99)
        XCTAssertEqual(settings.webhookHMACKey, "hmac")

        let defaults = KieSimulator.Settings.fromEnvironment(["PHIM_SIMULATOR_RATE_LIMIT": "0", "PHIM_SIMULATOR_DELAY_SECONDS": "soon",
                                                              "PHIM_SIMULATOR_FAILURE_RATE": "2"])
        XCTAssertEqual(defaults.jobDuration, 20)
        XCTAssertEqual(defaults.failureRate, 0)
        XCTAssertNil(defaults.createRateLimitPer10s, "0 turns the limit off")
        XCTAssertNil(defaults.expectedAPIKey)
        XCTAssertNil(defaults.webhookHMACKey)
        XCTAssertNil(defaults.seed)
    }

    func testManyThreadsAtOnceLoseNothing() {
        let simulator = KieSimulator(settings: .init(), clock: ManualClock().clock, mediaBaseURL: "")
        let ids = Locked<Set<String>>([])
        DispatchQueue.concurrentPerform(iterations: 400) { _ in
            if let id = try? KieWire.parseCreateReply(simulator.createTask(authorization: "Bearer k", body: Self.body("x")).body) {
                ids.withLock { _ = $0.insert(id) }
                _ = simulator.recordInfo(authorization: "Bearer k", taskID: id)
            }
        }
        XCTAssertEqual(ids.current.count, 400)
        XCTAssertEqual(simulator.statistics().calls.recordInfo, 400)
        XCTAssertEqual(simulator.statistics().tasks, 400)
    }
}
