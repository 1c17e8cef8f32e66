@testable import App
import Foundation
import Testing

/// The fast variant of the fault-injection run (1,000 operations by default), on whichever
/// database the suite runs on. `scripts/fault_run.sh` runs the full one (10,000 or more) and
/// replays a seed: `PHIM_FAULT_SEED`, `PHIM_FAULT_OPERATIONS`.
@Suite("Fault injection")
struct FaultInjectionTests {
    @Test("a seeded run of random operations, provider faults, forged callbacks and crashes keeps money and privacy intact")
    func faultRun() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["PHIM_FAULT_SEED"].flatMap(UInt64.init) ?? 20_261_125
        let operations = environment["PHIM_FAULT_OPERATIONS"].flatMap(Int.init) ?? 1_000
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("phim-fault-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var config = try testConfig(directory: directory)
        config.simulator.seed = seed
        // Callbacks are signed, so a tampered task id is caught by the signature and a tampered
        // outcome (which the signature does not cover) by the confirmation with the provider.
        config.webhookHMACKey = "fault-run-hmac-key"
        config.limits.createsPerMinute = 1_000_000
        config.limits.maxUnfinishedJobs = 1_000_000
        let clock = ManualClock()
        let app = try await startTestApp(config, clock: clock, createSchema: true)
        let run: FaultRun
        do {
            run = try FaultRun(settings: .init(seed: seed, operations: operations), config: config, clock: clock, app: app)
        } catch {
            await tearDownTestApp(app, config, directory: directory)
            throw error
        }
        do {
            let invariants = try await run.run()
            print(run.summary(invariants, database: isTestingOnPostgres ? "PostgreSQL" : "SQLite"))
            #expect(invariants.count >= 8)
            for invariant in invariants {
                #expect(invariant.holds, "\(invariant.name): \(invariant.detail) (replay with PHIM_FAULT_SEED=\(seed))")
            }
        } catch {
            await tearDownTestApp(run.app, config, directory: directory)
            throw error
        }
        await tearDownTestApp(run.app, config, directory: directory)
    }
}
