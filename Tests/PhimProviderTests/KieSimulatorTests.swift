// The simulator behaves like Kie: keys, paused ids, states, tags, limits, billing, callbacks, statistics.
@testable import PhimProvider
import PhimSupport
import XCTest

final class KieSimulatorTests: XCTestCase {
    override func setUp() { TestEnvironment.setUp() }

    /// A Seedance 2 Mini text-to-video create, 5 s at 480p (19 credits), portrait, with a callback.
    static func body(_ prompt: String, model: String = "bytedance/seedance-2-mini", extra: String = "") -> Data {
        Data(#"{"model": "\#(model)", "callBackUrl": "https://phim.test/cb", "input": {"prompt": "\#(prompt)", "aspect_ratio": "9:16", "resolution": "480p", "duration": 5\#(extra)}}"#.utf8)
    }

    /// Veo 3.1 Fast, text-to-video (60 credits a clip).
    static func veoBody(_ prompt: String, model: String = "veo3_fast") -> Data {
        Data(#"{"model": "\#(model)", "prompt": "\#(prompt)", "aspect_ratio": "16:9", "callBackUrl": "https://phim.test/veo-cb"}"#.utf8)
    }

    static let miniPrice = 19.0

    func balance(_ simulator: KieSimulator) -> Double? { KieReply.number(KieReply.data(simulator.credit(authorization: "Bearer k"))) }

    func record(_ simulator: KieSimulator, _ id: String) -> JSON { KieReply.data(simulator.recordInfo(authorization: "Bearer k", taskID: id)) }

    // MARK: - Keys, models, paused ids

    func testRefusesBadKeysLikeKie() {
        let simulator = KieSimulator(settings: .init(expectedAPIKey: "right"), clock: ManualClock().clock, mediaBaseURL: "")
        let noKey = simulator.createTask(authorization: nil, body: Self.body("x"))
        XCTAssertEqual(noKey.status, 200, "Kie answers HTTP 200 with the error in the envelope")
        XCTAssertEqual(KieReply.code(noKey), 401)
        XCTAssertEqual(KieReply.msg(noKey), "You do not have access permissions")
        XCTAssertEqual(KieReply.code(simulator.createTask(authorization: "Bearer wrong", body: Self.body("x"))), 401)
        XCTAssertEqual(KieReply.code(simulator.veoGenerate(authorization: "Bearer wrong", body: Self.veoBody("x"))), 401)
        XCTAssertEqual(KieReply.code(simulator.credit(authorization: "Bearer wrong")), 401)
        XCTAssertEqual(KieReply.code(simulator.recordInfo(authorization: "Basic right", taskID: "x")), 401)
        XCTAssertEqual(KieReply.code(simulator.veoRecordInfo(authorization: nil, taskID: "x")), 401)
        // Auth comes before the paused check: a wrong key learns nothing about the models.
        XCTAssertEqual(KieReply.code(simulator.createTask(authorization: "Bearer wrong", body: Self.body("x", model: "sora-2-text-to-video"))), 401)
        XCTAssertEqual(KieReply.code(simulator.createTask(authorization: "Bearer right", body: Self.body("x"))), 200)
        XCTAssertEqual(simulator.callCounts.createTask, 4)
        XCTAssertEqual(simulator.callCounts.veoGenerate, 1)
        XCTAssertEqual(simulator.statistics().tasks, 1)
    }

    func testSoraAndPausedModelsAnswerPausedAndBillNothing() throws {
        let simulator = KieSimulator(settings: .init(accountCredits: 1_000, pausedModels: ["wan/3-0-video"]), clock: ManualClock().clock,
                                     mediaBaseURL: "")
        let sora = [
            #"{"model": "sora-2-text-to-video", "callBackUrl": "https://phim.test/cb", "progressCallBackUrl": "https://phim.test/p", "input": {"prompt": "x", "aspect_ratio": "portrait", "n_frames": "10", "remove_watermark": true}}"#,
            #"{"model": "sora-2-image-to-video", "input": {"prompt": "x", "image_urls": ["https://img.test/a.png"]}}"#,
            #"{"model": "sora-2-pro-text-to-video", "input": {"prompt": "x", "size": "high"}}"#,
            #"{"model": "sora-2-text-to-video-stable", "input": {"anything": "goes, nothing is checked"}}"#,
            #"{"model": "sora-2-pro-storyboard"}"#,
        ]
        for body in sora {
            let reply = simulator.createTask(authorization: "Bearer k", body: Data(body.utf8))
            XCTAssertEqual(String(decoding: reply.body, as: UTF8.self), #"{"code":500,"msg":"This interface is temporarily paused","data":null}"#, body)
        }
        let paused = simulator.createTask(authorization: "Bearer k", body: Data(#"{"model": "wan/3-0-video", "input": {"prompt": "x"}}"#.utf8))
        XCTAssertEqual(KieReply.code(paused), 500)
        XCTAssertEqual(KieReply.msg(paused), "This interface is temporarily paused")
        XCTAssertEqual(simulator.statistics().tasks, 0)
        XCTAssertEqual(simulator.accountCredits, 1_000)

        // The same id is served again once it is no longer paused; sora-2 stays paused whatever is set.
        simulator.setPaused(["veo3"])
        XCTAssertEqual(KieReply.code(simulator.createTask(authorization: "Bearer k", body: Data(#"{"model": "wan/3-0-video", "input": {"prompt": "x"}}"#.utf8))), 200)
        XCTAssertEqual(KieReply.msg(simulator.createTask(authorization: "Bearer k", body: Data(sora[0].utf8))), "This interface is temporarily paused")
        XCTAssertEqual(KieReply.msg(simulator.veoGenerate(authorization: "Bearer k", body: Self.veoBody("x", model: "veo3"))),
                       "This interface is temporarily paused")
        XCTAssertEqual(KieReply.code(simulator.veoGenerate(authorization: "Bearer k", body: Self.veoBody("x", model: "veo3_lite"))), 200)
        XCTAssertEqual(simulator.statistics().tasks, 2)
    }

    func testUnknownModelsAndMalformedBodiesAreRefused() {
        let simulator = KieSimulator(settings: .init(), clock: ManualClock().clock, mediaBaseURL: "")
        func create(_ body: String) -> KieSimulator.Reply { simulator.createTask(authorization: "Bearer k", body: Data(body.utf8)) }
        XCTAssertEqual(String(decoding: create(#"{"model": "kling-9.9/video", "input": {"prompt": "x"}}"#).body, as: UTF8.self),
                       #"{"code":422,"msg":"The model kling-9.9/video is not supported","data":null}"#)
        XCTAssertEqual(KieReply.msg(create(#"{"model": "veo3_fast", "prompt": "x"}"#)), "The model veo3_fast is not supported",
                       "Veo is not a Market model")
        XCTAssertEqual(KieReply.code(create("garbage")), 422)
        XCTAssertEqual(KieReply.code(create("[1, 2]")), 422)
        XCTAssertEqual(KieReply.msg(create(#"{"input": {"prompt": "x"}}"#)), "This field is required: model")
        XCTAssertEqual(KieReply.code(create(#"{"input": {"prompt": "x"}}"#)), 500)
        XCTAssertEqual(KieReply.msg(create(#"{"model": 7, "input": {"prompt": "x"}}"#)), "model: expected a string")
        XCTAssertEqual(KieReply.msg(create(#"{"model": "bytedance/seedance-2-mini"}"#)), "This field is required: input")
        XCTAssertEqual(KieReply.msg(create(#"{"model": "bytedance/seedance-2-mini", "input": "x"}"#)), "input: expected an object")
        let progress = create(#"{"model": "bytedance/seedance-2-mini", "progressCallBackUrl": "https://phim.test/p", "input": {"prompt": "x"}}"#)
        XCTAssertEqual(KieReply.code(progress), 422)
        XCTAssertTrue(KieReply.msg(progress).hasPrefix("progressCallBackUrl: not supported by bytedance/seedance-2-mini"), KieReply.msg(progress))
        XCTAssertTrue(KieReply.msg(create(#"{"model": "bytedance/seedance-2-mini", "callback_url": "https://x.test", "input": {"prompt": "x"}}"#))
            .hasPrefix("callback_url: unknown field"))
        XCTAssertEqual(KieReply.msg(create(#"{"model": "bytedance/seedance-2-mini", "callBackUrl": "phim.test/cb", "input": {"prompt": "x"}}"#)),
                       "callBackUrl: expected a string holding an http(s) URL")
        XCTAssertEqual(simulator.statistics().tasks, 0)
    }

    func testErrorTagNeedsThreeDigitsInRange() {
        XCTAssertEqual(KieSimulator.requestedErrorCode(in: "x #error402"), 402)
        XCTAssertEqual(KieSimulator.requestedErrorCode(in: "#error #error5000"), 500)
        XCTAssertNil(KieSimulator.requestedErrorCode(in: "#error42"))
        XCTAssertNil(KieSimulator.requestedErrorCode(in: "#error999"))
        XCTAssertNil(KieSimulator.requestedErrorCode(in: "#error٤٠٢"))
    }

    // MARK: - A task's life

    func testTaskGoesThroughKiesStatesAndEndsWithTheSampleVideo() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 20), clock: clock.clock, mediaBaseURL: "http://sim.test/media/")
        let id = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Self.body("a cat")))
        XCTAssertEqual(id.count, 32)
        XCTAssertEqual(record(simulator, id)["state"]?.stringValue, "waiting")
        clock.advance(2.5)
        XCTAssertEqual(record(simulator, id)["state"]?.stringValue, "queuing")
        clock.advance(5)
        let generating = record(simulator, id)
        XCTAssertEqual(generating["state"]?.stringValue, "generating")
        XCTAssertNil(generating["progress"], "Kie documents no progress for these models: Phim must not rely on one")
        XCTAssertNil(generating["creditsConsumed"], "absent while running")
        XCTAssertEqual(generating["resultJson"], .null)
        XCTAssertEqual(generating["failCode"]?.stringValue, "")
        clock.advance(12.5)
        let done = record(simulator, id)
        XCTAssertEqual(done["state"]?.stringValue, "success")
        XCTAssertEqual(done["model"]?.stringValue, "bytedance/seedance-2-mini")
        XCTAssertEqual(KieReply.resultURLs(done), ["http://sim.test/media/\(id)-portrait.mp4"])
        XCTAssertEqual(KieReply.number(done["creditsConsumed"]), Self.miniPrice)
        XCTAssertEqual(done["failCode"], .null)
        XCTAssertEqual(done["failMsg"], .null)
        XCTAssertNil(done["progress"])
        // The record echoes the request as `param`, and its times are Unix milliseconds.
        XCTAssertEqual(done["param"]?.stringValue, String(decoding: Self.body("a cat"), as: UTF8.self))
        XCTAssertEqual(done["createTime"]?.intValue, 1_800_000_000_000)
        XCTAssertEqual(done["completeTime"]?.intValue, 1_800_000_020_000)
        XCTAssertEqual(done["costTime"]?.intValue, 20)
    }

    func testLandscapeUnlessTheFrameIsTaller() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 1), clock: clock.clock, mediaBaseURL: "http://sim.test/media")
        var ids: [String: String] = [:]
        for ratio in ["16:9", "4:3", "1:1", "21:9", "adaptive", "3:4", "9:16"] {
            let body = #"{"model": "bytedance/seedance-2-mini", "input": {"prompt": "x", "aspect_ratio": "\#(ratio)"}}"#
            ids[ratio] = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Data(body.utf8)))
        }
        clock.advance(1)
        for (ratio, id) in ids {
            let expected = ["3:4", "9:16"].contains(ratio) ? "portrait" : "landscape"
            XCTAssertEqual(KieReply.resultURLs(record(simulator, id)), ["http://sim.test/media/\(id)-\(expected).mp4"], ratio)
        }
    }

    func testPromptTagsFailRejectSlowStallAndError() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 10), clock: clock.clock, mediaBaseURL: "http://sim.test/media")
        func create(_ prompt: String) throws -> String {
            try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Self.body(prompt)))
        }
        let failing = try create("boom #fail")
        let rejected = try create("nsfw #reject")
        let slow = try create("patience #slow")
        XCTAssertEqual(record(simulator, failing)["failCode"]?.stringValue, "", "a running task has no failCode yet")
        clock.advance(10)
        let failed = record(simulator, failing)
        XCTAssertEqual(failed["state"]?.stringValue, "fail")
        XCTAssertEqual(failed["failCode"]?.stringValue, "500")
        XCTAssertEqual(failed["resultJson"], .null)
        XCTAssertEqual(KieReply.number(failed["creditsConsumed"]), 0)
        let refused = record(simulator, rejected)
        XCTAssertEqual(refused["state"]?.stringValue, "fail")
        XCTAssertEqual(refused["failCode"]?.stringValue, "400")
        XCTAssertTrue(refused["failMsg"]?.stringValue?.contains("content policy") == true)
        XCTAssertEqual(record(simulator, slow)["state"]?.stringValue, "queuing", "ten times longer: 10 s of 100 s")
        clock.advance(90)
        XCTAssertEqual(record(simulator, slow)["state"]?.stringValue, "success")

        let tagged = simulator.createTask(authorization: "Bearer k", body: Self.body("make it #error455 please"))
        XCTAssertEqual(KieReply.code(tagged), 455)
        XCTAssertEqual(KieReply.msg(tagged), "Simulated error 455")
        XCTAssertEqual(simulator.createTask(authorization: "Bearer k", body: Self.body("wait #stall")).delaySeconds, KieSimulator.stallSeconds)
        XCTAssertEqual(KieReply.code(simulator.veoGenerate(authorization: "Bearer k", body: Self.veoBody("veo too #error402"))), 402)
        XCTAssertEqual(simulator.statistics().tasks, 4)
    }

    func testUnknownTaskIsRecordInfoIsNull() throws {
        let simulator = KieSimulator(settings: .init(), clock: ManualClock().clock, mediaBaseURL: "")
        XCTAssertEqual(String(decoding: simulator.recordInfo(authorization: "Bearer k", taskID: "nope").body, as: UTF8.self),
                       #"{"code":422,"msg":"recordInfo is null","data":null}"#)
        XCTAssertEqual(KieReply.code(simulator.recordInfo(authorization: "Bearer k", taskID: nil)), 422)
        // Each family's status endpoint knows only its own tasks.
        let veo = try KieReply.taskID(simulator.veoGenerate(authorization: "Bearer k", body: Self.veoBody("x")))
        XCTAssertEqual(KieReply.msg(simulator.recordInfo(authorization: "Bearer k", taskID: veo)), "recordInfo is null")
        let market = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Self.body("x")))
        XCTAssertEqual(KieReply.msg(simulator.veoRecordInfo(authorization: "Bearer k", taskID: market)), "recordInfo is null")
    }

    // MARK: - Billing, limits, faults

    func testTheListPriceIsDebitedAtCreateAndRefundedWhenTheTaskFails() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 10, accountCredits: 40), clock: clock.clock, mediaBaseURL: "")
        let failing = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Self.body("one #fail")))
        let fine = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Self.body("two")))
        XCTAssertEqual(balance(simulator), 40 - 2 * Self.miniPrice)
        let short = simulator.createTask(authorization: "Bearer k", body: Self.body("three"))
        XCTAssertEqual(String(decoding: short.body, as: UTF8.self), #"{"code":402,"msg":"Credits insufficient","data":null}"#)
        clock.advance(10)
        XCTAssertEqual(balance(simulator), 40 - Self.miniPrice, "the failed task is given back")
        XCTAssertEqual(balance(simulator), 40 - Self.miniPrice, "once")
        XCTAssertEqual(simulator.accountCredits, 21)
        XCTAssertEqual(KieReply.number(record(simulator, failing)["creditsConsumed"]), 0)
        XCTAssertEqual(KieReply.number(record(simulator, fine)["creditsConsumed"]), Self.miniPrice)

        // Fractional prices bill exactly: Grok 480p is 2.4 credits a second.
        simulator.setAccountCredits(100)
        let grok = #"{"model": "grok-imagine/text-to-video", "input": {"prompt": "x", "duration": "6", "resolution": "480p"}}"#
        _ = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Data(grok.utf8)))
        XCTAssertEqual(balance(simulator), 85.6)
        XCTAssertEqual(simulator.accountCredits, 85)
    }

    func testRateLimitCountsCreatesOfBothFamilies() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(createRateLimitPer10s: 20), clock: clock.clock, mediaBaseURL: "")
        var codes: [Int] = []
        for index in 0..<21 {
            let reply = index % 2 == 0 ? simulator.createTask(authorization: "Bearer k", body: Self.body("x"))
                : simulator.veoGenerate(authorization: "Bearer k", body: Self.veoBody("x"))
            codes.append(KieReply.code(reply) ?? 0)
        }
        XCTAssertEqual(codes.filter { $0 == 200 }.count, 20)
        XCTAssertEqual(codes.last, 429)
        XCTAssertEqual(KieReply.code(simulator.veoGenerate(authorization: "Bearer k", body: Self.veoBody("x"))), 429)
        clock.advance(10)
        XCTAssertEqual(KieReply.code(simulator.createTask(authorization: "Bearer k", body: Self.body("x"))), 200)
    }

    /// Kie caps the tasks running at once as well: a create over the cap is refused with 429
    /// and makes nothing; when a task ends, its place is free again.
    func testTheRunningCapRefusesCreatesUntilATaskEnds() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 20, maxRunningTasks: 3), clock: clock.clock, mediaBaseURL: "")
        for _ in 0..<3 { _ = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Self.body("x"))) }
        clock.advance(5)
        let over = simulator.veoGenerate(authorization: "Bearer k", body: Self.veoBody("x"))
        XCTAssertEqual(KieReply.code(over), 429)
        XCTAssertEqual(KieReply.msg(over), "Too many running tasks: 3 at most")
        XCTAssertEqual(simulator.statistics().tasks, 3, "nothing made")
        clock.advance(15) // the first three end
        for _ in 0..<3 { _ = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Self.body("x"))) }
        XCTAssertEqual(KieReply.code(simulator.createTask(authorization: "Bearer k", body: Self.body("x"))), 429)
        XCTAssertEqual(simulator.statistics().peakRunning, 3)
    }

    /// The statistics a test of Phim's admission reads: the most creates in any 10 seconds and
    /// the most tasks running at once, whatever limits are set.
    func testStatisticsReportThePeakCreatesPerWindowAndThePeakRunning() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 30), clock: clock.clock, mediaBaseURL: "")
        for _ in 0..<7 { _ = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Self.body("x"))) }
        clock.advance(9)
        for _ in 0..<5 { _ = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Self.body("x"))) }
        clock.advance(2) // the first seven leave the window
        for _ in 0..<4 { _ = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Self.body("x"))) }
        clock.advance(25) // the first seven end
        _ = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Self.body("x #slow")))
        let stats = simulator.statistics()
        XCTAssertEqual(stats.peakCreatesPer10s, 12)
        XCTAssertEqual(stats.peakRunning, 16)
        let served = KieReply.json(.init(status: 200, body: simulator.statisticsJSON()))
        XCTAssertEqual(served["peak_creates_per10s"]?.intValue, 12)
        XCTAssertEqual(served["peak_running"]?.intValue, 16)
    }

    func testInjectedFaultsApplyInOrderToEitherFamily() throws {
        let simulator = KieSimulator(settings: .init(), clock: ManualClock().clock, mediaBaseURL: "")
        simulator.inject(.reply(code: 455, message: "maintenance"))
        simulator.inject(.acceptThenHang)
        simulator.inject(.reply(code: 505, message: "disabled"))
        XCTAssertEqual(simulator.pendingFaults, 3)
        let maintenance = simulator.createTask(authorization: "Bearer k", body: Self.body("x"))
        XCTAssertEqual(KieReply.code(maintenance), 455)
        XCTAssertEqual(KieReply.msg(maintenance), "maintenance")
        let hung = simulator.createTask(authorization: "Bearer k", body: Self.body("x"))
        XCTAssertTrue(hung.hangs)
        let id = try KieReply.taskID(hung)
        XCTAssertEqual(KieReply.code(simulator.recordInfo(authorization: "Bearer k", taskID: id)), 200,
                       "the task exists even though its answer was withheld")
        XCTAssertEqual(KieReply.code(simulator.veoGenerate(authorization: "Bearer k", body: Self.veoBody("x"))), 505)
        XCTAssertFalse(simulator.createTask(authorization: "Bearer k", body: Self.body("x")).hangs)
        XCTAssertEqual(simulator.pendingFaults, 0)
        simulator.inject(.acceptThenHang)
        simulator.clearFaults()
        XCTAssertEqual(simulator.pendingFaults, 0)
    }

    // MARK: - Callbacks

    func testCompletionCallbacksComeOnceInTaskOrderSignedAndShapedLikeRecordInfo() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 10, webhookHMACKey: "hook-key"), clock: clock.clock,
                                     mediaBaseURL: "http://sim.test/media")
        var ids: [String] = []
        for prompt in ["a", "b #fail", "c"] {
            ids.append(try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Self.body(prompt))))
        }
        XCTAssertEqual(simulator.takeDueCallbacks(), [], "nothing is due while waiting")
        clock.advance(5)
        XCTAssertEqual(simulator.takeDueCallbacks(), [], "no progress callbacks: Kie documents them for Sora 2 only")

        clock.advance(5)
        let completions = simulator.takeDueCallbacks()
        XCTAssertEqual(completions.map(\.kind), [.completion, .completion, .completion])
        XCTAssertEqual(completions.map(\.taskID), ids.sorted())
        XCTAssertEqual(simulator.callbackURLs(forTask: ids[0]), ["https://phim.test/cb"])
        for callback in completions {
            XCTAssertEqual(callback.url, "https://phim.test/cb")
            XCTAssertEqual(callback.headers["Content-Type"], "application/json")
            let timestamp = try XCTUnwrap(callback.headers["X-Webhook-Timestamp"])
            XCTAssertEqual(timestamp, "1800000010")
            XCTAssertEqual(callback.headers["X-Webhook-Signature"],
                           KieWire.webhookSignature(taskID: callback.taskID, timestamp: timestamp, key: "hook-key"))
            let body = try XCTUnwrap(JSON.parse(callback.body))
            let data = try XCTUnwrap(body["data"])
            XCTAssertEqual(data["taskId"]?.stringValue, callback.taskID)
            XCTAssertEqual(data["model"]?.stringValue, "bytedance/seedance-2-mini")
            XCTAssertNil(data["progress"])
            if callback.taskID == ids[1] {
                XCTAssertEqual(body["code"]?.intValue, 501)
                XCTAssertEqual(body["msg"]?.stringValue, "Playground task failed.")
                XCTAssertEqual(data["state"]?.stringValue, "fail")
                XCTAssertEqual(data["failCode"]?.stringValue, "500")
                XCTAssertEqual(KieReply.number(data["creditsConsumed"]), 0)
            } else {
                XCTAssertEqual(body["code"]?.intValue, 200)
                XCTAssertEqual(body["msg"]?.stringValue, "Playground task completed successfully.")
                XCTAssertEqual(data["state"]?.stringValue, "success")
                XCTAssertEqual(KieReply.resultURLs(data), ["http://sim.test/media/\(callback.taskID)-portrait.mp4"])
                XCTAssertEqual(KieReply.number(data["creditsConsumed"]), Self.miniPrice)
            }
        }
        XCTAssertEqual(simulator.takeDueCallbacks(), [])
        XCTAssertEqual(simulator.callCounts.callbacksQueued, 3)
    }

    func testUnsignedWithoutAKeyAndNoneWithoutACallbackURL() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 1), clock: clock.clock, mediaBaseURL: "")
        _ = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Self.body("x")))
        let silent = #"{"model": "bytedance/seedance-2-mini", "input": {"prompt": "no callback"}}"#
        let quiet = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Data(silent.utf8)))
        XCTAssertEqual(simulator.callbackURLs(forTask: quiet), [])
        clock.advance(1)
        let callbacks = simulator.takeDueCallbacks()
        XCTAssertEqual(callbacks.map(\.kind), [.completion])
        XCTAssertEqual(callbacks[0].headers, ["Content-Type": "application/json"])
    }

    func testLosesTheShareOfCallbacksItIsToldToAndCountsThem() {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 1, seed: 7, callbackDropRate: 0.5), clock: clock.clock, mediaBaseURL: "")
        for _ in 0..<200 { _ = simulator.createTask(authorization: "Bearer k", body: Self.body("x")) }
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
            let ids = (0..<30).compactMap { index -> String? in
                let reply = index % 3 == 0 ? simulator.veoGenerate(authorization: "Bearer k", body: Self.veoBody("x"))
                    : simulator.createTask(authorization: "Bearer k", body: Self.body("x"))
                return KieReply.data(reply)["taskId"]?.stringValue
            }
            clock.advance(5)
            let outcomes = ids.enumerated().map { index, id in
                index % 3 == 0 ? String(KieReply.data(simulator.veoRecordInfo(authorization: "Bearer k", taskID: id))["successFlag"]?.intValue ?? -1)
                    : record(simulator, id)["state"]?.stringValue ?? "?"
            }
            return (ids, outcomes + simulator.takeDueCallbacks().map(\.taskID))
        }
        let first = run(), second = run()
        XCTAssertEqual(first.0.count, 30)
        XCTAssertEqual(first.0, second.0)
        XCTAssertEqual(first.1, second.1)
        XCTAssertTrue(first.1.contains("fail") && first.1.contains("success"), "a 30 % failure rate fails some of 30")
    }

    // MARK: - Statistics, links, settings, threads

    func testStatisticsCountCallsAndQueryGapsInSnakeCase() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(), clock: clock.clock, mediaBaseURL: "http://sim.test/media")
        let id = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Self.body("x")))
        _ = simulator.recordInfo(authorization: "Bearer k", taskID: id)
        clock.advance(4)
        _ = simulator.recordInfo(authorization: "Bearer k", taskID: id)
        clock.advance(1.5)
        _ = simulator.recordInfo(authorization: "Bearer k", taskID: id)
        _ = simulator.credit(authorization: "Bearer k")
        _ = simulator.downloadURL(authorization: "Bearer k", body: Data(#"{"url": "http://sim.test/media/\#(id)-portrait.mp4"}"#.utf8))
        let veo = try KieReply.taskID(simulator.veoGenerate(authorization: "Bearer k", body: Self.veoBody("x")))
        _ = simulator.veoRecordInfo(authorization: "Bearer k", taskID: veo)
        _ = simulator.uploadBase64(authorization: "Bearer k", body: Data(#"{"base64Data": "aGk=", "uploadPath": "t"}"#.utf8))
        _ = simulator.pricingCount()
        let statistics = simulator.statistics()
        XCTAssertEqual(statistics.calls.createTask, 1)
        XCTAssertEqual(statistics.calls.recordInfo, 3)
        XCTAssertEqual(statistics.calls.veoGenerate, 1)
        XCTAssertEqual(statistics.calls.veoRecordInfo, 1)
        XCTAssertEqual(statistics.calls.credit, 1)
        XCTAssertEqual(statistics.calls.downloadURL, 1)
        XCTAssertEqual(statistics.calls.uploads, 1)
        XCTAssertEqual(statistics.calls.pricing, 1)
        XCTAssertEqual(statistics.tasks, 2)
        XCTAssertEqual(statistics.recordInfoPerQueriedTask, 2)
        XCTAssertEqual(statistics.shortestQueryGapSeconds ?? 0, 1.5, accuracy: 0.001)

        let json = try XCTUnwrap(JSON.parse(simulator.statisticsJSON()))
        XCTAssertEqual(json["calls"]?["record_info"]?.intValue, 3)
        XCTAssertEqual(json["calls"]?["create_task"]?.intValue, 1)
        XCTAssertEqual(json["calls"]?["download_url"]?.intValue, 1)
        XCTAssertEqual(json["calls"]?["veo_generate"]?.intValue, 1)
        XCTAssertEqual(json["calls"]?["veo_record_info"]?.intValue, 1)
        XCTAssertEqual(json["calls"]?["uploads"]?.intValue, 1)
        XCTAssertEqual(json["calls"]?["pricing"]?.intValue, 1)
        XCTAssertEqual(json["record_info_per_queried_task"]?.intValue, 2)
        XCTAssertNotNil(json["shortest_query_gap_seconds"])
    }

    func testDownloadURLOnlyForItsOwnVideos() throws {
        let simulator = KieSimulator(settings: .init(), clock: ManualClock().clock, mediaBaseURL: "http://sim.test/media")
        let link = KieReply.data(simulator.downloadURL(authorization: "Bearer k", body: Data(#"{"url": "http://sim.test/media/a-landscape.mp4"}"#.utf8)))
        XCTAssertTrue(link.stringValue?.hasPrefix("http://sim.test/media/a-landscape.mp4?download=") == true, "\(link)")
        let foreign = simulator.downloadURL(authorization: "Bearer k", body: Data(#"{"url": "https://elsewhere.test/a.mp4"}"#.utf8))
        XCTAssertEqual(KieReply.code(foreign), 422)
        XCTAssertEqual(KieReply.msg(foreign), "Only Kie-generated URLs are supported")
        simulator.mediaBaseURL = "http://other.test/m/"
        XCTAssertEqual(simulator.mediaBaseURL, "http://other.test/m")
    }

    func testSettingsFromTheEnvironment() {
        let settings = KieSimulator.Settings.fromEnvironment([
            "PHIM_SIMULATOR_DELAY_SECONDS": "0.5", "PHIM_SIMULATOR_FAILURE_RATE": "0.25", "PHIM_SIMULATOR_RATE_LIMIT": "20",
            "PHIM_SIMULATOR_API_KEY": "sim-key", "PHIM_SIMULATOR_CALLBACK_DROP_RATE": "0.1", "PHIM_SIMULATOR_SEED": "99",
            "KIE_WEBHOOK_HMAC_KEY": "hmac", "PHIM_SIMULATOR_PAUSED_MODELS": " kling-3.0/video, veo3 ,,bytedance/seedance-2 ",
        ])
        XCTAssertEqual(settings.jobDuration, 0.5)
        XCTAssertEqual(settings.failureRate, 0.25)
        XCTAssertEqual(settings.createRateLimitPer10s, 20)
        XCTAssertEqual(settings.expectedAPIKey, "sim-key")
        XCTAssertEqual(settings.callbackDropRate, 0.1)
        XCTAssertEqual(settings.seed, 99)
        XCTAssertEqual(settings.webhookHMACKey, "hmac")
        XCTAssertEqual(settings.pausedModels, ["kling-3.0/video", "veo3", "bytedance/seedance-2"])

        let defaults = KieSimulator.Settings.fromEnvironment(["PHIM_SIMULATOR_RATE_LIMIT": "0", "PHIM_SIMULATOR_DELAY_SECONDS": "soon",
                                                              "PHIM_SIMULATOR_FAILURE_RATE": "2"])
        XCTAssertEqual(defaults.jobDuration, 20)
        XCTAssertEqual(defaults.failureRate, 0)
        XCTAssertNil(defaults.createRateLimitPer10s, "0 turns the limit off")
        XCTAssertNil(defaults.maxRunningTasks)
        XCTAssertEqual(KieSimulator.Settings.fromEnvironment(["PHIM_SIMULATOR_MAX_RUNNING": "40"]).maxRunningTasks, 40)
        XCTAssertNil(defaults.expectedAPIKey)
        XCTAssertNil(defaults.webhookHMACKey)
        XCTAssertNil(defaults.seed)
        XCTAssertEqual(defaults.pausedModels, [])

        // What the environment pauses, the simulator answers as paused.
        let simulator = KieSimulator(settings: settings, clock: ManualClock().clock, mediaBaseURL: "")
        let kling = #"{"model": "kling-3.0/video", "input": {"prompt": "x", "multi_shots": false, "aspect_ratio": "16:9"}}"#
        XCTAssertEqual(KieReply.msg(simulator.createTask(authorization: "Bearer sim-key", body: Data(kling.utf8))),
                       "This interface is temporarily paused")
        XCTAssertEqual(KieReply.msg(simulator.veoGenerate(authorization: "Bearer sim-key", body: Self.veoBody("x", model: "veo3"))),
                       "This interface is temporarily paused")
        XCTAssertEqual(KieReply.code(simulator.createTask(authorization: "Bearer sim-key", body: Self.body("x"))), 200)
    }

    func testManyThreadsAtOnceLoseNothing() {
        let simulator = KieSimulator(settings: .init(), clock: ManualClock().clock, mediaBaseURL: "",
                                     imageFetcher: ScriptedFetcher.standard().fetcher)
        let ids = Locked<Set<String>>([])
        let imageBody = Data(#"{"model": "bytedance/seedance-2-mini", "input": {"prompt": "x", "first_frame_url": "https://img.test/a.png"}}"#.utf8)
        DispatchQueue.concurrentPerform(iterations: 400) { index in
            let reply = switch index % 3 {
            case 0: simulator.createTask(authorization: "Bearer k", body: Self.body("x"))
            case 1: simulator.createTask(authorization: "Bearer k", body: imageBody)
            default: simulator.veoGenerate(authorization: "Bearer k", body: Self.veoBody("x"))
            }
            if let id = KieReply.data(reply)["taskId"]?.stringValue {
                ids.withLock { _ = $0.insert(id) }
                _ = index % 3 == 2 ? simulator.veoRecordInfo(authorization: "Bearer k", taskID: id)
                    : simulator.recordInfo(authorization: "Bearer k", taskID: id)
            }
        }
        XCTAssertEqual(ids.current.count, 400)
        let statistics = simulator.statistics()
        XCTAssertEqual(statistics.calls.recordInfo + statistics.calls.veoRecordInfo, 400)
        XCTAssertEqual(statistics.tasks, 400)
    }
}
