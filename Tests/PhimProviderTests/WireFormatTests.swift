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

    func testTimesMatchFoundationsISO8601() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var generator = SystemRandomNumberGenerator()
        let fixed: [Int64] = [0, 1, 999, 1_000, -1, -999, -1_000, -1_001, 951_782_400_000, 1_798_761_599_999, 253_402_300_799_999]
        for millis in fixed + (0..<2_000).map({ _ in Int64.random(in: -2_000_000_000_000...4_000_000_000_000, using: &generator) }) {
            let expected = formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
            XCTAssertEqual(ISOTime.string(millis), expected, "\(millis)")
        }
    }
}
