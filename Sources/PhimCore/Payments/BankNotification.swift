import Foundation
import PhimSupport

/// One bank transfer as a notification service reported it, whatever the service: SePay and
/// Casso v2 are two parsers into this one shape, so the inbox has one design.
public struct BankNotification: Sendable, Equatable {
    public enum Provider: String, Sendable, CaseIterable {
        case sepay, casso
    }

    public enum Direction: String, Sendable {
        case incoming = "in", outgoing = "out"
    }

    public var provider: Provider
    /// The service's own id of the transaction: a redelivery carries the same one.
    public var providerTxnID: String
    public var direction: Direction
    public var amountVND: Int
    /// The account the money moved on, and the virtual sub-account (SePay's `subAccount`, Casso's
    /// `virtualAccountNumber`) when the bank gave one.
    public var account: String?
    public var subAccount: String?
    /// The payment code the service extracted itself (SePay's `code`), if any.
    public var code: String?
    /// The transfer content the payer typed (as the bank passed it on).
    public var content: String
    /// The bank's whole notification text (SePay's `description`), searched last for a code.
    public var description: String?
    public var reference: String?
    /// As the bank wrote it (bank-local time, e.g. `2023-03-25 14:02:37`); kept, not interpreted.
    public var transactionTime: String?
    /// The body as received, journaled as it is.
    public var raw: String

    public init(provider: Provider, providerTxnID: String, direction: Direction, amountVND: Int, account: String?,
                subAccount: String? = nil, code: String?, content: String, description: String? = nil, reference: String?,
                transactionTime: String?, raw: String) {
        self.provider = provider; self.providerTxnID = providerTxnID; self.direction = direction; self.amountVND = amountVND
        self.account = account; self.subAccount = subAccount; self.code = code; self.content = content
        self.description = description; self.reference = reference; self.transactionTime = transactionTime; self.raw = raw
    }

    /// A body that is not a notification; `field` names what is wrong, for the 400's message.
    public struct Malformed: Error, Equatable {
        public var field: String
    }

    /// Texts longer than this are not a bank's: refused rather than journaled.
    static let maximumTextLength = 2_000
    /// No single transfer is larger (100 billion VND; NAPAS 247's own cap is far lower).
    public static let maximumAmountVND = 100_000_000_000

    // MARK: - SePay

    /// SePay's webhook body: `{"id", "gateway", "transactionDate", "accountNumber", "code", "content",
    /// "transferType", "transferAmount", "accumulated", "subAccount", "referenceCode", "description"}`.
    public static func sepay(_ body: [UInt8]) throws -> BankNotification {
        let json = try object(body)
        guard let id = json["id"]?.intValue, id >= 0 else { throw Malformed(field: "id") }
        guard let type = json["transferType"]?.stringValue, let direction = Direction(rawValue: type.lowercased()) else {
            throw Malformed(field: "transferType")
        }
        guard let amount = json["transferAmount"]?.intValue, (0...maximumAmountVND).contains(amount) else {
            throw Malformed(field: "transferAmount")
        }
        return BankNotification(
            provider: .sepay, providerTxnID: String(id), direction: direction, amountVND: amount,
            account: try text(json, "accountNumber"), subAccount: try text(json, "subAccount"), code: try text(json, "code"),
            content: try text(json, "content") ?? "", description: try text(json, "description"),
            reference: try text(json, "referenceCode"), transactionTime: try text(json, "transactionDate"),
            raw: String(decoding: body, as: UTF8.self))
    }

    // MARK: - Casso v2

    /// Casso v2's body: `{"error": 0, "data": {"id", "reference", "description", "amount", "runningBalance",
    /// "transactionDateTime", "accountNumber", "bankName", "virtualAccountNumber", ...}}`; money out has a
    /// negative `amount`.
    public static func casso(_ body: [UInt8]) throws -> BankNotification {
        let json = try object(body)
        guard json["error"]?.intValue == 0 else { throw Malformed(field: "error") }
        guard let data = json["data"], case .object = data else { throw Malformed(field: "data") }
        let id: String
        if let number = data["id"]?.intValue, number >= 0 {
            id = String(number)
        } else if let textID = data["id"]?.stringValue, !textID.isEmpty, textID.count <= 100 {
            id = textID
        } else {
            throw Malformed(field: "data.id")
        }
        guard let amount = data["amount"]?.intValue, abs(amount) <= maximumAmountVND else { throw Malformed(field: "data.amount") }
        let content = try text(data, "description", field: "data.description") ?? ""
        let subAccount = try text(data, "virtualAccountNumber", field: "data.virtualAccountNumber")
        return BankNotification(
            provider: .casso, providerTxnID: id, direction: amount < 0 ? .outgoing : .incoming, amountVND: abs(amount),
            account: try text(data, "accountNumber", field: "data.accountNumber"),
            subAccount: subAccount?.isEmpty == true ? nil : subAccount, code: nil, content: content, description: nil,
            reference: try text(data, "reference", field: "data.reference"),
            transactionTime: try text(data, "transactionDateTime", field: "data.transactionDateTime"),
            raw: String(decoding: body, as: UTF8.self))
    }

    /// Casso's signature may be this far from the clock (a replayed old delivery is refused).
    public static let cassoSignatureTolerance: Int64 = 15 * 60 * 1000

    /// Checks `X-Casso-Signature: t=<unix ms>,v1=<hex>` = HMAC-SHA512(key, `t + "." + JSON`) where
    /// JSON is the whole body with keys sorted recursively, written compactly. How Casso writes
    /// non-ASCII text is not documented (its samples are ASCII): the forms of JavaScript (UTF-8 as
    /// is), Python (`\uXXXX`) and PHP (`\uXXXX`, `\/`) are each accepted, all under the same key.
    public static func cassoSignatureIsValid(header: String?, body: [UInt8], key: String, nowMillis: Int64) -> Bool {
        guard let header, !key.isEmpty, let json = JSON.parse(Data(body)) else { return false }
        var timestamp: String?, signature: String?
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            if pair[0] == "t" { timestamp = pair[1] } else if pair[0] == "v1" { signature = pair[1].lowercased() }
        }
        guard let timestamp, let millis = Int64(timestamp), timestamp.allSatisfy(\.isNumber),
              abs(millis - nowMillis) <= cassoSignatureTolerance,
              let signature, signature.count == 128 else { return false }
        var valid = false
        for style in CanonicalJSON.Style.allCases {
            let message = Array((timestamp + "." + CanonicalJSON.text(json, style: style)).utf8)
            let expected = Crypto.hex(Crypto.hmacSHA512(key: Array(key.utf8), message: message))
            // Every form is compared (no early exit), each in constant time.
            if Crypto.constantTimeEqual(expected, signature) { valid = true }
        }
        return valid
    }

    // MARK: - Reading fields

    private static func object(_ body: [UInt8]) throws -> JSON {
        guard let json = JSON.parse(Data(body)), case .object = json else { throw Malformed(field: "body") }
        return json
    }

    /// A text field: absent or null is nil; anything but a string of sane length is malformed.
    private static func text(_ json: JSON, _ name: String, field: String? = nil) throws -> String? {
        guard let value = json[name], value != .null else { return nil }
        guard let text = value.stringValue, text.count <= maximumTextLength else { throw Malformed(field: field ?? name) }
        return text
    }
}

/// JSON with object keys sorted recursively and no spaces, as Casso signs it.
enum CanonicalJSON {
    enum Style: CaseIterable {
        /// JavaScript's `JSON.stringify`: non-ASCII as it is.
        case javascript
        /// Python's `json.dumps(ensure_ascii=True)`: non-ASCII as `\uXXXX`.
        case python
        /// PHP's `json_encode`: as Python's, and `/` as `\/`.
        case php
    }

    static func text(_ json: JSON, style: Style) -> String {
        var out = ""
        write(json, style: style, into: &out)
        return out
    }

    private static func write(_ json: JSON, style: Style, into out: inout String) {
        switch json {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .number(let value):
            if value.rounded() == value, abs(value) < 9e15 { out += String(Int64(value)) } else { out += String(value) }
        case .string(let text): quote(text, style: style, into: &out)
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                write(item, style: style, into: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            // By UTF-16 code units, as JavaScript sorts (the same as byte order for ASCII keys).
            for (index, field) in fields.sorted(by: { Array($0.0.utf16).lexicographicallyPrecedes(Array($1.0.utf16)) }).enumerated() {
                if index > 0 { out += "," }
                quote(field.0, style: style, into: &out)
                out += ":"
                write(field.1, style: style, into: &out)
            }
            out += "}"
        case .raw(let bytes): out += String(decoding: bytes, as: UTF8.self)
        }
    }

    private static func quote(_ text: String, style: Style, into out: inout String) {
        out += "\""
        for unit in text.unicodeScalars {
            switch unit {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "/" where style == .php: out += "\\/"
            default:
                if unit.value < 0x20 {
                    out += escaped(UInt16(unit.value))
                } else if unit.value >= 0x80, style != .javascript {
                    for code in String(unit).utf16 { out += escaped(code) }
                } else {
                    out.unicodeScalars.append(unit)
                }
            }
        }
        out += "\""
    }

    private static func escaped(_ code: UInt16) -> String {
        let hex = String(code, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}
