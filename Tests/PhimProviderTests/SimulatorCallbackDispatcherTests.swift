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
        var ids: [String: ProviderFamily] = [:]
        for index in 0..<6 {
            // Both families: Market completion callbacks and Veo's own shape.
            let wire = index % 2 == 0 ? WireSpecs.seedance : WireSpecs.veo
            let request = WireSpecs.request(wire, prompt: "clip \(index)", callbackURL: "http://127.0.0.1:\(receiverPort)/hooks/kie/\(index)")
            ids[try provider.createTask(request)] = wire.family
        }
        let dispatcher = SimulatorCallbackDispatcher(simulator: simulator, tickMilliseconds: 20)
        dispatcher.start()
        defer { dispatcher.stop() }

        clock.advance(5)
        usleep(200_000)
        XCTAssertEqual(receiver.requests.count, 0, "no progress callbacks: Kie documents them for Sora only")
        clock.advance(5)
        let all = receiver.waitFor(6)
        XCTAssertEqual(all.count, 6)
        usleep(100_000)
        XCTAssertEqual(receiver.requests.count, 6, "each callback is sent once")

        var completed: Set<String> = []
        for request in all {
            XCTAssertTrue(request.requestLine.hasPrefix("POST /hooks/kie/"), request.requestLine)
            XCTAssertEqual(request.headers["content-type"], "application/json")
            let index = Int(request.requestLine.split(separator: "/")[3].split(separator: " ")[0])!
            let status = try XCTUnwrap(KieWire.parseCallback(request.body, family: index % 2 == 0 ? .market : .veo))
            let timestamp = try XCTUnwrap(request.headers["x-webhook-timestamp"])
            let signature = try XCTUnwrap(request.headers["x-webhook-signature"])
            XCTAssertTrue(KieWire.isValidWebhookSignature(signature, taskID: status.taskID, timestamp: timestamp, key: "console-key"))
            XCTAssertEqual(status.state, .success)
            XCTAssertEqual(status.resultURLs.count, 1)
            completed.insert(status.taskID)
        }
        XCTAssertEqual(completed, Set(ids.keys))
        XCTAssertEqual(dispatcher.statistics, .init(delivered: 6, refused: 0, failed: 0))
    }

    func testRefusedAndUnreachableReceiversAreCountedNotRetried() throws {
        let refusing = TestHTTPReceiver(status: 500)
        let refusingPort = refusing.start()
        defer { refusing.stop() }
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 1), clock: clock.clock, mediaBaseURL: "")
        let provider = InProcessSimulatorProvider(simulator: simulator)
        for url in ["http://127.0.0.1:\(refusingPort)/cb", "http://127.0.0.1:\(TestSockets.closedPort())/cb"] {
            _ = try provider.createTask(WireSpecs.request(WireSpecs.kling, aspectRatio: "9:16", callbackURL: url))
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
