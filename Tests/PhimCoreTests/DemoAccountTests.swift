import Foundation
import PhimCore
import PhimServer
import PhimSupport
import XCTest

/// The demo account's password is public: outside demo mode it is shut out at every start, and
/// the production command does not fall into demo mode by itself.
final class DemoAccountTests: XCTestCase {
    private let demoEnvironment = ["PHIM_DEMO": "1"]
    private let productionEnvironment = ["KIE_API_KEY": "kie-test-key"]

    private func configuration(_ world: TestWorld, _ environment: [String: String]) throws -> Configuration {
        try Configuration.load(dataDirectory: world.directory, environment: environment)
    }

    private func signIn(_ world: TestWorld, password: String = "phim-demo") -> Response {
        world.send("POST", "/api/v1/auth/login", json: .object([("email", .string("demo@phim.local")), ("password", .string(password))]))
    }

    private func cookies(of login: Response) -> String {
        login.headers.filter { $0.0 == "Set-Cookie" }.map { $0.1.components(separatedBy: ";")[0] }.joined(separator: "; ")
    }

    private func code(_ response: Response) -> String? { response.bodyJSON?["error"]?["code"]?.stringValue }

    func testOutsideDemoModeTheDemoAccountCannotSignInOrUseItsSessionOrKeys() throws {
        let world = try TestWorld()
        XCTAssertTrue(try Demo.prepareAccount(configuration(world, demoEnvironment), accounts: world.app.accounts, on: world.db))
        let login = signIn(world)
        XCTAssertEqual(login.status, 200, login.bodyText)
        let session = cookies(of: login)
        let made = world.send("POST", "/api/v1/api-keys", json: .object([("name", .string("demo"))]),
                              headers: ["cookie": session, "x-csrf-token": login.header("X-CSRF-Token") ?? ""])
        XCTAssertEqual(made.status, 201, made.bodyText)
        let key = made.bodyJSON!["key"]!.stringValue!

        // A start with a real provider key.
        XCTAssertFalse(try Demo.prepareAccount(configuration(world, productionEnvironment), accounts: world.app.accounts, on: world.db))

        let again = signIn(world)
        XCTAssertEqual(again.status, 403, again.bodyText)
        XCTAssertEqual(code(again), "account_disabled")
        XCTAssertEqual(world.send("GET", "/api/v1/me", headers: ["cookie": session]).status, 401, "its session ended")
        let byKey = world.send("GET", "/api/v1/me", headers: ["authorization": "Bearer \(key)"])
        XCTAssertEqual(byKey.status, 403)
        XCTAssertEqual(code(byKey), "account_disabled")

        let demo = try Administration(clock: world.clock.clock).account(email: "demo@phim.local", on: world.db)
        let entries = try Administration(clock: world.clock.clock).auditLog(userID: demo.id, limit: 10, on: world.db)
        XCTAssertEqual(entries.map(\.action), ["account.disable"])
        XCTAssertEqual(entries.first?.actor, "system")
        XCTAssertEqual(entries.first?.reason?.contains("KIE_API_KEY"), true)

        // Every later start (and every other process) changes nothing more.
        XCTAssertFalse(try DemoAccount.disableOutsideDemoMode(email: "demo@phim.local", clock: world.clock.clock, on: world.db))
        XCTAssertEqual(try Administration(clock: world.clock.clock).auditLog(userID: demo.id, limit: 10, on: world.db).count, 1)
    }

    func testBackInDemoModeOnlyTheSystemsOwnDisableIsUndone() throws {
        let world = try TestWorld()
        try Demo.prepareAccount(configuration(world, demoEnvironment), accounts: world.app.accounts, on: world.db)
        try Demo.prepareAccount(configuration(world, productionEnvironment), accounts: world.app.accounts, on: world.db)
        XCTAssertEqual(signIn(world).status, 403)

        try Demo.prepareAccount(configuration(world, demoEnvironment), accounts: world.app.accounts, on: world.db)
        XCTAssertEqual(signIn(world).status, 200, "demo mode again: the demo works")
        let administration = Administration(clock: world.clock.clock)
        let demo = try administration.account(email: "demo@phim.local", on: world.db)
        let entries = try administration.auditLog(userID: demo.id, limit: 10, on: world.db)
        XCTAssertEqual(entries.map(\.action), ["account.enable", "account.disable"])
        XCTAssertEqual(Set(entries.map(\.actor)), ["system"])

        // An operator's own decision stands.
        try administration.setDisabled(true, userID: demo.id, reason: "no demo here", by: .commandLine(), on: world.db)
        try Demo.prepareAccount(configuration(world, demoEnvironment), accounts: world.app.accounts, on: world.db)
        XCTAssertEqual(signIn(world).status, 403)
    }

    func testTheProductionCommandNeedsAKeyOrAnExplicitDemo() throws {
        let world = try TestWorld()
        XCTAssertThrowsError(try Demo.refuseUnaskedDemoMode(configuration(world, [:]))) { error in
            XCTAssertTrue("\(error)".contains("PHIM_DEMO=1"), "\(error)")
        }
        XCTAssertNoThrow(try Demo.refuseUnaskedDemoMode(configuration(world, demoEnvironment)))
        XCTAssertNoThrow(try Demo.refuseUnaskedDemoMode(configuration(world, productionEnvironment)))
        XCTAssertThrowsError(try configuration(world, ["PHIM_DEMO": "1", "KIE_API_KEY": "k"]))
        XCTAssertThrowsError(try configuration(world, ["PHIM_DEMO": "yes"]))
    }

    /// Behind a proxy, nginx's realip module gives the client's address (README, Deployment);
    /// an operator who still sets the old variable is told so at start, not silently ignored.
    func testForwardedForIsNoLongerASetting() throws {
        let world = try TestWorld()
        XCTAssertThrowsError(try configuration(world, ["PHIM_TRUST_FORWARDED_FOR": "1"])) { error in
            XCTAssertTrue("\(error)".contains("set_real_ip_from"), "\(error)")
        }
    }
}

/// On https the session and anti-forgery cookies are `__Host-` cookies: only this host, over
/// TLS, can set them, so a sibling subdomain cannot toss a session in.
final class HostCookieTests: XCTestCase {
    private func login(_ world: TestWorld, _ email: String) -> Response {
        world.send("POST", "/api/v1/auth/login", json: .object([("email", .string(email)), ("password", .string("correct horse"))]))
    }

    func testOnHttpsTheCookiesAreHostOnly() throws {
        let world = try TestWorld { $0.publicBaseURL = "https://phim.example.com" }
        let user = try world.user("cookies")
        let signedIn = login(world, user.email)
        XCTAssertEqual(signedIn.status, 200, signedIn.bodyText)
        let set = signedIn.headers.filter { $0.0 == "Set-Cookie" }.map(\.1)
        XCTAssertEqual(set.count, 2)
        for cookie in set {
            XCTAssertTrue(cookie.hasPrefix("__Host-phim_session=") || cookie.hasPrefix("__Host-phim_csrf="), cookie)
            XCTAssertTrue(cookie.contains("; Secure") && cookie.contains("Path=/") && !cookie.lowercased().contains("domain="), cookie)
        }
        let pairs = set.map { $0.components(separatedBy: ";")[0] }
        let session = pairs.first { $0.hasPrefix("__Host-phim_session=") }!
        let token = String(session.dropFirst("__Host-phim_session=".count))
        let csrf = signedIn.header("X-CSRF-Token") ?? ""
        XCTAssertEqual(pairs.first { $0.hasPrefix("__Host-phim_csrf=") }, "__Host-phim_csrf=\(csrf)")

        XCTAssertEqual(world.send("GET", "/api/v1/me", headers: ["cookie": pairs.joined(separator: "; ")]).status, 200)
        XCTAssertEqual(world.send("POST", "/api/v1/api-keys", json: .object([("name", .string("k"))]),
                                  headers: ["cookie": pairs.joined(separator: "; "), "x-csrf-token": csrf]).status, 201)
        XCTAssertEqual(world.send("GET", "/api/v1/me", headers: ["cookie": "phim_session=\(token)"]).status, 401,
                       "the plain name is what a sibling subdomain could set: not read on https")
        XCTAssertEqual(world.send("GET", "/api/v1/me", headers: ["cookie": "phim_session=tossed; \(session)"]).status, 200,
                       "a tossed plain cookie in front does not shadow the real one")

        let out = world.send("POST", "/api/v1/auth/logout", headers: ["cookie": pairs.joined(separator: "; "), "x-csrf-token": csrf])
        let cleared = out.headers.filter { $0.0 == "Set-Cookie" }.map(\.1)
        XCTAssertEqual(cleared.count, 2, out.bodyText)
        for cookie in cleared {
            XCTAssertTrue(cookie.hasPrefix("__Host-phim_") && cookie.contains("Max-Age=0") && cookie.contains("; Secure"), cookie)
        }
    }

    func testOnHttpTheNamesArePlain() throws {
        let world = try TestWorld()
        let user = try world.user("plain")
        let names = login(world, user.email).headers.filter { $0.0 == "Set-Cookie" }.map { $0.1.components(separatedBy: "=")[0] }
        XCTAssertEqual(names, ["phim_session", "phim_csrf"])
    }
}
