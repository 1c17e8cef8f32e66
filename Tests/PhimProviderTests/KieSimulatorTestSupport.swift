// What the simulator's tests share: replies read with JSON.parse (never with Phim's client code), images, a scripted fetcher.
@testable import PhimProvider
import PhimSupport
import XCTest

/// Reading the simulator's replies as a client that knows only Kie's documented shapes would.
enum KieReply {
    static func json(_ reply: KieSimulator.Reply) -> JSON { JSON.parse(reply.body) ?? .null }
    static func code(_ reply: KieSimulator.Reply) -> Int? { json(reply)["code"]?.intValue }
    static func msg(_ reply: KieSimulator.Reply) -> String { json(reply)["msg"]?.stringValue ?? "" }
    static func data(_ reply: KieSimulator.Reply) -> JSON { json(reply)["data"] ?? .null }

    /// The task id of an accepted create; fails the test (naming Kie's message) otherwise.
    static func taskID(_ reply: KieSimulator.Reply, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let id = data(reply)["taskId"]?.stringValue
        XCTAssertEqual(code(reply), 200, "create refused: \(msg(reply))", file: file, line: line)
        return try XCTUnwrap(id, "no taskId in \(String(decoding: reply.body, as: UTF8.self))", file: file, line: line)
    }

    /// `resultJson` parsed a second time, as Kie's Market docs say to.
    static func resultURLs(_ record: JSON) -> [String] {
        guard let text = record["resultJson"]?.stringValue, let result = JSON.parse(Data(text.utf8)),
              case .array(let urls)? = result["resultUrls"] else { return [] }
        return urls.compactMap(\.stringValue)
    }

    static func strings(_ value: JSON?) -> [String] {
        guard case .array(let items)? = value else { return [] }
        return items.compactMap(\.stringValue)
    }

    static func number(_ value: JSON?) -> Double? {
        if case .number(let number)? = value { return number }
        return nil
    }

    static func body(_ text: String) -> Data { Data(text.utf8) }
}

/// Small valid image headers: the simulator looks at magic bytes only.
enum TestImages {
    static let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8) + Array(repeating: 1, count: 40))
    static let jpeg = Data([0xFF, 0xD8, 0xFF, 0xE0, 0, 16] + Array("JFIF".utf8) + Array(repeating: 2, count: 40))
    static let webp = Data(Array("RIFF".utf8) + [40, 0, 0, 0] + Array("WEBPVP8 ".utf8) + Array(repeating: 3, count: 40))
    static let text = Data("<html>not an image</html>".utf8)
}

/// A fetcher that serves fixed answers by URL (nil: unreachable) and records what was asked.
final class ScriptedFetcher: @unchecked Sendable {
    private let answers: [String: FetchedImage]
    private let asked = Locked<[String]>([])

    init(_ answers: [String: FetchedImage]) { self.answers = answers }

    var fetched: [String] { asked.current }

    var fetcher: ImageFetcher {
        { [self] url in
            asked.withLock { $0.append(url) }
            return answers[url]
        }
    }

    /// Every usual test image: a PNG, a JPEG and a WebP served with their right types.
    static func standard() -> ScriptedFetcher {
        ScriptedFetcher([
            "https://img.test/a.png": FetchedImage(contentType: "image/png", bytes: TestImages.png),
            "https://img.test/b.jpg": FetchedImage(contentType: "image/jpeg", bytes: TestImages.jpeg),
            "https://img.test/c.webp": FetchedImage(contentType: "image/webp", bytes: TestImages.webp),
            "https://img.test/page.png": FetchedImage(contentType: "image/png", bytes: TestImages.text),
            "https://img.test/jpeg-as-png.png": FetchedImage(contentType: "image/png", bytes: TestImages.jpeg),
        ])
    }
}

/// The price feed's size: Seedance 2+2+3, Grok 2+2, Kling 5, Wan 3+3, Veo 1+1+1 priced variants.
enum TestFeed {
    static let allRecords = 25
}

/// A multipart/form-data body, as a browser or curl would send one.
enum TestMultipart {
    static let boundary = "----phim-test"
    static let contentType = "multipart/form-data; boundary=\(boundary)"

    static func body(_ parts: [(name: String, fileName: String?, content: Data)]) -> Data {
        var body = Data()
        for part in parts {
            var head = "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(part.name)\""
            if let fileName = part.fileName { head += "; filename=\"\(fileName)\"\r\nContent-Type: application/octet-stream" }
            body.append(Data((head + "\r\n\r\n").utf8))
            body.append(part.content)
            body.append(Data("\r\n".utf8))
        }
        body.append(Data("--\(boundary)--\r\n".utf8))
        return body
    }
}
