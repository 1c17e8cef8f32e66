import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One line per event on standard error: `time level message key=value …`, or one JSON object
/// per line with `LOG_FORMAT=json`. Written with `write(2)` so threads never share a buffer.
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
        let time = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!,
                                               formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        var line: String
        if settings.json {
            var object: [String: String] = ["time": time, "level": level.name, "message": message]
            for (key, value) in fields { object[key] = value }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        } else {
            line = "\(time) \(level.name) \(message)"
            for (key, value) in fields { line += " \(key)=\(value.contains(" ") ? "\"\(value)\"" : value)" }
        }
        line += "\n"
        line.withCString { pointer in _ = Glibc.write(2, pointer, strlen(pointer)) }
    }
}
