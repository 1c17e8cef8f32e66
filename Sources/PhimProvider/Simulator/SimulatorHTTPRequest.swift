// One HTTP/1.1 request as the simulator's server reads it: strict, small, and never trapping on bad bytes.
import Foundation

/// Only what the simulator's routes need. Anything unusual (obsolete line folding, a second
/// `Content-Length`, chunked bodies, bytes that are not UTF-8) is refused rather than guessed at.
struct SimulatorHTTPRequest {
    var method: String
    /// Percent-decoded, without the query.
    var path: String
    var query: [String: String]
    /// Names lower-cased.
    var headers: [String: String]
    var body = Data()

    static let maxHeaderLines = 100
    static let maxTargetBytes = 8 * 1024

    var contentLength: Int { headers["content-length"].flatMap { Int($0) } ?? 0 }

    /// Whether the first line, once complete, can start a request we would serve; lets the
    /// server refuse garbage before waiting for the blank line that may never come.
    static func isPlausibleRequestLine(_ line: ArraySlice<UInt8>) -> Bool {
        guard let text = String(validating: line, as: UTF8.self) else { return false }
        return parseRequestLine(text) != nil
    }

    /// Parses the head: the request line and header lines, without the final blank line.
    /// Returns nil for anything malformed.
    static func parseHead(_ bytes: ArraySlice<UInt8>) -> SimulatorHTTPRequest? {
        guard !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self) else { return nil }
        let lines = text.components(separatedBy: "\r\n")
        guard let first = lines.first, let (method, target) = parseRequestLine(first),
              lines.count - 1 <= maxHeaderLines else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            // Obsolete line folding and bare CR or LF inside a line are refused (RFC 9112 §5.2).
            guard let colon = line.firstIndex(of: ":"), !line.hasPrefix(" "), !line.hasPrefix("\t"),
                  !line.contains("\r"), !line.contains("\n") else { return nil }
            let name = String(line[..<colon])
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else { return nil }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
            let key = name.lowercased()
            if key == "content-length" {
                guard headers[key] == nil, !value.isEmpty, value.count <= 12, value.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                    return nil
                }
            }
            headers[key] = value
        }
        // The simulator's clients all send a length; a chunked body is not worth the parser.
        if headers["transfer-encoding"] != nil { return nil }
        let (rawPath, rawQuery) = splitTarget(target)
        guard let path = rawPath.removingPercentEncoding else { return nil }
        return SimulatorHTTPRequest(method: method, path: path, query: parseQuery(rawQuery), headers: headers)
    }

    private static func parseRequestLine(_ line: String) -> (method: String, target: String)? {
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        let method = String(parts[0]), target = String(parts[1]), version = parts[2]
        guard (1...16).contains(method.utf8.count), method.utf8.allSatisfy({ $0 >= 65 && $0 <= 90 }),
              target.hasPrefix("/"), target.utf8.count <= maxTargetBytes,
              target.utf8.allSatisfy({ $0 > 32 && $0 < 127 }),
              version == "HTTP/1.1" || version == "HTTP/1.0" else { return nil }
        return (method, target)
    }

    private static func splitTarget(_ target: String) -> (String, String) {
        guard let mark = target.firstIndex(of: "?") else { return (target, "") }
        return (String(target[..<mark]), String(target[target.index(after: mark)...]))
    }

    private static func parseQuery(_ query: String) -> [String: String] {
        var items: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = parts[0].removingPercentEncoding else { continue }
            let value = parts.count > 1 ? parts[1].removingPercentEncoding : ""
            // The first value wins, and a value that does not decode is left out.
            if let value, items[name] == nil { items[name] = value }
        }
        return items
    }

    /// RFC 9110's `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 48...57, 65...90, 97...122: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }
}
