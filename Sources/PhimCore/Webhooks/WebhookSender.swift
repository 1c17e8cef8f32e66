// Sends one webhook attempt: over HTTP in the service, recorded and answered in tests.
import Foundation
import PhimProvider

/// Sends one webhook attempt.
public protocol WebhookSender: Sendable {
    /// Posts `body` with `headers` and returns the receiver's HTTP status; throws when no answer
    /// came within `timeoutSeconds` (refused connection, timeout, TLS failure).
    func post(url: String, headers: [(String, String)], body: String, timeoutSeconds: Double) throws -> Int
}

/// Posts through libcurl (`HTTPClient`), which never follows redirects: a redirect could lead
/// into the network the target policy keeps out, and counts as a failed attempt.
public struct HTTPWebhookSender: WebhookSender {
    public init() {}

    public func post(url: String, headers: [(String, String)], body: String, timeoutSeconds: Double) throws -> Int {
        let reply = try HTTPClient.send(method: "POST", url: url,
                                        headers: [("Content-Type", "application/json"), ("User-Agent", "Phim-Webhooks/1.0")] + headers,
                                        body: Data(body.utf8), timeoutMilliseconds: Int(timeoutSeconds * 1000),
                                        maxResponseBytes: 1 << 20)
        return reply.status
    }
}
