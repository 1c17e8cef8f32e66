@testable import App
import Fluent
import Foundation
import Testing
import VaporTesting

/// The operator's account pages: credits moved with a reason, accounts disabled, every action
/// in the audit log, and the ledger exported for accounting.
@Suite("Admin console: accounts, credits, audit log, ledger export")
struct AdminAccountTests {
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
