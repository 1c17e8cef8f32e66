import Foundation

/// A JSON value: read from request bodies field by field (so each wrong field gets its own
/// error), and written by hand in the order the fields are listed (measured faster than
/// JSONEncoder, and the output is byte-stable).
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    /// Keys in the order given; written in that order.
    case object([(String, JSON)])

    public static func == (a: JSON, b: JSON) -> Bool { a.serialized() == b.serialized() }

    // MARK: - Building

    public static func int(_ value: Int) -> JSON { .number(Double(value)) }
    public static func int64(_ value: Int64) -> JSON { .number(Double(value)) }
    public static func optional(_ value: String?) -> JSON { value.map { .string($0) } ?? .null }

    // MARK: - Reading

    public static func parse(_ data: Data) -> JSON? {
        guard let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else { return nil }
        return JSON(foundation: object)
    }

    private init?(foundation value: Any) {
        switch value {
        case is NSNull: self = .null
        case let text as String: self = .string(text)
        case let number as NSNumber:
            // Foundation hands booleans over as NSNumber too; only a real boolean is a bool.
            if Self.isBoolean(number) { self = .bool(number.boolValue) } else { self = .number(number.doubleValue) }
        case let list as [Any]:
            var items: [JSON] = []
            for item in list {
                guard let parsed = JSON(foundation: item) else { return nil }
                items.append(parsed)
            }
            self = .array(items)
        case let dictionary as [String: Any]:
            var fields: [(String, JSON)] = []
            for key in dictionary.keys.sorted() {
                guard let parsed = JSON(foundation: dictionary[key]!) else { return nil }
                fields.append((key, parsed))
            }
            self = .object(fields)
        default: return nil
        }
    }

    /// JSON numbers arrive as NSNumber of type "i", "q" or "d"; true and false as type "c".
    private static func isBoolean(_ number: NSNumber) -> Bool { number.isBoolLike }

    public subscript(_ key: String) -> JSON? {
        guard case .object(let fields) = self else { return nil }
        return fields.first { $0.0 == key }?.1
    }

    public var stringValue: String? { if case .string(let text) = self { text } else { nil } }

    /// A whole number that fits an Int (1.0 counts; 1.5 and true do not).
    public var intValue: Int? {
        guard case .number(let number) = self, number.rounded() == number, abs(number) < 9e15 else { return nil }
        return Int(number)
    }

    public var isNull: Bool { self == .null }

    // MARK: - Writing

    public func serialized() -> String {
        var out = ""
        write(into: &out)
        return out
    }

    public func data() -> Data { Data(serialized().utf8) }

    private func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .number(let number):
            if number.rounded() == number, abs(number) < 9e15 { out += String(Int64(number)) } else { out += String(number) }
        case .string(let text): Self.writeString(text, into: &out)
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                item.write(into: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (index, field) in fields.enumerated() {
                if index > 0 { out += "," }
                Self.writeString(field.0, into: &out)
                out += ":"
                field.1.write(into: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            // Escaped so a JSON answer can never close a <script> or open a tag if mis-served as HTML.
            case "<": out += "\\u003c"
            case ">": out += "\\u003e"
            case "&": out += "\\u0026"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

extension NSNumber {
    /// Whether Foundation made this number from a JSON `true` or `false`.
    var isBoolLike: Bool {
        let type = String(cString: objCType)
        return type == "c" || type == "B"
    }
}
