@testable import App
import Crypto
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

@Suite("Provider callbacks cannot be forged")
struct CallbackSecurityTests {
    /// A completion body claiming success for `taskID`.
    static func successBody(taskID: String) -> String {
        #"{"code": 200, "msg": "ok", "data": {"taskId": "\#(taskID)", "state": "success", "resultJson": "{\"resultUrls\":[\"https://evil.test/x.mp4\"]}"}}"#
    }

    @Test("a wrong secret, a wrong job id, or a body naming another task changes nothing")
    func forgedCallbacksAreRejected() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let victim = try await t.createTextVideo("Victim", as: user)
            let other = try await t.createTextVideo("Other", as: user)
            let victimTask = try #require(try await t.job(victim).providerTaskID)
            let otherTask = try #require(try await t.job(other).providerTaskID)

            // The real callback URLs, as the simulator was given them.
            t.clock.advance(by: 5)
            let progress = await t.simulator.takeDueCallbacks()
            let victimURL = try #require(progress.first { $0.taskID == victimTask }?.url)
            let victimPath = try #require(URLComponents(string: victimURL)?.path).replacingOccurrences(of: "/progress", with: "")
            let otherPath = try #require(URLComponents(string: progress.first { $0.taskID == otherTask }?.url ?? "")?.path)
                .replacingOccurrences(of: "/progress", with: "")

            // Wrong secret for the right job.
            let wrongSecret = victimPath.split(separator: "/").dropLast().joined(separator: "/") + "/not-the-secret"
            let r1 = try await t.tester.sendRequest(.POST, "/" + wrongSecret, headers: ["Content-Type": "application/json"],
                                                    body: ByteBuffer(string: Self.successBody(taskID: victimTask)))
            #expect(r1.status == .notFound)

            // The other job's secret with the victim's job id.
            let otherSecret = try #require(otherPath.split(separator: "/").last)
            let swapped = victimPath.split(separator: "/").dropLast().joined(separator: "/") + "/" + otherSecret
            let r2 = try await t.tester.sendRequest(.POST, "/" + swapped, headers: ["Content-Type": "application/json"],
                                                    body: ByteBuffer(string: Self.successBody(taskID: victimTask)))
            #expect(r2.status == .notFound)

            // The right URL with a body naming another task.
            let r3 = try await t.tester.sendRequest(.POST, victimPath, headers: ["Content-Type": "application/json"],
                                                    body: ByteBuffer(string: Self.successBody(taskID: otherTask)))
            #expect(r3.status == .unprocessableEntity)
            #expect(r3.errorCode == "task_mismatch")

            // A body that is not a callback at all.
            let r4 = try await t.tester.sendRequest(.POST, victimPath, headers: ["Content-Type": "application/json"],
                                                    body: ByteBuffer(string: "{\"hello\": 1}"))
            #expect(r4.status == .badRequest)

            for id in [victim, other] {
                let job = try await t.job(id)
                #expect(job.status == .pending)
                #expect(job.videoURL == nil)
            }
            #expect(try await t.balances(user) == (86_000, 14_000))
        }
    }

    @Test("a progress callback claiming success does not complete or charge the job")
    func progressCallbackCannotSettle() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let id = try await t.createTextVideo(as: user)
            let taskID = try #require(try await t.job(id).providerTaskID)
            t.clock.advance(by: 5)
            let url = try #require(await t.simulator.takeDueCallbacks().first?.url)
            let response = try await t.tester.sendRequest(.POST, URLComponents(string: url)!.path, headers: ["Content-Type": "application/json"],
                                                          body: ByteBuffer(string: Self.successBody(taskID: taskID)))
            #expect(response.status == .ok)
            #expect(try await t.job(id).status == .pending)
            #expect(try await t.balances(user) == (93_000, 7_000))
        }
    }

    @Test("with a webhook HMAC key set, only correctly signed and fresh callbacks count")
    func signedCallbacks() async throws {
        try await withTestApp(adjust: { $0.webhookHMACKey = "whk-test-key" }) { t in
            let user = try await t.makeUser()
            let id = try await t.createTextVideo(as: user)
            t.clock.advance(by: 25)
            let callbacks = await t.simulator.takeDueCallbacks()
            let completion = try #require(callbacks.first { $0.kind == .completion })
            #expect(completion.headers["X-Webhook-Signature"] != nil)

            // Unsigned: refused.
            var unsigned = completion
            unsigned.headers = ["Content-Type": "application/json"]
            #expect(try await t.deliver([unsigned]).first?.status == .unauthorized)

            // Tampered signature: refused.
            var tampered = completion
            tampered.headers["X-Webhook-Signature"] = Data(repeating: 1, count: 32).base64EncodedString()
            #expect(try await t.deliver([tampered]).first?.errorCode == "invalid_signature")

            // Correct but replayed ten minutes later: refused.
            t.clock.advance(by: 600)
            #expect(try await t.deliver([completion]).first?.status == .unauthorized)
            #expect(try await t.job(id).status == .pending)

            // Correct and fresh: accepted.
            t.clock.advance(by: -600)
            #expect(try await t.deliver([completion]).first?.status == .ok)
            #expect(try await t.job(id).status == .completed)
        }
    }

    /// A completion callback for the job at its real URL, with the body as the test writes it.
    func deliverCompletion(_ t: TestContext, jobID: UUID, state: String, taskID: String) async throws -> TestingHTTPResponse {
        let callback = try #require(await t.simulator.callbackURLs(forTask: taskID).first)
        let path = try #require(URLComponents(string: callback)?.path).replacingOccurrences(of: "/progress", with: "")
        let body = state == "success" ? Self.successBody(taskID: taskID)
            : #"{"code": 501, "msg": "failed", "data": {"taskId": "\#(taskID)", "state": "fail", "failCode": "500", "failMsg": "forged"}}"#
        return try await t.tester.sendRequest(.POST, path, headers: ["Content-Type": "application/json"], body: ByteBuffer(string: body))
    }

    @Test("a completion body the provider does not confirm moves no money: a forged success or a forged failure")
    func tamperedBodiesAreConfirmedWithTheProvider() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let running = try await t.createTextVideo("Still running", as: user)
            let runningTask = try #require(try await t.job(running).providerTaskID)

            // The URL is right (as if it leaked), the body claims success, the provider says it is still running.
            #expect(try await deliverCompletion(t, jobID: running, state: "success", taskID: runningTask).status == .ok)
            var job = try await t.job(running)
            #expect(job.status == .pending && job.videoURL == nil)
            #expect(try await t.balances(user) == (93_000, 7_000))

            // When it really finishes, it settles once, with the provider's video, not the forged one.
            try await t.advance(by: 25)
            job = try await t.job(running)
            #expect(job.status == .completed)
            #expect(job.videoURL?.contains("evil.test") == false)
            #expect(try await t.balances(user) == (93_000, 0))

            // A forged failure for a task that succeeded refunds nothing.
            let succeeded = try await t.createTextVideo("Will succeed", as: user)
            let succeededTask = try #require(try await t.job(succeeded).providerTaskID)
            t.clock.advance(by: 25)
            _ = await t.simulator.takeDueCallbacks() // the real callbacks are lost
            t.clock.advance(by: 60)
            #expect(try await deliverCompletion(t, jobID: succeeded, state: "fail", taskID: succeededTask).status == .ok)
            #expect(try await t.job(succeeded).status == .completed)
            #expect(try await t.balances(user) == (86_000, 0))
            try await t.verifyLedger()
        }
    }

    @Test("confirming callbacks keeps to one provider question per job per interval")
    func confirmationsShareTheQueryBudget() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let id = try await t.createTextVideo(as: user)
            let taskID = try #require(try await t.job(id).providerTaskID)
            let before = await t.simulator.callCounts.recordInfo
            for _ in 0..<5 {
                _ = try await deliverCompletion(t, jobID: id, state: "success", taskID: taskID)
            }
            #expect(await t.simulator.callCounts.recordInfo == before + 1)
            #expect(try await t.job(id).status == .pending)
            // Once the provider finishes and the interval has passed, the reconciler confirms it.
            t.clock.advance(by: 25)
            _ = await t.simulator.takeDueCallbacks()
            _ = try await t.reconcilePass()
            #expect(try await t.job(id).status == .completed)
        }
    }
}
