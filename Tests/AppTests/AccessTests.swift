@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

@Suite("Accounts and who sees what")
struct AccessTests {
    @Test("every user endpoint refuses a caller without credentials, or with a wrong key")
    func unauthenticatedCallersAreRefused() async throws {
        try await withTestApp { t in
            let owner = try await t.makeUser()
            let id = try await t.createTextVideo(as: owner)
            let endpoints: [(HTTPMethod, String)] = [
                (.GET, "/api/v1/me"), (.POST, "/api/v1/api-keys"), (.POST, "/api/v1/uploads"),
                (.POST, "/api/v1/videos"), (.GET, "/api/v1/videos"), (.GET, "/api/v1/videos/\(id)"),
                (.DELETE, "/api/v1/videos/\(id)"), (.POST, "/api/v1/videos/\(id)/cancel"),
                (.GET, "/api/v1/credits/transactions"),
            ]
            for (method, path) in endpoints {
                let anonymous = try await t.tester.sendRequest(method, path, headers: ["Content-Type": "application/json"],
                                                               body: ByteBuffer(string: #"{"prompt": "x"}"#))
                #expect(anonymous.status == .unauthorized, "\(method) \(path)")
                #expect(anonymous.errorCode == "unauthenticated", "\(method) \(path)")
                let forged = try await t.tester.sendRequest(method, path, headers: ["Authorization": "Bearer phim_forged"])
                #expect(forged.status == .unauthorized, "\(method) \(path) with a forged key")
            }
            #expect(try await t.job(id).deletedAt == nil)
            #expect(try await t.job(id).status == .pending)
        }
    }

    @Test("another user's video answers 404 everywhere, exactly like a missing one")
    func usersAreIsolated() async throws {
        try await withTestApp { t in
            let alice = try await t.makeUser("alice@phim.test")
            let bob = try await t.makeUser("bob@phim.test")
            let alicesVideo = try await t.createTextVideo("Alice's secret", as: alice)
            let missing = UUID()

            for (method, suffix) in [(HTTPMethod.GET, ""), (.DELETE, ""), (.POST, "/cancel")] {
                let foreign = try await t.request(method, "/api/v1/videos/\(alicesVideo)\(suffix)", as: bob)
                let absent = try await t.request(method, "/api/v1/videos/\(missing)\(suffix)", as: bob)
                #expect(foreign.status == .notFound)
                #expect(foreign.status == absent.status)
                #expect(foreign.body.string == absent.body.string)
            }
            #expect(try await t.request(.GET, "/api/v1/videos", as: bob).json["data"].array.isEmpty)
            #expect(try await t.request(.GET, "/api/v1/credits/transactions", as: bob).json["data"].array.count == 1) // bob's grant

            // Bob cannot use Alice's upload either.
            let upload = try #require(try await t.upload(Images.jpeg, as: alice).json["id"].string)
            let stolen = try await t.createVideo(#"{"mode": "image_to_video", "prompt": "mine now", "upload_id": "\#(upload)"}"#, as: bob)
            #expect(stolen.status == .notFound)
            #expect(stolen.errorCode == "upload_not_found")

            let job = try await t.job(alicesVideo)
            #expect(job.status == .pending && job.deletedAt == nil)
            #expect(try await t.balances(bob) == (100_000, 0))
            #expect(try await t.request(.GET, "/api/v1/videos", as: alice).json["data"].array.count == 1)
        }
    }

    @Test("register, sign in with a cookie, make an API key (with the session's anti-forgery token), sign out")
    func accountFlow() async throws {
        try await withTestApp { t in
            let registered = try await t.request(.POST, "/api/v1/auth/register", json: #"{"email": " New@Phim.test ", "password": "long enough"}"#)
            #expect(registered.status == .created)
            #expect(registered.json["email"].string == "new@phim.test")
            #expect(registered.json["credits"].int == 0)

            let duplicate = try await t.request(.POST, "/api/v1/auth/register", json: #"{"email": "new@phim.test", "password": "long enough"}"#)
            #expect(duplicate.status == .conflict)
            #expect(duplicate.errorCode == "email_taken")

            let wrong = try await t.request(.POST, "/api/v1/auth/login", json: #"{"email": "new@phim.test", "password": "not it at all"}"#)
            #expect(wrong.status == .unauthorized)
            #expect(wrong.errorCode == "invalid_credentials")

            let login = try await t.request(.POST, "/api/v1/auth/login", json: #"{"email": "new@phim.test", "password": "long enough"}"#)
            #expect(login.status == .ok)
            let setCookie = try #require(login.headers.first(name: .setCookie))
            #expect(setCookie.contains("HttpOnly"))
            #expect(setCookie.contains("SameSite=Lax"))
            let cookie = try #require(setCookie.split(separator: ";").first).description
            let csrf = try #require(login.headers.first(name: CSRF.headerName))

            let me = try await t.tester.sendRequest(.GET, "/api/v1/me", headers: ["Cookie": cookie])
            #expect(me.status == .ok)
            #expect(me.json["email"].string == "new@phim.test")

            let forged = try await t.tester.sendRequest(.POST, "/api/v1/api-keys", headers: ["Cookie": cookie, "Content-Type": "application/json"],
                                                        body: ByteBuffer(string: #"{"name": "forged"}"#))
            #expect(forged.status == .forbidden)
            #expect(forged.errorCode == "csrf_failed")
            #expect(try await APIKey.query(on: t.app.db).count() == 0)

            let key = try await t.tester.sendRequest(.POST, "/api/v1/api-keys",
                                                     headers: ["Cookie": cookie, "Content-Type": "application/json", CSRF.headerName: csrf],
                                                     body: ByteBuffer(string: #"{"name": "shop bot"}"#))
            #expect(key.status == .created)
            let token = try #require(key.json["key"].string)
            #expect(token.hasPrefix("phim_"))
            let stored = try #require(try await APIKey.query(on: t.app.db).first())
            #expect(stored.keyHash != token)
            #expect(try await t.tester.sendRequest(.GET, "/api/v1/me", headers: ["Authorization": "Bearer \(token)"]).status == .ok)

            #expect(try await t.tester.sendRequest(.POST, "/api/v1/auth/logout", headers: ["Cookie": cookie]).status == .forbidden)
            #expect(try await t.tester.sendRequest(.GET, "/api/v1/me", headers: ["Cookie": cookie]).status == .ok)
            #expect(try await t.tester.sendRequest(.POST, "/api/v1/auth/logout", headers: ["Cookie": cookie, CSRF.headerName: csrf]).status == .noContent)
            #expect(try await t.tester.sendRequest(.GET, "/api/v1/me", headers: ["Cookie": cookie]).status == .unauthorized)
        }
    }

    @Test("bad sign-up details get precise errors", arguments: [
        (#"{"email": "not-an-email", "password": "long enough"}"#, "invalid_email"),
        (#"{"email": "a@b.c", "password": "short"}"#, "password_too_short"),
        (#"{"password": "long enough"}"#, "invalid_email"),
        (#"{"email": 5, "password": "long enough"}"#, "invalid_json"),
    ])
    func badRegistrations(body: String, code: String) async throws {
        try await withTestApp { t in
            let response = try await t.request(.POST, "/api/v1/auth/register", json: body)
            #expect(response.errorCode == code)
            #expect((400..<500).contains(response.status.code))
            #expect(try await User.query(on: t.app.db).count() == 0)
        }
    }
}

extension AccessTests {
    @Test("a user lists their API keys without the secrets, and a revoked key stops working at once")
    func apiKeysListAndRevoke() async throws {
        try await withTestApp { t in
            let alice = try await t.makeUser("alice@phim.test")
            let bob = try await t.makeUser("bob@phim.test")
            t.clock.advance(by: 1) // newest first
            let made = try await t.request(.POST, "/api/v1/api-keys", as: alice, json: #"{"name": "shop bot"}"#)
            let secondKey = try #require(made.json["key"].string)
            let secondID = try #require(made.json["id"].uuid)

            let list = try await t.request(.GET, "/api/v1/api-keys", as: alice)
            #expect(list.status == .ok)
            let keys = list.json["data"].array
            #expect(keys.count == 2)
            #expect(keys.first?["name"].string == "shop bot")
            #expect(keys.first?["key_prefix"].string == String(secondKey.prefix(12)))
            #expect(!list.body.string.contains(secondKey) && !list.body.string.contains(alice.apiKey))
            #expect(!list.body.string.contains(bob.apiKey.prefix(12)))

            // Bob can neither see nor revoke Alice's keys.
            #expect(try await t.request(.GET, "/api/v1/api-keys", as: bob).json["data"].array.count == 1)
            let foreign = try await t.request(.DELETE, "/api/v1/api-keys/\(secondID)", as: bob)
            #expect(foreign.status == .notFound && foreign.errorCode == "api_key_not_found")
            var secondUser = alice
            secondUser.apiKey = secondKey
            #expect(try await t.request(.GET, "/api/v1/me", as: secondUser).status == .ok)

            #expect(try await t.request(.DELETE, "/api/v1/api-keys/\(secondID)", as: alice).status == .noContent)
            #expect(try await t.request(.GET, "/api/v1/me", as: secondUser).status == .unauthorized)
            #expect(try await t.request(.GET, "/api/v1/me", as: alice).status == .ok) // the other key still works
            #expect(try await t.request(.DELETE, "/api/v1/api-keys/\(secondID)", as: alice).status == .noContent)
            let listed = try await t.request(.GET, "/api/v1/api-keys", as: alice).json["data"].array
            #expect(listed.first { $0["id"].uuid == secondID }?["revoked_at"].isNull == false)
        }
    }
}

@Suite("Every documented endpoint, with no credentials and with another user's")
struct EndpointAccessTests {
    @Test("each operation in the OpenAPI document refuses strangers and shows a second user nothing of the first's")
    func everyDocumentedOperation() async throws {
        try await withTestApp { t in
            let alice = try await t.makeUser("alice@phim.test")
            let bob = try await t.makeUser("bob@phim.test")
            let video = try await t.createTextVideo("Alice's private clip", as: alice)
            let upload = try #require(try await t.upload(Images.png, as: alice).json["id"].string)
            let alicesKey = try #require(try await APIKey.query(on: t.app.db).filter(\.$user.$id == alice.id).first()?.requireID())
            let alicesTraces = [alicesKey.uuidString, video.uuidString, video.uuidString.lowercased(), alice.id.uuidString, alice.email, upload,
                                "Alice's private clip"]

            let documentResponse = try await t.tester.sendRequest(.GET, "/api/v1/openapi.json")
            let document = try #require(try JSONSerialization.jsonObject(with: Data(buffer: documentResponse.body)) as? [String: Any])
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            var checked = 0
            for (template, item) in paths.sorted(by: { $0.key < $1.key }) {
                for (methodName, rawOperation) in item where methodName != "parameters" {
                    let operation = try #require(rawOperation as? [String: Any])
                    let method = HTTPMethod(rawValue: methodName.uppercased())
                    let isPublic = (operation["security"] as? [Any])?.isEmpty == true
                    let path = template.replacingOccurrences(of: "{videoID}", with: video.uuidString)
                        .replacingOccurrences(of: "{keyID}", with: alicesKey.uuidString)
                    let body = ByteBuffer(string: #"{"prompt": "Bob's try", "upload_id": "\#(upload)", "name": "k"}"#)
                    let label = "\(method) \(template)"
                    if !isPublic {
                        let anonymous = try await t.tester.sendRequest(method, path, headers: ["Content-Type": "application/json"], body: body)
                        #expect(anonymous.status == .unauthorized && anonymous.errorCode == "unauthenticated", "\(label) without credentials")
                    }
                    // The event stream never ends, so it cannot be read whole here; `LiveUpdateTests`
                    // checks that a listener hears nothing of another user's videos.
                    guard template != "/api/v1/events", !template.hasPrefix("/api/v1/webhooks") else { continue }
                    let asBob = try await t.tester.sendRequest(method, path, headers: bob.headers, body: body)
                    #expect(asBob.status.code < 500, "\(label) as Bob: \(asBob.status)")
                    if template.contains("{videoID}") {
                        #expect(asBob.status == .notFound && asBob.errorCode == "video_not_found", "\(label) as Bob on Alice's video")
                    }
                    if template.contains("{keyID}") {
                        #expect(asBob.status == .notFound && asBob.errorCode == "api_key_not_found", "\(label) as Bob on Alice's key")
                    }
                    if template != "/api/v1/openapi.json" {
                        for trace in alicesTraces {
                            #expect(!asBob.body.string.contains(trace), "\(label) showed Bob \(trace)")
                        }
                    }
                    checked += 1
                }
            }
            #expect(checked >= 12)
            // Bob's attempts changed nothing of Alice's.
            let job = try await t.job(video)
            #expect(job.status == .pending && job.deletedAt == nil)
            #expect(try await t.balances(alice) == (93_000, 7_000))
            #expect(try await t.request(.GET, "/api/v1/me", as: alice).status == .ok) // her key was not revoked
            try await t.verifyLedger()
        }
    }
}
