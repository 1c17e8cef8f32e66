@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

@Suite("The videos API: listing, deleting, canceling, bad input")
struct VideoAPITests {
    @Test("bad create requests get a 4xx with a precise code and change nothing", arguments: [
        (#"{"prompt": ""}"#, 422, "prompt_required"),
        (#"{"prompt": "   \n  "}"#, 422, "prompt_required"),
        (#"{}"#, 422, "prompt_required"),
        (#"{"prompt": "\#(String(repeating: "a", count: 5_001))"}"#, 422, "prompt_too_long"),
        (#"{"prompt": "ok", "aspect_ratio": "square"}"#, 422, "invalid_aspect_ratio"),
        (#"{"prompt": "ok", "duration": 12}"#, 422, "invalid_duration"),
        (#"{"prompt": "ok", "duration": "10"}"#, 422, "invalid_duration"),
        (#"{"prompt": "ok", "quality": "ultra"}"#, 422, "invalid_quality"),
        (#"{"prompt": "ok", "quality": "high"}"#, 422, "option_unavailable"),
        (#"{"prompt": "ok", "model": "sora-3"}"#, 422, "unknown_model"),
        (#"{"prompt": "ok", "mode": "audio"}"#, 422, "invalid_mode"),
        (#"{"prompt": "ok", "mode": "text_to_video", "model": "sora-2-image-to-video"}"#, 422, "model_mode_mismatch"),
        (#"{"prompt": "ok", "mode": "image_to_video"}"#, 422, "upload_required"),
        (#"{"prompt": "ok", "upload_id": "0F6DB117-AAFA-47FA-BBAB-C42F92C2449B"}"#, 422, "upload_not_allowed"),
        (#"{"prompt": "ok", "mode": "image_to_video", "upload_id": "0F6DB117-AAFA-47FA-BBAB-C42F92C2449B"}"#, 404, "upload_not_found"),
        (#"{"prompt": "ok""#, 400, "invalid_json"),
        (#"["prompt"]"#, 400, "invalid_json"),
    ])
    func badCreateRequests(body: String, status: Int, code: String) async throws {
        try await withTestApp { t in
            let user = try await t.makeUser(credits: 50_000)
            let response = try await t.createVideo(body, as: user)
            #expect(Int(response.status.code) == status)
            #expect(response.errorCode == code)
            #expect(response.json["error"]["message"].string?.isEmpty == false)
            #expect(try await t.jobCount() == 0)
            #expect(try await t.balances(user) == (50_000, 0))
            #expect(await t.simulator.callCounts.createTask == 0)
        }
    }

    @Test("a prompt of exactly 5,000 characters, trimmed, is accepted")
    func longestPrompt() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let prompt = String(repeating: "ả", count: 5_000)
            let response = try await t.createVideo(#"{"prompt": "  \#(prompt)  "}"#, as: user)
            #expect(response.status == .accepted)
            #expect(response.json["prompt"].string == prompt)
        }
    }

    @Test("a wrong content type is 415 and errors come in the caller's language")
    func contentTypeAndLanguage() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let form = try await t.request(.POST, "/api/v1/videos", as: user, json: "prompt=hello",
                                           headers: ["Content-Type": "application/x-www-form-urlencoded"])
            #expect(form.status == .unsupportedMediaType)
            #expect(form.errorCode == "unsupported_media_type")

            let english = try await t.request(.POST, "/api/v1/videos", as: user, json: #"{"prompt": ""}"#,
                                              headers: ["Accept-Language": "en-US,en;q=0.9"])
            #expect(english.json["error"]["message"].string == "Please describe the video you want.")
            let vietnamese = try await t.request(.POST, "/api/v1/videos", as: user, json: #"{"prompt": ""}"#)
            #expect(vietnamese.json["error"]["message"].string == "Vui lòng nhập mô tả cho video.")
            #expect(try await t.jobCount() == 0)
        }
    }

    @Test("uploads are checked by their bytes and their size", arguments: [
        ("jpeg", true), ("png", true), ("webp", true), ("webp-lossless", true), ("text-named-png", false), ("gif", false),
    ])
    func uploadTypes(kind: String, accepted: Bool) async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let bytes: [UInt8] = switch kind {
            case "jpeg": Images.jpeg
            case "png": Images.png
            case "webp": Images.webp
            case "webp-lossless": Images.webpLossless
            case "gif": Array("GIF89a".utf8) + Array(repeating: 0, count: 32)
            default: Array("<html>not an image</html>".utf8)
            }
            let response = try await t.upload(bytes, filename: "picture.png", contentType: "image/png", as: user)
            if accepted {
                #expect(response.status == .created)
                #expect(response.json["content_type"].string == "image/\(kind.prefix(while: { $0 != "-" }))")
            } else {
                #expect(response.status == .unsupportedMediaType)
                #expect(response.errorCode == "unsupported_image_type")
                #expect(try await Upload.query(on: t.app.db).count() == 0)
            }
        }
    }

    @Test("cut-off, damaged and polyglot images are refused with 422 invalid_image and nothing is stored", arguments: [
        "png-truncated", "png-bad-checksum", "png-with-script-after-end", "jpeg-truncated", "jpeg-with-zip-after-end",
        "webp-truncated", "webp-with-page-after-end", "png-zero-size",
    ])
    func damagedImages(kind: String) async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            var bytes: [UInt8]
            switch kind {
            case "png-truncated": bytes = Array(Images.png.dropLast(7))
            case "png-bad-checksum":
                bytes = Images.png
                bytes[60] ^= 0x01 // inside the IDAT chunk
            case "png-with-script-after-end": bytes = Images.png + Array("<script>alert(document.cookie)</script>".utf8)
            case "jpeg-truncated": bytes = Array(Images.jpeg.prefix(Images.jpeg.count - 40))
            case "jpeg-with-zip-after-end": bytes = Images.jpeg + [0x50, 0x4B, 0x03, 0x04] + Array(repeating: 0, count: 26)
            case "webp-truncated": bytes = Array(Images.webp.dropLast(10))
            case "webp-with-page-after-end": bytes = Images.webp + Array("<html><body>hi</body></html>".utf8)
            default:
                bytes = Images.png
                bytes.replaceSubrange(16..<24, with: [0, 0, 0, 0, 0, 0, 0, 0]) // width and height 0
                let crc = CRC32.checksum(bytes[12..<29])
                bytes.replaceSubrange(29..<33, with: withUnsafeBytes(of: crc.bigEndian, Array.init))
            }
            let response = try await t.upload(bytes, as: user)
            #expect(response.status == .unprocessableEntity)
            #expect(response.errorCode == "invalid_image")
            #expect(try await Upload.query(on: t.app.db).count() == 0)
        }
    }

    @Test("an image over 10 MB is refused and nothing is stored; exactly 10 MB is accepted")
    func oversizeUpload() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let response = try await t.upload(Images.png(ofSize: 10_000_001), as: user)
            #expect(response.status == .payloadTooLarge)
            #expect(response.errorCode == "image_too_large")
            #expect(try await Upload.query(on: t.app.db).count() == 0)
            // (A body far past the limit is refused from its Content-Length or cut off as it
            // streams, which `scripts/smoke.py` checks over real HTTP.)

            let atLimit = try await t.upload(Images.png(ofSize: 10_000_000), as: user)
            #expect(atLimit.status == .created)
            #expect(atLimit.json["byte_size"].int == 10_000_000)
            #expect(try await Upload.query(on: t.app.db).count() == 1)
            let empty = try await t.upload([], as: user)
            #expect(empty.errorCode == "file_required")
        }
    }

    @Test("the gallery lists newest first, pages by cursor, and hides deleted videos")
    func listingAndSoftDelete() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser(credits: 1_000_000)
            var ids: [UUID] = []
            for index in 0..<5 {
                ids.append(try await t.createTextVideo("Video \(index)", as: user))
                t.clock.advance(by: 1)
            }
            let first = try await t.request(.GET, "/api/v1/videos?limit=2", as: user)
            #expect(first.json["data"].array.compactMap { $0["prompt"].string } == ["Video 4", "Video 3"])
            let cursor = try #require(first.json["next_cursor"].string)
            let second = try await t.request(.GET, "/api/v1/videos?limit=2&cursor=\(cursor)", as: user)
            #expect(second.json["data"].array.compactMap { $0["prompt"].string } == ["Video 2", "Video 1"])
            let third = try await t.request(.GET, "/api/v1/videos?limit=2&cursor=\(try #require(second.json["next_cursor"].string))", as: user)
            #expect(third.json["data"].array.compactMap { $0["prompt"].string } == ["Video 0"])
            #expect(third.json["next_cursor"].isNull)

            #expect(try await t.request(.GET, "/api/v1/videos?limit=0", as: user).errorCode == "invalid_limit")
            #expect(try await t.request(.GET, "/api/v1/videos?cursor=nonsense", as: user).errorCode == "invalid_cursor")

            // Delete one that is still running: hidden at once, ledger untouched, still settles.
            let before = try await t.balances(user)
            #expect(try await t.request(.DELETE, "/api/v1/videos/\(ids[2])", as: user).status == .noContent)
            #expect(try await t.request(.GET, "/api/v1/videos/\(ids[2])", as: user).status == .notFound)
            #expect(try await t.request(.DELETE, "/api/v1/videos/\(ids[2])", as: user).status == .notFound)
            let listed = try await t.request(.GET, "/api/v1/videos?limit=100", as: user).json["data"].array.compactMap { $0["id"].string }
            #expect(listed.count == 4)
            #expect(!listed.contains(ids[2].uuidString))
            #expect(try await t.balances(user) == before)
            #expect(try await t.ledgerEntries(forJob: ids[2]).count == 1)

            try await t.advance(by: 30)
            #expect(try await t.job(ids[2]).status == .completed)
            #expect(try await t.balances(user) == (1_000_000 - 35_000, 0))
            try await t.verifyLedger()
        }
    }

    @Test("cancel works only before the provider starts, refunds once, and ignores later news")
    func cancel() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let early = try await t.createTextVideo("Cancel me", as: user)
            let late = try await t.createTextVideo("Too late", as: user)

            let canceled = try await t.request(.POST, "/api/v1/videos/\(early)/cancel", as: user)
            #expect(canceled.status == .ok)
            #expect(canceled.json["status"].string == "canceled")
            #expect(canceled.json["credits_refunded"].bool == true)
            #expect(try await t.request(.POST, "/api/v1/videos/\(early)/cancel", as: user).status == .ok)

            try await t.advance(by: 5) // both start generating
            let refused = try await t.request(.POST, "/api/v1/videos/\(late)/cancel", as: user)
            #expect(refused.status == .conflict)
            #expect(refused.errorCode == "not_cancelable")

            try await t.advance(by: 20) // both finish at the provider
            #expect(try await t.job(early).status == .canceled)
            #expect(try await t.job(late).status == .completed)
            #expect(try await t.balances(user) == (93_000, 0))
            let kinds = try await t.request(.GET, "/api/v1/credits/transactions", as: user).json["data"].array.compactMap { $0["kind"].string }
            #expect(kinds.first == "settle") // the newest
            #expect(kinds.sorted() == ["grant", "hold", "hold", "release", "settle"])
            try await t.verifyLedger()
        }
    }
}
