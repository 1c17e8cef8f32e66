// Kie's JSON as documented and as observed: bodies Phim sends, replies and callbacks it reads.
@testable import PhimProvider
import PhimSupport
import XCTest

final class KieWireTests: XCTestCase {
    override func setUp() { TestEnvironment.setUp() }

    /// The reference's recordInfo example (§4.1), with both result lists.
    static let recordInfoSuccess = #"""
    { "code": 200, "msg": "success",
      "data": { "taskId": "e989621f54392584b05867f87b160672", "model": "sora-2-text-to-video",
                "state": "success",
                "param": "{\"model\":\"sora-2-text-to-video\",\"callBackUrl\":\"https://svc.example/hooks/kie\",\"input\":{\"prompt\":\"x\"}}",
                "resultJson": "{\"resultUrls\":[\"https://cdn.example/a.mp4\"],\"resultWaterMarkUrls\":[\"https://cdn.example/a_wm.mp4\"]}",
                "failCode": "", "failMsg": "", "costTime": 8,
                "completeTime": 1755599644000, "createTime": 1755599634000, "updateTime": 1755599644000 } }
    """#

    /// A failure callback as some examples write it: `message`, a numeric failCode, nulls (§5.1, §11.10).
    static let callbackFail = #"""
    { "code": 501, "message": "Playground task failed.",
      "data": { "taskId": "task_12345678", "model": "sora-2-image-to-video", "state": "fail",
                "param": "{}", "resultJson": null, "failCode": 500, "failMsg": "Content flagged by moderation",
                "costTime": null, "completeTime": 1755599644000, "createTime": 1755599634000, "updateTime": 1755599644000 } }
    """#

    func testDocumentedRecordInfoReplyDecodesToASuccessWithBothURLs() throws {
        let status = try KieWire.parseStatusReply(Data(Self.recordInfoSuccess.utf8), family: .market)
        XCTAssertEqual(status.taskID, "e989621f54392584b05867f87b160672")
        XCTAssertEqual(status.state, .success)
        XCTAssertEqual(status.resultURLs, ["https://cdn.example/a.mp4"])
        XCTAssertEqual(status.watermarkedURLs, ["https://cdn.example/a_wm.mp4"])
        XCTAssertNil(status.failCode, "an empty failCode means none")
        XCTAssertNil(status.failMessage)
    }

    func testFailureCallbackWithMessageNumericFailCodeAndNullsDecodes() throws {
        let status = try XCTUnwrap(KieWire.parseCallback(Data(Self.callbackFail.utf8), family: .market))
        XCTAssertEqual(status.taskID, "task_12345678")
        XCTAssertEqual(status.state, .fail)
        XCTAssertEqual(status.failCode, "500")
        XCTAssertEqual(status.failMessage, "Content flagged by moderation")
        XCTAssertEqual(status.resultURLs, [])
    }

    func testEnvelopeCode501MeansFailureEvenWithoutAState() throws {
        let body = #"{"code": 501, "msg": "Playground task failed.", "data": {"taskId": "t1", "failCode": null, "failMsg": "boom"}}"#
        let status = try XCTUnwrap(KieWire.parseCallback(Data(body.utf8), family: .market))
        XCTAssertEqual(status.state, .fail)
        XCTAssertNil(status.failCode)
        XCTAssertEqual(status.failMessage, "boom")
    }

    func testProgressCallbacksAreReadWhereverTheTaskIdIs() throws {
        let topLevel = try XCTUnwrap(KieWire.parseCallback(Data(#"{"taskId": "t1", "progress": 42}"#.utf8), family: .market))
        XCTAssertEqual(topLevel.taskID, "t1")
        XCTAssertEqual(topLevel.state, .generating, "no state: still running")
        XCTAssertEqual(topLevel.progress, 42)

        let underData = try XCTUnwrap(KieWire.parseCallback(Data(#"{"code": 200, "data": {"taskId": "t2", "state": "queuing", "progress": "7"}}"#.utf8), family: .market))
        XCTAssertEqual(underData.taskID, "t2")
        XCTAssertEqual(underData.state, .queuing)
        XCTAssertEqual(underData.progress, 7)

        let sunoShape = try XCTUnwrap(KieWire.parseCallback(Data(#"{"code": 200, "data": {"task_id": "t3", "state": "success"}}"#.utf8), family: .market))
        XCTAssertEqual(sunoShape.taskID, "t3")
        XCTAssertEqual(sunoShape.state, .success)

        let idOutside = try XCTUnwrap(KieWire.parseCallback(Data(#"{"taskId": "t4", "data": {"progress": 250}}"#.utf8), family: .market))
        XCTAssertEqual(idOutside.taskID, "t4")
        XCTAssertEqual(idOutside.progress, 100, "progress is clamped to 0...100")

        XCTAssertNil(KieWire.parseCallback(Data(#"{"data": {"state": "success"}}"#.utf8), family: .market), "no task id, nothing to apply")
        XCTAssertNil(KieWire.parseCallback(Data("not json".utf8), family: .market))
        XCTAssertNil(KieWire.parseCallback(Data("[1,2]".utf8), family: .market))
    }

    func testBusinessErrorsArriveAsEnvelopesAndAreReadAsRejections() {
        XCTAssertThrowsError(try KieWire.parseCreateReply(Data(#"{"code": 402, "msg": "Credits insufficient", "data": null}"#.utf8))) {
            XCTAssertEqual($0 as? ProviderError, .rejected(code: 402, message: "Credits insufficient"))
        }
        XCTAssertThrowsError(try KieWire.parseStatusReply(Data(#"{"code": "422", "message": "recordInfo is null"}"#.utf8), family: .market)) {
            XCTAssertEqual($0 as? ProviderError, .rejected(code: 422, message: "recordInfo is null"))
        }
        XCTAssertThrowsError(try KieWire.parseCreateReply(Data("<html>502 Bad Gateway</html>".utf8))) {
            guard case .invalidResponse = $0 as? ProviderError else { return XCTFail("got \($0)") }
        }
        XCTAssertThrowsError(try KieWire.parseCreateReply(Data(#"{"code": 200, "msg": "success", "data": {}}"#.utf8))) {
            guard case .invalidResponse = $0 as? ProviderError else { return XCTFail("got \($0)") }
        }
        XCTAssertEqual(try KieWire.parseCreateReply(Data(#"{"code": 200, "msg": "success", "data": {"taskId": "abc"}}"#.utf8)), "abc")
    }

    func testCreditRepliesAcceptIntegersNumericStringsAndDecimals() throws {
        XCTAssertEqual(try KieWire.parseCreditReply(Data(#"{"code": 200, "msg": "success", "data": 100}"#.utf8)), 100)
        XCTAssertEqual(try KieWire.parseCreditReply(Data(#"{"code": 200, "msg": "success", "data": "250"}"#.utf8)), 250)
        XCTAssertEqual(try KieWire.parseCreditReply(Data(#"{"code": 200, "msg": "success", "data": 99.75}"#.utf8)), 99)
        XCTAssertEqual(try KieWire.parseCreditReply(Data(#"{"code": 200, "msg": "success", "data": "12.5"}"#.utf8)), 12)
        XCTAssertThrowsError(try KieWire.parseCreditReply(Data(#"{"code": 401, "msg": "You do not have access permissions"}"#.utf8))) {
            XCTAssertEqual($0 as? ProviderError, .rejected(code: 401, message: "You do not have access permissions"))
        }
        XCTAssertThrowsError(try KieWire.parseCreditReply(Data(#"{"code": 200, "msg": "success", "data": {"x": 1}}"#.utf8))) {
            guard case .invalidResponse = $0 as? ProviderError else { return XCTFail("got \($0)") }
        }
    }

    func testDownloadURLBodyAndReply() throws {
        let body = try XCTUnwrap(JSON.parse(KieWire.downloadURLBody(for: "https://tempfile.example/a.mp4")))
        XCTAssertEqual(body["url"]?.stringValue, "https://tempfile.example/a.mp4")
        XCTAssertEqual(try KieWire.parseDownloadURLReply(Data(#"{"code": 200, "msg": "success", "data": "https://dl.example/x?t=1"}"#.utf8)),
                       "https://dl.example/x?t=1")
        XCTAssertThrowsError(try KieWire.parseDownloadURLReply(Data(#"{"code": 422, "msg": "Only Kie-generated URLs are supported"}"#.utf8))) {
            XCTAssertEqual($0 as? ProviderError, .rejected(code: 422, message: "Only Kie-generated URLs are supported"))
        }
    }

    private func body(_ request: ProviderTaskRequest) -> (path: String, text: String) {
        let call = KieWire.createCall(for: request)
        return (call.path, String(decoding: call.data(), as: UTF8.self))
    }

    /// The bytes on the wire, model by model: each field under the name, JSON type and value
    /// the model's page documents (a string "10" for Kling, the number 10 for Seedance).
    func testMarketBodiesSpellEachInputAsTheModelTakesIt() {
        let seedance = body(WireSpecs.request(WireSpecs.seedance, mode: .imageToVideo, aspectRatio: "9:16", duration: 10, resolution: "720p",
                                              audio: true, imageURL: "https://phim.test/files/a.png"))
        XCTAssertEqual(seedance.path, "/api/v1/jobs/createTask")
        XCTAssertEqual(seedance.text, #"{"model":"bytedance/seedance-2-mini","callBackUrl":"https://phim.test/cb","input":{"prompt":"a lighthouse at dawn","first_frame_url":"https://phim.test/files/a.png","duration":10,"aspect_ratio":"9:16","resolution":"720p","generate_audio":true}}"#)

        let kling = body(WireSpecs.request(WireSpecs.kling, duration: 15, resolution: "1080p"))
        XCTAssertEqual(kling.text, #"{"model":"kling-3.0/video","callBackUrl":"https://phim.test/cb","input":{"prompt":"a lighthouse at dawn","duration":"15","aspect_ratio":"16:9","mode":"pro","sound":false,"multi_shots":false}}"#)
        let klingImage = body(WireSpecs.request(WireSpecs.kling, mode: .imageToVideo, imageURL: "https://x.test/a.jpg"))
        XCTAssertTrue(klingImage.text.contains(#""image_urls":["https://x.test/a.jpg"]"#))
        XCTAssertTrue(klingImage.text.contains(#""aspect_ratio":"16:9""#), "Kling takes a ratio with its image")

        let grokText = body(WireSpecs.request(WireSpecs.grok, duration: 10, audio: true))
        XCTAssertEqual(grokText.text, #"{"model":"grok-imagine/text-to-video","callBackUrl":"https://phim.test/cb","input":{"prompt":"a lighthouse at dawn","duration":"10","aspect_ratio":"16:9","resolution":"480p","mode":"normal"}}"#)
        let grokImage = body(WireSpecs.request(WireSpecs.grok, mode: .imageToVideo, imageURL: "https://x.test/a.webp"))
        XCTAssertTrue(grokImage.text.hasPrefix(#"{"model":"grok-imagine/image-to-video""#), "Grok has a second id for image-to-video")
        XCTAssertFalse(grokImage.text.contains("aspect_ratio"), "the output follows the image: no ratio sent")
        XCTAssertFalse(grokText.text.contains("image"), "text-to-video sends no image")
    }

    func testVeoBodiesAreFlatWithTheirGenerationType() {
        let text = body(WireSpecs.request(WireSpecs.veo, aspectRatio: "9:16", audio: true))
        XCTAssertEqual(text.path, "/api/v1/veo/generate")
        XCTAssertEqual(text.text, #"{"model":"veo3_fast","callBackUrl":"https://phim.test/cb","prompt":"a lighthouse at dawn","aspect_ratio":"9:16","generationType":"TEXT_2_VIDEO"}"#)
        let image = body(WireSpecs.request(WireSpecs.veo, mode: .imageToVideo, imageURL: "https://tmp.test/kieai/1/a.png"))
        XCTAssertEqual(image.text, #"{"model":"veo3_fast","callBackUrl":"https://phim.test/cb","prompt":"a lighthouse at dawn","imageUrls":["https://tmp.test/kieai/1/a.png"],"aspect_ratio":"16:9","generationType":"FIRST_AND_LAST_FRAMES_2_VIDEO"}"#)
        XCTAssertEqual(KieWire.statusPath(family: .veo), "/api/v1/veo/record-info")
    }

    func testASpecNamesWhatIsWrongWithIt() {
        func problem(_ json: String) -> String? {
            do { _ = try WireSpec(json: JSON.parse(Data(json.utf8))!, path: "m"); return nil } catch { return "\(error)" }
        }
        let base = #""family": "market", "prompt": {"max_length": 100}, "aspect_ratio": {"field": "a", "values": ["16:9"]}, "resolution": {"values": [{"id": "720p"}]}, "audio": {"policy": "none"}"#
        XCTAssertEqual(problem("{\(base), \"provider_models\": {\"text_to_video\": \"m\"}, \"duration\": {\"field\": \"d\", \"type\": \"float\", \"values\": [5]}}"),
                       "m.duration.type: must be integer or string")
        XCTAssertEqual(problem("{\(base), \"provider_models\": {\"image_to_video\": \"m\"}, \"duration\": {\"values\": [5]}}"),
                       "m.image: is required for image_to_video")
        XCTAssertEqual(problem("{\(base), \"provider_models\": {}, \"duration\": {\"values\": [5]}}"),
                       "m.provider_models: must name text_to_video or image_to_video")
        XCTAssertNil(problem("{\(base), \"provider_models\": {\"text_to_video\": \"m\"}, \"duration\": {\"values\": [5]}}"))
    }

    /// Veo's record-info (kie-video-models.md §2): `successFlag`, the videos in `response`.
    func testVeoRecordInfoRepliesDecode() throws {
        let running = #"{"code":200,"msg":"success","data":{"taskId":"veo_1","paramJson":"{\"callBackUrl\":\"https://phim.test/cb\"}","response":null,"successFlag":0,"errorCode":null,"errorMessage":null,"createTime":1}}"#
        let status = try KieWire.parseStatusReply(Data(running.utf8), family: .veo)
        XCTAssertEqual(status.state, .generating)
        XCTAssertEqual(status.callbackURL, "https://phim.test/cb")
        let done = #"{"code":200,"msg":"success","data":{"taskId":"veo_1","response":{"taskId":"veo_1","resultUrls":["https://cdn.test/v.mp4"],"originUrls":[],"resolution":"720p"},"successFlag":1}}"#
        XCTAssertEqual(try KieWire.parseStatusReply(Data(done.utf8), family: .veo).resultURLs, ["https://cdn.test/v.mp4"])
        // Older pages show the list as JSON text: read that too.
        let text = #"{"code":200,"msg":"success","data":{"taskId":"veo_1","resultUrls":"[\"https://cdn.test/w.mp4\"]","successFlag":1}}"#
        XCTAssertEqual(try KieWire.parseStatusReply(Data(text.utf8), family: .veo).resultURLs, ["https://cdn.test/w.mp4"])
        let failed = #"{"code":200,"msg":"success","data":{"taskId":"veo_1","successFlag":3,"errorCode":400,"errorMessage":"unable to generate audio"}}"#
        let failure = try KieWire.parseStatusReply(Data(failed.utf8), family: .veo)
        XCTAssertEqual(failure.state, .fail)
        XCTAssertEqual(failure.failCode, "400")
        XCTAssertEqual(failure.failMessage, "unable to generate audio")
    }

    /// Veo's callback: 200 with `data.info.resultUrls`, any other code a failure with its `msg`.
    func testVeoCallbacksDecode() throws {
        let success = #"{"code":200,"msg":"Veo3.1 video generated successfully.","data":{"taskId":"veo_2","info":{"resultUrls":["https://cdn.test/v.mp4"],"originUrls":[],"resolution":"720p"},"fallbackFlag":false}}"#
        let done = try XCTUnwrap(KieWire.parseCallback(Data(success.utf8), family: .veo))
        XCTAssertEqual(done.taskID, "veo_2")
        XCTAssertEqual(done.state, .success)
        XCTAssertEqual(done.resultURLs, ["https://cdn.test/v.mp4"])
        let refused = #"{"code":400,"msg":"Your prompt was flagged","data":{"taskId":"veo_2","info":null,"fallbackFlag":false}}"#
        let failure = try XCTUnwrap(KieWire.parseCallback(Data(refused.utf8), family: .veo))
        XCTAssertEqual(failure.state, .fail)
        XCTAssertEqual(failure.failCode, "400")
        XCTAssertEqual(failure.failMessage, "Your prompt was flagged")
        XCTAssertNil(KieWire.parseCallback(Data(#"{"code":200,"data":{"info":{}}}"#.utf8), family: .veo), "no task id")
    }

    func testCreditsConsumedIsKeptWhenKieGivesIt() throws {
        let reply = #"{"code":200,"msg":"success","data":{"taskId":"t","state":"success","resultJson":"{\"resultUrls\":[\"https://c.test/a.mp4\"]}","creditsConsumed":14.4}}"#
        XCTAssertEqual(try KieWire.parseStatusReply(Data(reply.utf8), family: .market).creditsConsumed, 14.4)
        XCTAssertNil(try KieWire.parseStatusReply(Data(Self.recordInfoSuccess.utf8), family: .market).creditsConsumed)
    }

    func testUploadRepliesGiveTheFileURLWhicheverShapeKieUses() throws {
        let live = #"{"success":true,"code":200,"msg":"File uploaded successfully","data":{"fileName":"a.png","filePath":"kieai/1/u/a.png","downloadUrl":"https://tempfile.test/kieai/1/u/a.png","fileSize":10,"mimeType":"image/png","uploadedAt":"2026-09-02T06:38:07.240Z"}}"#
        XCTAssertEqual(try KieWire.parseFileUploadReply(Data(live.utf8)), "https://tempfile.test/kieai/1/u/a.png")
        let documented = #"{"success":true,"code":200,"msg":"ok","data":{"fileId":"f1","fileUrl":"https://tempfile.test/f1.png","expiresAt":"x"}}"#
        XCTAssertEqual(try KieWire.parseFileUploadReply(Data(documented.utf8)), "https://tempfile.test/f1.png")
        XCTAssertThrowsError(try KieWire.parseFileUploadReply(Data(#"{"code":401,"msg":"no"}"#.utf8))) {
            XCTAssertEqual($0 as? ProviderError, .rejected(code: 401, message: "no"))
        }
        let multipart = String(decoding: KieWire.fileUploadBody(Data("PNG".utf8), fileName: "a.png", uploadPath: "phim", boundary: "B"), as: UTF8.self)
        XCTAssertTrue(multipart.contains("name=\"uploadPath\"\r\n\r\nphim\r\n"))
        XCTAssertTrue(multipart.contains("name=\"file\"; filename=\"a.png\""))
        XCTAssertTrue(multipart.hasSuffix("\r\n--B--\r\n"))
    }

    func testPriceFeedPagesDecodeWithStringPricesAndModelIdsFromTheirLinks() throws {
        let page = #"{"code":200,"msg":"success","data":{"records":[{"modelDescription":"Kling 3.0, video, with audio-720P","interfaceType":"video","provider":"Kling","creditPrice":"20","creditUnit":"per second","usdPrice":"0.1","anchor":"https://kie.ai/kling-3?model=kling-3.0/video"},{"modelDescription":"broken","creditPrice":null}],"total":2,"pages":3}}"#
        let answer = try KieWire.parsePriceFeedPage(Data(page.utf8))
        XCTAssertEqual(answer.pages, 3)
        XCTAssertEqual(answer.records, [ProviderPriceRecord(description: "Kling 3.0, video, with audio-720P", credits: 20, unit: "per second",
                                                            modelID: "kling-3.0/video")])
    }

    func testWebhookSignatureMatchesAnIndependentHMAC() {
        // `printf %s 'e989…672.1755599644' | openssl dgst -sha256 -hmac my-console-key -binary | base64`
        let signature = KieWire.webhookSignature(taskID: "e989621f54392584b05867f87b160672", timestamp: "1755599644", key: "my-console-key")
        XCTAssertEqual(signature, "bwRFp05Ym5pKS4SOv5S4Ms0E5KVhkQDvP6JO128wr+U=")
        XCTAssertTrue(KieWire.isValidWebhookSignature(signature, taskID: "e989621f54392584b05867f87b160672",
                                                      timestamp: "1755599644", key: "my-console-key"))
        XCTAssertFalse(KieWire.isValidWebhookSignature(signature, taskID: "e989621f54392584b05867f87b160672",
                                                       timestamp: "1755599645", key: "my-console-key"))
        XCTAssertFalse(KieWire.isValidWebhookSignature("", taskID: "x", timestamp: "1", key: "k"))
    }
}
