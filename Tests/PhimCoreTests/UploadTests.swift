import Foundation
import PhimCore
import PhimServer
import PhimSupport
import XCTest

/// Uploads share a disk with the ledger and are served publicly: only whole images with little
/// beside the picture, a bounded number and size per account, and deleted once no video needs them.
final class UploadTests: XCTestCase {
    func upload(_ world: TestWorld, _ bytes: [UInt8], as user: TestWorld.Caller,
                disposition: String = "form-data; name=\"file\"; filename=\"a.png\"") -> Response {
        var body = Array("--XyZ\r\nContent-Disposition: \(disposition)\r\nContent-Type: image/png\r\n\r\n".utf8)
        body += bytes
        body += Array("\r\n--XyZ--\r\n".utf8)
        return world.send("POST", "/api/v1/uploads", body: body, headers: ["content-type": "multipart/form-data; boundary=XyZ"], as: user)
    }

    func storedFiles(_ world: TestWorld) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: world.directory + "/uploads")) ?? []).sorted()
    }

    func uploadCount(_ world: TestWorld) throws -> Int { try world.db.first("SELECT COUNT(*) FROM uploads")?.int(0) ?? -1 }

    /// Each case: the bytes, the status and the code the upload answers (201 and nil when stored).
    func assertUploads(_ cases: [(String, [UInt8], Int, String?)], file: StaticString = #filePath, line: UInt = #line) throws {
        let world = try TestWorld { $0.uploads.perHour = 1_000 }
        let user = try world.user("shapes")
        for (label, bytes, status, code) in cases {
            let before = try uploadCount(world)
            let response = upload(world, bytes, as: user)
            XCTAssertEqual(response.status, status, "\(label): \(response.bodyText)", file: file, line: line)
            XCTAssertEqual(response.bodyJSON?["error"]?["code"]?.stringValue, code, label, file: file, line: line)
            XCTAssertEqual(try uploadCount(world), before + (status == 201 ? 1 : 0), label, file: file, line: line)
            XCTAssertEqual(storedFiles(world).count, before + (status == 201 ? 1 : 0), "\(label): files", file: file, line: line)
        }
    }

    func testTheReviewsProbeATenMegabyteTextChunkIsNotAnImage() throws {
        // The review's probe as it was sent: an all-zero IHDR and zero checksums.
        func c(_ type: String, _ data: [UInt8]) -> [UInt8] { TestImages.be32(data.count) + Array(type.utf8) + data + [0, 0, 0, 0] }
        let probe = TestImages.pngSignature + c("IHDR", Array(repeating: 0, count: 13)) + c("tEXt", Array(repeating: 0x61, count: 9_900_000)) + c("IEND", [])
        // The same text in an otherwise well-formed PNG, every checksum right.
        let wellFormed = TestImages.png(extra: [("tEXt", Array("Comment\0".utf8) + Array(repeating: 0x61, count: 9_900_000))])
        XCTAssertEqual(wellFormed.count, 9_900_090, "under the 10 MB upload limit")
        try assertUploads([
            ("the probe", probe, 422, "invalid_image"),
            ("the probe, well formed", wellFormed, 422, "image_metadata_too_large"),
        ])
        let world = try TestWorld()
        let refused = upload(world, wellFormed, as: try world.user("probe"), disposition: "form-data; name=\"file\"")
        XCTAssertTrue(refused.bodyJSON?["error"]?["message"]?.stringValue?.contains("256 KB") ?? false, refused.bodyText)
    }

    func testPNGsMustBeWholeWithRightChecksumsAndLittleBesideThePicture() throws {
        let good = TestImages.png()
        XCTAssertEqual(good, Images.png(), "the test's PNG writer makes the known 1×1 PNG, checksums included")
        var badChecksum = good
        badChecksum[good.count - 16] ^= 0x01 // the IDAT chunk's CRC
        var badData = good
        badData[45] ^= 0x40 // a byte of the compressed data, its CRC unchanged
        let header = TestImages.chunk("IHDR", TestImages.be32(1) + TestImages.be32(1) + [8, 6, 0, 0, 0])
        let idat = TestImages.chunk("IDAT", TestImages.idat1x1)
        let end = TestImages.chunk("IEND", [])
        let text = TestImages.chunk("tEXt", Array("Comment\0hello".utf8))
        try assertUploads([
            ("a whole PNG", good, 201, nil),
            ("small text and an sRGB chunk", TestImages.png(extra: [("tEXt", Array("Comment\0made here".utf8)), ("sRGB", [0])]), 201, nil),
            ("a wrong chunk checksum", badChecksum, 422, "invalid_image"),
            ("data that does not match its checksum", badData, 422, "invalid_image"),
            ("IHDR not first", TestImages.pngSignature + text + header + idat + end, 422, "invalid_image"),
            ("no IDAT", TestImages.pngSignature + header + text + end, 422, "invalid_image"),
            ("IDAT chunks apart", TestImages.pngSignature + header + idat + text + idat + end, 422, "invalid_image"),
            ("a chunk after IEND", good + text, 422, "invalid_image"),
            ("two IHDR", TestImages.pngSignature + header + header + idat + end, 422, "invalid_image"),
            ("width 0", TestImages.png(width: 0), 422, "invalid_image"),
            ("width 100,000", TestImages.png(width: 100_000), 422, "invalid_image"),
            ("bit depth 3", TestImages.png(depth: 3), 422, "invalid_image"),
            ("a chunk type that is not letters", TestImages.pngSignature + header + TestImages.chunk("t<?p", [1]) + idat + end, 422, "invalid_image"),
            ("300 KB of text in five chunks", TestImages.png(extra: Array(repeating: ("tEXt", Array(repeating: 0x61, count: 60_000)), count: 5)),
             422, "image_metadata_too_large"),
            ("a 300 KB private chunk", TestImages.png(extra: [("prIv", Array(repeating: 0x61, count: 300_000))]), 422, "image_metadata_too_large"),
        ])
    }

    func testJPEGsMustHaveAFrameAScanAndAnEndWithLittleMetadata() throws {
        let exif = Array(repeating: UInt8(0x45), count: 60_000)
        try assertUploads([
            ("a whole baseline JPEG", TestImages.jpeg(), 201, nil),
            ("a phone-sized Exif segment", TestImages.jpeg(metadata: [(0xE1, exif)]), 201, nil),
            ("two scans (progressive)", TestImages.jpeg(scans: 2), 201, nil),
            ("no frame header", TestImages.jpeg(frame: false), 422, "invalid_image"),
            ("the scan cut off before the end marker", Array(TestImages.jpeg().dropLast(2)), 422, "invalid_image"),
            ("bytes after the end marker", TestImages.jpeg() + Array("<?php ?>".utf8), 422, "invalid_image"),
            ("an end marker before any scan", [0xFF, 0xD8, 0xFF, 0xD9], 422, "invalid_image"),
            ("a zero-width frame", TestImages.jpeg(width: 0), 422, "invalid_image"),
            ("five 60 KB comments", TestImages.jpeg(metadata: Array(repeating: (0xFE, exif), count: 5)), 422, "image_metadata_too_large"),
        ])
    }

    func testWebPsMustHoldAPictureFillTheirRIFFSizeAndCarryLittleMetadata() throws {
        let lossless = TestImages.webp(chunks: [("VP8L", TestImages.vp8l1x1)])
        let extended = { (extra: [(String, [UInt8])]) in
            TestImages.webp(chunks: [("VP8X", [0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0])] + extra + [("VP8L", TestImages.vp8l1x1)])
        }
        var wrongSize = lossless
        wrongSize[4] &+= 2
        try assertUploads([
            ("a lossless 1×1 WebP", lossless, 201, nil),
            ("with a small Exif chunk", extended([("EXIF", Array(repeating: 1, count: 1_000))]), 201, nil),
            ("a RIFF size that is not the file's", wrongSize, 422, "invalid_image"),
            ("no picture chunk", TestImages.webp(chunks: [("EXIF", [1, 2])]), 422, "invalid_image"),
            ("an extended header and no picture", TestImages.webp(chunks: [("VP8X", Array(repeating: 0, count: 10))]), 422, "invalid_image"),
            ("300 KB of XMP", extended([("XMP ", Array(repeating: 0x3C, count: 300_000))]), 422, "image_metadata_too_large"),
        ])
    }

    func testAnAccountMayStoreOnlySoManyUploadsAnHour() throws {
        let world = try TestWorld { $0.uploads.perHour = 3 }
        let user = try world.user("busy"), other = try world.user("other")
        for _ in 0..<3 { XCTAssertEqual(upload(world, Images.png(), as: user).status, 201) }
        world.clock.advance(600)
        let refused = upload(world, Images.png(), as: user)
        XCTAssertEqual(refused.status, 429, refused.bodyText)
        XCTAssertEqual(refused.bodyJSON?["error"]?["code"]?.stringValue, "too_many_uploads")
        XCTAssertEqual(refused.bodyJSON?["error"]?["limit"]?.intValue, 3)
        XCTAssertEqual(refused.header("Retry-After"), "3000", "until the first of the hour's uploads leaves the hour")
        XCTAssertEqual(try uploadCount(world), 3)
        XCTAssertEqual(storedFiles(world).count, 3, "nothing written for a refused upload")
        XCTAssertEqual(upload(world, Images.png(), as: other).status, 201, "another account has its own count")
        world.clock.advance(3_000)
        XCTAssertEqual(upload(world, Images.png(), as: user).status, 201, "an hour after the first, one more")
    }

    func testAnAccountsUploadsTogetherStayUnderItsByteQuota() throws {
        let png = Images.png()
        let world = try TestWorld { $0.uploads.bytesPerAccount = png.count * 2 + 10 }
        let user = try world.user("hoarder")
        XCTAssertEqual(upload(world, png, as: user).status, 201)
        XCTAssertEqual(upload(world, png, as: user).status, 201)
        let refused = upload(world, png, as: user)
        XCTAssertEqual(refused.status, 413, refused.bodyText)
        XCTAssertEqual(refused.bodyJSON?["error"]?["code"]?.stringValue, "upload_quota_exceeded")
        XCTAssertEqual(refused.bodyJSON?["error"]?["limit_bytes"]?.intValue, png.count * 2 + 10)
        XCTAssertEqual(try uploadCount(world), 2)
        XCTAssertEqual(storedFiles(world).count, 2)
        // The quota counts the uploads the account still has: once they expire, there is room again.
        world.clock.advance(25 * 3_600)
        XCTAssertEqual(try world.app.uploads.deleteExpired(on: world.db), 2)
        XCTAssertEqual(upload(world, png, as: user).status, 201)
    }

    func testUploadsNoUnfinishedVideoUsesAreDeletedAfterTheRetention() throws {
        let world = try TestWorld()
        let user = try world.user("keeper", credits: 100_000)
        func stored() -> (id: String, file: String) {
            let response = upload(world, Images.png(), as: user)
            XCTAssertEqual(response.status, 201, response.bodyText)
            return (response.bodyJSON!["id"]!.stringValue!, URL(string: response.bodyJSON!["url"]!.stringValue!)!.lastPathComponent)
        }
        func make(_ uploadID: String) -> Response {
            world.send("POST", "/api/v1/videos", json: .object([("prompt", .string("the boat sails")), ("upload_id", .string(uploadID))]), as: user)
        }
        let unused = stored(), finished = stored(), running = stored()
        let finishedVideo = make(finished.id).bodyJSON!["id"]!.stringValue!
        world.clock.advance(25)
        world.deliverCallbacks()
        XCTAssertEqual(world.video(user, finishedVideo)?["status"]?.stringValue, "completed")
        let runningVideo = make(running.id)
        XCTAssertEqual(runningVideo.status, 202, runningVideo.bodyText)

        world.clock.advance(23 * 3_600)
        XCTAssertEqual(try world.app.uploads.deleteExpired(on: world.db), 0, "a day is not over")
        world.clock.advance(3_600)
        XCTAssertEqual(try world.app.uploads.deleteExpired(on: world.db), 2)
        XCTAssertEqual(storedFiles(world), [running.file], "the unused one and the finished video's are gone, file and row")
        XCTAssertEqual(try world.db.first("SELECT id FROM uploads")?.string(0), running.id)
        XCTAssertEqual(world.video(user, finishedVideo)?["status"]?.stringValue, "completed", "the finished video is untouched")
        let late = make(unused.id)
        XCTAssertEqual(late.status, 404)
        XCTAssertEqual(late.bodyJSON?["error"]?["code"]?.stringValue, "upload_not_found")

        world.deliverCallbacks()
        XCTAssertEqual(world.video(user, runningVideo.bodyJSON!["id"]!.stringValue!)?["status"]?.stringValue, "completed")
        XCTAssertEqual(try world.app.uploads.deleteExpired(on: world.db), 1, "kept until its video finished")
        XCTAssertEqual(storedFiles(world), [])
        try world.assertLedgerClean()
    }

    /// The sweep may delete an upload between a create's checks and its write: the create then
    /// says the upload is gone (404), holds nothing, and is not an internal error.
    func testAnUploadSweptWhileItsCreateIsUnderWayIsNotFoundNotAnInternalError() throws {
        let world = try TestWorld()
        let user = try world.user("racer", credits: TestWorld.price)
        let stored = upload(world, Images.png(), as: user)
        XCTAssertEqual(stored.status, 201, stored.bodyText)
        let uploadID = stored.bodyJSON!["id"]!.stringValue!
        // The sweep's delete, run inside the create's own write (its first statement counts the create).
        // (On the process's writer connection, where writes run: a TEMP trigger is per connection.)
        try world.db.write {
            try world.db.execute("""
                CREATE TEMP TRIGGER sweep_meanwhile AFTER INSERT ON rate_limit_counters
                BEGIN DELETE FROM uploads WHERE id = '\(uploadID)'; END
                """)
        }
        let made = world.send("POST", "/api/v1/videos", json: .object([("prompt", .string("the boat sails")), ("upload_id", .string(uploadID))]), as: user)
        XCTAssertEqual(made.status, 404, made.bodyText)
        XCTAssertEqual(made.bodyJSON?["error"]?["code"]?.stringValue, "upload_not_found")
        try world.db.write { try world.db.execute("DROP TRIGGER sweep_meanwhile") }
        XCTAssertEqual(world.balance(user).held, 0)
        XCTAssertEqual(world.balance(user).available, TestWorld.price)
        XCTAssertEqual(try uploadCount(world), 1, "the refused create rolled the sweep's delete back with it")
    }

    func testTheFileIsThePartNamedFileNotOneWhoseFileNameIsFile() throws {
        let world = try TestWorld()
        let user = try world.user("parts")
        let png = Images.png()
        for (disposition, status) in [
            ("form-data; name=\"other\"; filename=\"file\"", 400),
            ("form-data; filename=\"file\"", 400),
            ("form-data; name=\"files\"", 400),
            ("form-data; xname=\"file\"", 400),
            ("form-data; name=\"other\"; filename=\"a; name=\\\"file\\\"\"", 400),
            ("attachment; name=\"file\"", 400),
            ("form-data; filename=\"x\"; name=\"file\"", 201),
            ("form-data; filename=\"a; b.png\"; name=file", 201),
            ("form-data;name=\"file\"", 201),
            ("FORM-DATA; NAME=\"file\"", 201),
        ] {
            let response = upload(world, png, as: user, disposition: disposition)
            XCTAssertEqual(response.status, status, "\(disposition): \(response.bodyText)")
            if status == 400 { XCTAssertEqual(response.bodyJSON?["error"]?["code"]?.stringValue, "file_required", disposition) }
        }
        // A part named "other" whose file name is "file" comes first; the real file part after it is the one stored.
        var body = Array("--XyZ\r\nContent-Disposition: form-data; name=\"other\"; filename=\"file\"\r\n\r\nnot an image\r\n".utf8)
        body += Array("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.png\"\r\n\r\n".utf8) + png + Array("\r\n--XyZ--\r\n".utf8)
        let both = world.send("POST", "/api/v1/uploads", body: body, headers: ["content-type": "multipart/form-data; boundary=XyZ"], as: user)
        XCTAssertEqual(both.status, 201, both.bodyText)
    }
}

/// Images written by the test, byte by byte, to the formats' specifications.
enum TestImages {
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// zlib data of one RGBA pixel row (filter 0, a red pixel), as in `Images.png()`.
    static let idat1x1: [UInt8] = [0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF]
    /// A lossless 1×1 bitstream (signature 0x2F, 14-bit size fields, one green pixel).
    static let vp8l1x1: [UInt8] = [0x2F, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xFE, 0x07]

    static func be32(_ value: Int) -> [UInt8] { [UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
    static func le32(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24 & 0xFF)] }

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        crcTable.withUnsafeBufferPointer { table in
            for byte in bytes { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        }
        return c ^ 0xFFFF_FFFF
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + data
        return be32(data.count) + typed + be32(Int(crc(typed)))
    }

    /// A 1×1 RGBA PNG, with `extra` chunks between its header and its data.
    static func png(width: Int = 1, depth: UInt8 = 8, extra: [(String, [UInt8])] = []) -> [UInt8] {
        pngSignature + chunk("IHDR", be32(width) + be32(1) + [depth, 6, 0, 0, 0]) + extra.flatMap { chunk($0.0, $0.1) }
            + chunk("IDAT", idat1x1) + chunk("IEND", [])
    }

    /// A 1×1 greyscale baseline JPEG: quantisation and Huffman tables with one code each, one
    /// block coded as "DC difference 0, end of block". `scans: 2` adds a second table and scan,
    /// as progressive files have.
    static func jpeg(width: Int = 1, frame: Bool = true, scans: Int = 1, metadata: [(UInt8, [UInt8])] = []) -> [UInt8] {
        func segment(_ marker: UInt8, _ body: [UInt8]) -> [UInt8] { [0xFF, marker, UInt8((body.count + 2) >> 8), UInt8((body.count + 2) & 0xFF)] + body }
        let huffman = { (tableClass: UInt8) in segment(0xC4, [tableClass, 1] + Array(repeating: 0, count: 15) + [0]) }
        var bytes: [UInt8] = [0xFF, 0xD8] + segment(0xE0, Array("JFIF\0".utf8) + [1, 1, 0, 0, 1, 0, 1, 0, 0])
        bytes += metadata.flatMap { segment($0.0, $0.1) }
        bytes += segment(0xDB, [0] + Array(repeating: 1, count: 64))
        if frame { bytes += segment(0xC0, [8, 0, 1, UInt8(width >> 8), UInt8(width & 0xFF), 1, 1, 0x11, 0]) }
        for _ in 0..<scans {
            bytes += huffman(0x00) + huffman(0x10)
            bytes += segment(0xDA, [1, 1, 0x00, 0, 63, 0]) + [0x3F]
        }
        return bytes + [0xFF, 0xD9]
    }

    static func webp(chunks: [(String, [UInt8])]) -> [UInt8] {
        let body = chunks.flatMap { (type: String, data: [UInt8]) -> [UInt8] in
            let padding: [UInt8] = data.count % 2 == 1 ? [0] : []
            return Array(type.utf8) + le32(data.count) + data + padding
        }
        return Array("RIFF".utf8) + le32(body.count + 4) + Array("WEBP".utf8) + body
    }
}
