// Every Market model takes a correct body per mode and bills its list price, and refuses what Kie refuses, naming the field.
@testable import PhimProvider
import PhimSupport
import XCTest

final class KieSimulatorModelRulesTests: XCTestCase {
    override func setUp() { TestEnvironment.setUp() }

    static let start = 100_000.0

    func makeSimulator(_ clock: ManualClock) -> KieSimulator {
        KieSimulator(settings: .init(jobDuration: 10, accountCredits: Int(Self.start)), clock: clock.clock,
                     mediaBaseURL: "http://sim.test/media", imageFetcher: ScriptedFetcher.standard().fetcher)
    }

    func balance(_ simulator: KieSimulator) -> Double {
        KieReply.number(KieReply.data(simulator.credit(authorization: "Bearer k"))) ?? -1
    }

    /// One correct create per model and mode, with its list price in credits and the frame it asks for.
    static let accepted: [(name: String, body: String, price: Double, portrait: Bool)] = [
        ("Seedance 2 Mini, text, 480p 5 s", #"{"model": "bytedance/seedance-2-mini", "callBackUrl": "https://phim.test/cb", "input": {"prompt": "a cat", "resolution": "480p", "aspect_ratio": "9:16", "duration": 5, "generate_audio": true, "web_search": false}}"#, 19, true),
        ("Seedance 2 Mini, first frame, 720p 4 s", #"{"model": "bytedance/seedance-2-mini", "input": {"prompt": "a cat", "first_frame_url": "https://img.test/a.png", "resolution": "720p", "aspect_ratio": "adaptive", "duration": 4, "return_last_frame": true}}"#, 32.8, false),
        ("Seedance 2 Mini, references, 480p 10 s", #"{"model": "bytedance/seedance-2-mini", "input": {"prompt": "a cat", "reference_image_urls": ["https://img.test/a.png", "https://img.test/b.jpg"], "reference_video_urls": ["https://vid.test/v.mp4"], "reference_audio_urls": ["https://aud.test/a.mp3"], "resolution": "480p", "aspect_ratio": "3:4", "duration": 10}}"#, 38, true),
        ("Seedance 2 Fast, text, 720p 15 s", #"{"model": "bytedance/seedance-2-fast", "input": {"prompt": "a cat", "resolution": "720p", "aspect_ratio": "21:9", "duration": 15}}"#, 372, false),
        ("Seedance 2 Fast, first and last frame, 480p 4 s", #"{"model": "bytedance/seedance-2-fast", "input": {"prompt": "a cat", "first_frame_url": "https://img.test/a.png", "last_frame_url": "https://img.test/c.webp", "resolution": "480p", "duration": 4}}"#, 46.8, false),
        ("Seedance 2, text, 1080p 5 s", #"{"model": "bytedance/seedance-2", "input": {"prompt": "a cat", "resolution": "1080p", "aspect_ratio": "16:9", "duration": 5}}"#, 510, false),
        ("Seedance 2, references, 720p 4 s", #"{"model": "bytedance/seedance-2", "input": {"prompt": "a cat", "reference_image_urls": ["https://img.test/b.jpg"], "resolution": "720p", "duration": 4}}"#, 164, false),
        ("Grok, text, 480p 6 s", #"{"model": "grok-imagine/text-to-video", "input": {"prompt": "a cat", "aspect_ratio": "2:3", "mode": "normal", "duration": "6", "resolution": "480p"}}"#, 14.4, true),
        ("Grok, text, spicy 720p 15 s", #"{"model": "grok-imagine/text-to-video", "input": {"prompt": "a cat", "aspect_ratio": "16:9", "mode": "spicy", "duration": "15", "resolution": "720p"}}"#, 67.5, false),
        ("Grok, image, 720p 10 s", #"{"model": "grok-imagine/image-to-video", "input": {"image_urls": ["https://img.test/b.jpg"], "prompt": "it moves", "mode": "fun", "duration": "10", "resolution": "720p"}}"#, 45, false),
        ("Grok, image without prompt, 480p 6 s", #"{"model": "grok-imagine/image-to-video", "input": {"image_urls": ["https://img.test/a.png"], "duration": "6", "resolution": "480p"}}"#, 14.4, false),
        ("Grok, an earlier Grok image, spicy", #"{"model": "grok-imagine/image-to-video", "input": {"task_id": "grok-image-task", "index": 5, "mode": "spicy", "duration": "10", "resolution": "480p"}}"#, 24, false),
        ("Kling 3.0, text, std with sound 5 s", #"{"model": "kling-3.0/video", "callBackUrl": "https://phim.test/cb", "input": {"prompt": "a cat", "aspect_ratio": "9:16", "duration": "5", "mode": "std", "sound": true, "multi_shots": false}}"#, 100, true),
        ("Kling 3.0, first and last frame, pro 10 s, no aspect", #"{"model": "kling-3.0/video", "input": {"prompt": "a cat", "image_urls": ["https://img.test/a.png", "https://img.test/b.jpg"], "duration": "10", "mode": "pro", "sound": false, "multi_shots": false}}"#, 180, false),
        ("Kling 3.0, image with aspect, pro with sound 3 s", #"{"model": "kling-3.0/video", "input": {"prompt": "a cat", "image_urls": ["https://img.test/c.webp"], "aspect_ratio": "1:1", "duration": "3", "mode": "pro", "sound": true, "multi_shots": false, "kling_elements": []}}"#, 81, false),
        ("Kling 3.0, multi-shot 4K 15 s", #"{"model": "kling-3.0/video", "input": {"aspect_ratio": "16:9", "duration": "15", "mode": "4K", "multi_shots": true, "multi_prompt": [{"prompt": "a cat wakes", "duration": 5}, {"prompt": "it leaps", "duration": 10}]}}"#, 1_005, false),
        ("Wan 3.0, text, 720P 10 s", #"{"model": "wan/3-0-video", "input": {"prompt": "a cat", "resolution": "720P", "aspect_ratio": "16:9", "duration": 10, "audio": true, "seed": 42, "nsfw_checker": false}}"#, 160, false),
        ("Wan 3.0, first frame, 480P 5 s", #"{"model": "wan/3-0-video", "input": {"prompt": "a cat", "first_frame_url": "https://img.test/a.png", "last_frame_url": "https://img.test/b.jpg", "resolution": "480P", "aspect_ratio": "9:16", "duration": 5}}"#, 40, true),
        ("Wan 3.0, smart duration billed as 5 s", #"{"model": "wan/3-0-video", "input": {"prompt": "a cat", "resolution": "480P", "duration": -1}}"#, 40, false),
        ("Wan 3.0 Prime, references, 1080P 4 s", #"{"model": "wan/3-0-video-prime", "input": {"prompt": "a cat", "reference_image_urls": ["https://img.test/c.webp"], "reference_video_urls": ["https://vid.test/v.mp4"], "resolution": "1080P", "aspect_ratio": "4:3", "duration": 4}}"#, 201.6, false),
        ("Wan 3.0 Prime, default 1080P 30 s", #"{"model": "wan/3-0-video-prime", "input": {"prompt": "a cat", "duration": 30}}"#, 1_512, false),
    ]

    func testEveryMarketModelAcceptsACorrectBodyPerModeAndBillsItsListPrice() throws {
        let clock = ManualClock()
        let simulator = makeSimulator(clock)
        var expected = Self.start
        var created: [(String, String, Double, Bool)] = []
        for (name, body, price, portrait) in Self.accepted {
            let reply = simulator.createTask(authorization: "Bearer k", body: Data(body.utf8))
            let id = try KieReply.taskID(reply)
            expected -= price
            XCTAssertEqual(balance(simulator), expected, accuracy: 0.0001, "\(name): debited its list price at create")
            created.append((name, id, price, portrait))
        }
        clock.advance(10)
        for (name, id, price, portrait) in created {
            let record = KieReply.data(simulator.recordInfo(authorization: "Bearer k", taskID: id))
            XCTAssertEqual(record["state"]?.stringValue, "success", "\(name): \(record["failMsg"]?.stringValue ?? "")")
            XCTAssertEqual(KieReply.number(record["creditsConsumed"]) ?? -1, price, accuracy: 0.0001, name)
            XCTAssertEqual(KieReply.resultURLs(record), ["http://sim.test/media/\(id)-\(portrait ? "portrait" : "landscape").mp4"], name)
        }
        XCTAssertEqual(balance(simulator), expected, accuracy: 0.0001, "successes are not refunded")
    }

    func testTheAcceptedBodiesCoverEveryMarketModel() {
        let covered = Set(Self.accepted.compactMap { JSON.parse(Data($0.body.utf8))?["model"]?.stringValue })
        let market = Set(KieModelRules.all.filter { $0.family == .market }.map(\.id))
        XCTAssertEqual(covered, market, "a model added to the table needs a body here")
        XCTAssertEqual(market, ["bytedance/seedance-2-mini", "bytedance/seedance-2-fast", "bytedance/seedance-2",
                                "grok-imagine/text-to-video", "grok-imagine/image-to-video", "kling-3.0/video",
                                "wan/3-0-video", "wan/3-0-video-prime"])
    }

    /// Refused creates: (what, body, code, Kie's message). Nothing is created or billed.
    static let refused: [(String, String, Int, String)] = [
        // The JSON type of the duration, model by model.
        ("Kling duration as a number", #"{"model": "kling-3.0/video", "input": {"prompt": "x", "aspect_ratio": "16:9", "duration": 5, "multi_shots": false}}"#,
         422, #"input.duration: expected a string, one of "3".."15""#),
        ("Kling duration out of range", #"{"model": "kling-3.0/video", "input": {"prompt": "x", "aspect_ratio": "16:9", "duration": "20", "multi_shots": false}}"#,
         422, #"input.duration: expected a string, one of "3".."15""#),
        ("Grok duration as a number", #"{"model": "grok-imagine/text-to-video", "input": {"prompt": "x", "duration": 6}}"#,
         422, #"input.duration: expected a string, one of "6", "10", "15""#),
        ("Grok image duration as a number", #"{"model": "grok-imagine/image-to-video", "input": {"image_urls": ["https://img.test/a.png"], "duration": 10}}"#,
         422, #"input.duration: expected a string, one of "6", "10", "15""#),
        ("Seedance duration as a string", #"{"model": "bytedance/seedance-2-mini", "input": {"prompt": "x", "duration": "5"}}"#,
         422, "input.duration: expected an integer, 4..15"),
        ("Seedance duration too short", #"{"model": "bytedance/seedance-2-fast", "input": {"prompt": "x", "duration": 3}}"#,
         422, "input.duration: expected an integer, 4..15"),
        ("Seedance duration not whole", #"{"model": "bytedance/seedance-2", "input": {"prompt": "x", "duration": 5.5}}"#,
         422, "input.duration: expected an integer, 4..15"),
        ("Wan duration as a string", #"{"model": "wan/3-0-video", "input": {"prompt": "x", "duration": "5"}}"#,
         422, "input.duration: expected an integer, 2..30 or -1"),
        // The case of the resolution.
        ("Wan resolution in lower case", #"{"model": "wan/3-0-video", "input": {"prompt": "x", "resolution": "720p"}}"#,
         422, #"input.resolution: expected a string, one of "480P", "720P", "1080P""#),
        ("Seedance resolution in upper case", #"{"model": "bytedance/seedance-2-mini", "input": {"prompt": "x", "resolution": "720P"}}"#,
         422, #"input.resolution: expected a string, one of "480p", "720p""#),
        ("Seedance Mini has no 1080p", #"{"model": "bytedance/seedance-2-mini", "input": {"prompt": "x", "resolution": "1080p"}}"#,
         422, #"input.resolution: expected a string, one of "480p", "720p""#),
        ("Grok has no 1080p", #"{"model": "grok-imagine/text-to-video", "input": {"prompt": "x", "resolution": "1080p"}}"#,
         422, #"input.resolution: expected a string, one of "480p", "720p""#),
        ("Kling mode in the wrong case", #"{"model": "kling-3.0/video", "input": {"prompt": "x", "aspect_ratio": "16:9", "mode": "4k", "multi_shots": false}}"#,
         422, #"input.mode: expected a string, one of "std", "pro", "4K""#),
        // Aspect ratios a model does not offer.
        ("Kling 4:3", #"{"model": "kling-3.0/video", "input": {"prompt": "x", "aspect_ratio": "4:3", "multi_shots": false}}"#,
         422, #"input.aspect_ratio: expected a string, one of "16:9", "9:16", "1:1""#),
        ("Grok adaptive", #"{"model": "grok-imagine/text-to-video", "input": {"prompt": "x", "aspect_ratio": "adaptive"}}"#,
         422, #"input.aspect_ratio: expected a string, one of "2:3", "3:2", "1:1", "16:9", "9:16""#),
        ("Seedance landscape (a Sora word)", #"{"model": "bytedance/seedance-2-mini", "input": {"prompt": "x", "aspect_ratio": "landscape"}}"#,
         422, #"input.aspect_ratio: expected a string, one of "16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive""#),
        // Unknown fields, typos included.
        ("the docs' own typo", #"{"model": "bytedance/seedance-2-mini", "input": {"prompt": "x", "reference_video_urls ": ["https://vid.test/v.mp4"]}}"#,
         422, "input.reference_video_urls : unknown field for bytedance/seedance-2-mini"),
        ("a Sora field", #"{"model": "bytedance/seedance-2-mini", "input": {"prompt": "x", "n_frames": "10"}}"#,
         422, "input.n_frames: unknown field for bytedance/seedance-2-mini"),
        ("image_urls on Seedance", #"{"model": "bytedance/seedance-2-mini", "input": {"prompt": "x", "image_urls": ["https://img.test/a.png"]}}"#,
         422, "input.image_urls: not a Seedance field (use first_frame_url / last_frame_url, or reference_image_urls)"),
        ("sound on Wan", #"{"model": "wan/3-0-video", "input": {"prompt": "x", "sound": true}}"#,
         422, "input.sound: unknown field for wan/3-0-video"),
        // Missing prompts.
        ("Seedance without a prompt", #"{"model": "bytedance/seedance-2-mini", "input": {"duration": 5}}"#, 500, "This field is required: input.prompt"),
        ("Grok without a prompt", #"{"model": "grok-imagine/text-to-video", "input": {"duration": "6"}}"#, 500, "This field is required: input.prompt"),
        ("Wan without a prompt", #"{"model": "wan/3-0-video-prime", "input": {}}"#, 500, "This field is required: input.prompt"),
        ("Kling without a prompt", #"{"model": "kling-3.0/video", "input": {"aspect_ratio": "16:9", "multi_shots": false}}"#,
         500, "This field is required: input.prompt"),
        ("an empty prompt", #"{"model": "bytedance/seedance-2-mini", "input": {"prompt": ""}}"#,
         422, "input.prompt: expected a string of 1..20000 characters"),
        ("a null prompt", #"{"model": "bytedance/seedance-2-mini", "input": {"prompt": null}}"#, 500, "This field is required: input.prompt"),
        ("a Kling prompt over 2500", #"{"model": "kling-3.0/video", "input": {"prompt": "\#(String(repeating: "a", count: 2_501))", "aspect_ratio": "16:9", "multi_shots": false}}"#,
         422, "input.prompt: expected a string of 1..2500 characters"),
        // Grok's two modes.
        ("images on Grok text-to-video", #"{"model": "grok-imagine/text-to-video", "input": {"prompt": "x", "image_urls": ["https://img.test/a.png"]}}"#,
         422, "input.image_urls: text-to-video takes no images (grok-imagine/image-to-video does)"),
        ("aspect_ratio on Grok image-to-video", #"{"model": "grok-imagine/image-to-video", "input": {"image_urls": ["https://img.test/a.png"], "aspect_ratio": "16:9"}}"#,
         422, "input.aspect_ratio: not accepted by image-to-video (the output follows the image)"),
        ("Grok image-to-video without an image", #"{"model": "grok-imagine/image-to-video", "input": {"prompt": "x"}}"#,
         500, "This field is required: input.image_urls"),
        ("Grok two images", #"{"model": "grok-imagine/image-to-video", "input": {"image_urls": ["https://img.test/a.png", "https://img.test/b.jpg"]}}"#,
         422, "input.image_urls: expected an array of exactly 1 http(s) URL strings"),
        ("Grok image and task_id", #"{"model": "grok-imagine/image-to-video", "input": {"image_urls": ["https://img.test/a.png"], "task_id": "t", "index": 0}}"#,
         422, "input.task_id: cannot be combined with input.image_urls"),
        ("Grok task_id without index", #"{"model": "grok-imagine/image-to-video", "input": {"task_id": "t"}}"#, 500, "This field is required: input.index"),
        ("Grok index out of range", #"{"model": "grok-imagine/image-to-video", "input": {"task_id": "t", "index": 6}}"#,
         422, "input.index: expected an integer, 0..5"),
        ("Grok spicy with an external image", #"{"model": "grok-imagine/image-to-video", "input": {"image_urls": ["https://img.test/a.png"], "mode": "spicy"}}"#,
         422, #"input.mode: "spicy" is not allowed with external images"#),
        // Kling's rules.
        ("Kling sound with multi-shot", #"{"model": "kling-3.0/video", "input": {"aspect_ratio": "16:9", "sound": true, "multi_shots": true, "multi_prompt": [{"prompt": "a", "duration": 3}]}}"#,
         422, "input.sound: true cannot be combined with input.multi_shots true"),
        ("Kling without multi_shots", #"{"model": "kling-3.0/video", "input": {"prompt": "x", "aspect_ratio": "16:9"}}"#,
         500, "This field is required: input.multi_shots"),
        ("Kling multi_shots as a string", #"{"model": "kling-3.0/video", "input": {"prompt": "x", "aspect_ratio": "16:9", "multi_shots": "false"}}"#,
         422, "input.multi_shots: expected a boolean (true or false)"),
        ("Kling text without aspect ratio", #"{"model": "kling-3.0/video", "input": {"prompt": "x", "multi_shots": false}}"#,
         500, "This field is required: input.aspect_ratio"),
        ("Kling three images", #"{"model": "kling-3.0/video", "input": {"prompt": "x", "image_urls": ["https://img.test/a.png", "https://img.test/a.png", "https://img.test/a.png"], "multi_shots": false}}"#,
         422, "input.image_urls: expected an array of 1..2 http(s) URL strings"),
        ("Kling shot duration as a string", #"{"model": "kling-3.0/video", "input": {"aspect_ratio": "16:9", "multi_shots": true, "multi_prompt": [{"prompt": "a", "duration": "3"}]}}"#,
         422, "input.multi_prompt[0].duration: expected an integer, 1..12"),
        ("Kling shots without multi_shots", #"{"model": "kling-3.0/video", "input": {"prompt": "x", "aspect_ratio": "16:9", "multi_shots": false, "multi_prompt": [{"prompt": "a", "duration": 3}]}}"#,
         422, "input.multi_prompt: only with input.multi_shots true"),
        ("Kling multi-shot without shots", #"{"model": "kling-3.0/video", "input": {"aspect_ratio": "16:9", "multi_shots": true}}"#,
         500, "This field is required: input.multi_prompt"),
        // Frames and references.
        ("a last frame without a first", #"{"model": "bytedance/seedance-2-mini", "input": {"prompt": "x", "last_frame_url": "https://img.test/a.png"}}"#,
         422, "input.last_frame_url: requires input.first_frame_url"),
        ("frames with references", #"{"model": "wan/3-0-video", "input": {"prompt": "x", "first_frame_url": "https://img.test/a.png", "reference_video_urls": ["https://vid.test/v.mp4"]}}"#,
         422, "input.reference_video_urls: cannot be combined with input.first_frame_url or input.last_frame_url"),
        ("web search with images", #"{"model": "bytedance/seedance-2-mini", "input": {"prompt": "x", "first_frame_url": "https://img.test/a.png", "web_search": true}}"#,
         422, "input.web_search: only for text-to-video (no images)"),
        ("too many references", #"{"model": "bytedance/seedance-2-mini", "input": {"prompt": "x", "reference_audio_urls": ["https://a.test/1", "https://a.test/2", "https://a.test/3", "https://a.test/4"]}}"#,
         422, "input.reference_audio_urls: expected an array of at most 3 http(s) URL strings"),
        ("not an http URL", #"{"model": "bytedance/seedance-2-mini", "input": {"prompt": "x", "first_frame_url": "ftp://img.test/a.png"}}"#,
         422, "input.first_frame_url: expected a string holding an http(s) URL"),
        ("a URL list holding a number", #"{"model": "wan/3-0-video", "input": {"prompt": "x", "reference_image_urls": ["https://img.test/a.png", 7]}}"#,
         422, "input.reference_image_urls[1]: expected a string holding an http(s) URL"),
        ("a boolean as a string", #"{"model": "bytedance/seedance-2-mini", "input": {"prompt": "x", "generate_audio": "true"}}"#,
         422, "input.generate_audio: expected a boolean (true or false)"),
        ("a seed as a string", #"{"model": "wan/3-0-video", "input": {"prompt": "x", "seed": "42"}}"#,
         422, "input.seed: expected an integer"),
        ("an optional field set to null", #"{"model": "wan/3-0-video", "input": {"prompt": "x", "audio": null}}"#,
         422, "input.audio: expected a boolean (true or false)"),
    ]

    func testRefusesWhatKieRefusesNamingTheField() throws {
        let simulator = makeSimulator(ManualClock())
        for (what, body, code, message) in Self.refused {
            XCTAssertNotNil(JSON.parse(Data(body.utf8)), "\(what): the test body is not JSON")
            let reply = simulator.createTask(authorization: "Bearer k", body: Data(body.utf8))
            XCTAssertEqual(reply.status, 200, what)
            XCTAssertEqual(KieReply.code(reply), code, "\(what): \(KieReply.msg(reply))")
            XCTAssertEqual(KieReply.msg(reply), message, what)
            XCTAssertEqual(KieReply.data(reply), .null, what)
        }
        XCTAssertEqual(simulator.statistics().tasks, 0)
        XCTAssertEqual(balance(simulator), Self.start, "a refused create bills nothing")
    }

    func testARefusedCreateFetchesNoImage() {
        let fetcher = ScriptedFetcher.standard()
        let simulator = KieSimulator(settings: .init(), clock: ManualClock().clock, mediaBaseURL: "", imageFetcher: fetcher.fetcher)
        let body = #"{"model": "kling-3.0/video", "input": {"prompt": "x", "image_urls": ["https://img.test/a.png"], "duration": 5, "multi_shots": false}}"#
        XCTAssertEqual(KieReply.code(simulator.createTask(authorization: "Bearer k", body: Data(body.utf8))), 422)
        XCTAssertEqual(fetcher.fetched, [])
    }
}
