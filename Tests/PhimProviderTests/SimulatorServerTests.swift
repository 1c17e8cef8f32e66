// The simulator over real HTTP on 127.0.0.1 (literal JSON in, JSON.parse out), and the server against bad input.
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
    var base: String { "http://127.0.0.1:\(port)" }

    static let create = #"{"model": "bytedance/seedance-2-mini", "callBackUrl": "https://phim.test/cb", "input": {"prompt": "over the wire", "aspect_ratio": "16:9", "resolution": "720p", "duration": 5}}"#
    static let createPrice = 41.0

    override func setUpWithError() throws {
        TestEnvironment.setUp()
        clock = ManualClock()
        simulator = KieSimulator(settings: .init(jobDuration: 20, expectedAPIKey: "demo"), clock: clock.clock, mediaBaseURL: "")
        server = SimulatorServer(simulator: simulator, port: 0, hangSeconds: 30)
        port = try server.start()
        XCTAssertEqual(server.port, port)
        simulator.mediaBaseURL = "\(base)/media"
    }

    override func tearDown() { server.stop() }

    static func sampleFile(_ name: String) throws -> Data {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/PhimProvider/Simulator/Media/\(name)")
        return try Data(contentsOf: url)
    }

    /// One call, as any HTTP client would make it.
    func call(_ method: String, _ path: String, body: String? = nil, key: String? = "demo", headers: [(String, String)] = [],
              timeoutMilliseconds: Int = 5_000) throws -> HTTPReply {
        var all = headers
        if let key { all.append(("Authorization", "Bearer \(key)")) }
        if body != nil { all.append(("Content-Type", "application/json")) }
        return try HTTPClient.send(method: method, url: base + path, headers: all, body: body.map { Data($0.utf8) },
                                   timeoutMilliseconds: timeoutMilliseconds)
    }

    func json(_ reply: HTTPReply) -> JSON { JSON.parse(reply.body) ?? .null }

    // MARK: - Kie's API over HTTP

    func testCreateThenPollThroughTheStatesToTheVideo() throws {
        let created = json(try call("POST", "/api/v1/jobs/createTask", body: Self.create))
        XCTAssertEqual(created["code"]?.intValue, 200, created["msg"]?.stringValue ?? "")
        let id = try XCTUnwrap(created["data"]?["taskId"]?.stringValue)
        func record() throws -> JSON { json(try call("GET", "/api/v1/jobs/recordInfo?taskId=\(id)"))["data"] ?? .null }
        XCTAssertEqual(try record()["state"]?.stringValue, "waiting")
        clock.advance(3)
        XCTAssertEqual(try record()["state"]?.stringValue, "queuing")
        clock.advance(5)
        XCTAssertEqual(try record()["state"]?.stringValue, "generating")
        clock.advance(12)
        let done = try record()
        XCTAssertEqual(done["state"]?.stringValue, "success")
        XCTAssertEqual(KieReply.number(done["creditsConsumed"]), Self.createPrice)
        let urls = KieReply.resultURLs(done)
        XCTAssertEqual(urls, ["\(base)/media/\(id)-landscape.mp4"])
        XCTAssertEqual(KieReply.number(json(try call("GET", "/api/v1/chat/credit"))["data"]), 10_000_000 - Self.createPrice)

        // The video it points to is served, and a fresh link to it too.
        let video = try HTTPClient.send(method: "GET", url: urls[0], timeoutMilliseconds: 5_000)
        XCTAssertEqual(video.status, 200)
        XCTAssertEqual(video.body, try Self.sampleFile("sample-landscape.mp4"))
        let link = try XCTUnwrap(json(try call("POST", "/api/v1/common/download-url", body: #"{"url": "\#(urls[0])"}"#))["data"]?.stringValue)
        XCTAssertTrue(link.hasPrefix(urls[0] + "?download="))
        XCTAssertEqual(try HTTPClient.send(method: "GET", url: link, timeoutMilliseconds: 5_000).status, 200)
    }

    func testVeoOverHTTP() throws {
        let created = json(try call("POST", "/api/v1/veo/generate", body: #"{"prompt": "a cat", "model": "veo3_lite", "aspect_ratio": "9:16"}"#))
        let id = try XCTUnwrap(created["data"]?["taskId"]?.stringValue, "\(created)")
        XCTAssertEqual(json(try call("GET", "/api/v1/veo/record-info?taskId=\(id)"))["data"]?["successFlag"]?.intValue, 0)
        clock.advance(20)
        let done = json(try call("GET", "/api/v1/veo/record-info?taskId=\(id)"))["data"]
        XCTAssertEqual(done?["successFlag"]?.intValue, 1)
        XCTAssertEqual(KieReply.strings(done?["response"]?["resultUrls"]), ["\(base)/media/\(id)-portrait.mp4"])
        let ratio = json(try call("POST", "/api/v1/veo/generate", body: #"{"prompt": "a cat", "model": "veo3_lite", "aspect_ratio": "1:1"}"#))
        XCTAssertEqual(ratio["code"]?.intValue, 422)
        XCTAssertEqual(ratio["msg"]?.stringValue, "Ratio error")
        XCTAssertEqual(json(try call("GET", "/api/v1/veo/record-info?taskId=nope"))["msg"]?.stringValue, "recordInfo is null")
    }

    func testRefusalsAndBusinessErrorsAreEnvelopesOverHTTP200() throws {
        let paused = try call("POST", "/api/v1/jobs/createTask", body: #"{"model": "sora-2-text-to-video", "input": {"prompt": "x"}}"#)
        XCTAssertEqual(paused.status, 200)
        XCTAssertEqual(String(decoding: paused.body, as: UTF8.self), #"{"code":500,"msg":"This interface is temporarily paused","data":null}"#)
        let typed = json(try call("POST", "/api/v1/jobs/createTask",
                                  body: #"{"model": "kling-3.0/video", "input": {"prompt": "x", "aspect_ratio": "16:9", "duration": 5, "multi_shots": false}}"#))
        XCTAssertEqual(typed["code"]?.intValue, 422)
        XCTAssertEqual(typed["msg"]?.stringValue, #"input.duration: expected a string, one of "3".."15""#)
        XCTAssertEqual(json(try call("POST", "/api/v1/jobs/createTask", body: Self.create.replacingOccurrences(of: "over the wire", with: "broke #error402")))["code"]?.intValue, 402)
        XCTAssertEqual(json(try call("POST", "/api/v1/jobs/createTask", body: Self.create, key: "nope"))["code"]?.intValue, 401)
        simulator.inject(.reply(code: 429, message: "slow down"))
        let limited = json(try call("POST", "/api/v1/veo/generate", body: #"{"prompt": "x", "model": "veo3_fast"}"#))
        XCTAssertEqual(limited["code"]?.intValue, 429)
        XCTAssertEqual(limited["msg"]?.stringValue, "slow down")
        XCTAssertEqual(json(try call("GET", "/api/v1/jobs/recordInfo?taskId=no-such-task%2F%3F%26%3D"))["msg"]?.stringValue, "recordInfo is null")
        XCTAssertEqual(simulator.statistics().tasks, 0)
    }

    func testAcceptThenHangTimesOutAfterSendingAndTheTaskExists() throws {
        simulator.inject(.acceptThenHang)
        let started = Date()
        XCTAssertThrowsError(try call("POST", "/api/v1/jobs/createTask", body: Self.create, timeoutMilliseconds: 500)) {
            guard case .failedAfterSending = $0 as? HTTPClientError else { return XCTFail("expected failedAfterSending, got \($0)") }
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        XCTAssertEqual(simulator.statistics().tasks, 1, "created although never answered")
        // The hanging connection holds only itself: the server answers others meanwhile.
        XCTAssertEqual(json(try call("GET", "/api/v1/chat/credit"))["code"]?.intValue, 200)
    }

    // MARK: - Uploads over HTTP

    func testUploadsAreServedBackOverHTTPWithTheTypeOfTheirName() throws {
        simulator.uploadBaseURL = base
        let multipart = TestMultipart.body([("file", "x.bin", TestImages.png), ("uploadPath", nil, Data("phim".utf8)),
                                                           ("fileName", nil, Data("x.png".utf8))])
        let streamed = try HTTPClient.send(method: "POST", url: base + "/api/file-stream-upload",
                                           headers: [("Authorization", "Bearer demo"), ("Content-Type", TestMultipart.contentType)],
                                           body: multipart, timeoutMilliseconds: 5_000)
        let data = try XCTUnwrap(json(streamed)["data"], String(decoding: streamed.body, as: UTF8.self))
        XCTAssertEqual(json(streamed)["success"], .bool(true))
        let url = try XCTUnwrap(data["downloadUrl"]?.stringValue)
        XCTAssertEqual(url, "\(base)/kieai/1/x.png")
        let served = try HTTPClient.send(method: "GET", url: url, timeoutMilliseconds: 5_000)
        XCTAssertEqual(served.status, 200)
        XCTAssertEqual(served.body, TestImages.png)
        XCTAssertEqual(served.headers["content-type"], "image/png")
        let head = try HTTPClient.send(method: "HEAD", url: url, timeoutMilliseconds: 5_000)
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.body.count, 0)
        XCTAssertEqual(head.headers["content-length"], String(TestImages.png.count))

        let encoded = json(try call("POST", "/api/file-base64-upload",
                                    body: #"{"base64Data": "\#(TestImages.png.base64EncodedString())", "uploadPath": "phim", "fileName": "x.jpg"}"#))
        let jpgURL = try XCTUnwrap(encoded["data"]?["downloadUrl"]?.stringValue)
        XCTAssertEqual(try HTTPClient.send(method: "GET", url: jpgURL, timeoutMilliseconds: 5_000).headers["content-type"], "image/jpeg",
                       "PNG bytes named .jpg are served as JPEG, as Kie's host does")
        let fromURL = json(try call("POST", "/api/file-url-upload", body: #"{"fileUrl": "\#(url)", "uploadPath": "phim", "fileName": "copy.webp"}"#))
        XCTAssertEqual(fromURL["data"]?["mimeType"]?.stringValue, "image/webp")
        XCTAssertEqual(fromURL["data"]?["fileSize"]?.intValue, TestImages.png.count)

        XCTAssertEqual(json(try call("POST", "/api/file-base64-upload", body: #"{"base64Data": "aGk="}"#))["msg"]?.stringValue,
                       "This field is required: uploadPath")
        XCTAssertEqual(json(try call("POST", "/api/file-base64-upload", body: #"{"base64Data": "aGk=", "uploadPath": "p"}"#, key: "wrong"))["code"]?.intValue, 401)
        XCTAssertEqual(try HTTPClient.send(method: "GET", url: "\(base)/kieai/99/none.png", timeoutMilliseconds: 5_000).status, 404)
        XCTAssertEqual(try call("POST", "/api/v1/file-base64-upload", body: #"{"base64Data": "aGk=", "uploadPath": "p"}"#).status, 404,
                       "only the three documented paths")
    }

    func testUploadPathsTake20MBAndTheRestOneMB() throws {
        simulator.uploadBaseURL = base
        let big = Data(repeating: 0x41, count: 2 << 20)
        let multipart = TestMultipart.body([("file", "big.bin", big), ("uploadPath", nil, Data("p".utf8))])
        let uploaded = try HTTPClient.send(method: "POST", url: base + "/api/file-stream-upload",
                                           headers: [("Authorization", "Bearer demo"), ("Content-Type", TestMultipart.contentType)],
                                           body: multipart, timeoutMilliseconds: 10_000)
        XCTAssertEqual(json(uploaded)["data"]?["fileSize"]?.intValue, big.count, String(decoding: uploaded.body.prefix(200), as: UTF8.self))
        let tooBigCreate = TestSockets.exchange(port: port, Array("POST /api/v1/jobs/createTask HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n".utf8))
        XCTAssertEqual(TestSockets.status(of: tooBigCreate), 413)
        let tooBigUpload = TestSockets.exchange(port: port, Array("POST /api/file-stream-upload HTTP/1.1\r\nContent-Length: \(21 << 20)\r\n\r\n".utf8))
        XCTAssertEqual(TestSockets.status(of: tooBigUpload), 413)
        XCTAssertTrue(String(decoding: tooBigUpload, as: UTF8.self).contains("larger than 20 MB"))
    }

    func testAnotherSimulatorFetchesAnUploadOverHTTPForVeo() throws {
        simulator.uploadBaseURL = base
        for name in ["right.png", "wrong.jpg"] {
            _ = try call("POST", "/api/file-base64-upload",
                         body: #"{"base64Data": "\#(TestImages.png.base64EncodedString())", "uploadPath": "p", "fileName": "\#(name)"}"#)
        }
        // A second simulator, with its default fetcher: these URLs are not its own uploads, so it GETs them.
        let otherClock = ManualClock()
        let other = KieSimulator(settings: .init(jobDuration: 1), clock: otherClock.clock, mediaBaseURL: "http://other.test/media")
        func veo(_ url: String) throws -> JSON {
            let body = #"{"prompt": "x", "model": "veo3_fast", "imageUrls": ["\#(url)"]}"#
            let id = try KieReply.taskID(other.veoGenerate(authorization: "Bearer k", body: Data(body.utf8)))
            otherClock.advance(1)
            return KieReply.data(other.veoRecordInfo(authorization: "Bearer k", taskID: id))
        }
        XCTAssertEqual(try veo("\(base)/kieai/1/right.png")["successFlag"]?.intValue, 1)
        XCTAssertEqual(try veo("\(base)/kieai/2/wrong.jpg")["errorMessage"]?.stringValue, "The Google model was unable to generate audio")
        XCTAssertEqual(try veo("\(base)/kieai/3/missing.png")["errorMessage"]?.stringValue, "Failed to fetch the image", "a 404")
        XCTAssertEqual(try veo("http://127.0.0.1:\(TestSockets.closedPort())/x.png")["errorMessage"]?.stringValue, "Failed to fetch the image")
    }

    // MARK: - The price feed over HTTP

    func testThePriceFeedNeedsNoKey() throws {
        let count = json(try call("GET", "/client/v1/model-pricing/count", key: nil))
        XCTAssertEqual(count["data"]?["video"]?.intValue, TestFeed.allRecords)
        let page = json(try call("POST", "/client/v1/model-pricing/page", body: #"{"pageNum": 1, "pageSize": 200, "interfaceType": "video"}"#, key: nil))
        guard case .array(let records)? = page["data"]?["records"] else { return XCTFail("no records: \(page)") }
        XCTAssertEqual(records.count, TestFeed.allRecords)
        XCTAssertEqual(page["data"]?["pages"]?.intValue, 1)
    }

    // MARK: - Media

    func testMediaRangesForSeeking() throws {
        let landscape = try Self.sampleFile("sample-landscape.mp4")
        let portrait = try Self.sampleFile("sample-portrait.mp4")
        let url = "\(base)/media/abc-landscape.mp4"

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

        let whole = try HTTPClient.send(method: "GET", url: "\(base)/media/abc-portrait.mp4?download=1", timeoutMilliseconds: 5_000)
        XCTAssertEqual(whole.status, 200)
        XCTAssertEqual(whole.body, portrait)
        XCTAssertNotEqual(portrait, landscape)

        XCTAssertEqual(try HTTPClient.send(method: "GET", url: "\(base)/media/abc.mov", timeoutMilliseconds: 5_000).status, 404)
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
        _ = try call("GET", "/api/v1/chat/credit")
        let stats = try call("GET", "/_simulator/stats", key: nil)
        XCTAssertEqual(stats.status, 200)
        XCTAssertEqual(json(stats)["calls"]?["credit"]?.intValue, 1)
        let missing = try call("GET", "/api/v2/whatever")
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(json(missing)["code"]?.intValue, 404)
        XCTAssertEqual(try call("DELETE", "/api/v1/chat/credit").status, 404)
        XCTAssertEqual(try call("GET", "/api/v1/veo/generate").status, 404, "generate is a POST")
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
        // A client that connects and leaves gets nothing, and costs nothing.
        XCTAssertEqual(TestSockets.exchange(port: port, []), [])

        // Still serving, over a raw socket and over curl.
        let raw = TestSockets.exchange(port: port, Array("GET /api/v1/chat/credit HTTP/1.0\r\nAuthorization: Bearer demo\r\n\r\n".utf8))
        XCTAssertEqual(TestSockets.status(of: raw), 200)
        XCTAssertTrue(String(decoding: raw, as: UTF8.self).hasSuffix(#"{"code":200,"msg":"success","data":10000000}"#))
        XCTAssertEqual(json(try call("GET", "/api/v1/chat/credit"))["data"]?.intValue, 10_000_000)
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
        let url = base + "/api/v1/chat/credit"
        startThread(name: "test-65th") {
            let reply = try? HTTPClient.send(method: "GET", url: url, headers: [("Authorization", "Bearer demo")], timeoutMilliseconds: 5_000)
            credits.withLock { $0 = reply.flatMap { JSON.parse($0.body)?["data"]?.intValue } }
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
        let url = base + "/api/v1/jobs/createTask"
        startThread(name: "test-hang") {
            do {
                _ = try HTTPClient.send(method: "POST", url: url, headers: [("Authorization", "Bearer demo")], body: Data(Self.create.utf8),
                                        timeoutMilliseconds: 20_000)
            } catch { outcome.withLock { $0 = error } }
            finished.signal()
        }
        let deadline = Date().addingTimeInterval(5)
        while simulator.statistics().tasks == 0 && Date() < deadline { usleep(10_000) }
        XCTAssertEqual(simulator.statistics().tasks, 1)
        let started = Date()
        server.stop()
        XCTAssertEqual(finished.wait(timeout: .now() + 3), .success, "the hanging create ends when the server stops")
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        guard case .failedAfterSending = outcome.current as? HTTPClientError else {
            return XCTFail("got \(String(describing: outcome.current))")
        }
        XCTAssertThrowsError(try call("GET", "/api/v1/chat/credit")) {
            guard case .unreachable = $0 as? HTTPClientError else { return XCTFail("expected unreachable, got \($0)") }
        }
    }
}
