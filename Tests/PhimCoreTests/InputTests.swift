import Foundation
import PhimCore
import PhimServer
import PhimSupport
import XCTest

/// Every bad input gets a precise error and changes nothing.
final class InputTests: XCTestCase {
    func testBadCreateBodiesGetTheirOwnCodesAndHoldNothing() throws {
        let world = try TestWorld()
        let user = try world.user("input", credits: 100_000)
        let cases: [(JSON?, [UInt8]?, Int, String)] = [
            (nil, Array("{not json".utf8), 400, "invalid_json"),
            (nil, Array("[1,2]".utf8), 400, "invalid_json"),
            (.object([]), nil, 422, "prompt_required"),
            (.object([("prompt", .string("   "))]), nil, 422, "prompt_required"),
            (.object([("prompt", .int(5))]), nil, 422, "prompt_required"),
            (.object([("prompt", .string(String(repeating: "a", count: 5_001)))]), nil, 422, "prompt_too_long"),
            (.object([("prompt", .string("bell \u{7}"))]), nil, 422, "prompt_invalid_characters"),
            (.object([("prompt", .string("x")), ("mode", .string("radio"))]), nil, 422, "invalid_mode"),
            (.object([("prompt", .string("x")), ("model", .string("sora-3"))]), nil, 422, "unknown_model"),
            (.object([("prompt", .string("x")), ("model", .int(3))]), nil, 422, "unknown_model"),
            (.object([("prompt", .string("x")), ("model", .string("sora-2-text-to-video"))]), nil, 410, "model_retired"),
            (.object([("prompt", .string("x")), ("model", .string("sora-2-pro-image-to-video"))]), nil, 410, "model_retired"),
            (.object([("prompt", .string("x")), ("aspect_ratio", .string("square"))]), nil, 422, "invalid_aspect_ratio"),
            (.object([("prompt", .string("x")), ("model", .string("veo-3.1-fast")), ("aspect_ratio", .string("1:1"))]), nil, 422, "invalid_aspect_ratio"),
            (.object([("prompt", .string("x")), ("duration", .int(12))]), nil, 422, "invalid_duration"),
            (.object([("prompt", .string("x")), ("duration", .string("10"))]), nil, 422, "invalid_duration"),
            (.object([("prompt", .string("x")), ("duration", .bool(true))]), nil, 422, "invalid_duration"),
            (.object([("prompt", .string("x")), ("duration", .number(10.5))]), nil, 422, "invalid_duration"),
            (.object([("prompt", .string("x")), ("model", .string("veo-3.1-lite")), ("duration", .int(10))]), nil, 422, "invalid_duration"),
            (.object([("prompt", .string("x")), ("resolution", .string("4k"))]), nil, 422, "invalid_resolution"),
            (.object([("prompt", .string("x")), ("model", .string("grok-imagine")), ("resolution", .string("1080p"))]), nil, 422, "invalid_resolution"),
            (.object([("prompt", .string("x")), ("audio", .string("yes"))]), nil, 422, "invalid_audio"),
            (.object([("prompt", .string("x")), ("model", .string("grok-imagine")), ("audio", .bool(false))]), nil, 422, "audio_always_on"),
            (.object([("prompt", .string(String(repeating: "a", count: 2_001))), ("model", .string("veo-3.1-fast"))]), nil, 422, "prompt_too_long"),
            (.object([("prompt", .string("x")), ("mode", .string("image_to_video"))]), nil, 422, "upload_required"),
            (.object([("prompt", .string("x")), ("upload_id", .string(UUID().uuidString))]), nil, 404, "upload_not_found"),
            (.object([("prompt", .string("x")), ("mode", .string("text_to_video")), ("upload_id", .string(UUID().uuidString))]), nil, 422, "upload_not_allowed"),
        ]
        for (json, raw, status, code) in cases {
            let response = world.send("POST", "/api/v1/videos", json: json, body: raw,
                                      headers: raw != nil ? ["content-type": "application/json"] : [:], as: user)
            XCTAssertEqual(response.status, status, "\(code): \(response.bodyText)")
            XCTAssertEqual(response.bodyJSON?["error"]?["code"]?.stringValue, code)
            XCTAssertFalse(response.bodyJSON?["error"]?["message"]?.stringValue?.isEmpty ?? true)
        }
        let wrongType = world.send("POST", "/api/v1/videos", body: Array("prompt=x".utf8),
                                   headers: ["content-type": "application/x-www-form-urlencoded"], as: user)
        XCTAssertEqual(wrongType.status, 415)
        XCTAssertEqual(world.balance(user).available, 100_000)
        XCTAssertEqual(try world.db.first("SELECT COUNT(*) FROM video_jobs")?.int(0), 0)
    }

    func testErrorsSpeakTheCallersLanguage() throws {
        let world = try TestWorld()
        let user = try world.user("lang", credits: 1_000)
        let vi = world.send("POST", "/api/v1/videos", json: .object([("prompt", .string("x"))]), as: user)
        let en = world.send("POST", "/api/v1/videos", json: .object([("prompt", .string("x"))]),
                            headers: ["accept-language": "en-US,en;q=0.9"], as: user)
        XCTAssertEqual(vi.status, 402)
        XCTAssertEqual(vi.bodyJSON?["error"]?["needed"]?.intValue, TestWorld.price)
        XCTAssertEqual(vi.bodyJSON?["error"]?["available"]?.intValue, 1_000)
        XCTAssertNotEqual(vi.bodyJSON?["error"]?["message"], en.bodyJSON?["error"]?["message"])
        XCTAssertTrue(en.bodyJSON?["error"]?["message"]?.stringValue?.contains("4,500") ?? false, en.bodyText)
        XCTAssertTrue(vi.bodyJSON?["error"]?["message"]?.stringValue?.contains("4.500") ?? false, vi.bodyText)
    }

    func testUploadsAcceptWholeImagesOnlyAndChangeNothingOtherwise() throws {
        let world = try TestWorld()
        let user = try world.user("uploader", credits: 20_000)
        func upload(_ bytes: [UInt8], type: String = "image/png", boundary: String = "XyZ") -> Response {
            var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: \(type)\r\n\r\n".utf8)
            body += bytes
            body += Array("\r\n--\(boundary)--\r\n".utf8)
            return world.send("POST", "/api/v1/uploads", body: body, headers: ["content-type": "multipart/form-data; boundary=\(boundary)"], as: user)
        }
        let png = Images.png()
        let good = upload(png)
        XCTAssertEqual(good.status, 201, good.bodyText)
        let url = good.bodyJSON!["url"]!.stringValue!
        XCTAssertTrue(url.hasPrefix("http://127.0.0.1:8080/files/"))
        let stored = world.directory + "/uploads/" + URL(string: url)!.lastPathComponent
        XCTAssertEqual(FileManager.default.contents(atPath: stored).map(Array.init), png)

        for (bytes, status, code) in [
            (Array("hello, not an image".utf8), 415, "unsupported_image_type"),
            (Array(png.dropLast(5)), 422, "invalid_image"),
            (png + Array("<?php evil(); ?>".utf8), 422, "invalid_image"),
            ([], 400, "file_required"),
            (Array(repeating: 0xFF, count: Uploads.maximumBytes + 1), 413, "image_too_large"),
        ] {
            let response = upload(bytes)
            XCTAssertEqual(response.status, status, code)
            XCTAssertEqual(response.bodyJSON?["error"]?["code"]?.stringValue, code)
        }
        // Odd multipart: non-ASCII header bytes, no file field, no boundary.
        var odd = Array("--B\r\nContent-Disposition: form-data; name=\"f\u{00e9}\u{0000}\"\r\n\r\nxx\r\n--B--".utf8)
        odd.insert(0xC3, at: 10)
        XCTAssertEqual(world.send("POST", "/api/v1/uploads", body: odd, headers: ["content-type": "multipart/form-data; boundary=B"], as: user).status, 400)
        XCTAssertEqual(world.send("POST", "/api/v1/uploads", body: png, headers: ["content-type": "multipart/form-data"], as: user).status, 415)
        XCTAssertEqual(try world.db.first("SELECT COUNT(*) FROM uploads")?.int(0), 1)

        // The stored image makes an image-to-video.
        let made = world.send("POST", "/api/v1/videos", json: .object([("prompt", .string("the boat sails")),
                                                                      ("upload_id", good.bodyJSON!["id"]!)]), as: user)
        XCTAssertEqual(made.status, 202, made.bodyText)
        XCTAssertEqual(made.bodyJSON?["mode"]?.stringValue, "image_to_video")
        XCTAssertEqual(made.bodyJSON?["image_url"]?.stringValue, url)
    }

    func testEveryErrorCodeHasAMessageInBothLanguages() {
        let samples: [AppError] = [
            .invalidJSON(detail: "x"), .badRequest, .unsupportedMediaType, .payloadTooLarge(limitBytes: 1), .routeNotFound,
            .methodNotAllowed, .serviceBusy, .unauthenticated, .invalidCredentials, .invalidEmail, .passwordTooShort(minimum: 8),
            .passwordInvalid(maximumBytes: 1), .invalidName, .emailTaken, .csrfFailed, .accountDisabled, .promptRequired,
            .promptTooLong(maximum: 1), .promptInvalidCharacters, .invalidMode, .unknownModel(model: "x", offered: ["a", "b"]),
            .modelRetired(model: "sora-2-text-to-video", replacements: ["kling-3.0"]),
            .modelUnavailable(model: "m", reason: "paused", retryAfter: 60, videoID: nil), .modeNotOffered(model: "m", mode: "image_to_video"),
            .modeNotOffered(model: "m", mode: "text_to_video"), .invalidAspectRatio(offered: ["16:9"]), .invalidDuration(offered: [5, 10]),
            .invalidResolution(offered: ["720p"]), .invalidAudio, .audioNotOffered(model: "m", always: true),
            .audioNotOffered(model: "m", always: false), .optionUnavailable(model: "m", duration: 1, resolution: "720p", audio: true),
            .modelNotFound, .modelIsDefault(model: "m"), .modelRetiredLocked(model: "m"), .modelNotOffered(model: "m"), .catalogNeedsDefault,
            .uploadRequired, .uploadNotAllowed, .uploadNotFound, .invalidIdempotencyKey, .idempotencyKeyReused, .invalidDeadline, .invalidVariants, .promptRejected,
            .insufficientCredits(needed: 1, available: 0), .tooManyUnfinishedVideos(limit: 1), .fileRequired,
            .unsupportedImageType, .invalidImage, .imageTooLarge(limitBytes: 1), .imageMetadataTooLarge(limitBytes: 262_144),
            .tooManyUploads(limit: 30, retryAfter: 61), .uploadQuotaExceeded(limitBytes: 100_000_000, retentionHours: 24), .videoNotFound, .apiKeyNotFound,
            .notCancelable(status: "x"), .notShareable, .videoExpired(days: 14),
            .tooManyLoginAttempts(retryAfter: 61), .tooManySignups(retryAfter: 1), .tooManyCreates(retryAfter: 30), .invalidCursor, .invalidLimit, .providerUnavailable(videoID: nil),
            .providerBusy(videoID: nil), .providerOutOfCredits(videoID: nil), .providerMisconfigured(videoID: nil),
            .providerRejectedInput(videoID: nil, message: "m"), .providerQueryFailed, .callbackNotFound, .callbackTaskMismatch, .invalidSignature, .internal,
            .userNotFound, .invalidAmount(maximum: 1), .reasonRequired(maximum: 1), .cannotDisableSelf, .priceNotFound, .invalidStyle(field: "key"),
            .invalidFilter(name: "state"), .invalidWebhookURL, .webhookURLNotAllowed(host: "10.0.0.1"), .webhookURLUnresolvable(host: "x.test"),
            .invalidWebhookEvents, .webhookDeliveryNotFound, .tooManyReplays(retryAfter: 60), .signInBusy, .currentPasswordWrong, .invalidQueueLimit(maximum: 100_000),
        ]
        for error in samples {
            for language in Language.allCases {
                XCTAssertTrue(Messages.has("error.\(error.code)", language), "error.\(error.code) missing in \(language)")
                XCTAssertFalse(Messages.message(for: error, in: language).contains("{"), "\(error.code) leaves a placeholder")
            }
        }
        for reason in FailureReason.allCases {
            for language in Language.allCases {
                XCTAssertTrue(Messages.has("failure.\(reason.rawValue)", language), "failure.\(reason.rawValue) missing in \(language)")
            }
        }
    }

    func testUnknownRoutesAndMethodsAnswerJSON() throws {
        let world = try TestWorld()
        XCTAssertEqual(world.send("GET", "/api/v1/nothing-here").status, 404)
        XCTAssertEqual(world.send("PATCH", "/api/v1/videos").status, 405)
        XCTAssertEqual(world.send("GET", "/api/v1/videos/..%2F..%2Fetc%2Fpasswd").status, 401)
        XCTAssertEqual(world.send("GET", "/api/livez").status, 200)
        XCTAssertEqual(world.app.handle(Request(method: "GET", path: "/api/livez"), db: nil).status, 200, "livez needs no database")
        XCTAssertEqual(world.send("GET", "/api/healthz").status, 200)
    }
}

/// Small real images made in the test.
enum Images {
    /// A valid 1×1 PNG.
    static func png() -> [UInt8] {
        [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01,
         0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41,
         0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00,
         0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]
    }
}
