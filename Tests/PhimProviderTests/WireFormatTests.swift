import Foundation
import PhimSupport
import XCTest

/// The hand-written JSON and time writers (written by hand for speed; see the benchmark report)
/// against Foundation's readers: every string survives the round trip, and nothing in an answer
/// can close a script or open a tag.
final class WireFormatTests: XCTestCase {
    func testEveryStringSurvivesTheRoundTripAndNoMarkupLeaks() throws {
        var samples = ["", "plain", "Một chiếc thuyền giấy trôi trên vũng nước lúc hoàng hôn", "emoji 🎬🌊", "quote \" and backslash \\",
                       "</script><script>alert(1)</script>", "a & b > c < d", "line\u{2028}and\u{2029}para", "\u{E2}\u{80}", "tab\tnew\nline\rret",
                       "slash / stays", String(repeating: "long ", count: 500)]
        samples.append(String((0..<32).map { Character(UnicodeScalar(UInt8($0))) }))
        for sample in samples {
            let written = JSON.object([("text", .string(sample)), (sample, .array([.string(sample), .int(-42), .number(1.5), .bool(true), .null]))])
            let bytes = written.bytes()
            XCTAssertFalse(bytes.contains(UInt8(ascii: "<")) || bytes.contains(UInt8(ascii: ">")), "markup in \(sample)")
            XCTAssertFalse(String(decoding: bytes, as: UTF8.self).contains("\u{2028}"))
            let parsed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any], "not JSON: \(sample)")
            XCTAssertEqual(parsed["text"] as? String, sample)
            let array = try XCTUnwrap(parsed[sample] as? [Any])
            XCTAssertEqual(array[0] as? String, sample)
            XCTAssertEqual(array[1] as? Int, -42)
            XCTAssertEqual(array[2] as? Double, 1.5)
            XCTAssertEqual(written.serialized(), String(decoding: bytes, as: UTF8.self))
        }
    }

    /// What the hot answers write without a tree (a gallery page) is what the tree would write:
    /// commas, nesting, escaped keys and values, times, and a written part put into a tree.
    func testTheWriterWritesWhatTheTreeWrites() throws {
        let tricky = "</script> \"q\" \u{2028} \u{1} Việt"
        let long = String(repeating: "<&> Một chiếc thuyền ", count: 400) // far past the first buffer: it grows
        let writer = JSONWriter(capacity: 16)
        writer.beginObject()
        writer.key("list")
        writer.beginArray()
        for index in 0..<3 {
            writer.beginObject()
            writer.key("index"); writer.int(index)
            writer.key("text"); writer.string(tricky)
            writer.key("missing"); writer.string(nil as String?)
            writer.key("at"); writer.time(1_798_761_599_999)
            writer.key("never"); writer.time(nil)
            writer.key("empty"); writer.beginArray(); writer.endArray()
            writer.endObject()
        }
        writer.endArray()
        writer.key(escaping: tricky); writer.string(long)
        writer.key("tree"); writer.value(.object([("a", .array([.int(1), .number(2.5), .bool(false), .null]))]))
        writer.endObject()

        let item = { (index: Int) -> JSON in
            .object([("index", .int(index)), ("text", .string(tricky)), ("missing", .null), ("at", .string("2026-12-31T23:59:59.999Z")),
                     ("never", .null), ("empty", .array([]))])
        }
        let tree = JSON.object([("list", .array((0..<3).map(item))), (tricky, .string(long)),
                                ("tree", .object([("a", .array([.int(1), .number(2.5), .bool(false), .null]))]))])
        XCTAssertEqual(String(decoding: writer.bytes, as: UTF8.self), tree.serialized())
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(writer.bytes)))
        XCTAssertFalse(writer.bytes.contains(UInt8(ascii: "<")))

        // A written part inside a tree reads back as the same value.
        let embedded = JSON.object([("video", .raw(JSON.object([("id", .string(tricky))]).bytes())), ("n", .int(1))])
        XCTAssertEqual(JSON.parse(embedded.data()), JSON.object([("n", .int(1)), ("video", .object([("id", .string(tricky))]))]))
    }

    func testTimesMatchFoundationsISO8601() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var generator = SystemRandomNumberGenerator()
        let fixed: [Int64] = [0, 1, 999, 1_000, -1, -999, -1_000, -1_001, 951_782_400_000, 1_798_761_599_999, 253_402_300_799_999]
        for millis in fixed + (0..<2_000).map({ _ in Int64.random(in: -2_000_000_000_000...4_000_000_000_000, using: &generator) }) {
            let expected = formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
            XCTAssertEqual(ISOTime.string(millis), expected, "\(millis)")
            let writer = JSONWriter()
            writer.time(millis)
            XCTAssertEqual(String(decoding: writer.bytes, as: UTF8.self), "\"\(expected)\"", "\(millis) written into an answer")
        }
    }
}
