import Foundation

/// One request as the handlers see it: plain values, whatever carried it (FastCGI, or a test).
public struct Request: Sendable {
    public var method: String
    /// The path without its query string, percent-decoding left to the route patterns.
    public var path: String
    public var query: [String: String]
    /// Header names lower-cased (`content-type`, `cookie`, `x-csrf-token` …).
    public var headers: [String: String]
    public var body: [UInt8]
    /// nginx's `REMOTE_ADDR`: behind a proxy, its realip module (`set_real_ip_from`) has put the
    /// client's address there. Never read from a header the client writes.
    public var remoteAddress: String
    public var requestID: String
    /// Set by `App` on https: cookies are read only under their `__Host-` names (which only this
    /// host, over TLS, can set; a sibling subdomain cannot toss them) and given to the handlers
    /// under their plain names.
    public var cookieNamePrefix = ""

    public init(method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:],
                body: [UInt8] = [], remoteAddress: String = "127.0.0.1", requestID: String = UUID().uuidString.lowercased()) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        self.requestID = requestID
    }

    /// Splits a request target (`/a/b?x=1&y=2`) into its path and decoded query.
    public static func splitTarget(_ target: String) -> (path: String, query: [String: String]) {
        guard let mark = target.firstIndex(of: "?") else { return (target, [:]) }
        return (String(target[..<mark]), parseQuery(String(target[target.index(after: mark)...])))
    }

    public static func parseQuery(_ text: String) -> [String: String] {
        var query: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(String(parts[0]))
            let value = parts.count > 1 ? decode(String(parts[1])) : ""
            if query[name] == nil { query[name] = value }
        }
        return query
    }

    private static func decode(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "%") }) else { return text }
        return text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? text
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }

    public var cookies: [String: String] {
        var cookies: [String: String] = [:]
        for part in (headers["cookie"] ?? "").split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            var name = pair[0].trimmingSpaces
            if !cookieNamePrefix.isEmpty {
                guard name.hasPrefix(cookieNamePrefix) else { continue }
                name.removeFirst(cookieNamePrefix.count)
            }
            if cookies[name] == nil { cookies[name] = pair[1].trimmingSpaces }
        }
        return cookies
    }

    /// The caller's language: English when `Accept-Language` prefers it, Vietnamese otherwise.
    public var language: Language {
        for part in (headers["accept-language"] ?? "").split(separator: ",") {
            let tag = part.split(separator: ";").first?.trimmingSpaces.lowercased() ?? ""
            if tag.hasPrefix("vi") { return .vi }
            if tag.hasPrefix("en") { return .en }
        }
        return .vi
    }
}

public enum Language: String, Sendable, CaseIterable {
    case vi, en
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (what HTTP calls optional whitespace). By
    /// hand: Foundation's `trimmingCharacters(in:)` was a visible part of every request's time.
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
