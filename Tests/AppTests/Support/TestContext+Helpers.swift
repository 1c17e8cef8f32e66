@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

/// A signed-up user and the API key the tests call with.
struct TestUser: Sendable {
    var id: UUID
    var email: String
    var apiKey: String

    var headers: HTTPHeaders { ["Authorization": "Bearer \(apiKey)", "Content-Type": "application/json"] }
}

/// A response body read as loose JSON, for assertions on the wire format.
struct JSONBody: @unchecked Sendable {
    let value: Any?

    subscript(key: String) -> JSONBody { JSONBody(value: (value as? [String: Any])?[key]) }
    subscript(index: Int) -> JSONBody {
        guard let array = value as? [Any], array.indices.contains(index) else { return JSONBody(value: nil) }
        return JSONBody(value: array[index])
    }
    var string: String? { value as? String }
    var uuid: UUID? { string.flatMap { UUID(uuidString: $0) } }
    var int: Int? { (value as? NSNumber)?.intValue }
    var bool: Bool? { (value as? NSNumber)?.boolValue }
    var array: [JSONBody] { (value as? [Any])?.map { JSONBody(value: $0) } ?? [] }
    var isNull: Bool { value == nil || value is NSNull }
}

extension TestingHTTPResponse {
    var json: JSONBody {
        JSONBody(value: try? JSONSerialization.jsonObject(with: Data(buffer: body), options: [.fragmentsAllowed]))
    }
    /// The `error.code` of an error response.
    var errorCode: String? { json["error"]["code"].string }
}

extension TestContext {
    /// Makes a user directly in the database, with credits and an API key.
    func makeUser(_ email: String = "user-\(UUID().uuidString.prefix(8))@phim.test", credits: Int = 100_000) async throws -> TestUser {
        let user = User(email: email.lowercased(), passwordHash: try Bcrypt.hash("password123", cost: 4), isAdmin: false,
                        createdAt: clock.now)
        try await user.create(on: app.db)
        let id = try user.requireID()
        if credits > 0 {
            try await app.store.writeTransaction { [now = clock.now] db in
                try await CreditLedger.grant(userID: id, amount: credits, reason: "test", at: now, on: db)
            }
        }
        let key = APIKeys.generate()
        try await APIKey(userID: id, name: "test", keyPrefix: String(key.prefix(12)), keyHash: APIKeys.hash(key),
                         createdAt: clock.now).create(on: app.db)
        return TestUser(id: id, email: user.email, apiKey: key)
    }

    func request(_ method: HTTPMethod, _ path: String, as user: TestUser? = nil, json: String? = nil,
                 headers extra: HTTPHeaders = [:]) async throws -> TestingHTTPResponse {
        var headers = user?.headers ?? ["Content-Type": "application/json"]
        for (name, value) in extra { headers.replaceOrAdd(name: name, value: value) }
        return try await tester.sendRequest(method, path, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }

    /// `POST /api/v1/videos` with a JSON body.
    func createVideo(_ json: String, as user: TestUser, idempotencyKey: String? = nil) async throws -> TestingHTTPResponse {
        var extra = HTTPHeaders()
        if let idempotencyKey { extra.add(name: "Idempotency-Key", value: idempotencyKey) }
        return try await request(.POST, "/api/v1/videos", as: user, json: json, headers: extra)
    }

    func createTextVideo(_ prompt: String = "A paper boat drifts across a puddle at dusk", as user: TestUser) async throws -> UUID {
        let response = try await createVideo(#"{"prompt": "\#(prompt)"}"#, as: user)
        guard response.status == .accepted, let id = response.json["id"].uuid else {
            throw TestSetupError("create failed: \(response.status) \(response.body.string)")
        }
        return id
    }

    func upload(_ bytes: [UInt8], filename: String = "image.png", contentType: String = "image/png",
                as user: TestUser) async throws -> TestingHTTPResponse {
        let boundary = "phim-test-boundary"
        var body = ByteBuffer()
        body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\nContent-Type: \(contentType)\r\n\r\n")
        body.writeBytes(bytes)
        body.writeString("\r\n--\(boundary)--\r\n")
        let headers: HTTPHeaders = ["Authorization": "Bearer \(user.apiKey)",
                                    "Content-Type": "multipart/form-data; boundary=\(boundary)"]
        return try await tester.sendRequest(.POST, "/api/v1/uploads", headers: headers, body: body)
    }

    func job(_ id: UUID) async throws -> VideoJob {
        guard let job = try await VideoJob.find(id, on: app.db) else { throw TestSetupError("no job \(id)") }
        return job
    }

    func balances(_ user: TestUser) async throws -> (available: Int, held: Int) {
        guard let row = try await User.find(user.id, on: app.db) else { throw TestSetupError("no user") }
        return (row.creditsAvailable, row.creditsHeld)
    }

    func ledgerEntries(forJob id: UUID) async throws -> [CreditEntry] {
        try await CreditEntry.query(on: app.db).filter(\.$jobID == id).all()
    }

    func jobCount() async throws -> Int { try await VideoJob.query(on: app.db).count() }

    /// Posts callbacks the way the provider would: to the path of their URL, with their headers.
    @discardableResult
    func deliver(_ callbacks: [KieSimulator.Callback]) async throws -> [TestingHTTPResponse] {
        var responses: [TestingHTTPResponse] = []
        for callback in callbacks {
            guard let url = URLComponents(string: callback.url) else { throw TestSetupError("bad callback URL") }
            var headers = HTTPHeaders()
            for (name, value) in callback.headers { headers.add(name: name, value: value) }
            responses.append(try await tester.sendRequest(.POST, url.path, headers: headers, body: ByteBuffer(data: callback.body)))
        }
        return responses
    }

    /// Moves time on and delivers every callback that has come due.
    @discardableResult
    func advance(by seconds: TimeInterval) async throws -> [KieSimulator.Callback] {
        clock.advance(by: seconds)
        let due = await simulator.takeDueCallbacks()
        try await deliver(due)
        return due
    }

    func reconcilePass() async throws -> Reconciler.PassReport {
        var logger = Logger(label: "test.reconciler")
        logger.logLevel = .warning
        return try await Reconciler(store: app.store, provider: app.provider, clock: app.clock, logger: logger,
                                    lifecycle: app.jobLifecycle(logger: logger), settings: app.phimConfig.reconciler).runPass()
    }

    func verifyLedger(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let report = try await LedgerVerifier(db: app.db).verify()
        #expect(report.problems == [], "ledger verify", sourceLocation: sourceLocation)
    }
}

/// Small, whole images (8x6, made with ffmpeg's test pattern), and ways to spoil them.
enum Images {
    static let png = decode("iVBORw0KGgoAAAANSUhEUgAAAAgAAAAGCAIAAABxZ0isAAAACXBIWXMAAAABAAAAAQBPJcTWAAAAMklEQVR4nGNgYGD4D8b/wdR/MOs/mAOS+A8m/qOwSJYAUQcY6kGUA8gK+/8NIGo/Th0AWU5DvYkMiQsAAAAASUVORK5CYII=")
    static let jpeg = decode("/9j/4AAQSkZJRgABAgAAAQABAAD//gAQTGF2YzU5LjM3LjEwMAD/2wBDAAgKCgsKCw0NDQ0NDRAPEBAQEBAQEBAQEBASEhIVFRUSEhIQEBISFBQVFRcXFxUVFRUXFxkZGR4eHBwjIyQrKzP/xABtAAEBAAAAAAAAAAAAAAAAAAACBAEBAQEAAAAAAAAAAAAAAAAABAIFEAADAAEEAwEBAAAAAAAAAAACAQMREwAGBXMjszMEEQACAgECAwkBAQAAAAAAAAACAQQDEQUSACETc3VBNBTFBrMjMyX/wAARCAAGAAgDARIAAhIAAxIA/9oADAMBAAIRAxEAPwCXjjxH+RwIqlOvVINX1KerWiNTYuzSsxEa4SyIi2ixjY4n+UfN0f3vs9j6IadvZRPUWT03F/RzelbWhUvLj4VW5qrnfyMsIfGNU/n8e7XVvuo42Jwf6MIHVUqLYYkRJ5O7ZBkEB21bEG8eiFg5sPB01JFyRCjUPOaX3f7bP4//2Q==")
    static let webp = decode("UklGRpAAAABXRUJQVlA4IIQAAABwAgCdASoIAAYAAgA0JbACdDKJf2A+AAFpPdocAP72/2Ejim6pX/hhtRvMLW/M7/g1/nGx6Nm6N3IMc3o/IkNJB2F/P81/q+vl92RZkfIub2BVKvq/5x7eNkxjcNtcspG1/c3sa5vVw/sA/X/vVsDlX/5Y/Pf7ONz9KGD+Jj+5v/DQAAA=")
    static let webpLossless = decode("UklGRloAAABXRUJQVlA4TE4AAAAvB0ABAG9gkG2kHtm/+pGdBoGkjY/+5CMQoKhnnvPM/AfkBkgIcIPSLV618ViCQtpWJItIMkjgK6SwIYRRs3CM3jhE9D8gaiDOv/o+ECc=")

    private static func decode(_ base64: String) -> [UInt8] { Array(Data(base64Encoded: base64)!) }

    /// A well-formed PNG of exactly `size` bytes (its one IDAT chunk padded to fit).
    static func png(ofSize size: Int) -> [UInt8] {
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            let crc = CRC32.checksum(body[...])
            return withUnsafeBytes(of: UInt32(data.count).bigEndian, Array.init) + body + withUnsafeBytes(of: crc.bigEndian, Array.init)
        }
        let header = chunk("IHDR", [0, 0, 0, 8, 0, 0, 0, 6, 8, 2, 0, 0, 0])
        let end = chunk("IEND", [])
        let data = chunk("IDAT", Array(repeating: 0, count: size - 8 - header.count - end.count - 12))
        return Array(png.prefix(8)) + header + data + end
    }
}
