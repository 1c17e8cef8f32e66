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
        let status = try KieWire.parseRecordInfoReply(Data(Self.recordInfoSuccess.utf8))
        XCTAssertEqual(status.taskID, "e989621f54392584b05867f87b160672")
        XCTAssertEqual(status.state, .success)
        XCTAssertEqual(status.resultURLs, ["https://cdn.example/a.mp4"])
        XCTAssertEqual(status.watermarkedURLs, ["https://cdn.example/a_wm.mp4"])
        XCTAssertNil(status.failCode, "an empty failCode means none")
        XCTAssertNil(status.failMessage)
    }

    func testFailureCallbackWithMessageNumericFailCodeAndNullsDecodes() throws {
        let status = try XCTUnwrap(KieWire.parseCallback(Data(Self.callbackFail.utf8)))
        XCTAssertEqual(status.taskID, "task_12345678")
        XCTAssertEqual(status.state, .fail)
        XCTAssertEqual(status.failCode, "500")
        XCTAssertEqual(status.failMessage, "Content flagged by moderation")
        XCTAssertEqual(status.resultURLs, [])
    }

    func testEnvelopeCode501MeansFailureEvenWithoutAState() throws {
        let body = #"{"code": 501, "msg": "Playground task failed.", "data": {"taskId": "t1", "failCode": null, "failMsg": "boom"}}"#
        let status = try XCTUnwrap(KieWire.parseCallback(Data(body.utf8)))
        XCTAssertEqual(status.state, .fail)
        XCTAssertNil(status.failCode)
        XCTAssertEqual(status.failMessage, "boom")
    }

    func testProgressCallbacksAreReadWhereverTheTaskIdIs() throws {
        let topLevel = try XCTUnwrap(KieWire.parseCallback(Data(#"{"taskId": "t1", "progress": 42}"#.utf8)))
        XCTAssertEqual(topLevel.taskID, "t1")
        XCTAssertEqual(topLevel.state, .generating, "no state: still running")
        XCTAssertEqual(topLevel.progress, 42)

        let underData = try XCTUnwrap(KieWire.parseCallback(Data(#"{"code": 200, "data": {"taskId": "t2", "state": "queuing", "progress": "7"}}"#.utf8)))
        XCTAssertEqual(underData.taskID, "t2")
        XCTAssertEqual(underData.state, .queuing)
        XCTAssertEqual(underData.progress, 7)

        let sunoShape = try XCTUnwrap(KieWire.parseCallback(Data(#"{"code": 200, "data": {"task_id": "t3", "state": "success"}}"#.utf8)))
        XCTAssertEqual(sunoShape.taskID, "t3")
        XCTAssertEqual(sunoShape.state, .success)

        let idOutside = try XCTUnwrap(KieWire.parseCallback(Data(#"{"taskId": "t4", "data": {"progress": 250}}"#.utf8)))
        XCTAssertEqual(idOutside.taskID, "t4")
        XCTAssertEqual(idOutside.progress, 100, "progress is clamped to 0...100")

        XCTAssertNil(KieWire.parseCallback(Data(#"{"data": {"state": "success"}}"#.utf8)), "no task id, nothing to apply")
        XCTAssertNil(KieWire.parseCallback(Data("not json".utf8)))
        XCTAssertNil(KieWire.parseCallback(Data("[1,2]".utf8)))
    }

    func testBusinessErrorsArriveAsEnvelopesAndAreReadAsRejections() {
        XCTAssertThrowsError(try KieWire.parseCreateReply(Data(#"{"code": 402, "msg": "Credits insufficient", "data": null}"#.utf8))) {
            XCTAssertEqual($0 as? ProviderError, .rejected(code: 402, message: "Credits insufficient"))
        }
        XCTAssertThrowsError(try KieWire.parseRecordInfoReply(Data(#"{"code": "422", "message": "recordInfo is null"}"#.utf8))) {
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

    func testCreateTaskBodySendsEveryOptionExplicitlyAndProSizeOnlyToPro() throws {
        var request = ProviderTaskRequest(model: .sora2ImageToVideo, prompt: "p", aspectRatio: .portrait, durationSeconds: 15,
                                          quality: .standard, imageURL: "https://phim.test/files/uploads/a.png",
                                          callbackURL: "https://phim.test/cb", progressCallbackURL: "https://phim.test/cb/progress")
        let standard = KieWire.createTaskBody(for: request)
        XCTAssertEqual(standard.model, "sora-2-image-to-video")
        XCTAssertEqual(standard.callBackUrl, "https://phim.test/cb")
        XCTAssertEqual(standard.progressCallBackUrl, "https://phim.test/cb/progress")
        XCTAssertEqual(standard.input.nFrames, "15")
        XCTAssertEqual(standard.input.aspectRatio, "portrait")
        XCTAssertEqual(standard.input.imageURLs, ["https://phim.test/files/uploads/a.png"])
        XCTAssertNil(standard.input.size)
        XCTAssertEqual(standard.input.removeWatermark, true)
        XCTAssertEqual(standard.input.uploadMethod, "s3")

        // The bytes on the wire: n_frames is a string, absent fields are absent (not null).
        let wire = String(decoding: standard.data(), as: UTF8.self)
        XCTAssertEqual(wire, #"{"model":"sora-2-image-to-video","callBackUrl":"https://phim.test/cb","progressCallBackUrl":"https://phim.test/cb/progress","input":{"prompt":"p","image_urls":["https://phim.test/files/uploads/a.png"],"aspect_ratio":"portrait","n_frames":"15","remove_watermark":true,"upload_method":"s3"}}"#)
        XCTAssertEqual(KieWire.CreateTaskBody.parse(standard.data()), standard, "the simulator reads back what the client writes")

        request.model = .sora2ProTextToVideo
        request.quality = .high
        let pro = KieWire.createTaskBody(for: request)
        XCTAssertEqual(pro.input.size, "high")
        XCTAssertNil(pro.input.imageURLs, "text-to-video sends no image")

        request.model = .sora2StableTextToVideo
        let stable = KieWire.createTaskBody(for: request)
        XCTAssertNil(stable.progressCallBackUrl)
        XCTAssertNil(stable.input.removeWatermark)
        XCTAssertNil(stable.input.size)
        XCTAssertFalse(String(decoding: stable.data(), as: UTF8.self).contains("remove_watermark"))
    }

    func testCreateTaskBodyParseRefusesWrongTypes() {
        XCTAssertNil(KieWire.CreateTaskBody.parse(Data(#"{"model": "sora-2-text-to-video", "input": {"prompt": "x", "n_frames": 10}}"#.utf8)))
        XCTAssertNil(KieWire.CreateTaskBody.parse(Data(#"{"model": "sora-2-text-to-video"}"#.utf8)))
        XCTAssertNil(KieWire.CreateTaskBody.parse(Data(#"{"model": 5, "input": {}}"#.utf8)))
        XCTAssertNil(KieWire.CreateTaskBody.parse(Data(#"{"model": "m", "input": {"image_urls": "https://x"}}"#.utf8)))
        XCTAssertNotNil(KieWire.CreateTaskBody.parse(Data(#"{"model": "m", "callBackUrl": null, "input": {}}"#.utf8)))
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
