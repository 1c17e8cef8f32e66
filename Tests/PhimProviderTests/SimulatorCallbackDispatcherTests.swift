// The dispatcher posts due callbacks once, signed, and survives receivers that refuse or are gone.
import PhimProvider
import PhimSupport
import XCTest

final class SimulatorCallbackDispatcherTests: XCTestCase {
    override func setUp() { TestEnvironment.setUp() }

    func testDeliversSignedCallbacksThatVerify() throws {
        let receiver = TestHTTPReceiver()
        let receiverPort = receiver.start()
        defer { receiver.stop() }
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 10, webhookHMACKey: "console-key"), clock: clock.clock,
                                     mediaBaseURL: "http://sim.test/media")
        let provider = InProcessSimulatorProvider(simulator: simulator)
        var ids: [String] = []
        for index in 0..<5 {
            let request = ProviderTaskRequest(model: .sora2TextToVideo, prompt: "clip \(index)", aspectRatio: .landscape,
                                              durationSeconds: 10, quality: .standard, imageURL: nil,
                                              callbackURL: "http://127.0.0.1:\(receiverPort)/hooks/kie/\(index)",
                                              progressCallbackURL: "http://127.0.0.1:\(receiverPort)/hooks/kie/\(index)/progress")
            ids.append(try provider.createTask(request))
        }
        let dispatcher = SimulatorCallbackDispatcher(simulator: simulator, tickMilliseconds: 20)
        dispatcher.start()
        defer { dispatcher.stop() }

        clock.advance(5)
        let progress = receiver.waitFor(5)
        XCTAssertEqual(progress.count, 5)
        clock.advance(5)
        let all = receiver.waitFor(10)
        XCTAssertEqual(all.count, 10)
        usleep(100_000)
        XCTAssertEqual(receiver.requests.count, 10, "each callback is sent once")

        var completed: Set<String> = []
        for request in all {
            XCTAssertTrue(request.requestLine.hasPrefix("POST /hooks/kie/"), request.requestLine)
            XCTAssertEqual(request.headers["content-type"], "application/json")
            let status = try XCTUnwrap(KieWire.parseCallback(request.body))
            let timestamp = try XCTUnwrap(request.headers["x-webhook-timestamp"])
            let signature = try XCTUnwrap(request.headers["x-webhook-signature"])
            XCTAssertTrue(KieWire.isValidWebhookSignature(signature, taskID: status.taskID, timestamp: timestamp, key: "console-key"))
            XCTAssertEqual(signature, KieWire.webhookSignature(taskID: status.taskID, timestamp: timestamp, key: "console-key"))
            if request.requestLine.contains("/progress ") {
                XCTAssertEqual(status.state, .generating)
                XCTAssertEqual(status.progress, 50)
            } else {
                XCTAssertEqual(status.state, .success)
                completed.insert(status.taskID)
            }
        }
        XCTAssertEqual(completed, Set(ids))
        XCTAssertEqual(dispatcher.statistics, .init(delivered: 10, refused: 0, failed: 0))
    }

    func testRefusedAndUnreachableReceiversAreCountedNotRetried() throws {
        let refusing = TestHTTPReceiver(status: 500)
        let refusingPort = refusing.start()
        defer { refusing.stop() }
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 1), clock: clock.clock, mediaBaseURL: "")
        let provider = InProcessSimulatorProvider(simulator: simulator)
        for url in ["http://127.0.0.1:\(refusingPort)/cb", "http://127.0.0.1:\(TestSockets.closedPort())/cb"] {
            _ = try provider.createTask(ProviderTaskRequest(model: .sora2TextToVideo, prompt: "x", aspectRatio: .portrait, durationSeconds: 10,
                                                            quality: .standard, imageURL: nil, callbackURL: url, progressCallbackURL: nil))
        }
        let dispatcher = SimulatorCallbackDispatcher(simulator: simulator, tickMilliseconds: 20)
        dispatcher.start()
        clock.advance(1)
        let until = Date().addingTimeInterval(5)
        while Date() < until, dispatcher.statistics.refused + dispatcher.statistics.failed < 2 { usleep(10_000) }
        usleep(200_000)
        dispatcher.stop()
        XCTAssertEqual(dispatcher.statistics, .init(delivered: 0, refused: 1, failed: 1))
        XCTAssertEqual(refusing.requests.count, 1, "no retry after a refusal")
    }
}
