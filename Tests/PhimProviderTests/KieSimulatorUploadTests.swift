// Kie's file upload host: the three upload calls, the reply, the type from the name, base64 as atob reads it, retention.
@testable import PhimProvider
import PhimSupport
import XCTest

final class KieSimulatorUploadTests: XCTestCase {
    var clock: ManualClock!
    var simulator: KieSimulator!

    override func setUp() {
        TestEnvironment.setUp()
        clock = ManualClock()
        simulator = KieSimulator(settings: .init(expectedAPIKey: "up"), clock: clock.clock, mediaBaseURL: "http://sim.test/media",
                                 imageFetcher: ScriptedFetcher.standard().fetcher)
    }

    func base64(_ body: String, key: String = "up") -> KieSimulator.Reply {
        simulator.uploadBase64(authorization: "Bearer \(key)", body: Data(body.utf8))
    }

    func testBase64UploadRepliesLikeKiesHostAndServesTheFileWithTheTypeOfItsName() throws {
        let reply = base64(#"{"base64Data": "\#(TestImages.png.base64EncodedString())", "uploadPath": "phim/refs", "fileName": "cat.png"}"#)
        XCTAssertEqual(reply.status, 200)
        let json = KieReply.json(reply)
        XCTAssertEqual(json["success"], .bool(true))
        XCTAssertEqual(json["code"]?.intValue, 200)
        XCTAssertEqual(json["msg"]?.stringValue, "File uploaded successfully")
        let data = try XCTUnwrap(json["data"])
        guard case .object(let fields) = data else { return XCTFail("no data object") }
        XCTAssertEqual(Set(fields.map(\.0)), ["fileName", "filePath", "downloadUrl", "fileSize", "mimeType", "uploadedAt"])
        XCTAssertEqual(data["fileName"]?.stringValue, "cat.png")
        XCTAssertEqual(data["filePath"]?.stringValue, "kieai/1/cat.png")
        XCTAssertEqual(data["downloadUrl"]?.stringValue, "http://sim.test/kieai/1/cat.png", "the media base without /media")
        XCTAssertEqual(data["fileSize"]?.intValue, TestImages.png.count)
        XCTAssertEqual(data["mimeType"]?.stringValue, "image/png")
        XCTAssertEqual(data["uploadedAt"]?.stringValue, "2027-01-15T08:00:00.000Z")
        XCTAssertEqual(simulator.uploadedFile(path: "/kieai/1/cat.png"), FetchedImage(contentType: "image/png", bytes: TestImages.png))
        XCTAssertEqual(simulator.uploadedFile(path: "kieai/1/cat.png")?.bytes, TestImages.png)
        XCTAssertNil(simulator.uploadedFile(path: "/kieai/2/cat.png"))

        // The type comes from the name, never from the bytes or a data: URL's type.
        let dataURL = base64(#"{"base64Data": "data:image/jpeg;base64,\#(TestImages.png.base64EncodedString())", "uploadPath": "p", "fileName": "cat.webp"}"#)
        XCTAssertEqual(KieReply.data(dataURL)["mimeType"]?.stringValue, "image/webp")
        XCTAssertEqual(simulator.uploadedFile(path: "/kieai/2/cat.webp")?.bytes, TestImages.png)
        // Without a name, Kie makes one without an extension.
        let unnamed = KieReply.data(base64(#"{"base64Data": "aGVsbG8=", "uploadPath": "p"}"#))
        XCTAssertEqual(unnamed["mimeType"]?.stringValue, "application/octet-stream")
        let generated = try XCTUnwrap(unnamed["fileName"]?.stringValue)
        XCTAssertFalse(generated.contains("."), generated)
        XCTAssertEqual(simulator.uploadedFile(path: "/kieai/3/\(generated)")?.bytes, Data("hello".utf8))
        XCTAssertEqual(simulator.callCounts.uploads, 3)
    }

    func testTheTypeIsTheExtensionsAsKiesHostSetsIt() {
        let cases = ["a.png": "image/png", "a.PNG": "image/png", "a.jpg": "image/jpeg", "a.jpeg": "image/jpeg", "a.webp": "image/webp",
                     "a.gif": "image/gif", "a.mp4": "video/mp4", "a.mov": "video/quicktime", "a.mp3": "audio/mpeg",
                     "a.png.txt": "text/plain", "a": "application/octet-stream", ".png": "application/octet-stream",
                     "a.heic": "application/octet-stream"]
        for (name, type) in cases { XCTAssertEqual(SimulatorUploads.mimeType(forFileName: name), type, name) }
    }

    func testRefusals() {
        func failure(_ reply: KieSimulator.Reply) -> String {
            let json = KieReply.json(reply)
            XCTAssertEqual(json["success"], .bool(false))
            XCTAssertEqual(json["data"], .null)
            return "\(json["code"]?.intValue ?? 0) \(json["msg"]?.stringValue ?? "")"
        }
        XCTAssertEqual(failure(base64(#"{"base64Data": "aGk=", "uploadPath": "p"}"#, key: "wrong")), "401 You do not have access permissions")
        XCTAssertEqual(failure(base64(#"{"base64Data": "aGk="}"#)), "400 This field is required: uploadPath")
        XCTAssertEqual(failure(base64(#"{"base64Data": "aGk=", "uploadPath": 7}"#)), "400 uploadPath: expected a string")
        XCTAssertEqual(failure(base64(#"{"uploadPath": "p"}"#)), "400 This field is required: base64Data")
        XCTAssertEqual(failure(base64(#"{"base64Data": "aGk=", "uploadPath": "p", "fileName": "../x.png"}"#)),
                       "400 fileName: expected a file name without '/' or control characters")
        XCTAssertEqual(failure(base64("not json")), "400 Invalid request body")
        // Base64 that atob refuses, Kie refuses: whitespace, base64url, a stray '=', an impossible length.
        for bad in ["aGVs\nbG8=", "aGVs bG8=", "a-_b", "aG=k", "aGVsb", "!!!!", "data:image/png,aGk="] {
            let reply = base64(#"{"base64Data": "\#(bad.replacingOccurrences(of: "\n", with: "\\n"))", "uploadPath": "p"}"#)
            XCTAssertTrue(failure(reply).contains("atob"), "\(bad): \(KieReply.msg(reply))")
        }
        XCTAssertEqual(simulator.uploadedFile(path: "/kieai/1/x.png"), nil)
    }

    func testBase64DecodesAsAtobDoes() {
        XCTAssertEqual(SimulatorUploads.decodeBase64("aGVsbG8="), Data("hello".utf8))
        XCTAssertEqual(SimulatorUploads.decodeBase64("aGVsbG8"), Data("hello".utf8), "atob takes unpadded input")
        XCTAssertEqual(SimulatorUploads.decodeBase64("aGk="), Data("hi".utf8))
        XCTAssertEqual(SimulatorUploads.decodeBase64(""), Data())
        XCTAssertEqual(SimulatorUploads.decodeBase64("data:text/plain;base64,aGk="), Data("hi".utf8))
        XCTAssertEqual(SimulatorUploads.decodeBase64(TestImages.webp.base64EncodedString()), TestImages.webp)
        XCTAssertNil(SimulatorUploads.decodeBase64("aGk==="))
        XCTAssertNil(SimulatorUploads.decodeBase64("a"))
    }

    func testStreamUpload() throws {
        let body = TestMultipart.body([("file", "original.png", TestImages.jpeg), ("uploadPath", nil, Data("phim".utf8)),
                                   ("fileName", nil, Data("frame.jpg".utf8))])
        let reply = simulator.uploadStream(authorization: "Bearer up", contentType: TestMultipart.contentType, body: body)
        let data = KieReply.data(reply)
        XCTAssertEqual(KieReply.json(reply)["success"], .bool(true), KieReply.msg(reply))
        XCTAssertEqual(data["fileName"]?.stringValue, "frame.jpg")
        XCTAssertEqual(data["mimeType"]?.stringValue, "image/jpeg")
        XCTAssertEqual(data["fileSize"]?.intValue, TestImages.jpeg.count)
        XCTAssertEqual(simulator.uploadedFile(path: "/kieai/1/frame.jpg")?.bytes, TestImages.jpeg)

        let quoted = simulator.uploadStream(authorization: "Bearer up", contentType: #"multipart/form-data; boundary="----phim-test""#,
                                            body: TestMultipart.body([("file", "a", Data([0, 1, 2])), ("uploadPath", nil, Data("p".utf8))]))
        XCTAssertEqual(KieReply.data(quoted)["fileSize"]?.intValue, 3, KieReply.msg(quoted))
        XCTAssertEqual(KieReply.data(quoted)["mimeType"]?.stringValue, "application/octet-stream", "no fileName: a generated one")

        let noPath = simulator.uploadStream(authorization: "Bearer up", contentType: TestMultipart.contentType,
                                            body: TestMultipart.body([("file", "a.png", TestImages.png)]))
        XCTAssertEqual(KieReply.msg(noPath), "This field is required: uploadPath")
        let noFile = simulator.uploadStream(authorization: "Bearer up", contentType: TestMultipart.contentType,
                                            body: TestMultipart.body([("uploadPath", nil, Data("p".utf8))]))
        XCTAssertEqual(KieReply.msg(noFile), "This field is required: file")
        XCTAssertEqual(KieReply.code(simulator.uploadStream(authorization: "Bearer up", contentType: "application/json", body: Data("{}".utf8))), 400)
        XCTAssertEqual(KieReply.code(simulator.uploadStream(authorization: "Bearer up", contentType: "multipart/form-data; boundary=x",
                                                            body: Data("--x\r\nno end".utf8))), 400)
    }

    func testURLUploadFetchesThroughTheFetcher() {
        let reply = simulator.uploadURL(authorization: "Bearer up",
                                        body: Data(#"{"fileUrl": "https://img.test/c.webp", "uploadPath": "p", "fileName": "c.webp"}"#.utf8))
        XCTAssertEqual(KieReply.data(reply)["downloadUrl"]?.stringValue, "http://sim.test/kieai/1/c.webp")
        XCTAssertEqual(simulator.uploadedFile(path: "/kieai/1/c.webp")?.bytes, TestImages.webp)
        let unreachable = simulator.uploadURL(authorization: "Bearer up", body: Data(#"{"fileUrl": "https://img.test/nope", "uploadPath": "p"}"#.utf8))
        XCTAssertEqual(KieReply.json(unreachable)["success"], .bool(false))
        XCTAssertEqual(KieReply.code(unreachable), 500)
        XCTAssertEqual(KieReply.msg(simulator.uploadURL(authorization: "Bearer up", body: Data(#"{"uploadPath": "p"}"#.utf8))),
                       "This field is required: fileUrl")
        XCTAssertEqual(KieReply.msg(simulator.uploadURL(authorization: "Bearer up", body: Data(#"{"fileUrl": "https://img.test/c.webp"}"#.utf8))),
                       "This field is required: uploadPath")
    }

    func testUploadBaseFollowsTheMediaBaseUntilSetAndNamesAreEncodedInTheURL() {
        simulator.mediaBaseURL = "http://127.0.0.1:9999/simulator/media"
        XCTAssertEqual(simulator.uploadBaseURL, "http://127.0.0.1:9999/simulator")
        simulator.uploadBaseURL = "https://uploads.test/"
        XCTAssertEqual(simulator.uploadBaseURL, "https://uploads.test")
        simulator.mediaBaseURL = "http://elsewhere.test/media"
        XCTAssertEqual(simulator.uploadBaseURL, "https://uploads.test", "once set, it stays")
        let reply = base64(#"{"base64Data": "aGk=", "uploadPath": "p", "fileName": "ảnh mèo #1.png"}"#)
        let url = KieReply.data(reply)["downloadUrl"]?.stringValue ?? ""
        XCTAssertEqual(url, "https://uploads.test/kieai/1/%E1%BA%A3nh%20m%C3%A8o%20%231.png")
        XCTAssertNotNil(URL(string: url))
        XCTAssertEqual(simulator.uploadedFile(path: "/kieai/1/ảnh mèo #1.png")?.contentType, "image/png")
    }

    func testUploadsExpireAfter24HoursAndTheOldestGoFirstPastTheBound() {
        _ = base64(#"{"base64Data": "aGk=", "uploadPath": "p", "fileName": "old.png"}"#)
        clock.advance(24 * 3600 - 1)
        XCTAssertNotNil(simulator.uploadedFile(path: "/kieai/1/old.png"))
        clock.advance(1)
        XCTAssertNil(simulator.uploadedFile(path: "/kieai/1/old.png"), "expired after 24 h of the simulator's clock")

        for index in 0..<(SimulatorUploads.maxFiles + 1) {
            _ = base64(#"{"base64Data": "aGk=", "uploadPath": "p", "fileName": "f\#(index).png"}"#)
        }
        XCTAssertNil(simulator.uploadedFile(path: "/kieai/2/f0.png"), "the oldest is dropped")
        XCTAssertNotNil(simulator.uploadedFile(path: "/kieai/3/f1.png"))
        XCTAssertNotNil(simulator.uploadedFile(path: "/kieai/\(SimulatorUploads.maxFiles + 2)/f\(SimulatorUploads.maxFiles).png"))
    }
}
