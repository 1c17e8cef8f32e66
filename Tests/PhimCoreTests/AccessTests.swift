import Foundation
import PhimCore
import PhimServer
import PhimSupport
import XCTest

/// A user never sees another's video; nothing answers without credentials.
final class AccessTests: XCTestCase {
    static let userRoutes: [(String, String)] = [
        ("GET", "/api/v1/me"), ("POST", "/api/v1/api-keys"), ("GET", "/api/v1/api-keys"),
        ("DELETE", "/api/v1/api-keys/00000000-0000-0000-0000-000000000000"), ("POST", "/api/v1/uploads"),
        ("POST", "/api/v1/videos"), ("POST", "/api/v1/videos/quote"), ("GET", "/api/v1/videos"),
        ("GET", "/api/v1/videos/changes?after=0"), ("GET", "/api/v1/videos/00000000-0000-0000-0000-000000000000"),
        ("DELETE", "/api/v1/videos/00000000-0000-0000-0000-000000000000"),
        ("POST", "/api/v1/videos/00000000-0000-0000-0000-000000000000/cancel"), ("GET", "/api/v1/credits/transactions"),
    ]

    func testEveryUserRouteAnswers401WithoutCredentialsAndWithAForgedKey() throws {
        let world = try TestWorld()
        for (method, target) in Self.userRoutes {
            for headers in [[:], ["authorization": "Bearer phim_forged"], ["authorization": "Basic abc"],
                            ["cookie": "phim_session=forged"]] {
                let response = world.send(method, target, headers: headers)
                XCTAssertEqual(response.status, 401, "\(method) \(target) \(headers)")
                XCTAssertEqual(response.bodyJSON?["error"]?["code"]?.stringValue, "unauthenticated")
                XCTAssertNotNil(response.header("X-Request-ID"))
            }
        }
    }

    func testAnotherUsersVideoAnswersExactlyLikeAMissingOne() throws {
        let world = try TestWorld()
        let owner = try world.user("owner", credits: 10_000)
        let stranger = try world.user("stranger", credits: 10_000)
        let id = world.createVideo(owner).bodyJSON!["id"]!.stringValue!
        let missing = "11111111-2222-3333-4444-555555555555"
        for (method, suffix) in [("GET", ""), ("DELETE", ""), ("POST", "/cancel")] {
            let theirs = world.send(method, "/api/v1/videos/\(id)\(suffix)", as: stranger)
            let nothing = world.send(method, "/api/v1/videos/\(missing)\(suffix)", as: stranger)
            XCTAssertEqual(theirs.status, 404)
            XCTAssertEqual(theirs.bodyText, nothing.bodyText, "\(method) \(suffix)")
        }
        let list = world.send("GET", "/api/v1/videos", as: stranger).bodyJSON!
        XCTAssertEqual(list["data"], .array([]))
        XCTAssertEqual(world.send("GET", "/api/v1/videos/changes?after=0", as: stranger).status, 304)
        XCTAssertEqual(world.video(owner, id)?["status"]?.stringValue, "pending", "the stranger's delete and cancel changed nothing")
        XCTAssertEqual(world.send("DELETE", "/api/v1/api-keys/\(UUID().uuidString)", as: stranger).status, 404)
    }

    func testCookieChangesNeedTheAntiForgeryTokenAndSignOutEndsTheSession() throws {
        let world = try TestWorld()
        let user = try world.user("cookie")
        let login = world.send("POST", "/api/v1/auth/login", json: .object([("email", .string(user.email)), ("password", .string("correct horse"))]))
        XCTAssertEqual(login.status, 200)
        let cookies = login.headers.filter { $0.0 == "Set-Cookie" }.map(\.1)
        XCTAssertTrue(cookies.contains { $0.hasPrefix("phim_session=") && $0.contains("HttpOnly") && $0.contains("SameSite=Lax") })
        let cookie = cookies.map { $0.components(separatedBy: ";")[0] }.joined(separator: "; ")
        let csrf = login.header("X-CSRF-Token")!
        XCTAssertEqual(world.send("GET", "/api/v1/me", headers: ["cookie": cookie]).status, 200)
        let forged = world.send("POST", "/api/v1/api-keys", json: .object([]), headers: ["cookie": cookie])
        XCTAssertEqual(forged.status, 403)
        XCTAssertEqual(forged.bodyJSON?["error"]?["code"]?.stringValue, "csrf_failed")
        XCTAssertEqual(world.send("POST", "/api/v1/api-keys", json: .object([]), headers: ["cookie": cookie, "x-csrf-token": "wrong"]).status, 403)
        XCTAssertEqual(world.send("POST", "/api/v1/api-keys", json: .object([]), headers: ["cookie": cookie, "x-csrf-token": csrf]).status, 201)
        XCTAssertEqual(world.send("POST", "/api/v1/auth/logout", headers: ["cookie": cookie]).status, 204)
        XCTAssertEqual(world.send("GET", "/api/v1/me", headers: ["cookie": cookie]).status, 401)
    }

    func testRevokedKeyStopsAtOnce() throws {
        let world = try TestWorld()
        let user = try world.user("revoker")
        let keys = world.send("GET", "/api/v1/api-keys", as: user).bodyJSON!["data"]!
        guard case .array(let list) = keys, let id = list.first?["id"]?.stringValue else { return XCTFail("no key listed") }
        XCTAssertNil(list.first?["key"], "a key is never shown again")
        XCTAssertEqual(world.send("DELETE", "/api/v1/api-keys/\(id)", as: user).status, 204)
        XCTAssertEqual(world.send("GET", "/api/v1/me", as: user).status, 401)
    }

    func testSignInFailuresAreUniformAndPasswordsAreChecked() throws {
        let world = try TestWorld()
        let user = try world.user("signin")
        let wrong = world.send("POST", "/api/v1/auth/login", json: .object([("email", .string(user.email)), ("password", .string("not it at all"))]))
        let nobody = world.send("POST", "/api/v1/auth/login", json: .object([("email", .string("nobody@example.com")), ("password", .string("not it at all"))]))
        XCTAssertEqual(wrong.status, 401)
        XCTAssertEqual(wrong.bodyJSON?["error"], nobody.bodyJSON?["error"])
        let taken = world.send("POST", "/api/v1/auth/register", json: .object([("email", .string(user.email.uppercased())), ("password", .string("another one"))]))
        XCTAssertEqual(taken.status, 201, "sign-up does not tell that the email has an account")
        XCTAssertEqual(world.send("POST", "/api/v1/auth/login", json: .object([("email", .string(user.email)), ("password", .string("another one"))])).status, 401)
    }
}
