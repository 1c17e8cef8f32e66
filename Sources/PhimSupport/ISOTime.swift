import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// ISO 8601 in UTC with milliseconds (`2026-11-29T03:50:21.123Z`) from Unix milliseconds,
/// written by hand: a Foundation date formatter per value cost more than the rest of a video's
/// answer.
public enum ISOTime {
    public static func string(_ millis: Int64) -> String {
        let time = Fields(millis)
        guard time.fitsFourDigits else { return time.loose }
        return String(unsafeUninitializedCapacity: 24) { time.write(into: $0) }
    }

    /// The most `write` ever writes: 24 characters, more only for years outside 0...9999.
    public static let maximumLength = 48

    /// Writes the same characters into `out` (room for `maximumLength`) without making a string
    /// first (a JSON answer); returns how many.
    public static func write(_ millis: Int64, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let time = Fields(millis)
        guard time.fitsFourDigits else {
            let loose = Array(time.loose.utf8.prefix(maximumLength))
            _ = out.initialize(from: loose)
            return loose.count
        }
        return time.write(into: out)
    }

    /// A UTC calendar time split by `gmtime_r`.
    private struct Fields {
        var parts = tm()
        var year: Int
        var fraction: Int

        init(_ millis: Int64) {
            var seconds = time_t(millis >= 0 ? millis / 1000 : (millis - 999) / 1000)
            fraction = Int(millis - Int64(seconds) * 1000)
            gmtime_r(&seconds, &parts)
            year = Int(parts.tm_year) + 1900
        }

        var fitsFourDigits: Bool { (0...9999).contains(year) }

        /// Years outside 0...9999 do not fit ISO 8601's four digits: written loosely (Phim stores none).
        var loose: String {
            "\(year)-\(parts.tm_mon + 1)-\(parts.tm_mday)T\(parts.tm_hour):\(parts.tm_min):\(parts.tm_sec).\(fraction)Z"
        }

        /// Digits straight into 24 bytes: string interpolation of padded parts was a tenth of a
        /// gallery page's time (five times per video).
        func write(into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
            func put(_ value: Int, width: Int, at offset: Int) {
                var value = value
                for position in stride(from: offset + width - 1, through: offset, by: -1) {
                    out[position] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            put(year, width: 4, at: 0)
            out[4] = UInt8(ascii: "-")
            put(Int(parts.tm_mon) + 1, width: 2, at: 5)
            out[7] = UInt8(ascii: "-")
            put(Int(parts.tm_mday), width: 2, at: 8)
            out[10] = UInt8(ascii: "T")
            put(Int(parts.tm_hour), width: 2, at: 11)
            out[13] = UInt8(ascii: ":")
            put(Int(parts.tm_min), width: 2, at: 14)
            out[16] = UInt8(ascii: ":")
            put(Int(parts.tm_sec), width: 2, at: 17)
            out[19] = UInt8(ascii: ".")
            put(fraction, width: 3, at: 20)
            out[23] = UInt8(ascii: "Z")
            return 24
        }
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
