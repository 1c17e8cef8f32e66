@testable import App
import Fluent
import Foundation
import Testing
import VaporTesting

/// The operator's console: credits moved with a reason, accounts disabled, prices, every
/// account's videos, provider health, every action in the audit log, the ledger exported.
@Suite("Admin console: accounts, credits, prices, videos, provider health, audit log, ledger export")
struct AdminConsoleTests {
    @Test("an admin grants and deducts with a reason; each action is in the ledger and the audit log; refusals change nothing")
    func moveCredits() async throws {
        try await withTestApp { t in
            let admin = try await t.makeAdmin()
            let user = try await t.makeUser("customer.one@phim.test", credits: 1000)
            let path = "/admin/users/\(user.id.uuidString.lowercased())"

            // To anyone but an admin these pages do not exist, and their forms do nothing.
            let visitor = try await t.signInWithForm(user)
            #expect(try await t.tester.sendRequest(.GET, "/admin/users", headers: visitor.headers).status == .notFound)
            let sneaky = try await t.post("\(path)/credits", "direction=grant&amount=500&reason=self", as: visitor)
            #expect(sneaky.status == .notFound)
            #expect(try await t.balances(user).available == 1000)

            let operator_ = try await t.signInWithForm(admin)
            let list = try await t.tester.sendRequest(.GET, "/admin/users?q=customer.one", headers: operator_.headers)
            #expect(list.status == .ok && list.body.string.contains("customer.one@phim.test"))
            #expect(!(try await t.tester.sendRequest(.GET, "/admin/users?q=%25", headers: operator_.headers).body.string
                .contains("customer.one@phim.test")), "LIKE's wildcard in the query is taken literally")

            let granted = try await t.post("\(path)/credits", "direction=grant&amount=250&reason=Bonus+for+feedback", as: operator_)
            #expect(granted.status == .seeOther && granted.headers.first(name: .location) == "\(path)?done=granted")
            #expect(try await t.balances(user).available == 1250)

            // Refused: more than the spendable balance, no reason, not a number, zero.
            let refusals: [(form: String, code: String, status: HTTPStatus)] = [
                ("direction=deduct&amount=2000&reason=Too+much", "insufficient_credits", .paymentRequired),
                ("direction=grant&amount=10&reason=+++", "reason_required", .unprocessableEntity),
                ("direction=grant&amount=ten&reason=x", "invalid_amount", .unprocessableEntity),
                ("direction=deduct&amount=0&reason=x", "invalid_amount", .unprocessableEntity),
            ]
            for (form, code, status) in refusals {
                let refused = try await t.post("\(path)/credits", form, as: operator_)
                #expect(refused.status == status, "\(form)")
                #expect(refused.body.string.contains(Localizer.shared.text("error.\(code)", .vi).prefix(12)), "\(form)")
            }
            #expect(try await t.balances(user).available == 1250)

            let deducted = try await t.post("\(path)/credits", "direction=deduct&amount=50&reason=Chargeback+%2342", as: operator_)
            #expect(deducted.status == .seeOther)
            #expect(try await t.balances(user) == (1200, 0))

            let actions = try await AdminAction.query(on: t.app.db).sort(\.$createdAt).sort(\.$action).all()
            #expect(actions.count == 2, "refused actions are not logged")
            let grant = try #require(actions.first { $0.action == .grantCredits })
            #expect(grant.actor == admin.email && grant.actorID == admin.id && grant.targetUserID == user.id)
            #expect(grant.before == #"{"credits_available":1000}"# && grant.after == #"{"credits_available":1250}"#)
            #expect(grant.reason == "Bonus for feedback")
            let deduct = try #require(actions.first { $0.action == .deductCredits })
            #expect(deduct.before == #"{"credits_available":1250}"# && deduct.after == #"{"credits_available":1200}"#)
            let entries = try await CreditEntry.query(on: t.app.db).filter(\.$user.$id == user.id).filter(\.$kind ~~ [.grant, .deduct]).all()
            #expect(Set(entries.map { "\($0.kind.rawValue) \($0.availableDelta) \($0.reason ?? "")" })
                    == ["grant 1000 test", "grant 250 Bonus for feedback", "deduct -50 Chargeback #42"])

            let page = try await t.tester.sendRequest(.GET, "\(path)?done=deducted", headers: operator_.headers)
            #expect(page.body.string.contains(Localizer.shared.text("admin.done.deducted", .vi)))
            #expect(page.body.string.contains("Chargeback #42"))
            let audit = try await t.tester.sendRequest(.GET, "/admin/audit", headers: operator_.headers)
            #expect(audit.body.string.contains("Bonus for feedback") && audit.body.string.contains(admin.email))
            try await t.verifyLedger()
        }
    }

    @Test("a disabled account cannot sign in or use its keys; its running video still completes and is charged")
    func disableAccount() async throws {
        try await withTestApp { t in
            let admin = try await t.makeAdmin()
            let user = try await t.makeUser(credits: 10_000)
            let signedIn = try await t.signInWithForm(user)
            let video = try await t.createTextVideo("A lighthouse at night #slow", as: user)
            let price = try await t.job(video).priceCredits
            let path = "/admin/users/\(user.id.uuidString.lowercased())"
            let operator_ = try await t.signInWithForm(admin)

            #expect(try await t.post("\(path)/status", "disable=1&reason=", as: operator_).status == .unprocessableEntity)
            #expect(try await t.request(.GET, "/api/v1/videos", as: user).status == .ok, "a refused disable changes nothing")
            let own = try await t.post("/admin/users/\(admin.id.uuidString.lowercased())/status", "disable=1&reason=oops", as: operator_)
            #expect(own.status == .unprocessableEntity && own.body.string.contains(Localizer.shared.text("error.cannot_disable_self", .vi)))

            let disabled = try await t.post("\(path)/status", "disable=1&reason=Payment+dispute", as: operator_)
            #expect(disabled.status == .seeOther)

            let api = try await t.request(.GET, "/api/v1/videos", as: user)
            #expect(api.status == .forbidden && api.json["error"]["code"].string == "account_disabled")
            let studio = try await t.tester.sendRequest(.GET, "/studio", headers: signedIn.headers)
            #expect(studio.status == .seeOther, "the open session is signed out")
            let signIn = try await t.tester.sendRequest(.POST, "/api/v1/auth/login", headers: ["Content-Type": "application/json"],
                                                        body: ByteBuffer(string: #"{"email": "\#(user.email)", "password": "password123"}"#))
            #expect(signIn.status == .forbidden && signIn.json["error"]["code"].string == "account_disabled")
            let wrongPassword = try await t.tester.sendRequest(.POST, "/api/v1/auth/login", headers: ["Content-Type": "application/json"],
                                                               body: ByteBuffer(string: #"{"email": "\#(user.email)", "password": "not-the-one"}"#))
            #expect(wrongPassword.status == .unauthorized, "without the password nobody learns the account is disabled")

            // The video made before goes on, and is charged as usual.
            try await t.advance(by: 200)
            let job = try await t.job(video)
            #expect(job.status == .completed && job.holdState == .settled)
            #expect(try await t.balances(user) == (10_000 - price, 0))

            #expect(try await t.post("\(path)/status", "disable=0&reason=Resolved", as: operator_).status == .seeOther)
            #expect(try await t.request(.GET, "/api/v1/videos", as: user).status == .ok)
            let actions = try await AdminAction.query(on: t.app.db).sort(\.$createdAt).all().map(\.action)
            #expect(actions == [.disableAccount, .enableAccount])
            try await t.verifyLedger()
        }
    }

    @Test("a price change applies to new videos only: a held video keeps its price; refusals change nothing")
    func changePrice() async throws {
        try await withTestApp { t in
            let admin = try await t.makeAdmin()
            let user = try await t.makeUser(credits: 50_000)
            let first = try await t.createTextVideo("A kite over the dunes #slow", as: user)
            let job = try await t.job(first)
            let row = try #require(try await Price.query(on: t.app.db).filter(\.$model == job.model)
                .filter(\.$durationSeconds == job.durationSeconds).filter(\.$quality == job.quality.rawValue).first())
            let oldPrice = row.credits
            let newPrice = oldPrice + 2_000
            let path = "/admin/prices/\(try row.requireID().uuidString.lowercased())"

            let visitor = try await t.signInWithForm(user)
            #expect(try await t.post(path, "credits=1", as: visitor).status == .notFound)
            let operator_ = try await t.signInWithForm(admin)
            for (form, status) in [("credits=0", HTTPStatus.unprocessableEntity), ("credits=lots", .unprocessableEntity)] {
                #expect(try await t.post(path, form, as: operator_).status == status, "\(form)")
            }
            #expect(try await t.post("/admin/prices/\(UUID().uuidString)", "credits=5", as: operator_).status == .notFound)
            #expect(try await Price.find(row.id, on: t.app.db)?.credits == oldPrice, "refusals change nothing")

            let changed = try await t.post(path, "credits=\(newPrice)&reason=Provider+raised+its+price", as: operator_)
            #expect(changed.status == .seeOther)
            let page = try await t.tester.sendRequest(.GET, "/admin/prices", headers: operator_.headers)
            #expect(page.body.string.contains(Formatting.credits(newPrice, .vi)))

            let quote = try await t.request(.POST, "/api/v1/videos/quote", as: user, json: #"{"prompt": "A kite"}"#)
            #expect(quote.json["price_credits"].int == newPrice)
            let second = try await t.createTextVideo("A second kite #slow", as: user)
            #expect(try await t.job(second).priceCredits == newPrice)
            #expect(try await t.job(first).priceCredits == oldPrice, "the earlier video keeps the price it was held at")
            try await t.advance(by: 200)
            #expect(try await t.balances(user) == (50_000 - oldPrice - newPrice, 0))

            let action = try #require(try await AdminAction.query(on: t.app.db).filter(\.$action == .setPrice).first())
            #expect(action.before == #"{"credits":\#(oldPrice)}"# && action.after == #"{"credits":\#(newPrice)}"#)
            #expect(action.target == "\(job.model) \(job.durationSeconds)s \(job.quality.rawValue)" && action.reason == "Provider raised its price")
            try await t.verifyLedger()
        }
    }

    @Test("the operator lists every account's videos by state and model, sees the stuck and the failed, and asks the provider about one")
    func jobsConsole() async throws {
        try await withTestApp { t in
            let admin = try await t.makeAdmin()
            let alice = try await t.makeUser(credits: 50_000)
            let bob = try await t.makeUser(credits: 50_000)
            let failed = try await t.createTextVideo("A storm at sea #fail", as: bob)
            try await t.advance(by: 30)
            #expect(try await t.job(failed).status == .failed)
            // Alice's video then hears nothing: its callbacks are lost and no reconciler runs.
            let stuck = try await t.createTextVideo("A glacier calving #slow", as: alice)
            t.clock.advance(by: 100)

            let visitor = try await t.signInWithForm(alice)
            #expect(try await t.tester.sendRequest(.GET, "/admin/jobs", headers: visitor.headers).status == .notFound)
            #expect(try await t.post("/admin/jobs/\(stuck.uuidString)/reconcile", "", as: visitor).status == .notFound)

            let operator_ = try await t.signInWithForm(admin)
            let page = try await t.tester.sendRequest(.GET, "/admin/jobs", headers: operator_.headers).body.string
            #expect(page.contains("stuck-\(stuck.uuidString.lowercased())") && !page.contains("stuck-\(failed.uuidString.lowercased())"))
            #expect(page.contains(Localizer.shared.text("failure.provider_failed", .vi)), "failures grouped by reason")
            let failedOnly = try await t.tester.sendRequest(.GET, "/admin/jobs?state=failed", headers: operator_.headers).body.string
            #expect(failedOnly.contains("job-\(failed.uuidString.lowercased())") && !failedOnly.contains("job-\(stuck.uuidString.lowercased())"))
            let otherModel = try await t.tester.sendRequest(.GET, "/admin/jobs?model=sora-2-pro-text-to-video", headers: operator_.headers).body.string
            #expect(!otherModel.contains("job-\(failed.uuidString.lowercased())"))
            for bad in ["state=lost", "model=sora-3", "age=5"] {
                #expect(try await t.tester.sendRequest(.GET, "/admin/jobs?\(bad)", headers: operator_.headers).status == .badRequest, "\(bad)")
            }

            // Ask now: the provider says it is generating.
            let asksBefore = await t.simulator.callCounts.recordInfo
            let first = try await t.post("/admin/jobs/\(stuck.uuidString.lowercased())/reconcile", "", as: operator_)
            #expect(first.headers.first(name: .location) == "/admin/jobs?result=updated")
            #expect(try await t.job(stuck).status == .processing)
            let again = try await t.post("/admin/jobs/\(stuck.uuidString.lowercased())/reconcile", "", as: operator_)
            #expect(again.headers.first(name: .location) == "/admin/jobs?result=asked_recently", "one ask per interval, as the reconciler")
            t.clock.advance(by: 120)
            let done = try await t.post("/admin/jobs/\(stuck.uuidString.lowercased())/reconcile", "", as: operator_)
            #expect(done.headers.first(name: .location) == "/admin/jobs?result=updated")
            let job = try await t.job(stuck)
            #expect(job.status == .completed && job.holdState == .settled)
            let finished = try await t.post("/admin/jobs/\(stuck.uuidString.lowercased())/reconcile", "", as: operator_)
            #expect(finished.headers.first(name: .location) == "/admin/jobs?result=finished")
            #expect(try await t.tester.sendRequest(.GET, "/admin/jobs?result=finished", headers: operator_.headers).body.string
                .contains(Localizer.shared.text("admin.jobs.result.finished", .vi)))
            #expect(await t.simulator.callCounts.recordInfo == asksBefore + 2, "asked twice; the refused and the finished asks cost nothing")

            let audit = try await AdminAction.query(on: t.app.db).filter(\.$action == .reconcileJob).sort(\.$createdAt).all()
            #expect(audit.map(\.after) == [#"{"provider_state":"generating","status":"processing"}"#,
                                           #"{"provider_state":"success","status":"completed"}"#])
            #expect(audit.allSatisfy { $0.targetUserID == alice.id && $0.actor == admin.email })
            #expect(try await t.app.jobAdministration.stuck().isEmpty)
            try await t.verifyLedger()
        }
    }

    @Test("provider health: the last hour's calls, errors and latency from every call made, the last success, and a low-balance warning")
    func providerHealth() async throws {
        try await withTestApp(adjust: { $0.providerLowBalance = 20_000_000 }) { t in
            // As `serve` wires it; the test application calls the simulator directly.
            t.app.provider = MeasuredProvider(inner: t.app.provider, metrics: t.app.metrics, log: t.app.providerCallLog, clock: t.app.clock)
            let admin = try await t.makeAdmin()
            let user = try await t.makeUser(credits: 50_000)
            _ = try await t.createTextVideo("Rain on a tin roof", as: user)
            _ = try await t.createTextVideo("Snow on a pine", as: user)
            let refused = try await t.createVideo(#"{"prompt": "Too busy #error429"}"#, as: user)
            #expect(refused.status == .serviceUnavailable)
            try await t.advance(by: 30)

            let health = ProviderHealth(store: t.app.store, clock: t.app.clock, provider: t.app.provider,
                                        callLog: t.app.providerCallLog, lowBalance: 20_000_000)
            let report = try await health.report(checkBalance: true)
            let creates = try #require(report.calls.first { $0.call == "create" })
            #expect(creates.count == 3 && creates.errors == 1)
            #expect(creates.errorsByOutcome.map(\.outcome) == ["rejected_429"])
            let statuses = try #require(report.calls.first { $0.call == "status" })
            #expect(statuses.count == (await t.simulator.callCounts.recordInfo) && statuses.errors == 0)
            #expect(report.lastSuccess != nil && report.lastError?.outcome == "rejected_429")
            #expect(report.balance != nil && report.isBalanceLow)
            let again = try await health.report(checkBalance: false)
            #expect(again.calls.first { $0.call == "create" }?.count == 3, "flushing twice counts nothing twice")

            let operator_ = try await t.signInWithForm(admin)
            let page = try await t.tester.sendRequest(.GET, "/admin/provider", headers: operator_.headers).body.string
            #expect(page.contains(Localizer.shared.text("admin.health.call.create", .vi)) && page.contains("rejected_429 × 1"))
            #expect(page.contains("id=\"balance-low\""), "the low-balance warning")
            #expect(try await ProviderBalanceCheck.query(on: t.app.db).count() == 2, "each balance read is kept")

            // An hour later the window is empty, but the last success is still known.
            t.clock.advance(by: 3700)
            let later = try await health.report(checkBalance: false)
            #expect(later.calls.isEmpty && later.lastSuccess != nil)
        }
    }

    @Test("style presets: chips in the studio in the reader's language; an operator edits, hides and adds them; the API lists them")
    func stylePresets() async throws {
        try await withTestApp { t in
            let admin = try await t.makeAdmin()
            let user = try await t.makeUser()
            let english = try await t.tester.sendRequest(.GET, "/api/v1/styles", headers: ["Accept-Language": "en"])
            #expect(english.status == .ok && english.json["styles"].array.count == CreateStylePresets.defaults.count)
            #expect(english.json["styles"][0]["name"].string == "Cinematic")

            let visitor = try await t.signInWithForm(user)
            let studio = try await t.tester.sendRequest(.GET, "/studio", headers: visitor.headers).body.string
            #expect(studio.contains(#"data-style="cinematic""#) && studio.contains(">Điện ảnh</button>"))
            #expect(try await t.post("/admin/styles", "key=cinematic&name_vi=X&name_en=X&prompt_text=X&enabled=1", as: visitor).status == .notFound)

            let operator_ = try await t.signInWithForm(admin)
            let edited = try await t.post("/admin/styles", "key=cinematic&name_vi=%C4%90i%E1%BB%87n+%E1%BA%A3nh&name_en=Cinematic"
                                          + "&prompt_text=anamorphic+lens%2C+golden+hour&position=10&enabled=1", as: operator_)
            #expect(edited.status == .seeOther)
            #expect(try await t.post("/admin/styles", "key=vintage&name_vi=C%E1%BB%95+%C4%91i%E1%BB%83n&name_en=Vintage+film"
                                     + "&prompt_text=vintage+1970s+film&position=60", as: operator_).status == .seeOther, "unticked: hidden")
            #expect(try await t.post("/admin/styles", "new=1&key=noir&name_vi=Phim+%C4%91en+tr%E1%BA%AFng&name_en=Film+noir"
                                     + "&prompt_text=black+and+white%2C+hard+shadows&enabled=1", as: operator_).status == .seeOther)
            let refusals = ["new=1&key=noir&name_vi=A&name_en=A&prompt_text=again&enabled=1", "new=1&key=Bad+Key%21&name_vi=A&name_en=A&prompt_text=x",
                            "key=drone&name_vi=A&name_en=A&prompt_text=\(String(repeating: "x", count: 301))&enabled=1",
                            "key=drone&name_vi=A&name_en=A&prompt_text=x&position=soon&enabled=1"]
            for form in refusals {
                let refused = try await t.post("/admin/styles", form, as: operator_)
                #expect(refused.status == .unprocessableEntity && refused.body.string.contains(Localizer.shared.text("error.invalid_style", .vi).prefix(7)), "\(form.prefix(40))")
            }

            let adminPage = try await t.tester.sendRequest(.GET, "/admin/styles", headers: operator_.headers).body.string
            #expect(adminPage.contains(#"value="anamorphic lens, golden hour""#) && adminPage.contains(#"value="Phim đen trắng""#),
                    "the edit forms show each style's current values")
            let listed = try await t.request(.GET, "/api/v1/styles").json["styles"].array
            #expect(listed.map { $0["key"].string ?? "" } == ["cinematic", "documentary", "animated", "drone", "slow-motion", "noir"])
            #expect(listed[0]["prompt_text"].string == "anamorphic lens, golden hour")
            let after = try await t.tester.sendRequest(.GET, "/studio", headers: visitor.headers).body.string
            #expect(after.contains("anamorphic lens, golden hour") && !after.contains(#"data-style="vintage""#) && after.contains("Phim đen trắng"))
            let actions = try await AdminAction.query(on: t.app.db).filter(\.$action ~~ [.createStyle, .updateStyle]).all()
            #expect(actions.map(\.action).sorted { $0.rawValue < $1.rawValue } == [.createStyle, .updateStyle, .updateStyle])
            #expect(try await StylePreset.query(on: t.app.db).filter(\.$key == "drone").first()?.promptText
                    == CreateStylePresets.defaults[3].text, "refusals change nothing")
        }
    }

    @Test("the ledger export has every entry of the period exactly once, across pages, summing to the balances")
    func ledgerExport() async throws {
        try await withTestApp { t in
            let admin = try await t.makeAdmin()
            let users = [try await t.makeUser(credits: 7_700), try await t.makeUser(credits: 300)]
            let administration = t.app.administration
            for round in 0..<6 {
                // The test clock stands still: many entries share one millisecond.
                try await administration.grant(10 + round, to: users[round % 2].id, reason: "round \(round), =1+1", by: .commandLine())
            }
            _ = try await t.createTextVideo(as: users[0])
            try await t.advance(by: 200)
            t.clock.advance(by: 3600)
            try await administration.deduct(5, from: users[1].id, reason: "later", by: .commandLine())

            var lines: [String] = []
            let count = try await LedgerExport(db: t.app.db, pageSize: 4)
                .write(since: Date(timeIntervalSince1970: 0), until: t.clock.now.addingTimeInterval(1)) { lines.append($0) }
            let all = try await CreditEntry.query(on: t.app.db).all()
            #expect(count == all.count && lines.count == all.count + 1)
            #expect(lines[0] == LedgerExport.header)
            let ids = lines.dropFirst().map { String($0.prefix(36)) }
            #expect(Set(ids).count == ids.count && Set(ids) == Set(all.map { $0.id!.uuidString.lowercased() }))
            #expect(lines.contains { $0.hasSuffix(#","round 0, =1+1""#) }, "a reason with a comma is quoted")
            for user in users {
                let sum = lines.dropFirst().filter { $0.contains(user.id.uuidString.lowercased()) }
                    .map { line in Int(line.split(separator: ",")[5])! }.reduce(0, +)
                #expect(sum == (try await t.balances(user).available))
            }

            let operator_ = try await t.signInWithForm(admin)
            let day = String(Formatting.iso(t.clock.now).prefix(10))
            let csv = try await t.tester.sendRequest(.GET, "/admin/ledger.csv?since=\(day)&until=\(Formatting.iso(t.clock.now.addingTimeInterval(1)))",
                                                     headers: operator_.headers)
            #expect(csv.status == .ok && csv.headers.contentType?.subType == "csv")
            #expect(csv.headers.first(name: .contentDisposition)?.contains("attachment") == true)
            #expect(csv.body.string.split(separator: "\r\n").count == lines.count)
            #expect(try await t.tester.sendRequest(.GET, "/admin/ledger.csv?since=yesterday", headers: operator_.headers).status == .badRequest)
            let visitor = try await t.signInWithForm(users[0])
            #expect(try await t.tester.sendRequest(.GET, "/admin/ledger.csv", headers: visitor.headers).status == .notFound)
        }
    }
}

extension TestContext {
    func makeAdmin() async throws -> TestUser {
        let admin = try await makeUser("operator-\(UUID().uuidString.prefix(6).lowercased())@phim.test", credits: 0)
        let record = try #require(try await User.find(admin.id, on: app.db))
        record.isAdmin = true
        try await record.save(on: app.db)
        return admin
    }

    /// Posts a form (its anti-forgery token added) as a signed-in browser.
    func post(_ path: String, _ form: String, as session: BrowserSession) async throws -> TestingHTTPResponse {
        try await tester.sendRequest(.POST, path, headers: session.formHeaders, body: ByteBuffer(string: "\(form)&csrf_token=\(session.csrfToken)"))
    }
}
