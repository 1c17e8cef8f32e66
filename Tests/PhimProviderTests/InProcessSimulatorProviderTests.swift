// The in-process provider draws the same conclusions from the simulator as the live client would.
import PhimProvider
import PhimSupport
import XCTest

final class InProcessSimulatorProviderTests: XCTestCase {
    override func setUp() { TestEnvironment.setUp() }

    static let request = WireSpecs.request(WireSpecs.seedance, duration: 5, resolution: "480p")

    func testCreatePollAndFinish() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 20), clock: clock.clock, mediaBaseURL: "http://sim.test/media")
        let provider = InProcessSimulatorProvider(simulator: simulator)
        let id = try provider.createTask(Self.request)
        XCTAssertEqual(try provider.taskStatus(id, family: .market).state, .waiting)
        clock.advance(20)
        let done = try provider.taskStatus(id, family: .market)
        XCTAssertEqual(done.state, .success)
        XCTAssertEqual(done.resultURLs, ["http://sim.test/media/\(id)-landscape.mp4"])
        XCTAssertEqual(done.creditsConsumed, 19, "5 s at 480p: 3.8 Kie credits a second")
        XCTAssertEqual(try provider.remainingCredits(), 10_000_000 - 19)
        let link = try provider.freshDownloadURL(for: done.resultURLs[0])
        XCTAssertTrue(link.hasPrefix(done.resultURLs[0] + "?download="))
    }

    func testVeoGoesThroughItsOwnEndpoints() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 20), clock: clock.clock, mediaBaseURL: "http://sim.test/media")
        let provider = InProcessSimulatorProvider(simulator: simulator)
        let id = try provider.createTask(WireSpecs.request(WireSpecs.veo, aspectRatio: "9:16"))
        XCTAssertEqual(try provider.taskStatus(id, family: .veo).state, .generating)
        XCTAssertThrowsError(try provider.taskStatus(id, family: .market), "a Veo task is not a Market job")
        clock.advance(20)
        let done = try provider.taskStatus(id, family: .veo)
        XCTAssertEqual(done.state, .success)
        XCTAssertEqual(done.resultURLs, ["http://sim.test/media/\(id)-portrait.mp4"])
    }

    func testImagesGoThroughTheFileHostAndAreFetchedByTheModel() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 10), clock: clock.clock, mediaBaseURL: "http://sim.test/media")
        simulator.uploadBaseURL = "http://files.sim.test"
        let provider = InProcessSimulatorProvider(simulator: simulator)
        let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0, count: 64))
        let url = try provider.uploadFile(png, fileName: "first-frame.png")
        XCTAssertTrue(url.hasPrefix("http://files.sim.test/"), url)
        XCTAssertTrue(url.hasSuffix("/first-frame.png"), url)
        let id = try provider.createTask(WireSpecs.request(WireSpecs.kling, mode: .imageToVideo, imageURL: url))
        clock.advance(10)
        XCTAssertEqual(try provider.taskStatus(id, family: .market).state, .success)

        let nowhere = try provider.createTask(WireSpecs.request(WireSpecs.kling, mode: .imageToVideo,
                                                                imageURL: "http://127.0.0.1:\(TestSockets.closedPort())/gone.png"))
        clock.advance(10)
        let failed = try provider.taskStatus(nowhere, family: .market)
        XCTAssertEqual(failed.state, .fail, "Kie fetches the image: one it cannot fetch fails the task")
        XCTAssertEqual(failed.creditsConsumed, 0)
    }

    func testThePriceFeedIsReadPageByPage() throws {
        let simulator = KieSimulator(settings: .init(), clock: ManualClock().clock, mediaBaseURL: "")
        let records = try InProcessSimulatorProvider(simulator: simulator).priceFeed()
        XCTAssertTrue(records.contains { $0.modelID == "kling-3.0/video" && $0.unit == "per second" })
        XCTAssertTrue(records.contains { $0.modelID == "veo3_fast" && $0.credits == 60 })
    }

    func testErrorsAreTheLiveClientsErrors() throws {
        let simulator = KieSimulator(settings: .init(expectedAPIKey: "right"), clock: ManualClock().clock, mediaBaseURL: "")
        let wrongKey = InProcessSimulatorProvider(simulator: simulator, apiKey: "wrong")
        XCTAssertThrowsError(try wrongKey.createTask(Self.request)) {
            XCTAssertEqual($0 as? ProviderError, .rejected(code: 401, message: "You do not have access permissions"))
        }
        let provider = InProcessSimulatorProvider(simulator: simulator, apiKey: "right")
        var tagged = Self.request
        tagged.prompt = "please #error402"
        XCTAssertThrowsError(try provider.createTask(tagged)) {
            XCTAssertEqual($0 as? ProviderError, .rejected(code: 402, message: "Simulated error 402"))
        }
        var retired = Self.request
        retired.wire.providerModels = [.textToVideo: "sora-2-text-to-video"]
        XCTAssertThrowsError(try provider.createTask(retired)) {
            XCTAssertEqual($0 as? ProviderError, .rejected(code: 500, message: "This interface is temporarily paused"))
        }
        simulator.inject(.acceptThenHang)
        XCTAssertThrowsError(try provider.createTask(Self.request)) {
            guard case .ambiguous = $0 as? ProviderError else { return XCTFail("expected ambiguous, got \($0)") }
        }
        XCTAssertEqual(simulator.statistics().tasks, 1, "the hung create made its task")
        XCTAssertThrowsError(try provider.taskStatus("missing", family: .market)) {
            XCTAssertEqual($0 as? ProviderError, .rejected(code: 422, message: "recordInfo is null"))
        }
    }
}
