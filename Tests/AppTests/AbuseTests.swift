@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

@Suite("Abuse: sign-in limits, sessions, creation limits, moderation, security headers")
struct AbuseTests {
    func login(_ t: TestContext, _ email: String, _ password: String, from address: String? = nil) async throws -> TestingHTTPResponse {
        var headers: HTTPHeaders = [:]
        if let address { headers.add(name: "X-Forwarded-For", value: address) }
        return try await t.request(.POST, "/api/v1/auth/login", json: #"{"email": "\#(email)", "password": "\#(password)"}"#,
                                   headers: headers)
    }

    @Test("five wrong passwords lock the account's sign-in for the window with 429 and Retry-After, even for the right one")
    func loginLimitPerAccount() async throws {
        try await withTestApp { t in
            let alice = try await t.makeUser()
            let bob = try await t.makeUser()
            for _ in 0..<5 {
                #expect(try await login(t, alice.email, "wrong-password").status == .unauthorized)
            }
            let locked = try await login(t, alice.email, "password123")
            #expect(locked.status == .tooManyRequests)
            #expect(locked.errorCode == "too_many_login_attempts")
            let retryAfter = try #require(locked.headers.first(name: .retryAfter).flatMap(Int.init))
            #expect((1...900).contains(retryAfter))
            #expect(locked.json["error"]["message"].string?.contains("phút") == true)
            #expect(locked.headers[.setCookie].isEmpty, "a refused sign-in starts no session")

            // Another account from the same address is not affected.
            #expect(try await login(t, bob.email, "password123").status == .ok)
            // The email is matched however it is typed.
            #expect(try await login(t, alice.email.uppercased(), "password123").status == .tooManyRequests)

            t.clock.advance(by: 15 * 60)
            #expect(try await login(t, alice.email, "password123").status == .ok)
        }
    }

    @Test("the sign-in page says so too, in Vietnamese, with Retry-After, and signs nobody in")
    func loginLimitOnThePage() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            for _ in 0..<5 { _ = try await login(t, user.email, "wrong-password") }
            let page = try await t.tester.sendRequest(.GET, "/signin", headers: ["Accept": "text/html"])
            let cookie = try TestContext.sessionCookie(page)
            let token = try TestContext.csrfToken(in: page.body.string)
            let refused = try await t.tester.sendRequest(.POST, "/signin", headers: [
                "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
            ], body: ByteBuffer(string: "email=\(user.email)&password=password123&csrf_token=\(token)"))
            #expect(refused.status == .tooManyRequests)
            #expect(refused.headers.first(name: .retryAfter) != nil)
            #expect(refused.body.string.contains("Bạn đã đăng nhập sai quá nhiều lần"))
            #expect(try await t.tester.sendRequest(.GET, "/studio", headers: ["Cookie": cookie]).status == .seeOther)
        }
    }

    @Test("one address guessing across many accounts is stopped, and other addresses are not")
    func loginLimitPerAddress() async throws {
        try await withTestApp(adjust: { $0.trustsForwardedFor = true }) { t in
            let alice = try await t.makeUser()
            for index in 0..<20 {
                #expect(try await login(t, "victim\(index)@phim.test", "guess", from: "203.0.113.9").status == .unauthorized)
            }
            let refused = try await login(t, alice.email, "password123", from: "203.0.113.9")
            #expect(refused.status == .tooManyRequests)
            #expect(refused.errorCode == "too_many_login_attempts")
            #expect(try await login(t, alice.email, "password123", from: "198.51.100.4").status == .ok)
        }
    }

    @Test("without a trusted proxy, X-Forwarded-For cannot dodge the address limit")
    func forwardedForIgnoredByDefault() async throws {
        try await withTestApp { t in
            let alice = try await t.makeUser()
            for index in 0..<20 {
                _ = try await login(t, "victim\(index)@phim.test", "guess", from: "203.0.113.\(index)")
            }
            #expect(try await login(t, alice.email, "password123", from: "198.51.100.4").status == .tooManyRequests)
        }
    }

    @Test("sign-up is limited per address and a refused sign-up makes no account")
    func signupLimit() async throws {
        try await withTestApp(adjust: { $0.limits.signupsPerAddressPerHour = 3 }) { t in
            for index in 0..<3 {
                let made = try await t.request(.POST, "/api/v1/auth/register",
                                               json: #"{"email": "new\#(index)@phim.test", "password": "password123"}"#)
                #expect(made.status == .created)
            }
            let refused = try await t.request(.POST, "/api/v1/auth/register",
                                              json: #"{"email": "new3@phim.test", "password": "password123"}"#,
                                              headers: ["Accept-Language": "en"])
            #expect(refused.status == .tooManyRequests)
            #expect(refused.errorCode == "too_many_signups")
            #expect(refused.json["error"]["message"].string?.contains("min") == true)
            #expect(try await User.query(on: t.app.db).filter(\.$email == "new3@phim.test").count() == 0)
        }
    }

    @Test("signing in replaces the session id: the id from before sign-in is worthless afterwards")
    func sessionRotatesAtSignIn() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let page = try await t.tester.sendRequest(.GET, "/signin", headers: ["Accept": "text/html"])
            let before = try TestContext.sessionCookie(page)
            let token = try TestContext.csrfToken(in: page.body.string)
            let signedIn = try await t.tester.sendRequest(.POST, "/signin", headers: [
                "Cookie": before, "Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
            ], body: ByteBuffer(string: "email=\(user.email)&password=password123&csrf_token=\(token)"))
            #expect(signedIn.status == .seeOther)
            let after = try TestContext.sessionCookie(signedIn)
            #expect(after != before)

            #expect(try await t.tester.sendRequest(.GET, "/api/v1/me", headers: ["Cookie": after]).status == .ok)
            // An attacker who planted `before` in the victim's browser gets nothing.
            #expect(try await t.tester.sendRequest(.GET, "/api/v1/me", headers: ["Cookie": before]).status == .unauthorized)
            // The token that went with the old session does not work with the new one.
            let forged = try await t.tester.sendRequest(.POST, "/api/v1/videos", headers: [
                "Cookie": after, "Content-Type": "application/json", CSRF.headerName: token,
            ], body: ByteBuffer(string: #"{"prompt": "A boat"}"#))
            #expect(forged.status == .forbidden)
            #expect(try await t.jobCount() == 0)
        }
    }

    @Test("creating too fast answers 429 rate_limited, holds nothing, and idempotent replays are free")
    func createRateLimit() async throws {
        try await withTestApp(adjust: { $0.limits.createsPerMinute = 3 }) { t in
            let user = try await t.makeUser()
            for index in 0..<3 {
                let key = "key-\(index)"
                #expect(try await t.createVideo(#"{"prompt": "Clip \#(index)"}"#, as: user, idempotencyKey: key).status == .accepted)
                // A retry of the same request is answered from the first and costs nothing.
                #expect(try await t.createVideo(#"{"prompt": "Clip \#(index)"}"#, as: user, idempotencyKey: key).status == .ok)
            }
            let before = try await t.balances(user)
            let refused = try await t.createVideo(#"{"prompt": "One too many"}"#, as: user)
            #expect(refused.status == .tooManyRequests)
            #expect(refused.errorCode == "rate_limited")
            #expect(refused.headers.first(name: .retryAfter).flatMap(Int.init).map { (1...60).contains($0) } == true)
            #expect(try await t.balances(user) == before)
            #expect(try await t.jobCount() == 3)
            #expect(await t.simulator.callCounts.createTask == 3)

            // Another user has a budget of their own.
            #expect(try await t.createVideo(#"{"prompt": "Bob's clip"}"#, as: try await t.makeUser()).status == .accepted)
            t.clock.advance(by: 60)
            #expect(try await t.createVideo(#"{"prompt": "A minute later"}"#, as: user).status == .accepted)
            try await t.verifyLedger()
        }
    }

    @Test("an account may have only so many unfinished videos; when one finishes there is room again")
    func unfinishedLimit() async throws {
        try await withTestApp(adjust: { $0.limits.maxUnfinishedJobs = 2 }) { t in
            let user = try await t.makeUser()
            _ = try await t.createTextVideo("First", as: user)
            _ = try await t.createTextVideo("Second", as: user)
            let before = try await t.balances(user)
            let refused = try await t.createVideo(#"{"prompt": "Third"}"#, as: user, idempotencyKey: "third")
            #expect(refused.status == .tooManyRequests)
            #expect(refused.errorCode == "too_many_unfinished_videos")
            #expect(refused.json["error"]["limit"].int == 2)
            #expect(try await t.balances(user) == before)
            #expect(try await t.jobCount() == 2)
            #expect(try await CreditEntry.query(on: t.app.db).filter(\.$kind == .hold).count() == 2)

            try await t.advance(by: 25) // both finish
            // The refused key made nothing, so it can be used again.
            #expect(try await t.createVideo(#"{"prompt": "Third"}"#, as: user, idempotencyKey: "third").status == .accepted)
            try await t.verifyLedger()
        }
    }

    @Test("a prompt with a blocked term is refused with 422 prompt_rejected before anything is held or sent")
    func blockedTerms() async throws {
        try await withTestApp(adjust: { $0.blockedTerms = ["bạo lực", "gore"] }) { t in
            let user = try await t.makeUser()
            for prompt in ["Cảnh BẠO LỰC trên phố", "A scene full of gore.", "canh bao luc o cho"] {
                let refused = try await t.createVideo(#"{"prompt": "\#(prompt)"}"#, as: user)
                #expect(refused.status == .unprocessableEntity, "\(prompt)")
                #expect(refused.errorCode == "prompt_rejected")
            }
            #expect(try await t.balances(user) == (100_000, 0))
            #expect(try await t.jobCount() == 0)
            #expect(await t.simulator.callCounts.createTask == 0)
            // Whole words only: "gorge" and "bão lụt" (a flood) are fine.
            _ = try await t.createTextVideo("A river gorge at dawn", as: user)
            _ = try await t.createTextVideo("Mưa bão lụt ở miền Trung", as: user)
        }
    }

    struct RefuseEverything: PromptModerator {
        func review(prompt: String) async throws -> ModerationVerdict { .rejected(term: "service said no") }
    }

    @Test("a moderation service plugged in through the interface decides, and costs nothing when it refuses")
    func pluggedInModerator() async throws {
        try await withTestApp { t in
            t.app.moderator = RefuseEverything()
            let user = try await t.makeUser()
            let refused = try await t.createVideo(#"{"prompt": "A calm lake"}"#, as: user)
            #expect(refused.errorCode == "prompt_rejected")
            #expect(try await t.balances(user) == (100_000, 0))
            #expect(try await t.jobCount() == 0)
        }
    }

    @Test("every response carries the security headers, with a policy that forbids inline script")
    func securityHeaders() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let session = try await t.signInWithForm(user)
            let responses = [
                try await t.tester.sendRequest(.GET, "/signin", headers: ["Accept": "text/html"]),
                try await t.tester.sendRequest(.GET, "/studio", headers: session.headers),
                try await t.tester.sendRequest(.GET, "/no-such-page", headers: ["Accept": "text/html"]),
                try await t.request(.GET, "/api/v1/me", as: user),
                try await t.tester.sendRequest(.GET, "/static/studio.js"),
            ]
            for response in responses {
                let policy = try #require(response.headers.first(name: "Content-Security-Policy"))
                #expect(policy.contains("script-src 'self'"))
                #expect(policy.contains("frame-ancestors 'none'"))
                #expect(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"))
                #expect(response.headers.first(name: "X-Frame-Options") == "DENY")
                #expect(response.headers.first(name: "X-Content-Type-Options") == "nosniff")
                #expect(response.headers.first(name: "Referrer-Policy") == "same-origin")
            }
            // The pages live within that policy: no inline script, handler attribute or style attribute.
            for page in responses.prefix(3).map(\.body.string) {
                #expect(page.range(of: #"<script(?![^>]*\bsrc=)"#, options: .regularExpression) == nil)
                #expect(page.range(of: #"\son[a-z]+\s*="#, options: [.regularExpression, .caseInsensitive]) == nil)
                #expect(page.range(of: #"\sstyle\s*="#, options: [.regularExpression, .caseInsensitive]) == nil)
            }
        }
    }

    @Test("blocked terms ignore case and diacritics and match whole words")
    func blockedTermMatching() async throws {
        let moderator = BlockedTermsModerator(terms: ["ass", "đánh nhau", "  "])
        #expect(try await moderator.review(prompt: "A class of students") == .allowed)
        #expect(try await moderator.review(prompt: "kick ASS") == .rejected(term: "ass"))
        #expect(try await moderator.review(prompt: "Hai người DANH NHAU!") == .rejected(term: "đánh nhau"))
        #expect(try await moderator.review(prompt: "đánh cờ, nhau thai") == .allowed)
    }
}
