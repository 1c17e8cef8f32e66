import Foundation

/// What request paths look like in logs: the callback secret and a share link's token are
/// capabilities, so they never reach a log line, at any level.
public enum LogRedaction {
    public static func path(_ path: String) -> String {
        // Every request is logged: the common paths, holding neither, are returned as they are.
        guard path.contains("/webhooks/") || path.contains("/v/") else { return path }
        var segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        // Counted over the non-empty segments, so `//v/<token>` (refused by the router) is redacted too.
        let named = segments.indices.filter { !segments[$0].isEmpty }
        func name(_ position: Int) -> String? { position < named.count ? segments[named[position]] : nil }
        // api v1 webhooks kie <job> <secret> ...
        if name(0) == "api", name(2) == "webhooks", name(3) == "kie", named.count > 5 { segments[named[5]] = "***" }
        // v <token> ...
        if name(0) == "v", named.count > 1 { segments[named[1]] = "***" }
        return segments.joined(separator: "/")
    }
}
