// Standard Webhooks signatures: secrets, message ids and the signed headers of one attempt.
import Foundation
import PhimSupport

/// Signs messages the way the Standard Webhooks specification says
/// (https://www.standardwebhooks.com): HMAC-SHA256 over `"{webhook-id}.{webhook-timestamp}.{body}"`
/// keyed with the secret's bytes, sent as `webhook-signature: v1,<base64>`. Any Standard
/// Webhooks library verifies it with the account's `whsec_` secret.
public enum WebhookSigner {
    public static let secretPrefix = "whsec_"

    /// A new account secret: `whsec_` and 32 random bytes in base64.
    static func makeSecret() -> String {
        secretPrefix + Data(Crypto.randomBytes(32)).base64EncodedString()
    }

    /// A new message id, `msg_` and 128 random bits: the `webhook-id` of every attempt and replay.
    static func makeMessageID() -> String {
        "msg_" + Crypto.hex(Crypto.randomBytes(16))
    }

    /// The `webhook-signature` value, or nil for a secret that is not `whsec_` and base64.
    public static func signature(secret: String, messageID: String, timestamp: Int64, body: String) -> String? {
        guard secret.hasPrefix(secretPrefix),
              let key = Data(base64Encoded: String(secret.dropFirst(secretPrefix.count))), !key.isEmpty
        else { return nil }
        let mac = Crypto.hmacSHA256(key: Array(key), message: Array("\(messageID).\(timestamp).\(body)".utf8))
        return "v1," + Data(mac).base64EncodedString()
    }

    /// The headers of one attempt: id, timestamp (whole seconds, the attempt's) and signature.
    static func headers(secret: String, messageID: String, at date: Date, body: String) -> [(String, String)] {
        let timestamp = Int64(date.timeIntervalSince1970.rounded(.down))
        var headers = [("webhook-id", messageID), ("webhook-timestamp", String(timestamp))]
        if let signature = signature(secret: secret, messageID: messageID, timestamp: timestamp, body: body) {
            headers.append(("webhook-signature", signature))
        }
        return headers
    }
}
