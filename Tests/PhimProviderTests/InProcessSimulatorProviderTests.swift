// The in-process provider draws the same conclusions from the simulator as the live client would.
import PhimProvider
import PhimSupport
import XCTest

final class InProcessSimulatorProviderTests: XCTestCase {
    override func setUp() { TestEnvironment.setUp() }

    static let request = ProviderTaskRequest(model: .sora2TextToVideo, prompt: "a lighthouse at dawn", aspectRatio: .landscape,
                                             durationSeconds: 10, quality: .standard, imageURL: nil,
                                             callbackURL: "https://phim.test/cb", progressCallbackURL: nil)

    func testCreatePollAndFinish() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 20), clock: clock.clock, mediaBaseURL: "http://sim.test/media")
        let provider = InProcessSimulatorProvider(simulator: simulator)
        let id = try provider.createTask(Self.request)
        XCTAssertEqual(try provider.taskStatus(id).state, .waiting)
        clock.advance(20)
        let done = try provider.taskStatus(id)
        XCTAssertEqual(done.state, .success)
        XCTAssertEqual(done.resultURLs, ["http://sim.test/media/\(id)-landscape.mp4"])
        XCTAssertEqual(try provider.remainingCredits(), 10_000_000 - 30)
        let link = try provider.freshDownloadURL(for: done.resultURLs[0])
        XCTAssertTrue(link.hasPrefix(done.resultURLs[0] + "?download="))
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
        simulator.inject(.acceptThenHang)
        XCTAssertThrowsError(try provider.createTask(Self.request)) {
            guard case .ambiguous = $0 as? ProviderError else { return XCTFail("expected ambiguous, got \($0)") }
        }
        XCTAssertEqual(simulator.statistics().tasks, 1, "the hung create made its task")
        XCTAssertThrowsError(try provider.taskStatus("missing")) {
            XCTAssertEqual($0 as? ProviderError, .rejected(code: 422, message: "recordInfo is null"))
        }
    }
}
