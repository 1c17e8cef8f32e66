@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

/// A browser's session: its cookies and the anti-forgery token its pages carry.
struct BrowserSession: Sendable {
    var cookie: String
    var csrfToken: String

    var headers: HTTPHeaders { ["Cookie": cookie, "Accept": "text/html"] }
    var formHeaders: HTTPHeaders { ["Cookie": cookie, "Accept": "text/html", "Content-Type": "application/x-www-form-urlencoded"] }
}

extension TestContext {
    /// Opens the sign-in page and posts its form, as a browser does.
    func signInWithForm(_ user: TestUser, password: String = "password123") async throws -> BrowserSession {
        let page = try await tester.sendRequest(.GET, "/signin", headers: ["Accept": "text/html"])
        var session = BrowserSession(cookie: try Self.sessionCookie(page), csrfToken: try Self.csrfToken(in: page.body.string))
        let form = "email=\(user.email.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")&password=\(password)&csrf_token=\(session.csrfToken)"
        let posted = try await tester.sendRequest(.POST, "/signin", headers: [
            "Cookie": session.cookie, "Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
        ], body: ByteBuffer(string: form))
        guard posted.status == .seeOther, posted.headers.first(name: .location) == "/studio" else {
            throw TestSetupError("sign-in form failed: \(posted.status)")
        }
        // Signing in starts a new session with a new token; the studio page carries it.
        session.cookie = try Self.sessionCookie(posted)
        let studio = try await tester.sendRequest(.GET, "/studio", headers: ["Cookie": session.cookie, "Accept": "text/html"])
        session.csrfToken = try Self.csrfToken(in: studio.body.string)
        return session
    }

    static func sessionCookie(_ response: TestingHTTPResponse) throws -> String {
        guard let header = response.headers[.setCookie].first(where: { $0.hasPrefix("phim_session=") }),
              let pair = header.split(separator: ";").first else { throw TestSetupError("no session cookie") }
        return String(pair)
    }

    static func csrfToken(in html: String) throws -> String {
        guard let range = html.range(of: #"<meta name="csrf-token" content="([^"]+)">"#, options: .regularExpression) else {
            throw TestSetupError("no csrf-token meta tag")
        }
        return String(html[range].split(separator: "\"")[3])
    }
}

@Suite("The studio's pages")
struct StudioPageTests {
    @Test("a visitor who is not signed in is sent to the sign-in page, which is Vietnamese whatever the browser prefers")
    func signInFirst() async throws {
        try await withTestApp { t in
            let studio = try await t.tester.sendRequest(.GET, "/studio", headers: ["Accept": "text/html"])
            #expect(studio.status == .seeOther)
            #expect(studio.headers.first(name: .location) == "/signin")
            let page = try await t.tester.sendRequest(.GET, "/signin", headers: ["Accept": "text/html", "Accept-Language": "en-US,en;q=0.9"])
            #expect(page.status == .ok)
            #expect(page.body.string.contains(#"<html lang="vi">"#))
            #expect(page.body.string.contains(Localizer.shared.text("signin.heading", .vi)))
        }
    }

    @Test("the sign-in form checks the password and its anti-forgery token, and never signs in without both")
    func signInForm() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let page = try await t.tester.sendRequest(.GET, "/signin", headers: ["Accept": "text/html"])
            let cookie = try TestContext.sessionCookie(page)
            let token = try TestContext.csrfToken(in: page.body.string)
            let headers: HTTPHeaders = ["Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"]

            let forged = try await t.tester.sendRequest(.POST, "/signin", headers: headers,
                                                        body: ByteBuffer(string: "email=\(user.email)&password=password123&csrf_token=guess"))
            #expect(forged.status == .forbidden)
            #expect(forged.body.string.contains(Localizer.shared.text("error.csrf_failed", .vi)))

            let wrong = try await t.tester.sendRequest(.POST, "/signin", headers: headers,
                                                       body: ByteBuffer(string: "email=\(user.email)&password=nope-nope&csrf_token=\(token)"))
            #expect(wrong.status == .unauthorized)
            #expect(wrong.body.string.contains(Localizer.shared.text("error.invalid_credentials", .vi)))
            #expect(wrong.body.string.contains(#"value="\#(user.email)""#), "the email stays filled in")

            // Neither attempt signed the session in.
            #expect(try await t.tester.sendRequest(.GET, "/studio", headers: ["Cookie": cookie]).status == .seeOther)

            let session = try await t.signInWithForm(user)
            let studio = try await t.tester.sendRequest(.GET, "/studio", headers: session.headers)
            #expect(studio.status == .ok)
            #expect(studio.body.string.contains("100.000"), "the balance in the header, grouped the Vietnamese way")
        }
    }

    @Test("a change made with the session cookie needs the page's token; an API key needs none")
    func crossSiteRequestsAreRefused() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser(credits: 7_000)
            let session = try await t.signInWithForm(user)
            let body = ByteBuffer(string: #"{"prompt": "A lantern floats down the river"}"#)
            var headers: HTTPHeaders = ["Cookie": session.cookie, "Content-Type": "application/json"]

            let forged = try await t.tester.sendRequest(.POST, "/api/v1/videos", headers: headers, body: body)
            #expect(forged.status == .forbidden)
            #expect(forged.errorCode == "csrf_failed")
            headers.replaceOrAdd(name: CSRF.headerName, value: "not-the-token")
            #expect(try await t.tester.sendRequest(.POST, "/api/v1/videos", headers: headers, body: body).status == .forbidden)
            #expect(try await t.jobCount() == 0)
            #expect(try await t.balances(user) == (7_000, 0), "a refused request moves no credits")

            let signOut = try await t.tester.sendRequest(.POST, "/signout", headers: [
                "Cookie": session.cookie, "Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
            ], body: ByteBuffer(string: "csrf_token=wrong"))
            #expect(signOut.status == .forbidden)
            #expect(try await t.tester.sendRequest(.GET, "/studio", headers: session.headers).status == .ok, "still signed in")

            headers.replaceOrAdd(name: CSRF.headerName, value: session.csrfToken)
            #expect(try await t.tester.sendRequest(.POST, "/api/v1/videos", headers: headers, body: body).status == .accepted)
            #expect(try await t.request(.GET, "/api/v1/videos", as: user).status == .ok, "API keys work without a token")
        }
    }

    @Test("prompts are escaped wherever the studio shows them")
    func promptsAreEscaped() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let hostile = #"<script>alert(1)</script>" onmouseover="x"#
            let id = try await t.createTextVideo(hostile.replacingOccurrences(of: "\"", with: "\\\""), as: user)
            let session = try await t.signInWithForm(user)
            for path in ["/studio", "/studio/cards/\(id.uuidString)"] {
                let page = try await t.tester.sendRequest(.GET, path, headers: session.headers)
                #expect(page.status == .ok)
                #expect(!page.body.string.contains("<script>alert(1)"), "\(path) shows markup as text")
                #expect(!page.body.string.contains(#"" onmouseover="x""#), "\(path) keeps attributes closed")
                #expect(page.body.string.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot; onmouseover=&quot;x"))
            }
        }
    }

    @Test("the studio shows a person only their own videos, and a card of someone else's is a 404")
    func ownVideosOnly() async throws {
        try await withTestApp { t in
            let alice = try await t.makeUser()
            let bob = try await t.makeUser()
            let alicesVideo = try await t.createTextVideo("Alice's secret garden at dawn", as: alice)
            let bobs = try await t.signInWithForm(bob)

            let studio = try await t.tester.sendRequest(.GET, "/studio", headers: bobs.headers)
            #expect(!studio.body.string.contains("Alice's secret garden") && !studio.body.string.contains(alicesVideo.uuidString))
            #expect(studio.body.string.contains(Localizer.shared.text("empty.heading", .vi)))
            #expect(try await t.tester.sendRequest(.GET, "/studio/cards/\(alicesVideo.uuidString)", headers: bobs.headers).status == .notFound)
            let more = try await t.tester.sendRequest(.GET, "/studio/cards", headers: bobs.headers)
            #expect(more.status == .ok && !more.body.string.contains(alicesVideo.uuidString))
        }
    }

    @Test("the live price comes from the price table, and a failed video's card says the credits came back")
    func priceAndCards() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let row = try #require(try await Price.query(on: t.app.db)
                .filter(\.$model == VideoModel.sora2TextToVideo.rawValue).filter(\.$durationSeconds == 10).first())
            row.credits = 4_321
            try await row.save(on: t.app.db)
            let failed = try await t.createTextVideo("A cat jumps the fence #fail", as: user)
            try await t.advance(by: 60)
            #expect(try await t.job(failed).status == .failed)

            let session = try await t.signInWithForm(user)
            let page = try await t.tester.sendRequest(.GET, "/studio", headers: session.headers).body.string
            #expect(page.contains("&quot;credits&quot;:4321"), "the composer's price table is the stored one")
            let card = try await t.tester.sendRequest(.GET, "/studio/cards/\(failed.uuidString)", headers: session.headers).body.string
            #expect(card.contains(#"data-status="failed""#))
            #expect(card.contains(Localizer.shared.text("card.refunded", .vi)))
            #expect(card.contains(Localizer.shared.text("failure.provider_failed", .vi)))
        }
    }

    @Test("the language switch turns pages English, returns to the same page, and never redirects off the site")
    func languageSwitch() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let session = try await t.signInWithForm(user)
            func choose(_ lang: String, next: String) async throws -> TestingHTTPResponse {
                try await t.tester.sendRequest(.POST, "/language", headers: [
                    "Cookie": session.cookie, "Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
                ], body: ByteBuffer(string: "lang=\(lang)&next=\(next)&csrf_token=\(session.csrfToken)"))
            }
            let english = try await choose("en", next: "/credits")
            #expect(english.status == .seeOther)
            #expect(english.headers.first(name: .location) == "/credits")
            let languageCookie = try #require(english.headers[.setCookie].first { $0.hasPrefix("phim_lang=en") }?.split(separator: ";").first)
            let page = try await t.tester.sendRequest(.GET, "/studio", headers: ["Cookie": "\(session.cookie); \(languageCookie)"])
            #expect(page.body.string.contains(#"<html lang="en">"#))
            #expect(page.body.string.contains(Localizer.shared.text("composer.submit", .en)))
            #expect(page.body.string.contains("100,000"))

            #expect(try await choose("en", next: "//evil.example/phish").headers.first(name: .location) == "/")
            #expect(try await choose("en", next: "https://evil.example").headers.first(name: .location) == "/")
        }
    }

    @Test("the API keys page makes a key shown once, lists it by its first characters, and revokes it after asking")
    func apiKeysPage() async throws {
        try await withTestApp { t in
            let alice = try await t.makeUser("alice@phim.test")
            let bob = try await t.makeUser("bob@phim.test")
            let session = try await t.signInWithForm(alice)
            func post(_ path: String, _ form: String, as browser: BrowserSession) async throws -> TestingHTTPResponse {
                try await t.tester.sendRequest(.POST, path, headers: [
                    "Cookie": browser.cookie, "Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
                ], body: ByteBuffer(string: form + "&csrf_token=\(browser.csrfToken)"))
            }

            #expect(try await t.tester.sendRequest(.GET, "/keys").status == .seeOther)
            let made = try await post("/keys", "name=shop%20%3Cb%3Ebot%3C%2Fb%3E", as: session)
            #expect(made.status == .ok)
            #expect(made.headers.first(name: .cacheControl) == "no-store")
            let html = made.body.string
            let keyRange = try #require(html.range(of: #"value="phim_[A-Za-z0-9_-]+""#, options: .regularExpression))
            let key = String(html[keyRange].dropFirst(7).dropLast())
            #expect(html.contains("shop &lt;b&gt;bot&lt;/b&gt;") && !html.contains("<b>bot</b>"))
            var program = alice
            program.apiKey = key
            #expect(try await t.request(.GET, "/api/v1/me", as: program).status == .ok)

            // Listed later by its first characters only.
            let listed = try await t.tester.sendRequest(.GET, "/keys", headers: session.headers).body.string
            #expect(!listed.contains(key) && listed.contains(String(key.prefix(12))))
            let record = try #require(try await APIKey.query(on: t.app.db).filter(\.$keyPrefix == String(key.prefix(12))).first())
            let id = try record.requireID()

            // Asking first: the confirmation names the key; nothing is revoked yet.
            let asking = try await t.tester.sendRequest(.GET, "/keys?revoke=\(id)", headers: session.headers).body.string
            #expect(asking.contains("confirm-revoke") && asking.contains(Localizer.shared.text("keys.confirm_body", .vi)))
            #expect(try await t.request(.GET, "/api/v1/me", as: program).status == .ok)

            // Without the page's token, or as Bob, nothing happens.
            var forged = session
            forged.csrfToken = "forged"
            #expect(try await post("/keys/\(id)/revoke", "x=1", as: forged).status == .forbidden)
            let bobSession = try await t.signInWithForm(bob)
            #expect(try await post("/keys/\(id)/revoke", "x=1", as: bobSession).status == .notFound)
            #expect(try await t.request(.GET, "/api/v1/me", as: program).status == .ok)

            let revoked = try await post("/keys/\(id)/revoke", "x=1", as: session)
            #expect(revoked.status == .seeOther && revoked.headers.first(name: .location) == "/keys")
            #expect(try await t.request(.GET, "/api/v1/me", as: program).status == .unauthorized)
            let after = try await t.tester.sendRequest(.GET, "/keys", headers: session.headers).body.string
            #expect(after.contains(Localizer.shared.text("keys.revoked", .vi)))
        }
    }

    @Test("templates hold no words of their own, and every key they and the script use is translated")
    func everyWordIsTranslated() throws {
        let directory = WebResources.viewsDirectory
        let templates = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".leaf") }
        #expect(templates.count >= 8)
        let tables = Localizer.shared.tables
        var usedKeys: Set<String> = []
        for name in templates {
            let source = try String(contentsOfFile: directory + name, encoding: .utf8)
            usedKeys.formUnion(Self.matches(of: #"#t\("([^"]+)"\)"#, in: source))
            // Words a person reads: text between tags, and the attributes browsers show.
            var text = source.replacingOccurrences(of: #"<svg[\s\S]*?</svg>"#, with: "", options: .regularExpression)
            for attribute in ["placeholder", "title", "aria-label", "alt", "data-less"] {
                for value in Self.matches(of: attribute + #"="((?:#[a-z]*\("[^"]*"\)|#\([^)]*\)|[^"])*)""#, in: text) {
                    let hasWords = Self.strippingLeaf(value).contains { $0.isLetter }
                    #expect(!hasWords, "\(name): \(attribute)=\"\(value)\" is not from the translation files")
                }
            }
            text = text.replacingOccurrences(of: #"<[^>]*>"#, with: " ", options: .regularExpression)
            let lines = Self.strippingLeaf(text).split(separator: "\n").filter { line in line.contains { $0.isLetter } }
            #expect(lines.isEmpty, "\(name) has words outside #t(): \(lines)")
        }
        let script = try String(contentsOfFile: WebResources.publicDirectory + "static/studio.js", encoding: .utf8)
        usedKeys.formUnion(Self.matches(of: #"text\["([a-z_.]+)"\]"#, in: script))
        #expect(usedKeys.contains("js.created") && usedKeys.contains("composer.submit"))
        for language in Language.allCases {
            let missing = usedKeys.filter { tables[language]?[$0] == nil }.sorted()
            #expect(missing.isEmpty, "\(language) lacks \(missing)")
        }
    }

    static func matches(of pattern: String, in text: String) -> [String] {
        let regex = try! NSRegularExpression(pattern: pattern)
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
            Range($0.range(at: 1), in: text).map { String(text[$0]) }
        }
    }

    /// Removes Leaf's tags and expressions: `#t("...")`, `#(...)`, `#if(...):`, `#endfor` and the like.
    static func strippingLeaf(_ text: String) -> String {
        text.replacingOccurrences(of: #"#[a-zA-Z]*\((?:[^()"]|"[^"]*"|\([^()]*\))*\):?"#, with: " ", options: .regularExpression)
            .replacingOccurrences(of: #"#(?:end[a-z]+|else:?)"#, with: " ", options: .regularExpression)
    }
}
