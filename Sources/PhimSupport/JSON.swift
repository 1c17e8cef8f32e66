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

    public func serialized() -> String { String(decoding: bytes(), as: UTF8.self) }

    /// The UTF-8 text, written straight into bytes: a response body needs nothing else, and
    /// appending to a `String` scalar by scalar was most of a gallery page's time (profiled:
    /// about half of the FastCGI process's CPU went to `String` appends).
    public func bytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        write(into: &out)
        return out
    }

    public func data() -> Data { Data(bytes()) }

    private func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: Self.nullBytes)
        case .bool(let value): out.append(contentsOf: value ? Self.trueBytes : Self.falseBytes)
        case .number(let number):
            if number.rounded() == number, abs(number) < 9e15 { Self.writeInteger(Int64(number), into: &out) } else { out.append(contentsOf: String(number).utf8) }
        case .string(let text): Self.writeString(text, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                item.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            for (index, field) in fields.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(field.0, into: &out)
                out.append(UInt8(ascii: ":"))
                field.1.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let nullBytes = Array("null".utf8), trueBytes = Array("true".utf8), falseBytes = Array("false".utf8)

    private static func writeInteger(_ value: Int64, into out: inout [UInt8]) {
        out.append(contentsOf: String(value).utf8)
    }

    /// Bytes that may need an escape: controls, `"`, `\\`, `<`, `>`, `&`, and 0xE2 (which starts U+2028 and U+2029).
    private static let special: [Bool] = (0...255).map { byte in
        byte < 0x20 || [0x22, 0x5C, 0x3C, 0x3E, 0x26, 0xE2].contains(byte)
    }

    /// Quotes and escapes a string. Runs of bytes that need no escape are copied whole.
    private static func writeString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        let special = Self.special
        text.withUTF8 { bytes in
            var runStart = 0
            var index = 0
            func flush() { if runStart < index { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index])) } }
            while index < bytes.count {
                let byte = bytes[index]
                if !special[Int(byte)] {
                    index += 1
                    continue
                }
                let escape: String?
                switch byte {
                case UInt8(ascii: "\""): escape = "\\\""
                case UInt8(ascii: "\\"): escape = "\\\\"
                case UInt8(ascii: "\n"): escape = "\\n"
                case UInt8(ascii: "\r"): escape = "\\r"
                case UInt8(ascii: "\t"): escape = "\\t"
                // Escaped so a JSON answer can never close a <script> or open a tag if mis-served as HTML.
                case UInt8(ascii: "<"): escape = "\\u003c"
                case UInt8(ascii: ">"): escape = "\\u003e"
                case UInt8(ascii: "&"): escape = "\\u0026"
                case 0..<0x20:
                    let hex = String(byte, radix: 16)
                    escape = "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                // U+2028 and U+2029 (E2 80 A8/A9): line breaks to JavaScript.
                case 0xE2 where index + 2 < bytes.count && bytes[index + 1] == 0x80 && (bytes[index + 2] == 0xA8 || bytes[index + 2] == 0xA9):
                    escape = bytes[index + 2] == 0xA8 ? "\\u2028" : "\\u2029"
                    flush()
                    out.append(contentsOf: escape!.utf8)
                    index += 3
                    runStart = index
                    continue
                default: escape = nil
                }
                if let escape {
                    flush()
                    out.append(contentsOf: escape.utf8)
                    runStart = index + 1
                }
                index += 1
            }
            flush()
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension NSNumber {
    /// Whether Foundation made this number from a JSON `true` or `false`.
    var isBoolLike: Bool {
        let type = String(cString: objCType)
        return type == "c" || type == "B"
    }
}
