import Foundation
import PhimCore
import PhimServer
import PhimSupport
import XCTest

/// Requests that are not quite a route's: other spellings of a path, and operators' reads that
/// start work at the provider.
final class RequestEdgeTests: XCTestCase {
    /// nginx limits sign-in on the normalized path (`/api/v1/auth/login`); the app must not
    /// answer the same route under another spelling, or the limit could be stepped around.
    func testATrailingSlashOrAnEmptySegmentIsNotTheRoute() throws {
        let world = try TestWorld()
        let user = try world.user("slash", credits: TestWorld.price)
        let credentials = JSON.object([("email", .string(user.email)), ("password", .string("correct horse"))])
        for path in ["/api/v1/auth/login/", "//api/v1/auth/login", "/api//v1/auth/login", "/api/v1/auth//login"] {
            let response = world.send("POST", path, json: credentials)
            XCTAssertEqual(response.status, 404, path)
            XCTAssertEqual(response.bodyJSON?["error"]?["code"]?.stringValue, "not_found", path)
            XCTAssertFalse(response.headers.contains { $0.0 == "Set-Cookie" }, "no session from \(path)")
        }
        for path in ["/api/v1/videos/", "/api/v1/me/", "/api/livez/"] {
            XCTAssertEqual(world.send("GET", path, as: user).status, 404, path)
        }
        XCTAssertEqual(world.createVideo(user).status, 202)
        XCTAssertEqual(world.send("POST", "/api/v1/videos/", json: .object([("prompt", .string("a second one"))]), as: user).status, 404)
        XCTAssertEqual(world.balance(user).held, TestWorld.price, "nothing held by the refused spelling")
        XCTAssertEqual(world.send("POST", "/api/v1/auth/login", json: credentials).status, 200, "the route itself still answers")
    }

    /// The reconciliation asks the provider about every video of the period: an operator who
    /// follows a link (a GET, which carries the session cookie) must not start it.
    func testTheProviderReconciliationIsAPostWithTheAntiForgeryToken() throws {
        let world = try TestWorld()
        let root = try world.admin()
        let user = try world.user("reconciled", credits: TestWorld.price)
        XCTAssertEqual(world.createVideo(user).status, 202)
        world.clock.advance(25)
        world.deliverCallbacks()
        let login = world.send("POST", "/api/v1/auth/login", json: .object([("email", .string(root.email)), ("password", .string("operator password"))]))
        XCTAssertEqual(login.status, 200)
        let cookie = login.headers.filter { $0.0 == "Set-Cookie" }.map { $0.1.components(separatedBy: ";")[0] }.joined(separator: "; ")
        let queries = { world.simulator.statistics().calls.recordInfo }
        let before = queries()

        XCTAssertEqual(world.send("GET", "/api/v1/admin/provider/reconciliation?hours=2208", headers: ["cookie": cookie]).status, 404)
        let forged = world.send("POST", "/api/v1/admin/provider/reconciliation", json: .object([("hours", .int(2208))]), headers: ["cookie": cookie])
        XCTAssertEqual(forged.status, 403)
        XCTAssertEqual(forged.bodyJSON?["error"]?["code"]?.stringValue, "csrf_failed")
        XCTAssertEqual(queries(), before, "no provider query without the token")

        let wrong = world.send("POST", "/api/v1/admin/provider/reconciliation", json: .object([("hours", .int(0))]),
                               headers: ["cookie": cookie, "x-csrf-token": login.header("X-CSRF-Token")!])
        XCTAssertEqual(wrong.status, 400)
        XCTAssertEqual(queries(), before)
        let report = world.send("POST", "/api/v1/admin/provider/reconciliation", json: .object([("hours", .int(1))]),
                                headers: ["cookie": cookie, "x-csrf-token": login.header("X-CSRF-Token")!])
        XCTAssertEqual(report.status, 200, report.bodyText)
        XCTAssertEqual(report.bodyJSON?["videos"]?.intValue, 1)
        XCTAssertGreaterThan(queries(), before)
    }
}
