// Images are fetched as Kie fetches them: a bad one fails the task (created, then failed and refunded), never the create.
@testable import PhimProvider
import PhimSupport
import XCTest

final class KieSimulatorImageTests: XCTestCase {
    override func setUp() { TestEnvironment.setUp() }

    func balance(_ simulator: KieSimulator) -> Double? { KieReply.number(KieReply.data(simulator.credit(authorization: "Bearer k"))) }

    static func seedance(_ image: String) -> Data {
        Data(#"{"model": "bytedance/seedance-2-mini", "callBackUrl": "https://phim.test/cb", "input": {"prompt": "x", "first_frame_url": "\#(image)", "resolution": "480p", "duration": 5}}"#.utf8)
    }

    static func veo(_ image: String) -> Data {
        Data(#"{"prompt": "x", "model": "veo3_fast", "imageUrls": ["\#(image)"], "generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO", "callBackUrl": "https://phim.test/veo"}"#.utf8)
    }

    func testAnImageThatCannotBeFetchedOrIsNotAnImageFailsTheTaskAtOnceAndIsRefunded() throws {
        let clock = ManualClock()
        let fetcher = ScriptedFetcher.standard()
        let simulator = KieSimulator(settings: .init(jobDuration: 10, accountCredits: 100), clock: clock.clock,
                                     mediaBaseURL: "http://sim.test/media", imageFetcher: fetcher.fetcher)
        for (url, message) in [("https://img.test/missing.png", "Failed to fetch the image"),
                               ("https://img.test/page.png", "The image format is not supported")] {
            let id = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Self.seedance(url)))
            let record = KieReply.data(simulator.recordInfo(authorization: "Bearer k", taskID: id))
            XCTAssertEqual(record["state"]?.stringValue, "fail", "its first record already says fail")
            XCTAssertEqual(record["failCode"]?.stringValue, "500")
            XCTAssertEqual(record["failMsg"]?.stringValue, message)
            XCTAssertEqual(KieReply.number(record["creditsConsumed"]), 0)
            XCTAssertEqual(record["completeTime"]?.intValue, 1_800_000_000_000)
        }
        XCTAssertEqual(balance(simulator), 100, "both refunded")
        XCTAssertEqual(fetcher.fetched, ["https://img.test/missing.png", "https://img.test/page.png"])
        let callbacks = simulator.takeDueCallbacks()
        XCTAssertEqual(callbacks.count, 2, "the failure callbacks are due at once")
        XCTAssertEqual(callbacks.compactMap { JSON.parse($0.body)?["code"]?.intValue }, [501, 501])

        // The same for Veo, in its terms.
        let id = try KieReply.taskID(simulator.veoGenerate(authorization: "Bearer k", body: Self.veo("https://img.test/missing.png")))
        let info = KieReply.data(simulator.veoRecordInfo(authorization: "Bearer k", taskID: id))
        XCTAssertEqual(info["successFlag"]?.intValue, 3)
        XCTAssertEqual(info["errorCode"]?.intValue, 400)
        XCTAssertEqual(info["errorMessage"]?.stringValue, "Failed to fetch the image")
        XCTAssertEqual(balance(simulator), 100)
        XCTAssertEqual(JSON.parse(try XCTUnwrap(simulator.takeDueCallbacks().first).body)?["code"]?.intValue, 400)
    }

    func testMarketModelsReadTheBytesWhileVeoAlsoChecksTheDeclaredType() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 10), clock: clock.clock, mediaBaseURL: "http://sim.test/media",
                                     imageFetcher: ScriptedFetcher.standard().fetcher)
        let market = try ["https://img.test/a.png", "https://img.test/b.jpg", "https://img.test/c.webp", "https://img.test/jpeg-as-png.png"].map {
            try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Self.seedance($0)))
        }
        let veoFine = try ["https://img.test/a.png", "https://img.test/b.jpg", "https://img.test/c.webp"].map {
            try KieReply.taskID(simulator.veoGenerate(authorization: "Bearer k", body: Self.veo($0)))
        }
        let veoMismatch = try KieReply.taskID(simulator.veoGenerate(authorization: "Bearer k", body: Self.veo("https://img.test/jpeg-as-png.png")))
        let mismatch = KieReply.data(simulator.veoRecordInfo(authorization: "Bearer k", taskID: veoMismatch))
        XCTAssertEqual(mismatch["successFlag"]?.intValue, 3)
        XCTAssertTrue(mismatch["errorMessage"]?.stringValue?.contains("unable to generate audio") == true, "\(mismatch)")
        clock.advance(10)
        for id in market {
            XCTAssertEqual(KieReply.data(simulator.recordInfo(authorization: "Bearer k", taskID: id))["state"]?.stringValue, "success")
        }
        for id in veoFine {
            XCTAssertEqual(KieReply.data(simulator.veoRecordInfo(authorization: "Bearer k", taskID: id))["successFlag"]?.intValue, 1)
        }
    }

    func testEveryImageFieldIsFetchedInOrderAndTheFirstBadOneFailsTheTask() throws {
        let fetcher = ScriptedFetcher.standard()
        let simulator = KieSimulator(settings: .init(), clock: ManualClock().clock, mediaBaseURL: "", imageFetcher: fetcher.fetcher)
        let frames = #"{"model": "wan/3-0-video", "input": {"prompt": "x", "first_frame_url": "https://img.test/a.png", "last_frame_url": "https://img.test/page.png"}}"#
        let id = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Data(frames.utf8)))
        XCTAssertEqual(KieReply.data(simulator.recordInfo(authorization: "Bearer k", taskID: id))["failMsg"]?.stringValue,
                       "The image format is not supported")
        let references = #"{"model": "bytedance/seedance-2", "input": {"prompt": "x", "reference_image_urls": ["https://img.test/b.jpg", "https://img.test/c.webp"], "reference_video_urls": ["https://vid.test/v.mp4"], "reference_audio_urls": ["https://aud.test/a.mp3"]}}"#
        _ = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Data(references.utf8)))
        let kling = #"{"model": "kling-3.0/video", "input": {"prompt": "x", "image_urls": ["https://img.test/c.webp", "https://img.test/a.png"], "multi_shots": false}}"#
        _ = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Data(kling.utf8)))
        let grokFromTask = #"{"model": "grok-imagine/image-to-video", "input": {"task_id": "t", "index": 0}}"#
        _ = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Data(grokFromTask.utf8)))
        XCTAssertEqual(fetcher.fetched, ["https://img.test/a.png", "https://img.test/page.png",
                                         "https://img.test/b.jpg", "https://img.test/c.webp",
                                         "https://img.test/c.webp", "https://img.test/a.png"],
                       "images only: reference videos and audio, and an earlier Grok task, are not fetched")
    }

    func testTheLockIsNotHeldWhileFetching() throws {
        let holder = Locked<KieSimulator?>(nil)
        let fetcher: ImageFetcher = { _ in
            // Reentering the simulator from the fetcher would deadlock if the create held its lock.
            _ = holder.current?.statistics()
            return FetchedImage(contentType: "image/png", bytes: TestImages.png)
        }
        let simulator = KieSimulator(settings: .init(), clock: ManualClock().clock, mediaBaseURL: "", imageFetcher: fetcher)
        holder.withLock { $0 = simulator }
        let done = DispatchSemaphore(value: 0)
        let reply = Locked<KieSimulator.Reply?>(nil)
        startThread(name: "test-fetch") {
            reply.withLock { $0 = simulator.createTask(authorization: "Bearer k", body: Self.seedance("https://img.test/a.png")) }
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success, "the create deadlocked on its own lock")
        XCTAssertEqual(KieReply.code(try XCTUnwrap(reply.current)), 200)
    }

    func testImageMagicBytes() {
        XCTAssertEqual(SimulatorImages.kind(of: TestImages.png), .png)
        XCTAssertEqual(SimulatorImages.kind(of: TestImages.jpeg), .jpeg)
        XCTAssertEqual(SimulatorImages.kind(of: TestImages.webp), .webp)
        XCTAssertNil(SimulatorImages.kind(of: TestImages.text))
        XCTAssertNil(SimulatorImages.kind(of: Data("GIF89a......".utf8)))
        XCTAssertNil(SimulatorImages.kind(of: Data(Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WAVE".utf8))), "a RIFF that is not WebP")
        XCTAssertNil(SimulatorImages.kind(of: Data([0xFF, 0xD8])))
        XCTAssertNil(SimulatorImages.kind(of: Data()))
        XCTAssertEqual(SimulatorImages.problem(with: FetchedImage(contentType: "image/png; charset=binary", bytes: TestImages.png), family: .veo), nil)
        XCTAssertNotNil(SimulatorImages.problem(with: FetchedImage(contentType: nil, bytes: TestImages.png), family: .veo))
        XCTAssertNil(SimulatorImages.problem(with: FetchedImage(contentType: nil, bytes: TestImages.png), family: .market))
        XCTAssertEqual(SimulatorImages.problem(with: FetchedImage(contentType: "image/png", bytes: TestImages.png + Data(count: 10 << 20)),
                                               family: .market), "Failed to fetch the image", "over 10 MB")
    }

    // MARK: - Kie's own upload host as the image source

    func testAnUploadedPNGNamedPngWorksForVeoButTheSameBytesNamedJpgFail() throws {
        let clock = ManualClock()
        // No injected fetcher: the simulator serves its own uploads from memory.
        let simulator = KieSimulator(settings: .init(jobDuration: 10), clock: clock.clock, mediaBaseURL: "http://sim.test/media")
        simulator.uploadBaseURL = "http://uploads.test"
        func upload(_ name: String) throws -> String {
            let body = #"{"base64Data": "\#(TestImages.png.base64EncodedString())", "uploadPath": "phim", "fileName": "\#(name)"}"#
            let reply = simulator.uploadBase64(authorization: "Bearer k", body: Data(body.utf8))
            return try XCTUnwrap(KieReply.data(reply)["downloadUrl"]?.stringValue, KieReply.msg(reply))
        }
        let png = try upload("x.png")
        let jpg = try upload("x.jpg")
        XCTAssertTrue(png.hasPrefix("http://uploads.test/kieai/"), png)
        let good = try KieReply.taskID(simulator.veoGenerate(authorization: "Bearer k", body: Self.veo(png)))
        let bad = try KieReply.taskID(simulator.veoGenerate(authorization: "Bearer k", body: Self.veo(jpg)))
        let market = try KieReply.taskID(simulator.createTask(authorization: "Bearer k", body: Self.seedance(jpg)))
        let failed = KieReply.data(simulator.veoRecordInfo(authorization: "Bearer k", taskID: bad))
        XCTAssertEqual(failed["successFlag"]?.intValue, 3)
        XCTAssertEqual(failed["errorMessage"]?.stringValue, "The Google model was unable to generate audio")
        clock.advance(10)
        XCTAssertEqual(KieReply.data(simulator.veoRecordInfo(authorization: "Bearer k", taskID: good))["successFlag"]?.intValue, 1)
        XCTAssertEqual(KieReply.data(simulator.recordInfo(authorization: "Bearer k", taskID: market))["state"]?.stringValue, "success",
                       "Market models tolerate the mismatch")

        // An upload that expired is gone: Kie cannot fetch it any more.
        clock.advance(24 * 3600)
        let late = try KieReply.taskID(simulator.veoGenerate(authorization: "Bearer k", body: Self.veo(png)))
        XCTAssertEqual(KieReply.data(simulator.veoRecordInfo(authorization: "Bearer k", taskID: late))["errorMessage"]?.stringValue,
                       "Failed to fetch the image")
    }
}
