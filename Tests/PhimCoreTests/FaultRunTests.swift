import Foundation
import PhimProvider
import PhimServer
import XCTest

/// The seeded fault-injection run (`FaultRun`): 1,000 operations in every test run; the full
/// 10,000 with `Tests/fault-run.sh`. `PHIM_FAULT_SEED` replays a run, `PHIM_FAULT_OPERATIONS`
/// sets its length, and `PHIM_FAULT_REPORT` names a file to write the report to.
final class FaultRunTests: XCTestCase {
    func testSeededRunOfOperationsAndFaultsKeepsMoneyAndPrivacyIntact() throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["PHIM_FAULT_SEED"].flatMap(UInt64.init) ?? 20_261_125
        let operations = environment["PHIM_FAULT_OPERATIONS"].flatMap(Int.init) ?? 1_000
        // The wall clock only times the run for its report; nothing in the run reads it.
        let started = Date()
        let report = try FaultRun(options: .init(seed: seed, operations: operations)).run()
        let text = report.text + String(format: "\n  (%.1f s)", Date().timeIntervalSince(started))
        print(text)
        if let path = environment["PHIM_FAULT_REPORT"], !path.isEmpty {
            try (text + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
        XCTAssertEqual(report.invariants.count, 8)
        for invariant in report.invariants {
            XCTAssertTrue(invariant.holds, "\(invariant.name): \(invariant.detail) (replay: PHIM_FAULT_SEED=\(seed) PHIM_FAULT_OPERATIONS=\(operations))")
        }
    }

    /// A failing seed is only useful if it fails again: the same seed gives the same run, fault for fault.
    func testTheSameSeedReplaysTheSameRun() throws {
        let first = try FaultRun(options: .init(seed: 4_242, operations: 300)).run()
        let second = try FaultRun(options: .init(seed: 4_242, operations: 300)).run()
        XCTAssertEqual(first.text, second.text)
        XCTAssertTrue(first.passed, first.text)
        let other = try FaultRun(options: .init(seed: 4_243, operations: 300)).run()
        XCTAssertNotEqual(first.text, other.text, "the seed must matter")
    }
}

/// Bugs the run found, each pinned by a short test of its own.
final class FaultRunFindingsTests: XCTestCase {
    /// Seed 20261125, 10,000 operations: a job whose create went unanswered (its task unknown)
    /// took whatever task a callback on its genuine URL named, so it ended with another user's
    /// video, billed by that task's outcome, and its own task's news was then refused as a
    /// mismatch. The body is not signed (Kie signs the task id and time only, so another task's
    /// whole signed callback replays as well); the provider's record of the task must name the job.
    func testACallbackNamingAnotherTaskCannotGiveAJobWithAnUnknownTaskThatTask() throws {
        for signed in [false, true] {
            let world = try TestWorld { $0.webhookHMACKey = signed ? "kie-console-key" : nil }
            let alice = try world.user("alice", credits: 20_000)
            let bob = try world.user("bob", credits: 20_000)
            world.simulator.inject(.acceptThenHang)
            let unknown = world.createVideo(alice, prompt: "a quiet lake #fail")
            XCTAssertEqual(unknown.bodyJSON?["status"]?.stringValue, "submitting")
            let aliceID = unknown.bodyJSON!["id"]!.stringValue!
            XCTAssertEqual(world.createVideo(bob, prompt: "bob's garden").status, 202)

            func replayed(_ kind: KieSimulator.Callback.Kind, in callbacks: [KieSimulator.Callback]) -> Response {
                let alices = callbacks.first { $0.kind == kind && $0.url.contains(aliceID) }!
                let bobs = callbacks.first { $0.kind == kind && !$0.url.contains(aliceID) }!
                return world.send("POST", URL(string: alices.url)!.path, body: Array(bobs.body),
                                  headers: Dictionary(uniqueKeysWithValues: bobs.headers.map { ($0.key.lowercased(), $0.value) }))
            }
            func assertUntouched(_ when: String) {
                let video = world.video(alice, aliceID)
                XCTAssertEqual(video?["status"]?.stringValue, "submitting", "\(when), signed: \(signed)")
                XCTAssertEqual(video?["provider_task_id"], .null, "\(when), signed: \(signed)")
                XCTAssertEqual(world.balance(alice).held, TestWorld.price, "\(when), signed: \(signed)")
            }

            world.clock.advance(10)
            XCTAssertTrue(world.simulator.takeDueCallbacks().isEmpty, "Kie sends these models no progress callbacks")

            world.clock.advance(16)
            let completions = world.simulator.takeDueCallbacks()
            XCTAssertEqual(replayed(.completion, in: completions).status, 422)
            assertUntouched("after bob's completion callback")

            // Alice's own callback still lands once the interval allows a question: the provider's outcome, refunded.
            world.clock.advance(16)
            let own = completions.first { $0.url.contains(aliceID) }!
            let answer = world.send("POST", URL(string: own.url)!.path, body: Array(own.body),
                                    headers: Dictionary(uniqueKeysWithValues: own.headers.map { ($0.key.lowercased(), $0.value) }))
            XCTAssertEqual(answer.status, 200, answer.bodyText)
            XCTAssertEqual(world.video(alice, aliceID)?["status"]?.stringValue, "failed", "signed: \(signed)")
            XCTAssertEqual(world.balance(alice).available, 20_000, "signed: \(signed)")
            try world.assertLedgerClean()
        }
    }
}
