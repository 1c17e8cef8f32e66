// Plain-socket helpers for the tests: a raw client for garbage, a callback receiver, a closed port.
import Foundation
import PhimProvider
import PhimSupport
#if canImport(Glibc)
import Glibc
#endif

/// libcurl and libsodium want their global set-up once, before threads; every test case calls this.
enum TestEnvironment {
    private static let once: Void = {
        HTTPClient.globalInit()
        Crypto.initialize()
    }()

    static func setUp() { _ = once }
}

enum TestSockets {
    /// A connected TCP socket to 127.0.0.1:port, or -1.
    static func connect(port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            return -1
        }
        var timeout = timeval(tv_sec: 15, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Sends `bytes`, optionally closes the writing side, and reads until the server closes.
    static func exchange(port: Int, _ bytes: [UInt8], halfClose: Bool = true) -> [UInt8] {
        let fd = connect(port: port)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { break }
            offset += sent
        }
        if halfClose { shutdown(fd, Int32(SHUT_WR)) }
        return readAll(fd)
    }

    static func readAll(_ fd: Int32) -> [UInt8] {
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            answer.append(contentsOf: chunk[0..<count])
        }
        return answer
    }

    /// The status code of a raw HTTP answer, or nil.
    static func status(of answer: [UInt8]) -> Int? {
        let text = String(decoding: answer.prefix(64), as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 ") else { return nil }
        return Int(text.dropFirst(9).prefix(3))
    }

    /// A port nothing listens on (bound, read, and released again).
    static func closedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                _ = bind(fd, pointer, length)
                return getsockname(fd, pointer, &length)
            }
        }
        close(fd)
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Receives HTTP POSTs (callbacks) and answers each with a fixed status; records what came.
final class TestHTTPReceiver: @unchecked Sendable {
    struct Received: Sendable {
        var requestLine: String
        var headers: [String: String]
        var body: Data
    }

    private let lock = NSLock()
    private var received: [Received] = []
    private var fd: Int32 = -1
    private var stopped = false
    let status: Int

    init(status: Int = 200) { self.status = status }

    var requests: [Received] { lock.withLock { received } }

    func start() -> Int {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                _ = bind(fd, pointer, length)
                return getsockname(fd, pointer, &length)
            }
        }
        listen(fd, 64)
        let listener = fd
        startThread(name: "test-receiver") { [self] in
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { break }
                startThread(name: "test-receiver-conn") { [self] in handle(client) }
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func stop() {
        lock.withLock { stopped = true }
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    /// Waits (real time) until `count` requests have arrived.
    func waitFor(_ count: Int, seconds: TimeInterval = 10) -> [Received] {
        let until = Date().addingTimeInterval(seconds)
        while Date() < until {
            let now = requests
            if now.count >= count { return now }
            usleep(20_000)
        }
        return requests
    }

    private func handle(_ client: Int32) {
        defer { close(client) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        func headEnd() -> Int? {
            guard buffer.count >= 4 else { return nil }
            for index in 0...(buffer.count - 4) where buffer[index..<(index + 4)].elementsEqual([13, 10, 13, 10]) { return index }
            return nil
        }
        while headEnd() == nil {
            let count = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return }
            buffer.append(contentsOf: chunk[0..<count])
        }
        let end = headEnd()!
        let lines = String(decoding: buffer[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        var body = Array(buffer[(end + 4)...])
        while body.count < length {
            let count = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return }
            body.append(contentsOf: chunk[0..<count])
        }
        lock.withLock { received.append(Received(requestLine: lines[0], headers: headers, body: Data(body.prefix(length)))) }
        let answer = "HTTP/1.1 \(status) X\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        _ = Array(answer.utf8).withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}
