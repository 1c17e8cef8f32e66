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
/// calling thread, so shutdown runs as ordinary code: take the socket's name away, serve what
/// already waits in the accept queue, stop accepting (libfcgi's shutdown flag, and `shutdown(2)`
/// on the listening socket, which wakes threads blocked in accept), let the requests in flight
/// finish, exit 0. SIGPIPE is ignored (after `FCGX_Init`, which installs its own handler), so a
/// client that goes away only fails that request's write.
///
/// The thread pool is Phim's `pm.max_children`. A request that may wait on the provider (a slow
/// provider answers createTask after seconds) may not take the last free thread while the others
/// are stuck: it gets 503 `service_busy` at once, and that thread stays for everything else
/// (livez, reads, callbacks). See `Pool`.
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
        /// How long the last free thread waits for one of the others to finish before it refuses
        /// a request that may wait on the provider (see `Pool.admitsProviderCall`).
        public var saturationGraceSeconds = 0.25

        public init(socketPath: String, threads: Int, databasePath: String) {
            self.socketPath = socketPath
            self.threads = threads
            self.databasePath = databasePath
        }
    }

    let app: App
    let options: Options
    private var listenSocket: Int32 = -1
    /// The socket file's inode, so shutdown removes the name only while it is still ours.
    private var socketInode: ino_t = 0
    private let running = Locked(0)
    private let pool: Pool
    /// When saturation was last logged, and how many refusals since (one line per 10 s at most).
    private let saturationLog = Locked((at: UInt64(0), refused: 0))

    public init(app: App, options: Options) {
        self.app = app
        self.options = options
        pool = Pool(size: options.threads)
    }

    /// Up to `bytes` of freed memory stay with the process (glibc's `M_TRIM_THRESHOLD`).
    public static func keepFreedMemory(bytes: Int32) { phim_keep_freed_memory(bytes) }

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
        var info = stat()
        if stat(options.socketPath, &info) == 0 { socketInode = info.st_ino }

        for index in 0..<options.threads {
            running.withLock { $0 += 1 }
            startThread(name: "fcgi-\(index)", stackSizeBytes: 1 << 20) { [self] in
                self.workerLoop(thread: index)
                self.running.withLock { $0 -= 1 }
            }
        }
        Log.info("fastcgi listening", ["socket": options.socketPath, "threads": String(options.threads), "pid": String(getpid())])

        let received = Self.waitForTerminationSignal()
        Log.info("stopping: finishing requests in flight", ["signal": String(received), "in_flight": String(pool.busyThreads)])
        let deadline = Date().addingTimeInterval(options.drainSeconds)
        // The name goes first: from now on nginx's connect fails (ENOENT) and it passes the
        // request to the next server, POSTs included, since nothing was sent. Connections
        // already queued are served before the socket is shut: shutting a listening socket
        // resets what waits in its queue, and nginx does not retry a POST it has sent (measured
        // under load: creates and callbacks answered 502 on every restart).
        removeSocketName()
        drainAcceptQueue(until: deadline)
        FCGX_ShutdownPending()
        shutdown(listenSocket, Int32(SHUT_RDWR))
        while running.current > 0, Date() < deadline { usleep(20_000) }
        close(listenSocket)
        Log.info("stopped", ["unfinished_threads": String(running.current)])
    }

    /// Unlinks the socket file unless it is no longer ours (a successor may already listen there).
    private func removeSocketName() {
        var info = stat()
        if stat(options.socketPath, &info) == 0, info.st_ino == socketInode { unlink(options.socketPath) }
    }

    /// Returns once nothing has waited in the accept queue for 100 ms: no new connection can
    /// arrive without the socket's name, and the workers take the queued ones as they free up.
    private func drainAcceptQueue(until deadline: Date) {
        var quietSince = DispatchTime.now().uptimeNanoseconds
        while Date() < deadline {
            var entry = pollfd(fd: listenSocket, events: Int16(POLLIN), revents: 0)
            let now = DispatchTime.now().uptimeNanoseconds
            if poll(&entry, 1, 0) > 0 {
                quietSince = now
            } else if now - quietSince >= 100_000_000 {
                return
            }
            usleep(10_000)
        }
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

    private func workerLoop(thread: Int) {
        // libfcgi keeps pointers to the request in its streams: it must never move.
        let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        defer { request.deallocate() }
        guard FCGX_InitRequest(request, listenSocket, 0) == 0 else { return }
        var database: Database?
        while FCGX_Accept_r(request) >= 0 {
            pool.begin(thread)
            if database == nil {
                do { database = try Database(path: options.databasePath) } catch {
                    Log.error("cannot open the database", ["error": "\(error)"])
                }
            }
            let consumedInput = serve(request, thread: thread, database: database)
            pool.end(thread)
            // libfcgi closes a connection by shutting down its side and then waiting for nginx
            // to close first (a "lingering" close, so unread input cannot reset the answer):
            // a poll, a wait and a wake-up per request (profiled: a sixth of a video read's
            // CPU). When everything nginx sent has been read, there is nothing to reset, and
            // the connection is simply closed ("detached" requests skip the wait).
            if consumedInput { FCGX_Detach(request) }
            FCGX_Finish_r(request)
        }
        FCGX_Free(request, 0)
    }

    /// Returns whether the request's whole input was read (see `workerLoop`).
    private func serve(_ raw: UnsafeMutablePointer<FCGX_Request>, thread: Int, database: Database?) -> Bool {
        let started = DispatchTime.now().uptimeNanoseconds
        let params = Self.parameters(raw.pointee.envp)
        let requestID = params["REQUEST_ID"].flatMap { $0.isEmpty ? nil : $0 } ?? UUID().uuidString.lowercased()
        let (path, query) = Request.splitTarget(params["REQUEST_URI"] ?? params["DOCUMENT_URI"] ?? "/")
        var request = Request(method: params["REQUEST_METHOD"] ?? "GET", path: path, query: query,
                              headers: Self.headers(params),
                              remoteAddress: params["REMOTE_ADDR"] ?? "",
                              requestID: requestID)

        let response: Response
        var consumedInput = false
        let limit = path == "/api/v1/uploads" ? options.maximumUploadBytes : options.maximumBodyBytes
        let declared = Int(params["CONTENT_LENGTH"] ?? "") ?? 0
        if declared > limit || declared < 0 {
            var refusal = App.errorResponse(declared < 0 ? .badRequest : .payloadTooLarge(limitBytes: limit), language: request.language)
            refusal.addHeader("X-Request-ID", requestID)
            refusal.addHeader("Cache-Control", "no-store")
            response = refusal
        } else if Router.callsProvider(method: request.method, path: path),
                  !pool.admitsProviderCall(thread: thread, graceSeconds: options.saturationGraceSeconds) {
            response = refuseBusy(request)
        } else {
            request.body = Self.readBody(raw.pointee.in, length: declared)
            consumedInput = Self.readToEnd(raw.pointee.in)
            response = app.handle(request, db: database)
        }
        let written = Self.write(response, requestID: requestID, includeBody: request.method != "HEAD", to: raw.pointee.out)
        if Log.isEnabled(.info) {
            let micros = (DispatchTime.now().uptimeNanoseconds - started) / 1_000
            Log.info("request", ["method": request.method, "path": LogRedaction.path(path), "status": String(response.status),
                                 "ms": "\(micros / 1000).\(micros % 1000 / 100)", "request_id": requestID])
        }
        if !written { Log.warning("client went away before the answer was written", ["request_id": requestID]) }
        return consumedInput && written
    }

    /// Reads what is left of the request's input up to its end; false if more than a little
    /// was left (a body longer than it said) or the stream failed.
    static func readToEnd(_ stream: UnsafeMutablePointer<FCGX_Stream>?) -> Bool {
        guard let stream else { return false }
        // The usual case, every request: the body was read whole and this is the end.
        if FCGX_GetChar(stream) == EOF { return FCGX_GetError(stream) == 0 }
        var sink = [CChar](repeating: 0, count: 4096)
        for _ in 0..<4 {
            let count = FCGX_GetStr(&sink, Int32(sink.count), stream)
            if count == 0 { return FCGX_GetError(stream) == 0 }
            if count < 0 { return false }
        }
        return false
    }

    /// 503 `service_busy` with Retry-After; counted, and logged at most once per 10 s.
    private func refuseBusy(_ request: Request) -> Response {
        var response = App.errorResponse(.serviceBusy, language: request.language)
        response.addHeader("X-Request-ID", request.requestID)
        response.addHeader("Cache-Control", "no-store")
        Metrics.shared.count("phim_fastcgi_busy_refusals_total")
        let now = DispatchTime.now().uptimeNanoseconds
        let refused: Int? = saturationLog.withLock { log in
            log.refused += 1
            guard log.at == 0 || now - log.at >= 10_000_000_000 else { return nil }
            defer { log = (now, 0) }
            return log.refused
        }
        if let refused {
            Log.warning("every worker thread busy: refusing requests that would wait on the provider",
                        ["threads": String(options.threads), "refused": String(refused), "request_id": request.requestID])
        }
        return response
    }

    static func parameters(_ envp: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String: String] {
        var result: [String: String] = [:]
        guard var cursor = envp else { return result }
        while let entry = cursor.pointee {
            // Bytes that are not UTF-8 are replaced, never trusted to be text. Split at the
            // first "=" on the C string (Character-level String indexing here was a visible
            // part of every request's time).
            if let equals = strchr(entry, Int32(UInt8(ascii: "="))) {
                let nameLength = entry.distance(to: equals)
                let name = String(decoding: UnsafeRawBufferPointer(start: entry, count: nameLength), as: UTF8.self)
                result[name] = String(decoding: UnsafeRawBufferPointer(start: equals + 1, count: strlen(equals + 1)), as: UTF8.self)
            }
            cursor += 1
        }
        return result
    }

    static func headers(_ params: [String: String]) -> [String: String] {
        var headers: [String: String] = [:]
        for (name, value) in params where name.hasPrefix("HTTP_") {
            // By bytes: Foundation's lowercasing and replacing per header was a visible part of
            // every request's time.
            let bytes = name.utf8.dropFirst(5).map { byte -> UInt8 in
                switch byte {
                case UInt8(ascii: "_"): UInt8(ascii: "-")
                case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte + 32
                default: byte
                }
            }
            headers[String(decoding: bytes, as: UTF8.self)] = value
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
        for (name, value) in response.headers where !value.utf8.contains(where: { $0 == 13 || $0 == 10 }) {
            head += "\(name): \(value)\r\n"
        }
        if response.status != 204 && response.status != 304 { head += "Content-Length: \(response.body.count)\r\n" }
        head += "\r\n"
        // libfcgi copies both into its own buffer: the body is not copied into the head first.
        func put(_ bytes: [UInt8]) -> Bool {
            bytes.isEmpty || bytes.withUnsafeBytes { raw in
                FCGX_PutStr(raw.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(raw.count), stream)
            } >= 0
        }
        var ok = put(Array(head.utf8)) && (!includeBody || put(response.body))
        if ok { ok = FCGX_FFlush(stream) >= 0 }
        return ok && FCGX_GetError(stream) == 0
    }
}

extension FastCGIServer {
    /// Which worker threads serve a request now, since when, whether it may wait on the provider,
    /// and how many requests have finished.
    ///
    /// Provider calls can take seconds. If they may take every thread, everything else (livez
    /// included) waits in the socket's queue behind them, unbounded. So the last free thread
    /// takes a request that may wait on the provider only when the pool is moving: when one of
    /// the other threads serves something else (it will be free soon), or when one of them
    /// finishes within the grace period (a burst of quick work: 50 creates at once against a
    /// fast provider are all served). If none does, they are stuck on slow calls and the
    /// request is refused at once, as is every later one while they stay stuck, so the last
    /// thread never waits long and livez behind it does not either. The normal path pays one
    /// lock per request start and end; the check runs only when every thread is busy.
    final class Pool: @unchecked Sendable {
        let size: Int
        private let condition = NSCondition()
        private var busy = 0
        /// Per thread, when its current request started (uptime nanoseconds); 0 when idle.
        private var startedAt: [UInt64]
        /// Per thread, whether its current request may wait on the provider.
        private var waitsOnProvider: [Bool]
        private var finished: UInt64 = 0
        private var waiting = 0

        init(size: Int) {
            self.size = size
            startedAt = Array(repeating: 0, count: size)
            waitsOnProvider = Array(repeating: false, count: size)
        }

        var busyThreads: Int {
            condition.lock()
            defer { condition.unlock() }
            return busy
        }

        func begin(_ thread: Int) {
            condition.lock()
            busy += 1
            startedAt[thread] = DispatchTime.now().uptimeNanoseconds
            condition.unlock()
        }

        func end(_ thread: Int) {
            condition.lock()
            busy -= 1
            startedAt[thread] = 0
            waitsOnProvider[thread] = false
            finished &+= 1
            if waiting > 0 { condition.broadcast() }
            condition.unlock()
        }

        /// Whether a request that may wait on the provider may go on, on `thread`.
        func admitsProviderCall(thread: Int, graceSeconds: Double) -> Bool {
            condition.lock()
            defer { condition.unlock() }
            let others = startedAt.indices.filter { $0 != thread }
            // A thread is still free (or there is only one), or one of the others serves
            // something that does not wait on the provider: admitted.
            if size == 1 || busy < size || others.contains(where: { !waitsOnProvider[$0] }) {
                waitsOnProvider[thread] = true
                return true
            }
            let youngest = others.map { startedAt[$0] }.max() ?? 0
            let deadline = youngest + UInt64(graceSeconds * 1_000_000_000)
            let seen = finished
            waiting += 1
            defer { waiting -= 1 }
            while finished == seen {
                let now = DispatchTime.now().uptimeNanoseconds
                if now >= deadline { return false }
                _ = condition.wait(until: Date(timeIntervalSinceNow: Double(deadline - now) / 1_000_000_000))
            }
            waitsOnProvider[thread] = true
            return true
        }
    }
}
