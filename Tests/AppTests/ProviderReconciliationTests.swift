@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

@Suite("Provider reconciliation")
struct ProviderReconciliationTests {
    func reconcile(_ t: TestContext, since: Date) async throws -> ProviderReconciliation.Report {
        try await ProviderReconciliation(db: t.app.db, provider: t.app.provider, clock: t.app.clock)
            .run(since: since, until: t.clock.now.addingTimeInterval(1))
    }

    @Test("settled and billed, refunded and not billed agree; a late success and a lost create are listed; the balance moves by what was billed")
    func differencesAreListed() async throws {
        try await withTestApp { t in
            let start = t.clock.now
            let user = try await t.makeUser(credits: 100_000)
            let done = try await t.createTextVideo("A heron in the reeds", as: user)
            let failed = try #require(try await t.createVideo(#"{"prompt": "Storm #fail"}"#, as: user).json["id"].uuid)
            let late = try #require(try await t.createVideo(#"{"prompt": "Glacier #slow", "deadline_seconds": 60}"#, as: user).json["id"].uuid)
            let refused = try #require(try await t.createVideo(#"{"prompt": "Busy #error500"}"#, as: user).json["error"]["video_id"].uuid)
            // A create whose answer is lost and which the provider never made.
            let scripted = ScriptedProvider()
            scripted.queueCreate(.fail(.ambiguous(detail: "read timeout")))
            t.app.provider = scripted
            let lost = try #require(try await t.createVideo(#"{"prompt": "Into the void"}"#, as: user).json["id"].uuid)
            t.app.provider = SimulatorProvider(simulator: t.simulator)

            try await t.advance(by: 25)
            t.clock.advance(by: 40)
            _ = try await t.reconcilePass() // the deadline passes: refunded
            try await t.advance(by: 200) // the slow one succeeds at the provider anyway
            t.clock.advance(by: 86_400)
            _ = try await t.reconcilePass() // the lost create is released

            let report = try await reconcile(t, since: start)
            let verdicts = Dictionary(uniqueKeysWithValues: report.lines.map { ($0.videoID, $0.verdict) })
            #expect(verdicts[done] == .match)
            #expect(verdicts[failed] == .match)
            #expect(verdicts[refused] == .match)
            #expect(verdicts[late] == .providerBilledUserRefunded)
            #expect(verdicts[lost] == .unverifiable)
            #expect(Set(report.differences.map(\.videoID)) == [late, lost])
            #expect(report.overcharges.isEmpty)
            #expect(report.settledCredits == 7_000)
            #expect(report.providerBilled == 2)
            // Three tasks were made at 30 provider credits each; the failed one was given back.
            #expect(report.balanceNow == 10_000_000 - 2 * 30)
            #expect(report.previousBalance == nil)

            let again = try await reconcile(t, since: start)
            #expect(again.previousBalance?.credits == 10_000_000 - 2 * 30)
            try await t.verifyLedger()
        }
    }

    @Test("a video charged for a task the provider failed or does not know is an overcharge")
    func overchargesAreFlagged() async throws {
        try await withTestApp { t in
            let start = t.clock.now
            let user = try await t.makeUser()
            let first = try await t.createTextVideo("Lanterns", as: user)
            let second = try await t.createTextVideo("Fireflies", as: user)
            try await t.advance(by: 25)
            #expect(try await t.job(first).holdState == .settled)

            // The provider's records disagree with what it told us before.
            let firstTask = try #require(try await t.job(first).providerTaskID)
            let disagreeing = ScriptedProvider { .init(taskID: $0, state: $0 == firstTask ? .fail : .success) }
            t.app.provider = disagreeing
            var report = try await reconcile(t, since: start)
            #expect(report.overcharges.map(\.videoID) == [first])

            disagreeing.queueStatusError(.rejected(code: 422, message: "recordInfo is null"))
            disagreeing.queueStatusError(.rejected(code: 422, message: "recordInfo is null"))
            report = try await reconcile(t, since: start)
            #expect(Set(report.overcharges.map(\.videoID)) == [first, second])
            #expect(report.lines.allSatisfy { $0.provider == .unknownTask })
            #expect(report.balanceNow == nil && report.balanceError != nil) // this provider cannot tell
        }
    }

    @Test("the rules, one by one", arguments: [
        (HoldState.open, FailureReason?.none, ProviderReconciliation.ProviderAnswer.state(.generating), ProviderReconciliation.Verdict.inFlight),
        (.settled, nil, .state(.success), .match),
        (.settled, nil, .state(.fail), .userChargedProviderDidNotBill),
        (.settled, nil, .unknownTask, .userChargedProviderDidNotBill),
        (.released, .providerFailed, .state(.fail), .match),
        (.released, .deadlineExceeded, .state(.success), .providerBilledUserRefunded),
        (.released, .timedOut, .state(.generating), .providerStillRunning),
        (.released, .providerError, .notAsked, .match),
        (.released, .submissionUnconfirmed, .notAsked, .unverifiable),
        (.settled, nil, .failed("timeout"), .queryFailed),
    ])
    func rules(hold: HoldState, failure: FailureReason?, answer: ProviderReconciliation.ProviderAnswer, expected: ProviderReconciliation.Verdict) {
        #expect(ProviderReconciliation.verdict(hold: hold, failure: failure, provider: answer) == expected)
    }
}

@Suite("The admin page for provider reconciliation")
struct AdminProviderPageTests {
    @Test("only an admin sees it; running it lists the differences in the reader's language")
    func adminOnly() async throws {
        try await withTestApp { t in
            let admin = try await t.makeUser()
            let user = try await t.makeUser()
            let record = try #require(try await User.find(admin.id, on: t.app.db))
            record.isAdmin = true
            try await record.save(on: t.app.db)

            // A video refunded after its deadline, which the provider then finishes and bills.
            let late = try #require(try await t.createVideo(#"{"prompt": "Aurora #slow", "deadline_seconds": 60}"#, as: admin).json["id"].uuid)
            t.clock.advance(by: 65)
            _ = try await t.reconcilePass()
            try await t.advance(by: 200)

            let visitor = try await t.signInWithForm(user)
            #expect(try await t.tester.sendRequest(.GET, "/admin/provider", headers: visitor.headers).status == .notFound)
            let forbidden = try await t.tester.sendRequest(.POST, "/admin/provider/reconcile", headers: visitor.formHeaders,
                                                           body: ByteBuffer(string: "hours=24&csrf_token=\(visitor.csrfToken)"))
            #expect(forbidden.status == .notFound)
            #expect(!(try await t.tester.sendRequest(.GET, "/studio", headers: visitor.headers).body.string.contains("/admin/provider")))

            let operator_ = try await t.signInWithForm(admin)
            let page = try await t.tester.sendRequest(.GET, "/admin/provider", headers: operator_.headers)
            #expect(page.status == .ok)
            #expect(page.body.string.contains(Localizer.shared.text("admin.provider.run", .vi)))
            let result = try await t.tester.sendRequest(.POST, "/admin/provider/reconcile", headers: operator_.formHeaders,
                                                        body: ByteBuffer(string: "hours=24&csrf_token=\(operator_.csrfToken)"))
            #expect(result.status == .ok)
            let html = result.body.string
            #expect(html.contains(String(late.uuidString.lowercased().prefix(8))))
            #expect(html.contains(Localizer.shared.text("admin.verdict.provider_billed_user_refunded", .vi)))
            #expect(html.contains("verdict-provider_billed_user_refunded"))

            let badPeriod = try await t.tester.sendRequest(.POST, "/admin/provider/reconcile", headers: operator_.formHeaders,
                                                           body: ByteBuffer(string: "hours=5&csrf_token=\(operator_.csrfToken)"))
            #expect(badPeriod.status == .badRequest)
        }
    }
}
