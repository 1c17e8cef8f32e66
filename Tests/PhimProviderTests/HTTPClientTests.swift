// The libcurl client: replies, the never-sent / maybe-processed split, limits, and many threads at once.
import CCurl
@testable import PhimProvider
import PhimSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class HTTPClientTests: XCTestCase {
    var simulator: KieSimulator!
    var server: SimulatorServer!
    var base = ""

    override func setUpWithError() throws {
        TestEnvironment.setUp()
        simulator = KieSimulator(settings: .init(), clock: ManualClock().clock, mediaBaseURL: "")
        server = SimulatorServer(simulator: simulator, port: 0, hangSeconds: 5)
        base = "http://127.0.0.1:\(try server.start())"
        simulator.mediaBaseURL = base + "/media"
    }

    override func tearDown() { server.stop() }

    func testReplyCarriesStatusLowerCasedHeadersAndBody() throws {
        let reply = try HTTPClient.send(method: "GET", url: base + "/api/v1/chat/credit", headers: [("Authorization", "Bearer k")],
                                        timeoutMilliseconds: 5_000)
        XCTAssertEqual(reply.status, 200)
        XCTAssertEqual(reply.headers["content-type"], "application/json")
        XCTAssertEqual(reply.headers["connection"], "keep-alive", "the simulator keeps the connection for the next call, as Kie does")
        XCTAssertEqual(try KieWire.parseCreditReply(reply.body), 10_000_000)

        let missing = try HTTPClient.send(method: "GET", url: base + "/nowhere", timeoutMilliseconds: 5_000)
        XCTAssertEqual(missing.status, 404, "an HTTP error status is a reply, not a transport error")
        let head = try HTTPClient.send(method: "HEAD", url: base + "/media/x-portrait.mp4", timeoutMilliseconds: 5_000)
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.body.count, 0)
        XCTAssertEqual(head.headers["content-length"], String(SimulatorMedia.sample(forFile: "x-portrait.mp4")?.count ?? -1))
    }

    func testPostSendsTheBodyAndHeaders() throws {
        let body = KieWire.createCall(for: WireSpecs.request(WireSpecs.seedance, prompt: "sent over curl")).data()
        let reply = try HTTPClient.send(method: "POST", url: base + "/api/v1/jobs/createTask",
                                        headers: [("Authorization", "Bearer k"), ("Content-Type", "application/json")],
                                        body: body, timeoutMilliseconds: 5_000)
        let id = try KieWire.parseCreateReply(reply.body)
        XCTAssertEqual(simulator.callbackURLs(forTask: id), ["https://phim.test/cb"])

        let empty = try HTTPClient.send(method: "POST", url: base + "/api/v1/jobs/createTask", headers: [("Authorization", "Bearer k")],
                                        timeoutMilliseconds: 5_000)
        XCTAssertNotEqual(KieWire.Envelope.parse(empty.body)?.code, 200, "a POST without a body sends an empty one, which Kie refuses")

        // Bytes go out exactly, zeros included, and the method is the one asked for.
        let receiver = TestHTTPReceiver()
        let receiverPort = receiver.start()
        defer { receiver.stop() }
        let binary = Data([0, 1, 2, 0, 255, 0] + Array(repeating: 7, count: 5_000))
        XCTAssertEqual(try HTTPClient.send(method: "PUT", url: "http://127.0.0.1:\(receiverPort)/up", body: binary,
                                           timeoutMilliseconds: 5_000).status, 200)
        let seen = try XCTUnwrap(receiver.requests.first)
        XCTAssertEqual(seen.requestLine, "PUT /up HTTP/1.1")
        XCTAssertEqual(seen.body, binary)
        XCTAssertNil(seen.headers["expect"], "no 100-continue round trip")
        XCTAssertTrue(seen.headers["user-agent"]?.hasPrefix("Mozilla/5.0") == true)
    }

    func testClosedPortIsUnreachable() {
        let started = Date()
        XCTAssertThrowsError(try HTTPClient.send(method: "POST", url: "http://127.0.0.1:\(TestSockets.closedPort())/x", body: Data("{}".utf8),
                                                 timeoutMilliseconds: 5_000)) {
            guard case .unreachable = $0 as? HTTPClientError else { return XCTFail("expected unreachable, got \($0)") }
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
        XCTAssertThrowsError(try HTTPClient.send(method: "GET", url: "http://no-such-host.invalid/", timeoutMilliseconds: 5_000)) {
            guard case .unreachable = $0 as? HTTPClientError else { return XCTFail("expected unreachable, got \($0)") }
        }
        XCTAssertThrowsError(try HTTPClient.send(method: "GET", url: "file:///etc/passwd", timeoutMilliseconds: 1_000)) {
            guard case .unreachable = $0 as? HTTPClientError else { return XCTFail("only http and https, got \($0)") }
        }
    }

    /// Webhooks pin the addresses they checked (DNS rebinding): the connection goes there, the
    /// URL's name stays in `Host`, and no lookup happens (`.test` names never resolve in real DNS).
    func testAPinnedCallConnectsToTheGivenAddressWhateverTheNameAndLeavesNothingBehind() throws {
        let receiver = TestHTTPReceiver()
        let port = receiver.start()
        defer { receiver.stop() }
        // However the URL spells the name, the pin holds: case, a final dot, percent-encoding.
        let spellings = ["rebind.test", "REBIND.Test", "rebind.test.", "reb%69nd.test"]
        for host in spellings {
            let reply = try HTTPClient.send(method: "POST", url: "http://\(host):\(port)/hook", body: Data("{}".utf8),
                                            timeoutMilliseconds: 5_000, connectingTo: ["127.0.0.1"])
            XCTAssertEqual(reply.status, 200, host)
        }
        let seen = receiver.waitFor(spellings.count)
        XCTAssertEqual(seen.map(\.requestLine), Array(repeating: "POST /hook HTTP/1.1", count: spellings.count))
        XCTAssertEqual(seen.first?.headers["host"], "rebind.test:\(port)")
        // Several checked addresses: the first that answers is used (nobody listens on ::1 here).
        XCTAssertEqual(try HTTPClient.send(method: "GET", url: "http://rebind.test:\(port)/", timeoutMilliseconds: 5_000,
                                           connectTimeoutMilliseconds: 300, connectingTo: ["::1", "127.0.0.1"]).status, 200)

        // The same thread's next call without a pin knows nothing of it: the name does not resolve.
        XCTAssertThrowsError(try HTTPClient.send(method: "GET", url: "http://rebind.test:\(port)/", timeoutMilliseconds: 5_000)) {
            guard case .unreachable = $0 as? HTTPClientError else { return XCTFail("expected unreachable, got \($0)") }
        }
        // A pin to an address nobody listens on fails, without trying the name elsewhere.
        XCTAssertThrowsError(try HTTPClient.send(method: "GET", url: "http://localhost:\(port)/", timeoutMilliseconds: 5_000,
                                                 connectingTo: ["127.0.0.2"])) {
            guard case .unreachable = $0 as? HTTPClientError else { return XCTFail("expected unreachable, got \($0)") }
        }
        XCTAssertEqual(receiver.requests.count, spellings.count + 1)
    }

    func testConnectTimeoutIsUnreachableEvenOnAHandleThatSentBefore() throws {
        // This thread's handle has just sent a request; its count must not leak into the next call.
        XCTAssertEqual(try HTTPClient.send(method: "GET", url: base + "/_simulator/stats", timeoutMilliseconds: 5_000).status, 200)
        // A listener that never accepts, with its one-place backlog taken: the next SYN goes unanswered.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                _ = bind(listener, pointer, length)
                return getsockname(listener, pointer, &length)
            }
        }
        XCTAssertEqual(listen(listener, 0), 0)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let queued = TestSockets.connect(port: port)
        defer { close(queued) }
        XCTAssertGreaterThanOrEqual(queued, 0)
        let started = Date()
        XCTAssertThrowsError(try HTTPClient.send(method: "POST", url: "http://127.0.0.1:\(port)/api/v1/jobs/createTask", body: Data("{}".utf8),
                                                 timeoutMilliseconds: 5_000, connectTimeoutMilliseconds: 300)) {
            guard case .unreachable = $0 as? HTTPClientError else { return XCTFail("expected unreachable, got \($0)") }
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
    }

    func testTimeoutAfterSendingMayHaveBeenProcessed() throws {
        simulator.inject(.acceptThenHang)
        let started = Date()
        XCTAssertThrowsError(try HTTPClient.send(method: "POST", url: base + "/api/v1/jobs/createTask", headers: [("Authorization", "Bearer k")],
                                                 body: KieWire.createCall(for: WireSpecs.request(WireSpecs.seedance)).data(), timeoutMilliseconds: 400)) {
            guard case .failedAfterSending = $0 as? HTTPClientError else { return XCTFail("expected failedAfterSending, got \($0)") }
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        XCTAssertEqual(simulator.statistics().tasks, 1)
    }

    func testResponseLargerThanTheLimitIsRefused() {
        XCTAssertThrowsError(try HTTPClient.send(method: "GET", url: base + "/media/a-landscape.mp4", timeoutMilliseconds: 5_000,
                                                 maxResponseBytes: 1_000)) {
            XCTAssertEqual($0 as? HTTPClientError, .failedAfterSending("response larger than 1000 bytes"))
        }
        // The thread's handle is reset after that and works as before.
        XCTAssertEqual(try? HTTPClient.send(method: "GET", url: base + "/_simulator/stats", timeoutMilliseconds: 5_000).status, 200)
    }

    /// Runs `body(thread)` on `count` real threads at once and waits for all of them.
    func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let done = DispatchSemaphore(value: 0)
        for thread in 0..<count {
            startThread(name: "test-\(thread)") {
                body(thread)
                done.signal()
            }
        }
        for _ in 0..<count { XCTAssertEqual(done.wait(timeout: .now() + 60), .success) }
    }

    func testTwentyThreadsTimesTwentyRequestsInParallel() {
        let failures = Locked<[String]>([])
        let successes = Locked(0)
        let base = base
        onThreads(20) { thread in
            for request in 0..<20 {
                do {
                    // Each thread asks about its own task id, so a mixed-up answer would show.
                    let reply = try HTTPClient.send(method: "GET", url: base + "/api/v1/jobs/recordInfo?taskId=t\(thread)-\(request)",
                                                    headers: [("Authorization", "Bearer t\(thread)")], timeoutMilliseconds: 10_000)
                    if reply.status == 200, KieWire.Envelope.parse(reply.body)?.message == "recordInfo is null" {
                        successes.withLock { $0 += 1 }
                    } else {
                        failures.withLock { $0.append("\(thread)/\(request): HTTP \(reply.status)") }
                    }
                    let credit = try HTTPClient.send(method: "GET", url: base + "/api/v1/chat/credit", headers: [("Authorization", "Bearer k")],
                                                     timeoutMilliseconds: 10_000)
                    if (try? KieWire.parseCreditReply(credit.body)) != 10_000_000 {
                        failures.withLock { $0.append("\(thread)/\(request): credit \(String(decoding: credit.body, as: UTF8.self))") }
                    }
                } catch {
                    failures.withLock { $0.append("\(thread)/\(request): \(error)") }
                }
            }
        }
        XCTAssertEqual(failures.current, [])
        XCTAssertEqual(successes.current, 400)
        XCTAssertEqual(simulator.statistics().calls.recordInfo, 400)
        XCTAssertEqual(simulator.statistics().calls.credit, 400)
    }

    func testClassification() {
        XCTAssertEqual(HTTPClient.classify(CURLE_COULDNT_CONNECT, requestBytesSent: 0), .unreachable("Couldn't connect to server"))
        guard case .unreachable = HTTPClient.classify(CURLE_OPERATION_TIMEDOUT, requestBytesSent: 0) else { return XCTFail() }
        guard case .failedAfterSending = HTTPClient.classify(CURLE_OPERATION_TIMEDOUT, requestBytesSent: 120) else { return XCTFail() }
        guard case .failedAfterSending = HTTPClient.classify(CURLE_GOT_NOTHING, requestBytesSent: 120) else { return XCTFail() }
        guard case .failedAfterSending = HTTPClient.classify(CURLE_RECV_ERROR, requestBytesSent: 0) else { return XCTFail() }
    }
}
