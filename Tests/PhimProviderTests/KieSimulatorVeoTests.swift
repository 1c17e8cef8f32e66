// Veo 3.1's own API: its flat body and rules, record-info's successFlag, and its callback.
@testable import PhimProvider
import PhimSupport
import XCTest

final class KieSimulatorVeoTests: XCTestCase {
    override func setUp() { TestEnvironment.setUp() }

    func makeSimulator(_ clock: ManualClock, key: String? = nil) -> KieSimulator {
        KieSimulator(settings: .init(jobDuration: 10, webhookHMACKey: key, accountCredits: 1_000), clock: clock.clock,
                     mediaBaseURL: "http://sim.test/media", imageFetcher: ScriptedFetcher.standard().fetcher)
    }

    func generate(_ simulator: KieSimulator, _ body: String) -> KieSimulator.Reply {
        simulator.veoGenerate(authorization: "Bearer k", body: Data(body.utf8))
    }

    func info(_ simulator: KieSimulator, _ id: String) -> JSON {
        KieReply.data(simulator.veoRecordInfo(authorization: "Bearer k", taskID: id))
    }

    func balance(_ simulator: KieSimulator) -> Double? { KieReply.number(KieReply.data(simulator.credit(authorization: "Bearer k"))) }

    func testEachTierAndModeGoesFromWaitingToSuccessWithARealArrayOfURLs() throws {
        let clock = ManualClock()
        let simulator = makeSimulator(clock)
        let cases: [(String, Double, String)] = [
            (#"{"prompt": "a cat", "model": "veo3", "aspect_ratio": "16:9", "generationType": "TEXT_2_VIDEO", "enableTranslation": true, "seeds": 12345, "watermark": "", "enableFallback": false}"#, 250, "landscape"),
            (#"{"prompt": "a cat", "model": "veo3_lite", "imageUrls": ["https://img.test/a.png", "https://img.test/b.jpg"], "generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO", "aspectRatio": "9:16"}"#, 30, "portrait"),
            (#"{"prompt": "a cat", "model": "veo3_fast", "imageUrls": ["https://img.test/a.png", "https://img.test/b.jpg", "https://img.test/c.webp"], "generationType": "REFERENCE_2_VIDEO", "aspect_ratio": "Auto"}"#, 60, "landscape"),
            (#"{"prompt": "one image, no type given", "model": "veo3_fast", "imageUrls": ["https://img.test/c.webp"]}"#, 60, "landscape"),
        ]
        var expected = 1_000.0
        var ids: [(String, String, String)] = []
        for (body, price, frame) in cases {
            let id = try KieReply.taskID(generate(simulator, body))
            expected -= price
            XCTAssertEqual(balance(simulator), expected, "debited per clip")
            let waiting = info(simulator, id)
            XCTAssertEqual(waiting["successFlag"]?.intValue, 0)
            XCTAssertEqual(waiting["response"], .null)
            XCTAssertEqual(waiting["completeTime"], .null)
            XCTAssertEqual(waiting["errorCode"], .null)
            XCTAssertEqual(waiting["paramJson"]?.stringValue, body)
            ids.append((id, frame, body))
        }
        clock.advance(5)
        XCTAssertEqual(info(simulator, ids[0].0)["successFlag"]?.intValue, 0, "generating is still 0")
        clock.advance(5)
        for (id, frame, body) in ids {
            let done = info(simulator, id)
            XCTAssertEqual(done["successFlag"]?.intValue, 1, body)
            XCTAssertEqual(done["taskId"]?.stringValue, id)
            let response = try XCTUnwrap(done["response"])
            XCTAssertEqual(response["taskId"]?.stringValue, id)
            guard case .array = response["resultUrls"] else { return XCTFail("resultUrls is not an array: \(response)") }
            XCTAssertEqual(KieReply.strings(response["resultUrls"]), ["http://sim.test/media/\(id)-\(frame).mp4"])
            XCTAssertEqual(KieReply.strings(response["originUrls"]).count, 1)
            XCTAssertEqual(response["resolution"]?.stringValue, "720p")
            XCTAssertEqual(done["errorCode"], .null)
            XCTAssertEqual(done["errorMessage"], .null)
            XCTAssertEqual(done["createTime"]?.intValue, 1_800_000_000_000)
            XCTAssertEqual(done["completeTime"]?.intValue, 1_800_000_010_000)
            XCTAssertEqual(done["fallbackFlag"], .bool(false))
        }
        XCTAssertEqual(balance(simulator), expected, "successes stay billed")
    }

    func testRecordInfoKeysAreVeosInOrder() throws {
        let simulator = makeSimulator(ManualClock())
        let id = try KieReply.taskID(generate(simulator, #"{"prompt": "x", "model": "veo3_fast"}"#))
        let reply = String(decoding: simulator.veoRecordInfo(authorization: "Bearer k", taskID: id).body, as: UTF8.self)
        XCTAssertEqual(reply, #"{"code":200,"msg":"success","data":{"taskId":"\#(id)","paramJson":"{\"prompt\": \"x\", \"model\": \"veo3_fast\"}","completeTime":null,"response":null,"successFlag":0,"errorCode":null,"errorMessage":null,"createTime":1800000000000,"fallbackFlag":false}}"#)
        XCTAssertEqual(String(decoding: simulator.veoRecordInfo(authorization: "Bearer k", taskID: "nope").body, as: UTF8.self),
                       #"{"code":422,"msg":"recordInfo is null","data":null}"#)
    }

    func testRefusesWhatVeoRefuses() {
        let simulator = makeSimulator(ManualClock())
        let cases: [(String, String, Int, String)] = [
            ("1:1", #"{"prompt": "x", "model": "veo3_fast", "aspect_ratio": "1:1"}"#, 422, "Ratio error"),
            ("1:1, old spelling", #"{"prompt": "x", "model": "veo3", "aspectRatio": "1:1"}"#, 422, "Ratio error"),
            ("a ratio that is not a string", #"{"prompt": "x", "model": "veo3", "aspect_ratio": 1.77}"#,
             422, #"aspect_ratio: expected a string, one of "16:9", "9:16", "Auto""#),
            ("both spellings", #"{"prompt": "x", "model": "veo3_fast", "aspect_ratio": "16:9", "aspectRatio": "16:9"}"#,
             422, "aspectRatio: cannot be sent together with aspect_ratio"),
            ("references on Lite", #"{"prompt": "x", "model": "veo3_lite", "imageUrls": ["https://img.test/a.png"], "generationType": "REFERENCE_2_VIDEO"}"#,
             422, "generationType: REFERENCE_2_VIDEO is only for veo3_fast"),
            ("references on Quality", #"{"prompt": "x", "model": "veo3", "imageUrls": ["https://img.test/a.png"], "generationType": "REFERENCE_2_VIDEO"}"#,
             422, "generationType: REFERENCE_2_VIDEO is only for veo3_fast"),
            ("images with text-to-video", #"{"prompt": "x", "model": "veo3_fast", "imageUrls": ["https://img.test/a.png"], "generationType": "TEXT_2_VIDEO"}"#,
             422, "imageUrls: not accepted with generationType TEXT_2_VIDEO"),
            ("three frames", #"{"prompt": "x", "model": "veo3_fast", "imageUrls": ["https://img.test/a.png", "https://img.test/a.png", "https://img.test/a.png"], "generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO"}"#,
             422, "imageUrls: expected 1..2 images for FIRST_AND_LAST_FRAMES_2_VIDEO"),
            ("frames without images", #"{"prompt": "x", "model": "veo3_fast", "generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO"}"#,
             500, "This field is required: imageUrls"),
            ("four references", #"{"prompt": "x", "model": "veo3_fast", "imageUrls": ["https://img.test/a.png", "https://img.test/a.png", "https://img.test/a.png", "https://img.test/a.png"], "generationType": "REFERENCE_2_VIDEO"}"#,
             422, "imageUrls: expected an array of at most 3 http(s) URL strings"),
            ("no prompt", #"{"model": "veo3_fast"}"#, 500, "This field is required: prompt"),
            ("a prompt over 2000", #"{"prompt": "\#(String(repeating: "b", count: 2_001))", "model": "veo3_fast"}"#,
             422, "prompt: expected a string of 1..2000 characters"),
            ("no model", #"{"prompt": "x"}"#, 500, "This field is required: model"),
            ("an unknown tier", #"{"prompt": "x", "model": "veo4"}"#, 422, #"model: expected a string, one of "veo3", "veo3_fast", "veo3_lite""#),
            ("a Market id", #"{"prompt": "x", "model": "kling-3.0/video"}"#, 422, #"model: expected a string, one of "veo3", "veo3_fast", "veo3_lite""#),
            ("a Market body", #"{"model": "veo3_fast", "input": {"prompt": "x"}}"#, 422, "input: Veo takes a flat body, without input"),
            ("a duration", #"{"prompt": "x", "model": "veo3_fast", "duration": 8}"#, 422, "duration: Veo clips are a fixed 8 s"),
            ("an unknown field", #"{"prompt": "x", "model": "veo3_fast", "negativePrompt": "y"}"#, 422, "negativePrompt: unknown field for veo3_fast"),
            ("seeds out of range", #"{"prompt": "x", "model": "veo3_fast", "seeds": 5}"#, 422, "seeds: expected an integer, 10000..99999"),
            ("seeds as a string", #"{"prompt": "x", "model": "veo3_fast", "seeds": "12345"}"#, 422, "seeds: expected an integer, 10000..99999"),
            ("translation as a string", #"{"prompt": "x", "model": "veo3_fast", "enableTranslation": "true"}"#,
             422, "enableTranslation: expected a boolean (true or false)"),
            ("a bad callback URL", #"{"prompt": "x", "model": "veo3_fast", "callBackUrl": "not a url"}"#,
             422, "callBackUrl: expected a string holding an http(s) URL"),
            ("the generation type in lower case", #"{"prompt": "x", "model": "veo3_fast", "generationType": "text_2_video"}"#,
             422, #"generationType: expected a string, one of "TEXT_2_VIDEO", "FIRST_AND_LAST_FRAMES_2_VIDEO", "REFERENCE_2_VIDEO""#),
            ("not JSON", "prompt=x", 422, "Invalid request body"),
        ]
        for (what, body, code, message) in cases {
            let reply = generate(simulator, body)
            XCTAssertEqual(KieReply.code(reply), code, "\(what): \(KieReply.msg(reply))")
            XCTAssertEqual(KieReply.msg(reply), message, what)
        }
        XCTAssertEqual(simulator.statistics().tasks, 0)
        XCTAssertEqual(balance(simulator), 1_000)
    }

    func testFailuresUseFlagThreeOrTwoAndAreRefunded() throws {
        let clock = ManualClock()
        let simulator = makeSimulator(clock)
        let failing = try KieReply.taskID(generate(simulator, #"{"prompt": "boom #fail", "model": "veo3"}"#))
        let rejected = try KieReply.taskID(generate(simulator, #"{"prompt": "nsfw #reject", "model": "veo3"}"#))
        XCTAssertEqual(balance(simulator), 500)
        clock.advance(10)
        let failed = info(simulator, failing)
        XCTAssertEqual(failed["successFlag"]?.intValue, 3, "created but generation failed")
        XCTAssertEqual(failed["errorCode"]?.intValue, 501)
        XCTAssertEqual(failed["errorMessage"]?.stringValue, "Internal error: video generation failed (simulated)")
        XCTAssertEqual(failed["response"], .null)
        XCTAssertEqual(failed["completeTime"]?.intValue, 1_800_000_010_000)
        let refused = info(simulator, rejected)
        XCTAssertEqual(refused["successFlag"]?.intValue, 2)
        XCTAssertEqual(refused["errorCode"]?.intValue, 400)
        XCTAssertTrue(refused["errorMessage"]?.stringValue?.contains("content policy") == true)
        XCTAssertEqual(balance(simulator), 1_000, "both refunded")
    }

    func testCallbacksAreSignedAndShapedLikeVeos() throws {
        let clock = ManualClock()
        let simulator = makeSimulator(clock, key: "veo-key")
        let fine = try KieReply.taskID(generate(simulator, #"{"prompt": "x", "model": "veo3_fast", "aspect_ratio": "9:16", "callBackUrl": "https://phim.test/veo"}"#))
        let failing = try KieReply.taskID(generate(simulator, #"{"prompt": "x #fail", "model": "veo3_fast", "callBackUrl": "https://phim.test/veo"}"#))
        let rejected = try KieReply.taskID(generate(simulator, #"{"prompt": "x #reject", "model": "veo3_fast", "callBackUrl": "https://phim.test/veo"}"#))
        _ = try KieReply.taskID(generate(simulator, #"{"prompt": "no callback", "model": "veo3_fast"}"#))
        clock.advance(5)
        XCTAssertEqual(simulator.takeDueCallbacks(), [], "no progress callbacks for Veo")
        clock.advance(5)
        let callbacks = simulator.takeDueCallbacks()
        XCTAssertEqual(Set(callbacks.map(\.taskID)), [fine, failing, rejected])
        for callback in callbacks {
            XCTAssertEqual(callback.kind, .completion)
            XCTAssertEqual(callback.url, "https://phim.test/veo")
            let timestamp = try XCTUnwrap(callback.headers["X-Webhook-Timestamp"])
            XCTAssertEqual(callback.headers["X-Webhook-Signature"], KieWire.webhookSignature(taskID: callback.taskID, timestamp: timestamp, key: "veo-key"))
            let text = String(decoding: callback.body, as: UTF8.self)
            switch callback.taskID {
            case fine:
                let url = "http://sim.test/media/\(fine)-portrait.mp4"
                XCTAssertEqual(text, #"{"code":200,"msg":"Veo3.1 video generated successfully.","data":{"taskId":"\#(fine)","info":{"resultUrls":["\#(url)"],"originUrls":["\#(url)"],"resolution":"720p"},"fallbackFlag":false}}"#)
            case failing:
                XCTAssertEqual(text, #"{"code":501,"msg":"Internal error: video generation failed (simulated)","data":{"taskId":"\#(failing)","info":null,"fallbackFlag":false}}"#)
            default:
                XCTAssertEqual(JSON.parse(callback.body)?["code"]?.intValue, 400, "a content-policy rejection")
                XCTAssertEqual(JSON.parse(callback.body)?["data"]?["info"], .null)
            }
        }
        XCTAssertEqual(simulator.takeDueCallbacks(), [])
    }
}
