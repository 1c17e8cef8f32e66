@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

@Suite("When the provider fails")
struct ProviderFailureTests {
    @Test("a create the provider refuses is refunded at once and answered with a clear error", arguments: [
        (402, HTTPStatus.serviceUnavailable, "provider_out_of_credits"),
        (429, HTTPStatus.serviceUnavailable, "provider_busy"),
        (422, HTTPStatus.unprocessableEntity, "provider_rejected_input"),
        (500, HTTPStatus.serviceUnavailable, "provider_unavailable"),
        (401, HTTPStatus.badGateway, "provider_misconfigured"),
    ])
    func refusedCreate(code: Int, status: HTTPStatus, errorCode: String) async throws {
        try await withTestApp { t in
            let user = try await t.makeUser(credits: 10_000)
            await t.simulator.inject(.reply(code: code, message: "simulated refusal"))
            let response = try await t.createVideo(#"{"prompt": "Refused"}"#, as: user)
            #expect(response.status == status)
            #expect(response.errorCode == errorCode)
            let videoID = try #require(response.json["error"]["video_id"].uuid)
            let job = try await t.job(videoID)
            #expect(job.status == .failed)
            #expect(job.failureReason == .providerError)
            #expect(job.providerFailCode == String(code))
            #expect(try await t.balances(user) == (10_000, 0))
            if code == 429 { #expect(response.headers.first(name: .retryAfter) == "10") }
            try await t.verifyLedger()
        }
    }

    @Test("a provider that cannot be reached refunds and says so")
    func unreachableProvider() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser(credits: 10_000)
            let provider = ScriptedProvider()
            provider.queueCreate(.fail(.unreachable(detail: "connection refused")))
            t.app.provider = provider
            let response = try await t.createVideo(#"{"prompt": "Nobody home"}"#, as: user, idempotencyKey: "k")
            #expect(response.status == .serviceUnavailable)
            #expect(response.errorCode == "provider_unavailable")
            #expect(try await t.balances(user) == (10_000, 0))
            // The same key replays the failed job instead of sending a second create.
            let replay = try await t.createVideo(#"{"prompt": "Nobody home"}"#, as: user, idempotencyKey: "k")
            #expect(replay.json["status"].string == "failed")
            #expect(provider.createRequests.count == 1)
        }
    }

    @Test("a create that timed out after sending keeps its hold, is never re-sent, and is settled by its callback")
    func ambiguousCreateResolvedByCallback() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser(credits: 10_000)
            await t.simulator.inject(.acceptThenHang)
            let response = try await t.createVideo(#"{"prompt": "Lost reply"}"#, as: user)
            #expect(response.status == .accepted)
            #expect(response.json["status"].string == "submitting")
            let id = try #require(response.json["id"].uuid)
            #expect(try await t.job(id).providerTaskID == nil)
            #expect(try await t.balances(user) == (3_000, 7_000))

            // The reconciler does not query (no task id) and does not re-send.
            t.clock.advance(by: 120)
            _ = try await t.reconcilePass()
            #expect(await t.simulator.callCounts.createTask == 1)
            #expect(try await t.job(id).status == .submitting)

            // The provider's callback names the task: the job adopts it and finishes.
            try await t.deliver(await t.simulator.takeDueCallbacks())
            let job = try await t.job(id)
            #expect(job.status == .completed)
            #expect(job.providerTaskID != nil)
            #expect(try await t.balances(user) == (3_000, 0))
            try await t.verifyLedger()
        }
    }

    @Test("a create never confirmed keeps its hold while the provider could still bill, then is released exactly once")
    func ambiguousCreateReleasedAfterTimeout() async throws {
        try await withTestApp(adjust: { $0.reconciler.unconfirmedSubmissionTimeout = AppConfig.ReconcilerSettings().unconfirmedSubmissionTimeout }) { t in
            let user = try await t.makeUser(credits: 10_000)
            await t.simulator.inject(.acceptThenHang) // the task is made, the reply is lost
            let id = try #require(try await t.createVideo(#"{"prompt": "Silence"}"#, as: user).json["id"].uuid)

            // Its callbacks are lost too. For 23 hours the job is honestly unknown: submitting, held.
            t.clock.advance(by: 23 * 3600)
            #expect(try await t.reconcilePass().unconfirmedReleased == 0)
            #expect(try await t.job(id).status == .submitting)
            #expect(try await t.balances(user) == (3_000, 7_000))
            let session = try await t.signInWithForm(user)
            let card = try await t.tester.sendRequest(.GET, "/studio/cards/\(id)", headers: session.headers)
            #expect(card.body.string.contains(Localizer.shared.text("card.confirming", .vi)))

            // A day on, no task can still be running: the hold is released, once.
            t.clock.advance(by: 3600)
            #expect(try await t.reconcilePass().unconfirmedReleased == 1)
            #expect(try await t.reconcilePass().unconfirmedReleased == 0)
            var job = try await t.job(id)
            #expect(job.status == .failed)
            #expect(job.failureReason == .submissionUnconfirmed)
            #expect(try await t.balances(user) == (10_000, 0))

            // A callback that turns up even later is recorded (for provider reconciliation)
            // but charges nothing and changes nothing the user sees.
            try await t.deliver(await t.simulator.takeDueCallbacks())
            job = try await t.job(id)
            #expect(job.status == .failed)
            #expect(job.providerState == "success")
            #expect(job.providerTaskID != nil)
            #expect(try await t.balances(user) == (10_000, 0))
            #expect(await t.simulator.callCounts.createTask == 1)
            try await t.verifyLedger()
        }
    }

    @Test("a failed provider query leaves the job for the next interval without changing it")
    func failedQueryIsRetriedNextInterval() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let provider = ScriptedProvider { .init(taskID: $0, state: .success, resultURLs: ["https://cdn.test/v.mp4"]) }
            t.app.provider = provider
            let id = try await t.createTextVideo(as: user)
            provider.queueStatusError(.rejected(code: 500, message: "server error"))

            t.clock.advance(by: 61)
            let first = try await t.reconcilePass()
            #expect(first.queryFailures == 1)
            #expect(try await t.job(id).status == .pending)

            t.clock.advance(by: 10)
            #expect(try await t.reconcilePass().queried == 0) // still inside the interval
            t.clock.advance(by: 6)
            #expect(try await t.reconcilePass().updated == 1)
            #expect(try await t.job(id).status == .completed)
            #expect(provider.statusQueries.count == 2)
        }
    }
}
