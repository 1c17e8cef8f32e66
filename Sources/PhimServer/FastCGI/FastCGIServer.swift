import CFastCGI
import Foundation
import PhimCore
import PhimSupport
#if canImport(Glibc)
import Glibc
#endif

/// The FastCGI process: worker threads accepting on one socket with libfcgi, each with its own
/// SQLite connection, handing every request to `App.handle`.
///
/// Signals: SIGTERM and SIGINT are blocked in every thread and taken by `sigwait` in the
/// calling thread, so shutdown runs as ordinary code: stop accepting (libfcgi's shutdown flag,
/// and `shutdown(2)` on the listening socket, which wakes threads blocked in accept), let the
/// requests in flight finish, exit 0. SIGPIPE is ignored (after `FCGX_Init`, which installs its
/// own handler), so a client that goes away only fails that request's write.
public final class FastCGIServer: @unchecked Sendable {
    public struct Options: Sendable {
        public var socketPath: String
        public var threads: Int
        public var databasePath: String
        /// Bodies larger than this are refused (413) before they are read.
        public var maximumBodyBytes = 1 << 20
        /// Uploads carry an image of up to 10 MB plus the multipart framing.
        public var maximumUploadBytes = 11 << 20
        /// How long shutdown waits for requests in flight.
        public var drainSeconds: Double = 30

        public init(socketPath: String, threads: Int, databasePath: String) {
            self.socketPath = socketPath
            self.threads = threads
            self.databasePath = databasePath
        }
    }

    let app: App
    let options: Options
    private var listenSocket: Int32 = -1
    private let running = Locked(0)
    private let inFlight = Locked(0)

    public init(app: App, options: Options) {
        self.app = app
        self.options = options
    }

    /// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts afterwards.
    /// Call first thing in `main`, before any thread exists.
    public static func blockTerminationSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Waits for SIGTERM or SIGINT (blocked beforehand with `blockTerminationSignals`).
    public static func waitForTerminationSignal() -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        var signal: Int32 = 0
        sigwait(&set, &signal)
        return signal
    }

    /// Opens the socket, starts the workers, and returns when a termination signal has been
    /// handled and the requests in flight are done (or the drain time ran out).
    public func run() throws {
        guard FCGX_Init() == 0 else { throw ServerError.initFailed }
        signal(SIGPIPE, SIG_IGN)
        // libfcgi installs handlers for these too; ours are blocked and taken by sigwait.
        Self.blockTerminationSignals()

        let directory = (options.socketPath as NSString).deletingLastPathComponent
        if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        unlink(options.socketPath)
        listenSocket = FCGX_OpenSocket(options.socketPath, 1024)
        guard listenSocket >= 0 else { throw ServerError.cannotListen(options.socketPath) }
        // nginx's workers run as another user; they must be able to connect.
        chmod(options.socketPath, 0o666)

        for index in 0..<options.threads {
            running.withLock { $0 += 1 }
            startThread(name: "fcgi-\(index)", stackSizeBytes: 1 << 20) { [self] in
                self.workerLoop()
                self.running.withLock { $0 -= 1 }
            }
        }
        Log.info("fastcgi listening", ["socket": options.socketPath, "threads": String(options.threads), "pid": String(getpid())])

        let received = Self.waitForTerminationSignal()
        Log.info("stopping: finishing requests in flight", ["signal": String(received), "in_flight": String(inFlight.current)])
        FCGX_ShutdownPending()
        shutdown(listenSocket, Int32(SHUT_RDWR))
        let deadline = Date().addingTimeInterval(options.drainSeconds)
        while running.current > 0, Date() < deadline { usleep(20_000) }
        close(listenSocket)
        unlink(options.socketPath)
        Log.info("stopped", ["unfinished_threads": String(running.current)])
    }

    enum ServerError: Error, CustomStringConvertible {
        case initFailed
        case cannotListen(String)

        var description: String {
            switch self {
            case .initFailed: "FCGX_Init failed"
            case .cannotListen(let path): "cannot listen on \(path)"
            }
        }
    }

    // MARK: - Workers

    private func workerLoop() {
        // libfcgi keeps pointers to the request in its streams: it must never move.
        let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        defer { request.deallocate() }
        guard FCGX_InitRequest(request, listenSocket, 0) == 0 else { return }
        var database: Database?
        while FCGX_Accept_r(request) >= 0 {
            inFlight.withLock { $0 += 1 }
            if database == nil {
                do { database = try Database(path: options.databasePath) } catch {
                    Log.error("cannot open the database", ["error": "\(error)"])
                }
            }
            serve(request, database: database)
            inFlight.withLock { $0 -= 1 }
            FCGX_Finish_r(request)
        }
        FCGX_Free(request, 0)
    }

    private func serve(_ raw: UnsafeMutablePointer<FCGX_Request>, database: Database?) {
        let started = DispatchTime.now().uptimeNanoseconds
        let params = Self.parameters(raw.pointee.envp)
        let requestID = params["REQUEST_ID"].flatMap { $0.isEmpty ? nil : $0 } ?? UUID().uuidString.lowercased()
        let (path, query) = Request.splitTarget(params["REQUEST_URI"] ?? params["DOCUMENT_URI"] ?? "/")
        var request = Request(method: params["REQUEST_METHOD"] ?? "GET", path: path, query: query,
                              headers: Self.headers(params), remoteAddress: params["REMOTE_ADDR"] ?? "",
                              requestID: requestID)

        let response: Response
        let limit = path == "/api/v1/uploads" ? options.maximumUploadBytes : options.maximumBodyBytes
        let declared = Int(params["CONTENT_LENGTH"] ?? "") ?? 0
        if declared > limit || declared < 0 {
            var refusal = App.errorResponse(declared < 0 ? .badRequest : .payloadTooLarge(limitBytes: limit), language: request.language)
            refusal.addHeader("X-Request-ID", requestID)
            refusal.addHeader("Cache-Control", "no-store")
            response = refusal
        } else {
            request.body = Self.readBody(raw.pointee.in, length: declared)
            response = app.handle(request, db: database)
        }
        let written = Self.write(response, requestID: requestID, includeBody: request.method != "HEAD", to: raw.pointee.out)
        if Log.isEnabled(.info) {
            let micros = (DispatchTime.now().uptimeNanoseconds - started) / 1_000
            Log.info("request", ["method": request.method, "path": LogRedaction.path(path), "status": String(response.status),
                                 "ms": "\(micros / 1000).\(micros % 1000 / 100)", "request_id": requestID])
        }
        if !written { Log.warning("client went away before the answer was written", ["request_id": requestID]) }
    }

    static func parameters(_ envp: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String: String] {
        var result: [String: String] = [:]
        guard var cursor = envp else { return result }
        while let entry = cursor.pointee {
            // Bytes that are not UTF-8 are replaced, never trusted to be text.
            let text = String(decoding: UnsafeRawBufferPointer(start: entry, count: strlen(entry)), as: UTF8.self)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            cursor += 1
        }
        return result
    }

    static func headers(_ params: [String: String]) -> [String: String] {
        var headers: [String: String] = [:]
        for (name, value) in params where name.hasPrefix("HTTP_") {
            headers[name.dropFirst(5).lowercased().replacingOccurrences(of: "_", with: "-")] = value
        }
        if let type = params["CONTENT_TYPE"], !type.isEmpty { headers["content-type"] = type }
        if let length = params["CONTENT_LENGTH"], !length.isEmpty { headers["content-length"] = length }
        return headers
    }

    static func readBody(_ stream: UnsafeMutablePointer<FCGX_Stream>?, length: Int) -> [UInt8] {
        guard length > 0, let stream else { return [] }
        var body = [UInt8](repeating: 0, count: length)
        var total = 0
        body.withUnsafeMutableBytes { buffer in
            let base = buffer.baseAddress!.assumingMemoryBound(to: CChar.self)
            while total < length {
                let count = FCGX_GetStr(base + total, Int32(min(length - total, 1 << 20)), stream)
                if count <= 0 { break }
                total += Int(count)
            }
        }
        return Array(body.prefix(total))
    }

    /// Writes status, headers and body. Returns false when the client (or nginx) went away.
    static func write(_ response: Response, requestID: String, includeBody: Bool, to stream: UnsafeMutablePointer<FCGX_Stream>?) -> Bool {
        guard let stream else { return false }
        var head = "Status: \(response.status) \(Response.reason(response.status))\r\n"
        for (name, value) in response.headers where !value.contains("\r") && !value.contains("\n") {
            head += "\(name): \(value)\r\n"
        }
        if response.status != 204 && response.status != 304 { head += "Content-Length: \(response.body.count)\r\n" }
        head += "\r\n"
        var ok = head.withCString { FCGX_PutStr($0, Int32(strlen($0)), stream) } >= 0
        if ok, includeBody, !response.body.isEmpty {
            ok = response.body.withUnsafeBytes { bytes in
                FCGX_PutStr(bytes.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(bytes.count), stream)
            } >= 0
        }
        if ok { ok = FCGX_FFlush(stream) >= 0 }
        return ok && FCGX_GetError(stream) == 0
    }
}
