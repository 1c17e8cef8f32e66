@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

/// What a hostile or broken client can send, endpoint by endpoint: every answer is a 4xx with
/// an error code, and nothing in the database changes.
@Suite("Hostile input: every endpoint answers 4xx with a code and changes nothing")
struct HostileInputTests {
    // (Bodies over the size limits need a real connection, which the in-process tester does not
    // enforce limits on: `scripts/api_fuzz.py` sends those over HTTP.)

    /// Every JSON endpoint that takes a body.
    static let endpoints = ["/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/api-keys", "/api/v1/videos"]

    enum Body: String, CaseIterable, Sendable {
        case truncatedJSON, notAnObject, jsonNull, wrongTypes, textPlain, xmlBody, multipartWithBinaryHeader, deepNesting

        var contentType: String {
            switch self {
            case .textPlain: "text/plain"
            case .xmlBody: "application/xml"
            case .multipartWithBinaryHeader: "multipart/form-data; boundary=x"
            default: "application/json"
            }
        }

        var bytes: [UInt8] {
            switch self {
            case .truncatedJSON: Array(#"{"prompt": "A boat", "email": "#.utf8)
            case .notAnObject: Array("[1, 2, 3]".utf8)
            case .jsonNull: Array("null".utf8)
            case .wrongTypes: Array(#"{"prompt": 42, "email": [], "password": {}, "name": 7, "duration": "ten"}"#.utf8)
            case .textPlain: Array("prompt=A boat".utf8)
            case .xmlBody: Array("<video><prompt>A boat</prompt></video>".utf8)
            // A non-ASCII byte in a part's header name: multipart-kit's parser traps on it.
            case .multipartWithBinaryHeader: Array("--x\r\n".utf8) + [0xC3, 0x97, 0x0E] + Array(": v\r\n\r\nbody\r\n--x--\r\n".utf8)
            case .deepNesting: Array((String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)).utf8)
            }
        }
    }

    struct Snapshot: Equatable {
        var users = 0, jobs = 0, entries = 0, keys = 0, uploads = 0, available = 0, held = 0
    }

    func snapshot(_ t: TestContext, _ user: TestUser) async throws -> Snapshot {
        let balances = try await t.balances(user)
        return Snapshot(users: try await User.query(on: t.app.db).count(), jobs: try await t.jobCount(),
                        entries: try await CreditEntry.query(on: t.app.db).count(), keys: try await APIKey.query(on: t.app.db).count(),
                        uploads: try await Upload.query(on: t.app.db).count(), available: balances.available, held: balances.held)
    }

    @Test("bad bodies on every JSON endpoint", arguments: Body.allCases)
    func badBodies(body: Body) async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let before = try await snapshot(t, user)
            for path in Self.endpoints {
                let response = try await t.tester.sendRequest(.POST, path, headers: [
                    "Authorization": "Bearer \(user.apiKey)", "Content-Type": body.contentType,
                ], body: ByteBuffer(bytes: body.bytes))
                #expect((400..<500).contains(response.status.code), "\(path) \(body): \(response.status)")
                #expect(response.errorCode != nil, "\(path) \(body) has no error code: \(response.body.string.prefix(200))")
            }
            #expect(try await snapshot(t, user) == before)
        }
    }

    @Test("the same bodies on the upload and the sign-in form are refused too")
    func badBodiesOnFormsAndUploads() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let before = try await snapshot(t, user)
            for body in Body.allCases {
                let upload = try await t.tester.sendRequest(.POST, "/api/v1/uploads", headers: [
                    "Authorization": "Bearer \(user.apiKey)", "Content-Type": body.contentType,
                ], body: ByteBuffer(bytes: body.bytes))
                #expect((400..<500).contains(upload.status.code) && upload.errorCode != nil, "upload \(body): \(upload.status)")
                let page = try await t.tester.sendRequest(.GET, "/signin", headers: ["Accept": "text/html"])
                let cookie = try TestContext.sessionCookie(page)
                let form = try await t.tester.sendRequest(.POST, "/signin", headers: [
                    "Cookie": cookie, "Content-Type": body.contentType, "Accept": "text/html",
                ], body: ByteBuffer(bytes: body.bytes))
                #expect((400..<500).contains(form.status.code), "sign-in form \(body): \(form.status)")
            }
            #expect(try await snapshot(t, user) == before)
        }
    }

    @Test("unicode edge cases in prompts are kept exactly or refused with a code, never mangled")
    func unicodePrompts() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let kept = ["Cảnh hoàng hôn trên vịnh Hạ Long 🌅", "e\u{301} composed and é precomposed", "\u{202E}override right-to-left",
                        "zero\u{200B}width joiner\u{200D}", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math letters", "tab\tand\nnew line"]
            for prompt in kept {
                let body = try JSONSerialization.data(withJSONObject: ["prompt": prompt])
                let response = try await t.tester.sendRequest(.POST, "/api/v1/videos", headers: user.headers, body: ByteBuffer(data: body))
                #expect(response.status == .accepted, "\(prompt.debugDescription): \(response.status)")
                #expect(response.json["prompt"].string == prompt)
            }
            // A lone surrogate escape is not a character: refused, or kept as the replacement character.
            let surrogate = try await t.request(.POST, "/api/v1/videos", as: user, json: #"{"prompt": "half \ud800 a pair"}"#)
            #expect(((400..<500).contains(surrogate.status.code) && surrogate.errorCode != nil)
                    || surrogate.json["prompt"].string == "half \u{FFFD} a pair",
                    "\(surrogate.status) \(surrogate.body.string.prefix(200))")
            // NUL and other controls are not text anyone means to send (and PostgreSQL cannot store NUL).
            for raw in [#"{"prompt": "nul \u0000 inside"}"#, #"{"prompt": "\u0000"}"#, #"{"prompt": "bell \u0007 and escape \u001b[31m"}"#] {
                let before = try await snapshot(t, user)
                let response = try await t.request(.POST, "/api/v1/videos", as: user, json: raw)
                #expect(response.errorCode == "prompt_invalid_characters" || response.errorCode == "prompt_required", "\(raw): \(response.status)")
                #expect(try await snapshot(t, user) == before)
            }
            let whitespace = try await t.request(.POST, "/api/v1/videos", as: user, json: #"{"prompt": "\u00a0\u2003\u3000\n"}"#)
            #expect(whitespace.errorCode == "prompt_required")
        }
    }

    @Test("odd paths and query strings answer 4xx with a code")
    func oddPaths() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            for path in ["/api/v1/videos/not-a-uuid", "/api/v1/videos/%00", "/api/v1/videos/..%2F..%2Fetc%2Fpasswd",
                         "/api/v1/videos?limit=-1", "/api/v1/videos?limit=99999999999999999999", "/api/v1/videos?cursor=bm90LWEtY3Vyc29y",
                         "/files/uploads/..%2F..%2Fphim.sqlite", "/static/..%2F..%2FViews%2Fbase.leaf",
                         "/static/" + String(repeating: "b", count: 3_000), "/api/v1/" + String(repeating: "a", count: 5_000)] {
                let response = try await t.request(.GET, path, as: user)
                #expect((400..<500).contains(response.status.code), "\(path.prefix(80)): \(response.status) \(response.body.string.prefix(300))")
                #expect(response.errorCode != nil, "\(path.prefix(80)) has no code")
            }
            let headers: HTTPHeaders = ["Authorization": "Bearer \(user.apiKey)", "Idempotency-Key": String(repeating: "k", count: 60_000),
                                        "Content-Type": "application/json"]
            let longKey = try await t.tester.sendRequest(.POST, "/api/v1/videos", headers: headers, body: ByteBuffer(string: #"{"prompt": "x"}"#))
            #expect(longKey.errorCode == "invalid_idempotency_key")
            #expect(try await t.jobCount() == 0)
        }
    }

    @Test("account text with control characters, or a password bcrypt would cut short, is refused")
    func accountText() async throws {
        try await withTestApp { t in
            let cases: [(String, String)] = [
                (#"{"email": "nul\u0000@phim.test", "password": "password123"}"#, "invalid_email"),
                (#"{"email": "a@phim.test", "password": "pass\u0000word123"}"#, "password_invalid"),
                (#"{"email": "b@phim.test", "password": "\#(String(repeating: "p", count: 73))"}"#, "password_invalid"),
                (#"{"email": "c@phim.test", "password": "\#(String(repeating: "ữ", count: 25))"}"#, "password_invalid"), // 75 bytes
            ]
            for (body, code) in cases {
                let response = try await t.request(.POST, "/api/v1/auth/register", json: body)
                #expect(response.status == .unprocessableEntity && response.errorCode == code, "\(body.prefix(60)): \(response.errorCode ?? "")")
            }
            #expect(try await User.query(on: t.app.db).count() == 0)
            let exactly72 = try await t.request(.POST, "/api/v1/auth/register",
                                                json: #"{"email": "d@phim.test", "password": "\#(String(repeating: "ữ", count: 24))"}"#)
            #expect(exactly72.status == .created)

            let user = try await t.makeUser()
            let badName = try await t.request(.POST, "/api/v1/api-keys", as: user, json: #"{"name": "key\u0000name"}"#)
            #expect(badName.errorCode == "invalid_name")
            #expect(try await APIKey.query(on: t.app.db).count() == 1)
        }
    }
}
