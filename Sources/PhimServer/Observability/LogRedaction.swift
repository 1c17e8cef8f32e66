import Foundation

/// What request paths look like in logs: the callback secret and a share link's token are
/// capabilities, so they never reach a log line, at any level.
public enum LogRedaction {
    public static func path(_ path: String) -> String {
        var segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        // ["", "api", "v1", "webhooks", "kie", job, secret, ...]
        if segments.count >= 7, segments[1] == "api", segments[3] == "webhooks", segments[4] == "kie" {
            segments[6] = "***"
        }
        // ["", "v", token, ...]
        if segments.count >= 3, segments[1] == "v" { segments[2] = "***" }
        return segments.joined(separator: "/")
    }
}
