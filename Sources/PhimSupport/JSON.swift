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
    /// JSON text a `JSONWriter` has written already, put into a tree as it is: a hot answer's
    /// part (a video) is written once, without a tree, and still fits answers built as trees.
    /// Reading it field by field (`subscript`) finds nothing; parse `bytes()` for that.
    case raw([UInt8])

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

    public func serialized() -> String { String(decoding: bytes(), as: UTF8.self) }

    /// The UTF-8 text, written straight into bytes (see `JSONWriter`).
    public func bytes() -> [UInt8] {
        let writer = JSONWriter()
        writer.value(self)
        return writer.bytes
    }

    public func data() -> Data { Data(bytes()) }
}

extension NSNumber {
    /// Whether Foundation made this number from a JSON `true` or `false`.
    var isBoolLike: Bool {
        let type = String(cString: objCType)
        return type == "c" || type == "B"
    }
}
