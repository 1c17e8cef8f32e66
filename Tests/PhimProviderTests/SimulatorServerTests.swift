// The live client against the simulator over real HTTP on 127.0.0.1, and the server against bad input.
@testable import PhimProvider
import PhimSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class SimulatorServerTests: XCTestCase {
    var clock: ManualClock!
    var simulator: KieSimulator!
    var server: SimulatorServer!
    var port = 0
    var client: KieClient!

    static let request = ProviderTaskRequest(model: .sora2TextToVideo, prompt: "over the wire", aspectRatio: .landscape,
                                             durationSeconds: 10, quality: .standard, imageURL: nil,
                                             callbackURL: "https://phim.test/cb", progressCallbackURL: "https://phim.test/cb/progress")

    override func setUpWithError() throws {
        TestEnvironment.setUp()
        clock = ManualClock()
        simulator = KieSimulator(settings: .init(jobDuration: 20, expectedAPIKey: "demo"), clock: clock.clock, mediaBaseURL: "")
        server = SimulatorServer(simulator: simulator, port: 0, hangSeconds: 30)
        port = try server.start()
        XCTAssertEqual(server.port, port)
        simulator.mediaBaseURL = "http://127.0.0.1:\(port)/media"
        client = KieClient(baseURL: "http://127.0.0.1:\(port)/", apiKey: "demo", clock: clock.clock,
                           createTimeoutMilliseconds: 5_000, readTimeoutMilliseconds: 5_000)
    }

    override func tearDown() { server.stop() }

    static func sampleFile(_ name: String) throws -> Data {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/PhimProvider/Simulator/Media/\(name)")
        return try Data(contentsOf: url)
    }

    // MARK: - KieClient over HTTP

    func testCreateThenPollThroughTheStatesToTheVideo() throws {
        let id = try client.createTask(Self.request)
        XCTAssertEqual(id.count, 32)
        XCTAssertEqual(try client.taskStatus(id).state, .waiting)
        clock.advance(3)
        XCTAssertEqual(try client.taskStatus(id).state, .queuing)
        clock.advance(5)
        let generating = try client.taskStatus(id)
        XCTAssertEqual(generating.state, .generating)
        XCTAssertEqual(generating.progress, 40)
        clock.advance(12)
        let done = try client.taskStatus(id)
        XCTAssertEqual(done.state, .success)
        XCTAssertEqual(done.resultURLs, ["http://127.0.0.1:\(port)/media/\(id)-landscape.mp4"])
        XCTAssertEqual(try client.remainingCredits(), 10_000_000 - 30)

        // The video it points to is served, and a fresh link to it too.
        let video = try HTTPClient.send(method: "GET", url: done.resultURLs[0], timeoutMilliseconds: 5_000)
        XCTAssertEqual(video.status, 200)
        XCTAssertEqual(video.body, try Self.sampleFile("sample-landscape.mp4"))
        let link = try client.freshDownloadURL(for: done.resultURLs[0])
        XCTAssertTrue(link.hasPrefix(done.resultURLs[0] + "?download="))
        XCTAssertEqual(try HTTPClient.send(method: "GET", url: link, timeoutMilliseconds: 5_000).status, 200)
    }

    func testFailTagEndsInAFailedTask() throws {
        var request = Self.request
        request.prompt = "this one breaks #fail"
        let id = try client.createTask(request)
        clock.advance(20)
        let status = try client.taskStatus(id)
        XCTAssertEqual(status.state, .fail)
        XCTAssertEqual(status.failCode, "500")
        XCTAssertNotNil(status.failMessage)
    }

    func testBusinessErrorsAreRejections() throws {
        var request = Self.request
        request.prompt = "broke #error402"
        XCTAssertThrowsError(try client.createTask(request)) {
            XCTAssertEqual($0 as? ProviderError, .rejected(code: 402, message: "Simulated error 402"))
        }
        let wrongKey = KieClient(baseURL: "http://127.0.0.1:\(port)", apiKey: "nope", clock: clock.clock)
        XCTAssertThrowsError(try wrongKey.createTask(Self.request)) {
            XCTAssertEqual($0 as? ProviderError, .rejected(code: 401, message: "You do not have access permissions"))
        }
        simulator.inject(.reply(code: 429, message: "slow down"))
        XCTAssertThrowsError(try client.createTask(Self.request)) {
            XCTAssertEqual($0 as? ProviderError, .rejected(code: 429, message: "slow down"))
        }
        XCTAssertEqual(simulator.statistics().tasks, 0)
    }

    func testUnknownTaskIsNotRetried() {
        let before = clock.now
        XCTAssertThrowsError(try client.taskStatus("no-such-task/?&=")) {
            XCTAssertEqual($0 as? ProviderError, .rejected(code: 422, message: "recordInfo is null"))
        }
        XCTAssertEqual(clock.now, before, "a 422 is final: no pause, no second ask")
        XCTAssertEqual(simulator.statistics().calls.recordInfo, 1)
    }

    func testClosedPortIsUnreachableAndReadsRetryFirst() {
        let nowhere = KieClient(baseURL: "http://127.0.0.1:\(TestSockets.closedPort())", apiKey: "demo", clock: clock.clock)
        XCTAssertThrowsError(try nowhere.createTask(Self.request)) {
            guard case .unreachable = $0 as? ProviderError else { return XCTFail("expected unreachable, got \($0)") }
        }
        XCTAssertEqual(clock.now, ManualClock().now, "a create is never retried")
        XCTAssertThrowsError(try nowhere.taskStatus("x")) {
            guard case .unreachable = $0 as? ProviderError else { return XCTFail("expected unreachable, got \($0)") }
        }
        XCTAssertEqual(clock.now.timeIntervalSince(ManualClock().now), 3.5, accuracy: 0.001, "pauses of 0.5, 1 and 2 s")
    }

    func testAcceptThenHangIsAmbiguousAndTheTaskExists() throws {
        simulator.inject(.acceptThenHang)
        var impatient = client!
        impatient.createTimeoutMilliseconds = 500
        let started = Date()
        XCTAssertThrowsError(try impatient.createTask(Self.request)) {
            guard case .ambiguous = $0 as? ProviderError else { return XCTFail("expected ambiguous, got \($0)") }
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        XCTAssertEqual(simulator.statistics().tasks, 1, "created although never answered")
        // The hanging connection holds only itself: the server answers others meanwhile.
        XCTAssertGreaterThan(try client.remainingCredits(), 0)
    }

    func testGatewayPagesAreAmbiguousAndRefusalsInFrontAreRejections() throws {
        for (status, expectAmbiguous) in [(502, true), (200, true), (403, false)] {
            let receiver = TestHTTPReceiver(status: status)
            let gateway = KieClient(baseURL: "http://127.0.0.1:\(receiver.start())", apiKey: "k", clock: clock.clock)
            defer { receiver.stop() }
            XCTAssertThrowsError(try gateway.createTask(Self.request)) { error in
                switch error as? ProviderError {
                case .ambiguous: XCTAssertTrue(expectAmbiguous, "HTTP \(status)")
                case .rejected(let code, _): XCTAssertFalse(expectAmbiguous, "HTTP \(status)"); XCTAssertEqual(code, status)
                default: XCTFail("HTTP \(status): \(error)")
                }
            }
            // What Kie would have seen: the explicit body and the headers it asks for.
            let seen = try XCTUnwrap(receiver.requests.first)
            XCTAssertEqual(seen.requestLine, "POST /api/v1/jobs/createTask HTTP/1.1")
            XCTAssertEqual(seen.headers["authorization"], "Bearer k")
            XCTAssertEqual(seen.headers["content-type"], "application/json")
            XCTAssertEqual(seen.headers["accept"], "application/json")
            XCTAssertTrue(seen.headers["user-agent"]?.hasPrefix("Mozilla/5.0") == true)
            XCTAssertEqual(seen.body, KieWire.createTaskBody(for: Self.request).data())
        }
    }

    // MARK: - Media

    func testMediaRangesForSeeking() throws {
        let landscape = try Self.sampleFile("sample-landscape.mp4")
        let portrait = try Self.sampleFile("sample-portrait.mp4")
        let url = "http://127.0.0.1:\(port)/media/abc-landscape.mp4"

        let first = try HTTPClient.send(method: "GET", url: url, headers: [("Range", "bytes=0-99")], timeoutMilliseconds: 5_000)
        XCTAssertEqual(first.status, 206)
        XCTAssertEqual(first.body, landscape.prefix(100))
        XCTAssertEqual(first.headers["content-range"], "bytes 0-99/\(landscape.count)")
        XCTAssertEqual(first.headers["content-type"], "video/mp4")
        XCTAssertEqual(first.headers["accept-ranges"], "bytes")
        XCTAssertEqual(first.headers["cache-control"], "public, max-age=3600")

        let middle = try HTTPClient.send(method: "GET", url: url, headers: [("Range", "bytes=1000-1999")], timeoutMilliseconds: 5_000)
        XCTAssertEqual(middle.body, landscape.subdata(in: 1000..<2000))
        let tail = try HTTPClient.send(method: "GET", url: url, headers: [("Range", "bytes=-10")], timeoutMilliseconds: 5_000)
        XCTAssertEqual(tail.body, landscape.suffix(10))
        XCTAssertEqual(tail.headers["content-range"], "bytes \(landscape.count - 10)-\(landscape.count - 1)/\(landscape.count)")
        let open = try HTTPClient.send(method: "GET", url: url, headers: [("Range", "bytes=\(landscape.count - 5)-")], timeoutMilliseconds: 5_000)
        XCTAssertEqual(open.body, landscape.suffix(5))

        let beyond = try HTTPClient.send(method: "GET", url: url, headers: [("Range", "bytes=\(landscape.count)-")], timeoutMilliseconds: 5_000)
        XCTAssertEqual(beyond.status, 416)
        XCTAssertEqual(beyond.headers["content-range"], "bytes */\(landscape.count)")

        let whole = try HTTPClient.send(method: "GET", url: "http://127.0.0.1:\(port)/media/abc-portrait.mp4?download=1", timeoutMilliseconds: 5_000)
        XCTAssertEqual(whole.status, 200)
        XCTAssertEqual(whole.body, portrait)
        XCTAssertNotEqual(portrait, landscape)

        XCTAssertEqual(try HTTPClient.send(method: "GET", url: "http://127.0.0.1:\(port)/media/abc.mov", timeoutMilliseconds: 5_000).status, 404)
    }

    func testRangeHeaderReading() {
        XCTAssertEqual(SimulatorMedia.range(nil, size: 100), .whole)
        XCTAssertEqual(SimulatorMedia.range("bytes=0-9", size: 100), .part(0...9))
        XCTAssertEqual(SimulatorMedia.range("bytes=90-500", size: 100), .part(90...99))
        XCTAssertEqual(SimulatorMedia.range("bytes=-500", size: 100), .part(0...99))
        XCTAssertEqual(SimulatorMedia.range("bytes=100-", size: 100), .unsatisfiable)
        XCTAssertEqual(SimulatorMedia.range("bytes=-0", size: 100), .unsatisfiable)
        XCTAssertEqual(SimulatorMedia.range("bytes=0-1,5-6", size: 100), .whole)
        XCTAssertEqual(SimulatorMedia.range("bytes=9-2", size: 100), .whole)
        XCTAssertEqual(SimulatorMedia.range("items=0-1", size: 100), .whole)
        XCTAssertEqual(SimulatorMedia.range("bytes=+1-2", size: 100), .whole)
        XCTAssertEqual(SimulatorMedia.range("bytes=99999999999999999999-", size: 100), .whole)
    }

    // MARK: - Robustness

    func testStatsAndNotFound() throws {
        _ = try client.remainingCredits()
        let stats = try HTTPClient.send(method: "GET", url: "http://127.0.0.1:\(port)/_simulator/stats", timeoutMilliseconds: 5_000)
        XCTAssertEqual(stats.status, 200)
        XCTAssertEqual(JSON.parse(stats.body)?["calls"]?["credit"]?.intValue, 1)
        let missing = try HTTPClient.send(method: "GET", url: "http://127.0.0.1:\(port)/api/v2/whatever", timeoutMilliseconds: 5_000)
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(KieWire.Envelope.parse(missing.body)?.code, 404)
        let wrongMethod = try HTTPClient.send(method: "DELETE", url: "http://127.0.0.1:\(port)/api/v1/chat/credit", timeoutMilliseconds: 5_000)
        XCTAssertEqual(wrongMethod.status, 404)
    }

    func testGarbageIsRefusedWith400AndTheServerKeepsServing() throws {
        var generator = SplitMix64(seed: 2024)
        var cases: [(String, [UInt8])] = [
            ("no CRLF", Array("GET /api/v1/chat/credit HTTP/1.1".utf8)),
            ("bare LF", Array("GET / HTTP/1.1\nHost: x\n\n".utf8)),
            ("not HTTP", Array("HELLO\r\n\r\n".utf8)),
            ("lower-case method", Array("get / HTTP/1.1\r\n\r\n".utf8)),
            ("HTTP/2 preface", Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)),
            ("non-UTF-8 header", Array("GET / HTTP/1.1\r\nX-Name: ".utf8) + [0xff, 0xfe, 0xc3] + Array("\r\n\r\n".utf8)),
            ("NUL in head", Array("GET / HTTP/1.1\r\nX: a".utf8) + [0] + Array("\r\n\r\n".utf8)),
            ("header without colon", Array("GET / HTTP/1.1\r\nJustAName\r\n\r\n".utf8)),
            ("folded header", Array("GET / HTTP/1.1\r\nX: a\r\n  b\r\n\r\n".utf8)),
            ("two lengths", Array("POST /api/v1/chat/credit HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".utf8)),
            ("negative length", Array("POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n".utf8)),
            ("chunked", Array("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".utf8)),
            ("huge headers", Array("GET / HTTP/1.1\r\n".utf8) + Array(repeating: UInt8(ascii: "a"), count: 100_000)),
            ("huge header lines", Array(("GET / HTTP/1.1\r\n" + String(repeating: "X-Pad: 0123456789\r\n", count: 5_000) + "\r\n").utf8)),
            ("long target", Array(("GET /" + String(repeating: "a", count: 20_000) + " HTTP/1.1\r\n\r\n").utf8)),
            ("bad percent", Array("GET /media/%zz.mp4 HTTP/1.1\r\n\r\n".utf8)),
        ]
        for index in 0..<20 {
            cases.append(("random \(index)", (0..<(64 + index * 97)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }))
        }
        for (name, bytes) in cases {
            let answer = TestSockets.exchange(port: port, bytes)
            XCTAssertEqual(TestSockets.status(of: answer), 400, "\(name): \(String(decoding: answer.prefix(80), as: UTF8.self))")
        }
        let tooBig = TestSockets.exchange(port: port, Array("POST /api/v1/jobs/createTask HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n".utf8))
        XCTAssertEqual(TestSockets.status(of: tooBig), 413)
        // A client that connects and leaves gets nothing, and costs nothing.
        XCTAssertEqual(TestSockets.exchange(port: port, []), [])

        // Still serving, over a raw socket and through the client.
        let raw = TestSockets.exchange(port: port, Array("GET /api/v1/chat/credit HTTP/1.0\r\nAuthorization: Bearer demo\r\n\r\n".utf8))
        XCTAssertEqual(TestSockets.status(of: raw), 200)
        XCTAssertTrue(String(decoding: raw, as: UTF8.self).hasSuffix(#"{"code":200,"msg":"success","data":10000000}"#))
        XCTAssertEqual(try client.remainingCredits(), 10_000_000)
    }

    func testRequestHeadParsing() throws {
        let head = Array("POST /api/v1/jobs/recordInfo?taskId=a%2Fb&taskId=second&x HTTP/1.1\r\nHost: h\r\nCONTENT-LENGTH: 12\r\nX-Empty:\r\n".utf8)
        let request = try XCTUnwrap(SimulatorHTTPRequest.parseHead(head[...].dropLast(2)))
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.path, "/api/v1/jobs/recordInfo")
        XCTAssertEqual(request.query["taskId"], "a/b", "decoded, and the first value wins")
        XCTAssertEqual(request.query["x"], "")
        XCTAssertEqual(request.contentLength, 12)
        XCTAssertEqual(request.headers["x-empty"], "")
        XCTAssertNil(SimulatorHTTPRequest.parseHead(Array("GET / HTTP/1.1\r\nBad Name: x".utf8)[...]))
        XCTAssertNil(SimulatorHTTPRequest.parseHead(Array("GET  / HTTP/1.1".utf8)[...]))
    }

    func testConnectionsBeyondTheCapWaitForAFreeSlot() throws {
        // 64 idle connections take every slot (each would be dropped only after `SimulatorServer.idleSeconds` of silence).
        let idle = (0..<SimulatorServer.maxConnections).map { _ in TestSockets.connect(port: port) }
        XCTAssertFalse(idle.contains(-1))
        usleep(200_000)
        let answered = DispatchSemaphore(value: 0)
        let credits = Locked<Int?>(nil)
        let waiting = client!
        startThread(name: "test-65th") {
            credits.withLock { $0 = try? waiting.remainingCredits() }
            answered.signal()
        }
        XCTAssertEqual(answered.wait(timeout: .now() + 0.5), .timedOut, "the 65th waits in the backlog")
        close(idle[0])
        XCTAssertEqual(answered.wait(timeout: .now() + 3), .success, "and is served once a slot frees")
        XCTAssertEqual(credits.current, 10_000_000)
        idle.dropFirst().forEach { close($0) }
    }

    func testStopEndsHangingConnectionsAndClosesThePort() throws {
        simulator.inject(.acceptThenHang)
        let outcome = Locked<Error?>(nil)
        let finished = DispatchSemaphore(value: 0)
        let waiting = client!
        startThread(name: "test-hang") {
            do { _ = try waiting.createTask(Self.request) } catch { outcome.withLock { $0 = error } }
            finished.signal()
        }
        let deadline = Date().addingTimeInterval(5)
        while simulator.statistics().tasks == 0 && Date() < deadline { usleep(10_000) }
        XCTAssertEqual(simulator.statistics().tasks, 1)
        let started = Date()
        server.stop()
        XCTAssertEqual(finished.wait(timeout: .now() + 3), .success, "the hanging create ends when the server stops")
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        guard case .ambiguous = outcome.current as? ProviderError else { return XCTFail("got \(String(describing: outcome.current))") }
        XCTAssertThrowsError(try client.remainingCredits()) {
            guard case .unreachable = $0 as? ProviderError else { return XCTFail("expected unreachable, got \($0)") }
        }
    }
}
