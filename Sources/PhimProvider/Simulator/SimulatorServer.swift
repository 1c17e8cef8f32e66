// Serves a KieSimulator over real HTTP/1.1 on blocking POSIX sockets, with Kie's paths.
import Foundation
import PhimSupport
#if canImport(Glibc)
import Glibc
#endif

/// Kie's API: `POST /api/v1/jobs/createTask`, `GET /api/v1/jobs/recordInfo?taskId=`,
/// `POST /api/v1/veo/generate`, `GET /api/v1/veo/record-info?taskId=`, `GET /api/v1/chat/credit`,
/// `POST /api/v1/common/download-url`; its upload host: `POST /api/file-stream-upload`,
/// `/api/file-base64-upload`, `/api/file-url-upload` and `GET|HEAD /kieai/<n>/<name>` for the files;
/// its public price feed: `GET /client/v1/model-pricing/count`, `POST /client/v1/model-pricing/page`;
/// and `GET /_simulator/stats`, `GET|HEAD /media/<file>.mp4` for the sample video every successful
/// task points to.
///
/// One thread accepts; each connection gets its own thread, kept for the client's next request
/// (HTTP/1.1 keep-alive, until the client closes, asks `Connection: close`, or stays idle for
/// `idleSeconds`): Phim's libcurl handle reuses its connection, as it would with Kie, so a
/// create does not pay a new thread, connect and close each time (profiled: a fifth of a
/// create's CPU). A withheld answer (`acceptThenHang`) ties up only its own connection. Bad
/// input is answered 400 and closed, never trusted.
public final class SimulatorServer: @unchecked Sendable {
    public enum StartError: Error, Equatable {
        case alreadyStarted
        case badAddress(String)
        case cannotListen(String)
    }

    public let simulator: KieSimulator
    public let host: String
    private let requestedPort: Int
    /// How long an `acceptThenHang` reply holds its connection before answering after all.
    private let hangSeconds: TimeInterval

    static let maxConnections = 64
    static let maxHeadBytes = 64 * 1024
    static let maxBodyBytes = 1 << 20
    /// The upload paths take files: their requests may be this large (20 MB, the simulator's upload limit).
    static let maxUploadBodyBytes = SimulatorUploads.maxFileBytes
    static let uploadPaths: Set<String> = ["/api/file-stream-upload", "/api/file-base64-upload", "/api/file-url-upload"]

    static func maxBodyBytes(forPath path: String) -> Int { uploadPaths.contains(path) ? maxUploadBodyBytes : maxBodyBytes }
    /// The whole request must arrive within this: a client that dribbles bytes cannot hold a thread.
    static let readTimeoutSeconds: TimeInterval = 10
    /// How long a kept connection waits for the client's next request.
    static let idleSeconds: TimeInterval = 30

    /// Guards everything below, and wakes the accept loop, `stop()` and hanging connections.
    private let state = NSCondition()
    private var listenFD: Int32 = -1
    private var boundPort: Int?
    private var started = false
    private var stopping = false
    private var acceptLoopRunning = false
    private var openConnections: Set<Int32> = []

    public init(simulator: KieSimulator, host: String = "127.0.0.1", port: Int, hangSeconds: TimeInterval = 120) {
        self.simulator = simulator
        self.host = host
        self.requestedPort = port
        self.hangSeconds = hangSeconds
    }

    /// The port bound by `start()`.
    public var port: Int? { state.withLock { boundPort } }

    /// Binds, listens and starts the accept thread. Port 0 picks any free port; the one bound is returned.
    @discardableResult
    public func start() throws -> Int {
        state.lock()
        defer { state.unlock() }
        guard !started else { throw StartError.alreadyStarted }
        // Read the clips now, so a missing resource bundle shows at start-up, not at the first play.
        if SimulatorMedia.samples == nil { Log.warning("simulator sample videos not found; /media answers 404") }

        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw StartError.cannotListen("socket: \(Self.errnoText())") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(clamping: requestedPort)).bigEndian
        guard (0...65535).contains(requestedPort), inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close(fd)
            throw StartError.badAddress("\(host):\(requestedPort)")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            let reason = Self.errnoText()
            close(fd)
            throw StartError.cannotListen("\(host):\(requestedPort): \(reason)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: actual.sin_port))
        listenFD = fd
        boundPort = port
        started = true
        acceptLoopRunning = true
        startThread(name: "sim-accept") { [self] in acceptLoop(fd) }
        return port
    }

    /// Stops accepting, cuts open connections (hanging ones included) and returns once the
    /// listening socket is closed. Connection threads end on their own moments later.
    public func stop() {
        state.lock()
        defer { state.unlock() }
        guard started, !stopping else { return }
        stopping = true
        // Wakes the accept loop's poll at once (Linux reports a shut-down listener as readable).
        if listenFD >= 0 { shutdown(listenFD, Int32(SHUT_RDWR)) }
        for fd in openConnections { shutdown(fd, Int32(SHUT_RDWR)) }
        state.broadcast()
        while acceptLoopRunning { state.wait() }
    }

    // MARK: - Accepting

    private func acceptLoop(_ listener: Int32) {
        while true {
            state.lock()
            // At the cap, new connections wait in the kernel's backlog rather than being refused.
            while !stopping && openConnections.count >= Self.maxConnections { state.wait() }
            let stop = stopping
            state.unlock()
            if stop { break }

            // Poll with a timeout so a stop is noticed without closing the socket under accept().
            var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 200) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                // Out of descriptors, or the client gave up: breathe, then go on.
                if errno == EMFILE || errno == ENFILE || errno == ENOMEM { usleep(50_000) }
                continue
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            state.lock()
            if stopping {
                state.unlock()
                close(client)
                break
            }
            openConnections.insert(client)
            state.unlock()
            startThread(name: "sim-conn") { [self] in serve(client) }
        }
        close(listener)
        state.withLock {
            acceptLoopRunning = false
            listenFD = -1
            state.broadcast()
        }
    }

    // MARK: - One connection

    private struct Response {
        var status: Int
        var headers: [(String, String)] = []
        var body = Data()
        /// HEAD: the headers of a GET, without its body.
        var omitsBody = false
        /// Withhold the answer (see `KieSimulator.Fault.acceptThenHang`).
        var hangs = false
        /// Answer late (a slow provider).
        var delaySeconds: Double = 0
    }

    private func serve(_ fd: Int32) {
        defer {
            // Closed under the lock, so `stop()` never shuts down a number already reused.
            state.withLock {
                openConnections.remove(fd)
                close(fd)
                state.broadcast()
            }
        }
        var sendTimeout = timeval(tv_sec: Int(Self.readTimeoutSeconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size))

        while true {
            let request: SimulatorHTTPRequest
            let more: Bool
            switch readRequest(fd) {
            case .closed:
                return
            case .refused(let status, let message):
                write(fd, Self.json(status: status, code: status, message: message), keepAlive: false)
                lingeringClose(fd)
                return
            case .request(let read, let bytesAfter):
                request = read
                more = bytesAfter
            }
            let response = route(request)
            if response.delaySeconds > 0 { Thread.sleep(forTimeInterval: response.delaySeconds) }
            if response.hangs {
                // The task exists, but the answer is withheld: the caller times out after sending.
                state.lock()
                let until = Date().addingTimeInterval(hangSeconds)
                while !stopping && Date() < until { _ = state.wait(until: until) }
                let stopped = stopping
                state.unlock()
                if stopped { return }
            }
            // Bytes past this request (a pipelining client) are not kept: close after answering.
            let keepAlive = !more && request.headers["connection"]?.lowercased() != "close" && !state.withLock({ stopping })
            write(fd, response, keepAlive: keepAlive)
            if !keepAlive { return }
        }
    }

    private enum ReadOutcome {
        /// The request, and whether more bytes followed it.
        case request(SimulatorHTTPRequest, bytesAfter: Bool)
        case refused(Int, String)
        /// The client left before sending anything, or the server is stopping.
        case closed
    }

    private func readRequest(_ fd: Int32) -> ReadOutcome {
        // Waiting for a kept connection's next request may take a while; once it starts, the
        // whole request must arrive within the read timeout.
        var deadline = Date().addingTimeInterval(Self.idleSeconds)
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        var headEnd: Int?
        var checkedRequestLine = false

        func receive() -> Int {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { return -2 }
            var timeout = timeval(tv_sec: Int(remaining), tv_usec: Int((remaining - remaining.rounded(.down)) * 1_000_000))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            while true {
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count < 0 && errno == EINTR { continue }
                if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return -2 }
                return count
            }
        }

        while headEnd == nil {
            let count = receive()
            if count == 0 || count == -1 {
                // A peer that closed halfway through its head sent something that is not HTTP.
                return buffer.isEmpty || count == -1 ? .closed : .refused(400, "Malformed request")
            }
            if count == -2 { return buffer.isEmpty ? .closed : .refused(408, "Request timeout") }
            if buffer.isEmpty { deadline = Date().addingTimeInterval(Self.readTimeoutSeconds) }
            let searchFrom = max(0, buffer.count - 3)
            buffer.append(contentsOf: chunk[0..<count])
            if !checkedRequestLine, let lineEnd = Self.find([13, 10], in: buffer, from: 0) {
                checkedRequestLine = true
                guard SimulatorHTTPRequest.isPlausibleRequestLine(buffer[0..<lineEnd]) else {
                    return .refused(400, "Malformed request line")
                }
            }
            headEnd = Self.find([13, 10, 13, 10], in: buffer, from: searchFrom)
            if headEnd == nil, buffer.count > Self.maxHeadBytes { return .refused(400, "Request head too large") }
            if !checkedRequestLine, buffer.count > SimulatorHTTPRequest.maxTargetBytes + 64 {
                return .refused(400, "Malformed request line")
            }
        }
        guard let end = headEnd, end <= Self.maxHeadBytes,
              var request = SimulatorHTTPRequest.parseHead(buffer[0..<end]) else {
            return .refused(400, "Malformed request")
        }
        let length = request.contentLength
        let limit = Self.maxBodyBytes(forPath: request.path)
        guard length <= limit else { return .refused(413, "Request body larger than \(limit >> 20) MB") }
        if length > 0, request.headers["expect"]?.lowercased() == "100-continue" {
            send(fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        }
        let bytesAfter = buffer.count - (end + 4) > length
        var body = Array(buffer[(end + 4)...].prefix(length))
        while body.count < length {
            let count = receive()
            if count == -2 { return .refused(408, "Request timeout") }
            if count == 0 { return .refused(400, "Request body shorter than its Content-Length") }
            if count < 0 { return .closed }
            body.append(contentsOf: chunk[0..<min(count, length - body.count)])
        }
        request.body = Data(body)
        return .request(request, bytesAfter: bytesAfter)
    }

    // MARK: - Routes

    private func route(_ request: SimulatorHTTPRequest) -> Response {
        let authorization = request.headers["authorization"]
        switch (request.method, request.path) {
        case ("POST", "/api/v1/jobs/createTask"):
            let reply = simulator.createTask(authorization: authorization, body: request.body)
            var response = Self.json(reply)
            response.hangs = reply.hangs
            response.delaySeconds = reply.delaySeconds
            return response
        case ("GET", "/api/v1/jobs/recordInfo"):
            return Self.json(simulator.recordInfo(authorization: authorization, taskID: request.query["taskId"]))
        case ("POST", "/api/v1/veo/generate"):
            let reply = simulator.veoGenerate(authorization: authorization, body: request.body)
            var response = Self.json(reply)
            response.hangs = reply.hangs
            response.delaySeconds = reply.delaySeconds
            return response
        case ("GET", "/api/v1/veo/record-info"):
            return Self.json(simulator.veoRecordInfo(authorization: authorization, taskID: request.query["taskId"]))
        case ("POST", "/api/file-stream-upload"):
            return Self.json(simulator.uploadStream(authorization: authorization, contentType: request.headers["content-type"],
                                                    body: request.body))
        case ("POST", "/api/file-base64-upload"):
            return Self.json(simulator.uploadBase64(authorization: authorization, body: request.body))
        case ("POST", "/api/file-url-upload"):
            return Self.json(simulator.uploadURL(authorization: authorization, body: request.body))
        case ("GET", "/client/v1/model-pricing/count"):
            return Self.json(simulator.pricingCount())
        case ("POST", "/client/v1/model-pricing/page"):
            return Self.json(simulator.pricingPage(body: request.body))
        case ("GET", "/api/v1/chat/credit"):
            return Self.json(simulator.credit(authorization: authorization))
        case ("POST", "/api/v1/common/download-url"):
            return Self.json(simulator.downloadURL(authorization: authorization, body: request.body))
        case ("GET", "/_simulator/stats"):
            return Response(status: 200, headers: [("Content-Type", "application/json")], body: simulator.statisticsJSON())
        case ("GET", let path), ("HEAD", let path):
            if path.hasPrefix("/kieai/") {
                guard let file = simulator.uploadedFile(path: path) else { break }
                let type = file.contentType ?? "application/octet-stream"
                return Response(status: 200, headers: [("Content-Type", type), ("Cache-Control", "public, max-age=3600")],
                                body: file.bytes, omitsBody: request.method == "HEAD")
            }
            guard path.hasPrefix("/media/") else { break }
            return media(file: String(path.dropFirst("/media/".count)), range: request.headers["range"],
                         omitsBody: request.method == "HEAD")
        default:
            break
        }
        return Self.json(status: 404, code: 404, message: "Not found")
    }

    /// The sample clip, with single-range support: the browser's video element needs it to seek.
    private func media(file: String, range: String?, omitsBody: Bool) -> Response {
        guard file.hasSuffix(".mp4"), !file.contains("/"), let data = SimulatorMedia.sample(forFile: file) else {
            return Self.json(status: 404, code: 404, message: "Not found")
        }
        var headers = [
            ("Content-Type", "video/mp4"), ("Accept-Ranges", "bytes"), ("Cache-Control", "public, max-age=3600"),
            ("Access-Control-Allow-Origin", "*"),
        ]
        switch SimulatorMedia.range(range, size: data.count) {
        case .whole:
            return Response(status: 200, headers: headers, body: data, omitsBody: omitsBody)
        case .part(let bytes):
            headers.append(("Content-Range", "bytes \(bytes.lowerBound)-\(bytes.upperBound)/\(data.count)"))
            return Response(status: 206, headers: headers, body: data.subdata(in: bytes.lowerBound..<(bytes.upperBound + 1)),
                            omitsBody: omitsBody)
        case .unsatisfiable:
            headers.append(("Content-Range", "bytes */\(data.count)"))
            return Response(status: 416, headers: headers)
        }
    }

    private static func json(_ reply: KieSimulator.Reply) -> Response {
        Response(status: reply.status, headers: [("Content-Type", "application/json")], body: reply.body)
    }

    private static func json(status: Int, code: Int, message: String) -> Response {
        let body = JSON.object([("code", .int(code)), ("msg", .string(message)), ("data", .null)]).data()
        return Response(status: status, headers: [("Content-Type", "application/json")], body: body)
    }

    // MARK: - Writing

    private func write(_ fd: Int32, _ response: Response, keepAlive: Bool) {
        var head = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
        for (name, value) in response.headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(response.body.count)\r\nConnection: \(keepAlive ? "keep-alive" : "close")\r\n\r\n"
        var bytes = Array(head.utf8)
        if !response.omitsBody { bytes.append(contentsOf: response.body) }
        send(fd, bytes)
    }

    /// Sends everything, or gives up quietly when the peer is gone (MSG_NOSIGNAL: no SIGPIPE).
    private func send(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else { return }
            offset += sent
        }
    }

    /// After refusing a request the client may still be sending; closing at once would reset the
    /// connection and could destroy the answer before the client reads it. So stop writing, read
    /// what is still coming for a moment, then close.
    private func lingeringClose(_ fd: Int32) {
        shutdown(fd, Int32(SHUT_WR))
        var timeout = timeval(tv_sec: 0, tv_usec: 250_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var sink = [UInt8](repeating: 0, count: 16 * 1024)
        let until = Date().addingTimeInterval(2)
        var drained = 0
        while Date() < until, drained < Self.maxUploadBodyBytes {
            let count = sink.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            drained += count
        }
    }

    // MARK: - Small helpers

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var index = max(0, start)
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0] && Array(haystack[index..<(index + needle.count)]) == needle { return index }
            index += 1
        }
        return nil
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 206: "Partial Content"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 408: "Request Timeout"
        case 413: "Content Too Large"
        case 416: "Range Not Satisfiable"
        default: "Status"
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
