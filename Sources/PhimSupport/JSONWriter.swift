import Foundation

/// Writes JSON text straight into bytes, value by value, putting the commas in itself.
///
/// A `JSON` tree is written through it, and the hottest answers (a gallery page: 24 videos,
/// 16 KB) use it directly: building the tree and tearing it down again cost as much as writing
/// it (profiled). It keeps its own buffer because `Array.append(contentsOf:)` for the many short
/// pieces of an answer (a key, a comma, an id) was a tenth of a gallery page's time.
///
/// Strings are escaped so an answer can never close a `<script>` or break a JavaScript line
/// when mis-served as HTML.
public final class JSONWriter {
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var count = 0
    /// A value or a closed container was written last: the next one needs a comma first.
    private var afterValue = false

    public init(capacity: Int = 1024) {
        self.capacity = max(64, capacity)
        buffer = .allocate(capacity: self.capacity)
    }

    deinit { buffer.deallocate() }

    /// What has been written.
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: buffer, count: count)) }

    // MARK: - Containers

    public func beginObject() { open(UInt8(ascii: "{")) }
    public func endObject() { close(UInt8(ascii: "}")) }
    public func beginArray() { open(UInt8(ascii: "[")) }
    public func endArray() { close(UInt8(ascii: "]")) }

    /// A key whose text is written as it is: the API's own field names (plain ASCII letters,
    /// digits and `_`), which need no escape.
    public func key(_ name: StaticString) {
        reserve(name.utf8CodeUnitCount + 4)
        if afterValue { put(UInt8(ascii: ",")) }
        put(UInt8(ascii: "\""))
        put(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        put(UInt8(ascii: "\""))
        put(UInt8(ascii: ":"))
        afterValue = false
    }

    /// A key from data: escaped like any string. (Named apart from `key(_:)`: a string literal
    /// would otherwise pick this overload, and every field name would go through the escaper.)
    public func key(escaping name: String) {
        separate()
        writeEscaped(name)
        reserve(1)
        put(UInt8(ascii: ":"))
        afterValue = false
    }

    // MARK: - Values

    public func string(_ text: String) {
        separate()
        writeEscaped(text)
        afterValue = true
    }

    /// The text, or `null` without one.
    public func string(_ text: String?) {
        if let text { string(text) } else { null() }
    }

    /// A time as `ISOTime` writes it (ISO 8601, UTC, milliseconds), or `null` without one.
    public func time(_ millis: Int64?) {
        guard let millis else { return null() }
        separate()
        reserve(2 + ISOTime.maximumLength)
        put(UInt8(ascii: "\""))
        // Digits and punctuation only: nothing to escape.
        count += ISOTime.write(millis, into: UnsafeMutableBufferPointer(start: buffer + count, count: ISOTime.maximumLength))
        put(UInt8(ascii: "\""))
        afterValue = true
    }

    public func int(_ value: Int) { int(Int64(value)) }

    public func int(_ value: Int64) {
        separate()
        var digits = String(value) // at most 20 characters: an inline string, no allocation
        digits.withUTF8 { append(UnsafeRawBufferPointer($0)) }
        afterValue = true
    }

    public func number(_ value: Double) {
        if value.rounded() == value, abs(value) < 9e15 { return int(Int64(value)) }
        separate()
        var text = String(value)
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
        afterValue = true
    }

    public func bool(_ value: Bool) {
        literal(value ? "true" : "false")
    }

    public func null() {
        literal("null")
    }

    /// A tree, written in place.
    public func value(_ json: JSON) {
        switch json {
        case .null: null()
        case .bool(let value): bool(value)
        case .number(let value): number(value)
        case .string(let text): string(text)
        case .array(let items):
            beginArray()
            for item in items { value(item) }
            endArray()
        case .object(let fields):
            beginObject()
            for (name, item) in fields {
                key(escaping: name)
                value(item)
            }
            endObject()
        case .raw(let text):
            separate()
            text.withUnsafeBytes { append($0) }
            afterValue = true
        }
    }

    // MARK: - The buffer

    /// Makes room for `extra` more bytes.
    @inline(__always)
    private func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        grow(to: count + extra)
    }

    private func grow(to needed: Int) {
        var larger = capacity * 2
        while larger < needed { larger *= 2 }
        let moved = UnsafeMutablePointer<UInt8>.allocate(capacity: larger)
        moved.update(from: buffer, count: count)
        buffer.deallocate()
        buffer = moved
        capacity = larger
    }

    /// One byte into room already reserved.
    @inline(__always)
    private func put(_ byte: UInt8) {
        buffer[count] = byte
        count += 1
    }

    /// Bytes into room already reserved.
    @inline(__always)
    private func put(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        memcpy(buffer + count, source, bytes.count)
        count += bytes.count
    }

    private func append(_ bytes: UnsafeRawBufferPointer) {
        reserve(bytes.count)
        put(bytes)
    }

    private func literal(_ text: StaticString) {
        separate()
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        afterValue = true
    }

    private func separate() {
        guard afterValue else { return }
        reserve(1)
        put(UInt8(ascii: ","))
    }

    private func open(_ bracket: UInt8) {
        separate()
        reserve(1)
        put(bracket)
        afterValue = false
    }

    private func close(_ bracket: UInt8) {
        reserve(1)
        put(bracket)
        afterValue = true
    }

    // MARK: - Escaping

    /// Whether a byte may need an escape: controls, `"`, `\`, `<`, `>`, `&`, and 0xE2 (which
    /// starts U+2028 and U+2029). Most text is letters, above `?`: one comparison decides those.
    @inline(__always)
    private static func mayEscape(_ byte: UInt8) -> Bool {
        if byte >= 0x3F { return byte == 0x5C || byte == 0xE2 }
        return byte < 0x20 || byte == 0x22 || byte == 0x26 || byte == 0x3C || byte == 0x3E
    }

    /// Quotes and escapes a string; runs of bytes that need no escape are copied whole.
    private func writeEscaped(_ text: String) {
        var text = text
        text.withUTF8 { source in
            // The longest escape is 6 bytes for 1 (`\u003c`): room for the worst case up front.
            reserve(source.count * 6 + 2)
            put(UInt8(ascii: "\""))
            let raw = UnsafeRawBufferPointer(source)
            var runStart = 0
            var index = 0
            func flushRun() { put(UnsafeRawBufferPointer(rebasing: raw[runStart..<index])) }
            while index < source.count {
                let byte = source[index]
                guard Self.mayEscape(byte) else {
                    index += 1
                    continue
                }
                let escape: StaticString
                var width = 1
                switch byte {
                case UInt8(ascii: "\""): escape = "\\\""
                case UInt8(ascii: "\\"): escape = "\\\\"
                case UInt8(ascii: "\n"): escape = "\\n"
                case UInt8(ascii: "\r"): escape = "\\r"
                case UInt8(ascii: "\t"): escape = "\\t"
                case UInt8(ascii: "<"): escape = "\\u003c"
                case UInt8(ascii: ">"): escape = "\\u003e"
                case UInt8(ascii: "&"): escape = "\\u0026"
                case 0xE2 where index + 2 < source.count && source[index + 1] == 0x80 && source[index + 2] == 0xA8:
                    escape = "\\u2028"; width = 3
                case 0xE2 where index + 2 < source.count && source[index + 1] == 0x80 && source[index + 2] == 0xA9:
                    escape = "\\u2029"; width = 3
                case 0xE2: // another character starting with E2: copied as it is
                    index += 1
                    continue
                default: // the other controls: \u00XX
                    flushRun()
                    let hex: StaticString = "0123456789abcdef"
                    put(UnsafeRawBufferPointer(start: Self.controlPrefix.utf8Start, count: Self.controlPrefix.utf8CodeUnitCount))
                    put(hex.utf8Start[Int(byte >> 4)])
                    put(hex.utf8Start[Int(byte & 0x0F)])
                    index += 1
                    runStart = index
                    continue
                }
                flushRun()
                put(UnsafeRawBufferPointer(start: escape.utf8Start, count: escape.utf8CodeUnitCount))
                index += width
                runStart = index
            }
            flushRun()
            put(UInt8(ascii: "\""))
        }
    }

    private static let controlPrefix: StaticString = "\\u00"
}
