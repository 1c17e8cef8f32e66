import Foundation
import PhimCore
import PhimServer
import PhimSupport
import XCTest

/// Guessing passwords, mass sign-ups and runaway scripts meet limits counted in the database.
final class AbuseTests: XCTestCase {
    func credentials(_ email: String, _ password: String) -> JSON {
        .object([("email", .string(email)), ("password", .string(password))])
    }

    func testWrongPasswordsLockTheAccountForTheRestOfTheWindowEvenForTheRightOne() throws {
        let world = try TestWorld()
        let user = try world.user("target")
        for _ in 0..<5 {
            XCTAssertEqual(world.send("POST", "/api/v1/auth/login", json: credentials(user.email, "wrong guess")).status, 401)
        }
        let locked = world.send("POST", "/api/v1/auth/login", json: credentials(user.email, "correct horse"))
        XCTAssertEqual(locked.status, 429)
        XCTAssertEqual(locked.bodyJSON?["error"]?["code"]?.stringValue, "too_many_login_attempts")
        XCTAssertNotNil(locked.header("Retry-After"))
        world.clock.advance(901)
        XCTAssertEqual(world.send("POST", "/api/v1/auth/login", json: credentials(user.email, "correct horse")).status, 200)
    }

    func testSignUpsPerAddressAreLimitedButMistakesDoNotCount() throws {
        let world = try TestWorld { $0.signupsPerAddressPerHour = 2 }
        for _ in 0..<3 { XCTAssertEqual(world.send("POST", "/api/v1/auth/register", json: credentials("not-an-email", "long enough")).status, 422) }
        XCTAssertEqual(world.send("POST", "/api/v1/auth/register", json: credentials("a@example.com", "long enough")).status, 201)
        XCTAssertEqual(world.send("POST", "/api/v1/auth/register", json: credentials("b@example.com", "long enough")).status, 201)
        let third = world.send("POST", "/api/v1/auth/register", json: credentials("c@example.com", "long enough"))
        XCTAssertEqual(third.status, 429)
        XCTAssertEqual(third.bodyJSON?["error"]?["code"]?.stringValue, "too_many_signups")
        XCTAssertNil(try world.app.accounts.user(email: "c@example.com", on: world.db))
    }

    func testCreatesPerMinuteAreLimitedAndAnIdempotentRetryIsFree() throws {
        let world = try TestWorld { $0.createsPerMinute = 2 }
        let user = try world.user("script", credits: 50_000)
        XCTAssertEqual(world.createVideo(user, key: "k1").status, 202)
        XCTAssertEqual(world.createVideo(user, key: "k2").status, 202)
        XCTAssertEqual(world.createVideo(user, key: "k1").status, 200, "a retry costs nothing")
        let third = world.createVideo(user, key: "k3")
        XCTAssertEqual(third.status, 429)
        XCTAssertEqual(third.bodyJSON?["error"]?["code"]?.stringValue, "rate_limited")
        XCTAssertEqual(world.balance(user).held, 2 * TestWorld.price, "a refused create holds nothing")
        world.clock.advance(60)
        XCTAssertEqual(world.createVideo(user, key: "k3").status, 202)
        try world.assertLedgerClean()
    }

    func testBlockedTermsRefusePromptsBeforeAnythingIsHeld() throws {
        let world = try TestWorld { $0.blockedTerms = ["bạo lực", "gore"] }
        let user = try world.user("writer", credits: 10_000)
        for prompt in ["Cảnh BAO LUC trên phố", "lots of Gore!"] {
            let refused = world.createVideo(user, prompt: prompt)
            XCTAssertEqual(refused.status, 422, prompt)
            XCTAssertEqual(refused.bodyJSON?["error"]?["code"]?.stringValue, "prompt_rejected")
        }
        XCTAssertEqual(world.createVideo(user, prompt: "a gorgeous sunset over the bay").status, 202, "whole words only")
        XCTAssertEqual(world.balance(user).held, TestWorld.price)
        let quote = world.send("POST", "/api/v1/videos/quote", json: .object([("prompt", .string("gore"))]), as: user)
        XCTAssertEqual(quote.bodyJSON?["error"]?["code"]?.stringValue, "prompt_rejected")
    }
}
