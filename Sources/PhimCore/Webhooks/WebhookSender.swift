// Sends one webhook attempt: over HTTP in the service, recorded and answered in tests.
import Foundation
import PhimProvider

/// Sends one webhook attempt.
public protocol WebhookSender: Sendable {
    /// Posts `body` with `headers` to `url`, connecting only to `addresses` (the ones the target
    /// policy checked for the URL's host, never looked up again), and returns the receiver's HTTP
    /// status; throws when no answer came within `timeoutSeconds` (refused connection, timeout,
    /// TLS failure).
    func post(url: String, connectingTo addresses: [IPAddress], headers: [(String, String)], body: String,
              timeoutSeconds: Double) throws -> Int
}

/// Posts through libcurl (`HTTPClient`), pinned to the checked addresses (`CURLOPT_RESOLVE`), on
/// a fresh connection, never following redirects: a redirect could lead into the network the
/// target policy keeps out, and counts as a failed attempt.
public struct HTTPWebhookSender: WebhookSender {
    public init() {}

    public func post(url: String, connectingTo addresses: [IPAddress], headers: [(String, String)], body: String,
                     timeoutSeconds: Double) throws -> Int {
        // No address would let libcurl resolve the name itself: the very gap the pin closes.
        guard !addresses.isEmpty else { throw HTTPClientError.unreachable("no checked address to connect to") }
        let reply = try HTTPClient.send(method: "POST", url: url,
                                        headers: [("Content-Type", "application/json"), ("User-Agent", "Phim-Webhooks/1.0")] + headers,
                                        body: Data(body.utf8), timeoutMilliseconds: Int(timeoutSeconds * 1000),
                                        maxResponseBytes: 1 << 20, connectingTo: addresses.map(\.description))
        return reply.status
    }
}
