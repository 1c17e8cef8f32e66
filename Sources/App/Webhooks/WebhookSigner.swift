import Crypto
import Foundation

/// Signs messages the way the Standard Webhooks specification says
/// (https://www.standardwebhooks.com): HMAC-SHA256 over `"{webhook-id}.{webhook-timestamp}.{body}"`
/// with the secret's bytes, sent as `webhook-signature: v1,<base64>`. Any Standard Webhooks
/// library verifies it with the account's `whsec_` secret.
enum WebhookSigner {
    static let secretPrefix = "whsec_"

    /// A new account secret: `whsec_` and 32 random bytes in base64.
    static func makeSecret() -> String {
        secretPrefix + SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
    }

    /// A new message id, `msg_` and 128 random bits.
    static func makeMessageID() -> String {
        "msg_" + SymmetricKey(size: .bits128).withUnsafeBytes { Data($0) }.map { String(format: "%02x", $0) }.joined()
    }

    /// The `webhook-signature` header value for one attempt.
    static func signature(secret: String, messageID: String, timestamp: Int, body: String) -> String? {
        guard secret.hasPrefix(secretPrefix), let key = Data(base64Encoded: String(secret.dropFirst(secretPrefix.count))) else {
            return nil
        }
        let signed = Data("\(messageID).\(timestamp).\(body)".utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: key))
        return "v1," + Data(mac).base64EncodedString()
    }

    /// The headers of one attempt: id, timestamp (whole seconds) and signature.
    static func headers(secret: String, messageID: String, at date: Date, body: String) -> [(String, String)] {
        let timestamp = Int(date.timeIntervalSince1970)
        var headers = [("webhook-id", messageID), ("webhook-timestamp", String(timestamp))]
        if let signature = signature(secret: secret, messageID: messageID, timestamp: timestamp, body: body) {
            headers.append(("webhook-signature", signature))
        }
        return headers
    }
}
