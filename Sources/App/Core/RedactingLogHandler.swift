import Foundation
import Logging
import NIOConcurrencyHelpers

/// Keeps secrets out of the log, whatever the level: wraps the real handler and masks, in every
/// message and metadata value, what could let a reader act as someone (session ids, API keys,
/// bearer tokens, anti-forgery tokens, callback secrets, webhook signing secrets, passwords and
/// their hashes, the provider key).
///
/// The framework logs SQL binds at `debug` and whole request heads at `trace`; both carry such
/// values, and an operator turning up the level to chase a problem must not leak them.
/// `scripts/smoke.py` runs the service at `trace` and searches its log for every secret it used.
public struct RedactingLogHandler: LogHandler {
    private var inner: any LogHandler

    public init(wrapping inner: any LogHandler) {
        self.inner = inner
    }

    public var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        var event = event
        event.message = "\(Self.redact(event.message.description))"
        event.metadata = event.metadata?.mapValues { .string(Self.redact($0.description)) }
        if let error = event.error { event.error = RedactedError(description: Self.redact("\(error)")) }
        inner.log(event: event)
    }

    /// An error as its masked description, so an error attached to a log line leaks nothing either.
    private struct RedactedError: Error, CustomStringConvertible {
        var description: String
    }

    // MARK: - What is masked

    /// Exact values known to be secret (the provider key, the webhook HMAC key), registered at start-up.
    private static let knownSecrets = NIOLockedValueBox<[String]>([])

    public static func registerSecret(_ value: String?) {
        guard let value, value.count >= 4 else { return }
        knownSecrets.withLockedValue { $0.append(value) }
    }

    private static let patterns: [(NSRegularExpression, String)] = [
        (#"(?i)(bearer\s+)[^\s",;\]]+"#, "$1[redacted]"),
        (#"(?i)(phim_session=)[^;\s",\]]+"#, "$1[redacted]"),
        // Metadata arrives described, with its quotes escaped: `\"`.
        (#"(SessionID\(string: \\?")[^"\\]*"#, "$1[redacted]"),
        (#"(?i)(\\?"csrf\\?"\s*:\s*\\?")[^"\\]*"#, "$1[redacted]"),
        (#"(?i)(x-csrf-token:\s*)[^\s;,\]]+"#, "$1[redacted]"),
        (#"(?i)(csrf_token=)[^&\s",\]]+"#, "$1[redacted]"),
        (#"(?i)(\\?"?password\\?"?\s*[:=]\s*\\?"?)[^"\\&\s,\]]+"#, "$1[redacted]"),
        (#"(/webhooks/kie/[0-9A-Fa-f-]{36}/)[A-Za-z0-9_-]+"#, "$1[redacted]"),
        (#"phim_[A-Za-z0-9_-]{16,}"#, "phim_[redacted]"),
        // Webhook signing secrets (SQL binds carry them at `debug`).
        (#"whsec_[A-Za-z0-9+/=]+"#, "whsec_[redacted]"),
        (#"\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}"#, "[redacted bcrypt hash]"),
        (#"(postgres(?:ql)?://[^:/@\s]+:)[^@\s]+@"#, "$1[redacted]@"),
    ].map { pattern, template in
        // The patterns are constants; a typo is a programming error caught by the first log line in any test.
        (try! NSRegularExpression(pattern: pattern), template)
    }

    static func redact(_ text: String) -> String {
        var result = text
        for (expression, template) in patterns {
            let range = NSRange(result.startIndex..., in: result)
            guard expression.firstMatch(in: result, range: range) != nil else { continue }
            result = expression.stringByReplacingMatches(in: result, range: range, withTemplate: template)
        }
        for secret in knownSecrets.withLockedValue({ $0 }) where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: "[redacted]")
        }
        return result
    }
}
