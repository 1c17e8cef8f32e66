import Foundation
import PhimCore
import PhimServer
import PhimSupport
import XCTest

/// Sign-in under attack: bounded password hashing, lockouts that strangers cannot cause, sign-up
/// that tells nobody who has an account, and the account holder's own password and sessions.
final class AccountSecurityTests: XCTestCase {
    func credentials(_ email: String, _ password: String) -> JSON {
        .object([("email", .string(email)), ("password", .string(password))])
    }

    /// A JSON request from a chosen client address, on a chosen connection.
    func post(_ world: TestWorld, _ path: String, _ json: JSON, from address: String = "127.0.0.1",
              headers: [String: String] = ["content-type": "application/json"], on db: Database? = nil) -> Response {
        world.app.handle(Request(method: "POST", path: path, headers: headers, body: Array(json.serialized().utf8), remoteAddress: address),
                         db: db ?? world.db)
    }

    func code(_ response: Response) -> String? { response.bodyJSON?["error"]?["code"]?.stringValue }

    /// The session cookie and anti-forgery token of a fresh sign-in.
    func signIn(_ world: TestWorld, _ email: String, _ password: String = "correct horse") -> [String: String] {
        let login = post(world, "/api/v1/auth/login", credentials(email, password))
        XCTAssertEqual(login.status, 200, login.bodyText)
        let cookie = login.headers.filter { $0.0 == "Set-Cookie" }.map { $0.1.components(separatedBy: ";")[0] }.joined(separator: "; ")
        return ["cookie": cookie, "x-csrf-token": login.header("X-CSRF-Token") ?? ""]
    }

    func auditActions(_ world: TestWorld, userID: String) throws -> [String] {
        try Administration(clock: world.clock.clock).auditLog(userID: userID, limit: 100, on: world.db).map(\.action)
    }

    // MARK: - Item 2: hashing is bounded, and an attempt is counted before its hash

    func testParallelWrongSignInsForOneAccountGetNoMoreThanTheLimitOf401s() throws {
        // One hash at a time, as on a busy server: guesses queue for the slot after their check.
        let world = try TestWorld(hasher: PasswordHasher(cost: .minimum, slots: HashingSlots(count: 1, waitSeconds: 60)))
        let user = try world.user("target")
        let attempts = 30
        let statuses = Locked<[Int]>([])
        let start = DispatchSemaphore(value: 0), done = DispatchGroup()
        for _ in 0..<attempts {
            let connection = try world.connection()
            done.enter()
            Thread {
                start.wait()
                let answer = self.post(world, "/api/v1/auth/login", self.credentials(user.email, "wrong guess"), on: connection)
                statuses.withLock { $0.append(answer.status) }
                done.leave()
            }.start()
        }
        for _ in 0..<attempts { start.signal() }
        done.wait()
        let seen = statuses.current
        XCTAssertEqual(seen.count, attempts)
        XCTAssertLessThanOrEqual(seen.filter { $0 == 401 }.count, world.settings.loginFailuresPerAccount,
                                 "each guess is counted before its hash, in the write that checks the limit: \(seen)")
        XCTAssertEqual(seen.filter { $0 == 401 || $0 == 429 }.count, attempts, "\(seen)")
    }

    func testFullHashingSlotsAnswer503WithRetryAfterAndCountNothing() throws {
        let slots = HashingSlots(count: 1, waitSeconds: 0)
        let world = try TestWorld(hasher: PasswordHasher(cost: .minimum, slots: slots))
        let user = try world.user("busy")
        XCTAssertTrue(slots.tryAcquire(), "the test holds the only slot")
        for _ in 0..<(world.settings.loginFailuresPerAccount + 2) {
            let busy = post(world, "/api/v1/auth/login", credentials(user.email, "correct horse"))
            XCTAssertEqual(busy.status, 503, busy.bodyText)
            XCTAssertEqual(code(busy), "sign_in_busy")
            XCTAssertNotNil(busy.header("Retry-After"))
        }
        let signUp = post(world, "/api/v1/auth/register", credentials("newcomer@example.com", "long enough"))
        XCTAssertEqual(signUp.status, 503)
        XCTAssertEqual(code(signUp), "sign_in_busy")
        XCTAssertNil(try world.app.accounts.user(email: "newcomer@example.com", on: world.db), "nothing was made")
        slots.release()
        XCTAssertEqual(post(world, "/api/v1/auth/login", credentials(user.email, "correct horse")).status, 200,
                       "refused attempts were never tried, so they do not count towards the lockout")
    }

    // MARK: - Item 7: the lockout is per account and address

    func testWrongPasswordsFromOneAddressDoNotLockTheAccountOutElsewhere() throws {
        let world = try TestWorld()
        let user = try world.user("admin")
        for _ in 0..<(world.settings.loginFailuresPerAccount + 2) {
            let answer = post(world, "/api/v1/auth/login", credentials(user.email, "wrong guess"), from: "203.0.113.9")
            XCTAssertTrue([401, 429].contains(answer.status), answer.bodyText)
        }
        XCTAssertEqual(post(world, "/api/v1/auth/login", credentials(user.email, "correct horse"), from: "198.51.100.4").status, 200,
                       "the owner signs in from their own address")
        let locked = post(world, "/api/v1/auth/login", credentials(user.email, "correct horse"), from: "203.0.113.9")
        XCTAssertEqual(locked.status, 429)
        XCTAssertEqual(code(locked), "too_many_login_attempts")
    }

    func testOneAddressGuessingAcrossAccountsMeetsItsOwnLimit() throws {
        let world = try TestWorld { $0.loginFailuresPerAddress = 4 }
        let victim = try world.user("victim")
        for index in 0..<4 {
            XCTAssertEqual(post(world, "/api/v1/auth/login", credentials("guess\(index)@example.com", "wrong guess"), from: "203.0.113.9").status, 401)
        }
        let refused = post(world, "/api/v1/auth/login", credentials(victim.email, "correct horse"), from: "203.0.113.9")
        XCTAssertEqual(refused.status, 429)
        XCTAssertEqual(code(refused), "too_many_login_attempts")
        XCTAssertEqual(post(world, "/api/v1/auth/login", credentials(victim.email, "correct horse"), from: "198.51.100.4").status, 200)
    }

    // MARK: - Item 8: JSON only, and sign-up does not tell who has an account

    func testSignInAndSignUpTakeJSONOnly() throws {
        let world = try TestWorld { $0.signupsPerAddressPerHour = 2 }  // one for the world's own account
        let user = try world.user("typed")
        for type in [nil, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp"] {
            let headers = type.map { ["content-type": $0] } ?? [:]
            let login = post(world, "/api/v1/auth/login", credentials(user.email, "correct horse"), headers: headers)
            XCTAssertEqual(login.status, 415, "\(type ?? "no type")")
            XCTAssertEqual(code(login), "unsupported_media_type")
            XCTAssertFalse(login.headers.contains { $0.0 == "Set-Cookie" })
            let register = post(world, "/api/v1/auth/register", credentials("simple@example.com", "long enough"), headers: headers)
            XCTAssertEqual(register.status, 415, "\(type ?? "no type")")
            XCTAssertEqual(code(register), "unsupported_media_type")
        }
        XCTAssertNil(try world.app.accounts.user(email: "simple@example.com", on: world.db))
        let withCharset = ["content-type": "Application/JSON; charset=utf-8"]
        XCTAssertEqual(post(world, "/api/v1/auth/register", credentials("simple@example.com", "long enough"), headers: withCharset).status, 201,
                       "the refused sign-ups did not count against the address")
        XCTAssertEqual(post(world, "/api/v1/auth/login", credentials(user.email, "correct horse"), headers: withCharset).status, 200)
    }

    func testSignUpAnswersTheSameForATakenEmailAndChangesNothing() throws {
        let world = try TestWorld()
        let existing = try world.user("existing")
        let fresh = post(world, "/api/v1/auth/register", credentials("fresh@example.com", "long enough"))
        let taken = post(world, "/api/v1/auth/register", credentials(existing.email.uppercased(), "another one"))
        XCTAssertEqual(fresh.status, 201)
        XCTAssertEqual(taken.status, fresh.status)
        XCTAssertEqual(taken.bodyText, fresh.bodyText)
        XCTAssertEqual(fresh.bodyJSON?["status"]?.stringValue, "created")
        for answer in [fresh, taken] { XCTAssertFalse(answer.headers.contains { $0.0 == "Set-Cookie" }, "sign-up does not sign in") }
        XCTAssertEqual(post(world, "/api/v1/auth/login", credentials(existing.email, "another one")).status, 401)
        XCTAssertEqual(post(world, "/api/v1/auth/login", credentials(existing.email, "correct horse")).status, 200)
        XCTAssertEqual(post(world, "/api/v1/auth/login", credentials("fresh@example.com", "long enough")).status, 200)
    }

    // MARK: - Item 13: password change and sign out everywhere

    func testPasswordChangeEndsEveryOtherSessionAndKeepsThisOne() throws {
        let world = try TestWorld()
        let user = try world.user("changer")
        let here = signIn(world, user.email), elsewhere = signIn(world, user.email)
        let change = JSON.object([("current_password", .string("correct horse")), ("new_password", .string("battery staple"))])
        let forged = world.send("POST", "/api/v1/auth/password", json: change, headers: ["cookie": here["cookie"]!])
        XCTAssertEqual(forged.status, 403)
        XCTAssertEqual(code(forged), "csrf_failed")
        let changed = world.send("POST", "/api/v1/auth/password", json: change, headers: here)
        XCTAssertEqual(changed.status, 200, changed.bodyText)
        XCTAssertEqual(changed.bodyJSON?["other_sessions_ended"]?.intValue, 2, "the world's own sign-in and the other one")
        XCTAssertEqual(world.send("GET", "/api/v1/me", headers: here).status, 200, "this session stays")
        XCTAssertEqual(world.send("GET", "/api/v1/me", headers: elsewhere).status, 401, "every other session ended")
        XCTAssertEqual(world.send("GET", "/api/v1/me", as: user).status, 200, "API keys stay")
        XCTAssertEqual(post(world, "/api/v1/auth/login", credentials(user.email, "correct horse")).status, 401)
        XCTAssertEqual(post(world, "/api/v1/auth/login", credentials(user.email, "battery staple")).status, 200)
        XCTAssertEqual(try auditActions(world, userID: user.id), ["account.password_change"])
    }

    func testARefusedPasswordChangeChangesNothing() throws {
        let world = try TestWorld()
        let user = try world.user("careful")
        let here = signIn(world, user.email), elsewhere = signIn(world, user.email)
        let wrong = world.send("POST", "/api/v1/auth/password", json: .object([("current_password", .string("not my password")),
                                                                              ("new_password", .string("battery staple"))]), headers: here)
        XCTAssertEqual(wrong.status, 403)
        XCTAssertEqual(code(wrong), "current_password_wrong")
        let short = world.send("POST", "/api/v1/auth/password", json: .object([("current_password", .string("correct horse")),
                                                                              ("new_password", .string("short"))]), headers: here)
        XCTAssertEqual(short.status, 422)
        XCTAssertEqual(code(short), "password_too_short")
        XCTAssertEqual(world.send("GET", "/api/v1/me", headers: elsewhere).status, 200, "no session ended")
        XCTAssertEqual(post(world, "/api/v1/auth/login", credentials(user.email, "correct horse")).status, 200, "the password is the same")
        XCTAssertEqual(try auditActions(world, userID: user.id), [])
    }

    func testWrongCurrentPasswordsAreCountedLikeSignIns() throws {
        let world = try TestWorld()
        let user = try world.user("stolen")
        let here = signIn(world, user.email)
        let guess = JSON.object([("current_password", .string("a guess")), ("new_password", .string("battery staple"))])
        for _ in 0..<world.settings.loginFailuresPerAccount {
            XCTAssertEqual(world.send("POST", "/api/v1/auth/password", json: guess, headers: here).status, 403)
        }
        let locked = world.send("POST", "/api/v1/auth/password", json: .object([("current_password", .string("correct horse")),
                                                                               ("new_password", .string("battery staple"))]), headers: here)
        XCTAssertEqual(locked.status, 429, "a stolen session cannot guess the password for ever")
        XCTAssertEqual(code(locked), "too_many_login_attempts")
    }

    func testSignOutEverywhereEndsEverySessionAndKeepsKeys() throws {
        let world = try TestWorld()
        let user = try world.user("leaver")
        let here = signIn(world, user.email), elsewhere = signIn(world, user.email)
        XCTAssertEqual(world.send("POST", "/api/v1/auth/logout-all", headers: ["cookie": here["cookie"]!]).status, 403, "needs the token")
        let out = world.send("POST", "/api/v1/auth/logout-all", headers: here)
        XCTAssertEqual(out.status, 200, out.bodyText)
        XCTAssertEqual(out.bodyJSON?["sessions_ended"]?.intValue, 3)
        XCTAssertTrue(out.headers.contains { $0.0 == "Set-Cookie" && $0.1.contains("Max-Age=0") })
        XCTAssertEqual(world.send("GET", "/api/v1/me", headers: here).status, 401)
        XCTAssertEqual(world.send("GET", "/api/v1/me", headers: elsewhere).status, 401)
        XCTAssertEqual(world.send("GET", "/api/v1/me", as: user).status, 200, "API keys stay")
        XCTAssertEqual(try auditActions(world, userID: user.id), ["account.sign_out_everywhere"])
    }

    func testTheNewRefusalsHaveMessagesInBothLanguages() {
        for error in [AppError.signInBusy, .currentPasswordWrong] {
            for language in Language.allCases {
                XCTAssertTrue(Messages.has("error.\(error.code)", language), "error.\(error.code) missing in \(language)")
            }
        }
    }

    // MARK: - Item 14: the operators' commands audit in the same transaction; old counters go

    func testCommandLineCreditMovesLeaveExactlyOneAuditEntryAndAFailedOneNone() throws {
        let world = try TestWorld()
        let user = try world.user("granted")
        let administration = Administration(clock: world.clock.clock)
        let after = try administration.move(.grant, amount: 700, email: user.email.uppercased(), reason: "support ticket 12",
                                            by: .commandLine(), on: world.db)
        XCTAssertEqual(after.creditsAvailable, 700)
        XCTAssertEqual(try auditActions(world, userID: user.id), ["credits.grant"])
        XCTAssertThrowsError(try administration.move(.deduct, amount: 701, email: user.email, reason: "too much", by: .commandLine(), on: world.db)) {
            XCTAssertEqual(($0 as? AppError)?.code, "insufficient_credits")
        }
        XCTAssertThrowsError(try administration.move(.grant, amount: 5, email: "nobody@example.com", reason: "typo", by: .commandLine(), on: world.db))
        XCTAssertEqual(try auditActions(world, userID: user.id), ["credits.grant"], "a refused move writes no audit entry")
        XCTAssertEqual(world.balance(user).available, 700)
        try administration.move(.deduct, amount: 200, email: user.email, reason: "refund reversed", by: .commandLine(), on: world.db)
        XCTAssertEqual(try auditActions(world, userID: user.id), ["credits.deduct", "credits.grant"])
        try world.assertLedgerClean()
    }

    func testAccountsMadeFromTheCommandLineAreAudited() throws {
        let world = try TestWorld()
        let made = try world.app.accounts.register(email: "Operator@Example.com", password: "long enough", isAdmin: true,
                                                   auditedBy: .commandLine(), on: world.db)
        XCTAssertEqual(try auditActions(world, userID: made.id), ["account.create"])
        XCTAssertThrowsError(try world.app.accounts.register(email: "operator@example.com", password: "long enough",
                                                             auditedBy: .commandLine(), on: world.db))
        XCTAssertEqual(try auditActions(world, userID: made.id), ["account.create"])
    }

    func testPruningDeletesEndedRateLimitWindowsAndKeepsCurrentOnes() throws {
        let world = try TestWorld()
        let limiter = RateLimiter(clock: world.clock.clock)
        let hourly = RateLimiter.Rule(name: "test-hourly", limit: 10, windowSeconds: 3_600)
        try limiter.hit(hourly, key: "old", on: world.db)
        world.clock.advance(36 * 3_600)
        try limiter.hit(hourly, key: "current", on: world.db)
        XCTAssertEqual(try limiter.prune(on: world.db), 1)
        let left = try world.db.rows("SELECT count(*) AS n FROM rate_limit_counters").first!.int("n")
        XCTAssertEqual(left, 1)
        XCTAssertEqual(try limiter.count(hourly, key: "current", on: world.db), 1)
    }
}
