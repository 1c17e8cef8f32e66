import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// ISO 8601 in UTC with milliseconds (`2026-11-29T03:50:21.123Z`) from Unix milliseconds,
/// written by hand: a Foundation date formatter per value cost more than the rest of a video's
/// answer.
public enum ISOTime {
    public static func string(_ millis: Int64) -> String {
        var seconds = time_t(millis >= 0 ? millis / 1000 : (millis - 999) / 1000)
        let fraction = Int32(millis - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(fraction, 3))Z"
    }

    /// Reads `2026-11-01` or a full ISO 8601 time as Unix milliseconds.
    public static func parse(_ text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime], [.withFullDate]] {
            formatter.formatOptions = options
            if let date = formatter.date(from: text) { return date.unixMillis }
        }
        return nil
    }
}
