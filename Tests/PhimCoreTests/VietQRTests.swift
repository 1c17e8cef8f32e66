import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import PhimCore

/// The VietQR payload against the public vectors in payments-vietnam.md §1, and its QR drawn by libqrencode
/// read back by a real decoder (zbarimg), as a banking app would.
final class VietQRTests: XCTestCase {
    static let v2 = "00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA530370454061200005802VN62170813ung ho lu lut6304C15C"
    static let v4Dynamic = "00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA530370454061800005802VN62230819thanh toan don hang63045FAB"
    static let v4Static = "00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN63049E6F"
    static let v3 = "00020101021238530010A0000007270123000697041601092245284790208QRIBFTTA53037045405100005802VN62340107NPS68690819TRANSFER TO SOMEONE6304AC13"
    static let phimShape = "00020101021238540010A00000072701240006970436011012345678900208QRIBFTTA53037045405990005802VN62130809PHIM8F3K2630435C1"

    func testCRCCheckValue() {
        XCTAssertEqual(VietQR.crcHex("123456789"), "29B1")
    }

    func testPublicVectorsByteForByte() throws {
        XCTAssertEqual(try VietQR(bin: "970415", account: "0011001932418", amountVND: 120_000, content: "ung ho lu lut").payload(), Self.v2)
        XCTAssertEqual(try VietQR(bin: "970403", account: "0011012345678", amountVND: 180_000, content: "thanh toan don hang").payload(), Self.v4Dynamic)
        XCTAssertEqual(try VietQR(bin: "970403", account: "0011012345678").payload(), Self.v4Static)
        XCTAssertEqual(try VietQR(bin: "970416", account: "224528479", amountVND: 10_000, content: "TRANSFER TO SOMEONE", billNumber: "NPS6869").payload(), Self.v3)
        XCTAssertEqual(try VietQR(bin: "970436", account: "1234567890", amountVND: 99_000, content: "PHIM8F3K2").payload(), Self.phimShape)
    }

    func testDecodeRoundTrips() throws {
        XCTAssertEqual(try VietQR.decode(Self.phimShape), VietQR(bin: "970436", account: "1234567890", amountVND: 99_000, content: "PHIM8F3K2"))
        XCTAssertEqual(try VietQR.decode(Self.v4Static), VietQR(bin: "970403", account: "0011012345678"))
        XCTAssertEqual(try VietQR.decode(Self.v3).billNumber, "NPS6869")
        for vector in [Self.v2, Self.v4Dynamic, Self.v4Static, Self.v3, Self.phimShape] {
            XCTAssertEqual(try VietQR.decode(vector).payload(), vector)
        }
        let largest = VietQR(bin: "970422", account: "1234567890123456789", amountVND: VietQR.maxAmountVND, content: "PHIM ABCDEFGHJKMNPQRSTUVWX")
        XCTAssertThrowsError(try largest.payload()) // 26 characters of content: one too many
        let fits = VietQR(bin: "970422", account: "1234567890123456789", amountVND: VietQR.maxAmountVND, content: "PHIMABCDEFGHJKMNPQRSTUVWX")
        XCTAssertEqual(try VietQR.decode(fits.payload()), fits)
    }

    func testDecodeRefusesABadCRC() {
        let tampered = Self.phimShape.replacingOccurrences(of: "5405990005802", with: "5405190005802")
        XCTAssertThrowsError(try VietQR.decode(tampered)) { error in
            XCTAssertEqual(error as? VietQR.Failure, .crcMismatch(expected: VietQR.crcHex(String(tampered.dropLast(4))), found: "35C1"))
        }
        XCTAssertThrowsError(try VietQR.decode(String(Self.phimShape.dropLast(4)) + "35c1"))
        XCTAssertThrowsError(try VietQR.decode(String(Self.phimShape.dropLast(4)) + "0000"))
        XCTAssertThrowsError(try VietQR.decode(""))
        XCTAssertThrowsError(try VietQR.decode("6304"))
        // A well-formed CRC over a truncated field is still refused, never crashes.
        let truncated = "0002010102123899" + "6304"
        XCTAssertThrowsError(try VietQR.decode(truncated + VietQR.crcHex(truncated)))
    }

    func testBadInputsAreRefused() {
        func failure(_ qr: VietQR) -> VietQR.Failure? {
            do { _ = try qr.payload(); return nil } catch { return error as? VietQR.Failure }
        }
        let good = VietQR(bin: "970436", account: "1234567890", amountVND: 99_000, content: "PHIM8F3K2")
        XCTAssertNil(failure(good))
        for bin in ["", "97043", "9704366", "97043A", "９７０４３６"] {
            var qr = good; qr.bin = bin
            XCTAssertEqual(failure(qr), .invalidBIN(bin))
        }
        for account in ["", "12345678901234567890", "12345-678", "12 34"] {
            var qr = good; qr.account = account
            XCTAssertEqual(failure(qr), .invalidAccount(account))
        }
        for amount: Int64 in [0, -1, 1_000_000_000_000] {
            var qr = good; qr.amountVND = amount
            XCTAssertEqual(failure(qr), .invalidAmount(amount))
        }
        for content in ["", "PHIM-8F3K2", "thanh toán", "PHIM\n8F3K2", String(repeating: "A", count: 26)] {
            var qr = good; qr.content = content
            XCTAssertEqual(failure(qr), .invalidContent(content))
        }
        var billed = good; billed.billNumber = "NPS#1"
        XCTAssertEqual(failure(billed), .invalidBillNumber("NPS#1"))
    }

    func testSVGHasTheQuietZoneAndIsWellFormed() throws {
        let code = try QRCodeSVG(text: Self.phimShape)
        XCTAssertEqual(code.modules, 37) // version 5: libqrencode packs the digit runs in numeric mode
        XCTAssertEqual(code.size, code.modules + 8)
        let svg = code.svg
        XCTAssertTrue(svg.contains("viewBox=\"0 0 \(code.size) \(code.size)\""))
        XCTAssertTrue(svg.contains("shape-rendering=\"crispEdges\""))
        XCTAssertFalse(svg.contains("href"))
        XCTAssertEqual(svg.components(separatedBy: "<path").count - 1, 1)
        let parser = XMLParser(data: Data(svg.utf8))
        XCTAssertTrue(parser.parse(), "\(String(describing: parser.parserError))")
        // The finder pattern's corner is dark at the top left, just inside the quiet zone.
        XCTAssertTrue(code.isDark(x: 0, y: 0))
        XCTAssertTrue(svg.contains("M4 4h7v1h-7z"))
        XCTAssertTrue(try Self.modulesDrawn(by: svg, size: code.size) == Self.modulesWithQuietZone(code), "the path draws other modules than libqrencode's")
    }

    /// The dark cells the SVG's path fills, read back from its runs.
    static func modulesDrawn(by svg: String, size: Int) throws -> [Bool] {
        let path = try XCTUnwrap(svg.range(of: #"d="[^"]*""#, options: .regularExpression).map { String(svg[$0].dropFirst(3).dropLast()) })
        var cells = [Bool](repeating: false, count: size * size)
        for run in path.split(separator: "z") {
            let numbers = run.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            // "M x y h n v 1 h -n": x, y, n, 1, n
            XCTAssertEqual(numbers.count, 5, String(run))
            guard numbers.count == 5 else { continue }
            for x in numbers[0]..<numbers[0] + numbers[2] { cells[numbers[1] * size + x] = true }
        }
        return cells
    }

    static func modulesWithQuietZone(_ code: QRCodeSVG) -> [Bool] {
        var cells = [Bool](repeating: false, count: code.size * code.size)
        for y in 0..<code.modules { for x in 0..<code.modules where code.isDark(x: x, y: y) {
            cells[(y + QRCodeSVG.quietZone) * code.size + x + QRCodeSVG.quietZone] = true
        } }
        return cells
    }

    func testQRDecodesBackToThePayload() throws {
        for payload in [Self.phimShape, Self.v3, Self.v4Static] {
            XCTAssertEqual(try Self.zbarDecode(QRCodeSVG(text: payload)), payload)
        }
    }

    /// Draws the module matrix (quiet zone included) as a binary PGM and reads it with zbarimg.
    static func zbarDecode(_ code: QRCodeSVG, scale: Int = 4) throws -> String {
        let zbarimg = "/usr/bin/zbarimg"
        guard FileManager.default.isExecutableFile(atPath: zbarimg) else {
            XCTFail("zbarimg is missing: Tests/install-deps.sh --test installs zbar-tools")
            return ""
        }
        let side = code.size * scale
        var pixels = [UInt8](repeating: 255, count: side * side)
        for y in 0..<code.modules { for x in 0..<code.modules where code.isDark(x: x, y: y) {
            for dy in 0..<scale { for dx in 0..<scale {
                pixels[((y + QRCodeSVG.quietZone) * scale + dy) * side + (x + QRCodeSVG.quietZone) * scale + dx] = 0
            } }
        } }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vietqr-\(UUID().uuidString).pgm")
        defer { try? FileManager.default.removeItem(at: file) }
        try (Data("P5\n\(side) \(side)\n255\n".utf8) + Data(pixels)).write(to: file)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: zbarimg)
        process.arguments = ["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", file.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
    }
}
