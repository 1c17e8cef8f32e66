import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One line per event on standard error: `time level message key=value …`, or one JSON object
/// per line with `LOG_FORMAT=json`.
///
/// Lines below `warning` (a line per request at the default level) are gathered in one buffer
/// per process and written together at most 0.2 s later: every thread of both FastCGI
/// processes writing its own line to the same file queued on that file's lock. A warning or an
/// error is written at once, with whatever waits before it; `flush()` runs at exit.
public enum Log {
    public enum Level: Int, Sendable, Comparable {
        case debug = 0, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        var name: String {
            switch self {
            case .debug: "debug"
            case .info: "info"
            case .warning: "warning"
            case .error: "error"
            }
        }
    }

    struct Settings: Sendable {
        var json: Bool
        var minimum: Level
    }

    private static let settings: Settings = {
        let env = ProcessInfo.processInfo.environment
        let minimum: Level = switch env["LOG_LEVEL"]?.lowercased() {
        case "debug", "trace": .debug
        case "warning", "notice": .warning
        case "error", "critical": .error
        default: .info
        }
        return Settings(json: env["LOG_FORMAT"] == "json", minimum: minimum)
    }()

    public static func debug(_ message: String, _ fields: KeyValuePairs<String, String> = [:]) { write(.debug, message, fields) }
    public static func info(_ message: String, _ fields: KeyValuePairs<String, String> = [:]) { write(.info, message, fields) }
    public static func warning(_ message: String, _ fields: KeyValuePairs<String, String> = [:]) { write(.warning, message, fields) }
    public static func error(_ message: String, _ fields: KeyValuePairs<String, String> = [:]) { write(.error, message, fields) }

    /// Whether a line at this level would be written; lets a hot path skip building its fields.
    public static func isEnabled(_ level: Level) -> Bool { level >= settings.minimum }

    public static func write(_ level: Level, _ message: String, _ fields: KeyValuePairs<String, String>) {
        guard level >= settings.minimum else { return }
        let time = now()
        // Formatted straight into the waiting lines (no line of its own to allocate and copy).
        pending.append(now: level >= .warning) { line in
            if settings.json {
                line.append(UInt8(ascii: "{"))
                appendJSONMember("time", time, to: &line, first: true)
                appendJSONMember("level", level.name, to: &line)
                appendJSONMember("message", message, to: &line)
                for (key, value) in fields { appendJSONMember(key, value, to: &line) }
                line.append(UInt8(ascii: "}"))
            } else {
                line.append(contentsOf: time.utf8)
                line.append(UInt8(ascii: " "))
                line.append(contentsOf: level.name.utf8)
                line.append(UInt8(ascii: " "))
                line.append(contentsOf: message.utf8)
                for (key, value) in fields {
                    line.append(UInt8(ascii: " "))
                    line.append(contentsOf: key.utf8)
                    line.append(UInt8(ascii: "="))
                    // Quoted and escaped when needed, so no value can start a line of its own.
                    if value.utf8.contains(where: { $0 <= 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                        appendJSONString(value, to: &line)
                    } else {
                        line.append(contentsOf: value.utf8)
                    }
                }
            }
            line.append(UInt8(ascii: "\n"))
        }
    }

    /// Writes the lines that wait. Called at exit; safe to call any time.
    public static func flush() { pending.flush() }

    private static let pending = PendingLines()

    /// The wall-clock time as ISO 8601 with milliseconds, without Foundation's date formatter
    /// (one per line made the default log level cost half of a read's throughput).
    static func now() -> String {
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        return ISOTime.string(Int64(clock.tv_sec) * 1000 + Int64(clock.tv_nsec / 1_000_000))
    }

    /// `"key":"value"` with JSON's string escapes; a comma first unless it is the first member.
    private static func appendJSONMember(_ key: String, _ value: String, to line: inout [UInt8], first: Bool = false) {
        if !first { line.append(UInt8(ascii: ",")) }
        appendJSONString(key, to: &line)
        line.append(UInt8(ascii: ":"))
        appendJSONString(value, to: &line)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func appendJSONString(_ text: String, to line: inout [UInt8]) {
        line.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                line.append(UInt8(ascii: "\\"))
                line.append(byte)
            case UInt8(ascii: "\n"): line.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): line.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): line.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                line.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                         hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xf)]])
            default:
                line.append(byte)
            }
        }
        line.append(UInt8(ascii: "\""))
    }
}

/// The lines waiting to be written, and the thread that writes them every 0.2 s.
private final class PendingLines: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var bytes: [UInt8] = []
    private var flusherStarted = false
    /// Written at once past this size, so a burst never waits for the flusher.
    private let limit = 64 * 1024

    init() {
        pthread_mutex_init(&lock, nil)
        bytes.reserveCapacity(limit)
        atexit { Log.flush() }
    }

    func append(now: Bool, _ format: (inout [UInt8]) -> Void) {
        pthread_mutex_lock(&lock)
        format(&bytes)
        let full = now || bytes.count >= limit
        let start = !flusherStarted && !full
        if start { flusherStarted = true }
        if full { writeLocked() }
        pthread_mutex_unlock(&lock)
        if start {
            let thread = Thread { [self] in
                while true {
                    Thread.sleep(forTimeInterval: 0.2)
                    flush()
                }
            }
            thread.name = "log-flusher"
            thread.start()
        }
    }

    func flush() {
        pthread_mutex_lock(&lock)
        writeLocked()
        pthread_mutex_unlock(&lock)
    }

    private func writeLocked() {
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { if written < 0, errno == EINTR { continue }; break }
                offset += written
            }
        }
        bytes.removeAll(keepingCapacity: true)
    }
}
