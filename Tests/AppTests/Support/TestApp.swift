@testable import App
import Fluent
import Foundation
import NIOConcurrencyHelpers
import Testing
import Vapor
import VaporTesting

/// A clock that moves only when a test says so. Sleeping returns at once.
final class ManualClock: Sendable {
    private let current: NIOLockedValueBox<Date>

    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = .init(start) }

    var now: Date { current.withLockedValue { $0 } }
    func advance(by seconds: TimeInterval) { current.withLockedValue { $0 = $0.addingTimeInterval(seconds) } }

    var appClock: AppClock {
        AppClock(now: { [self] in now }, sleep: { _ in })
    }
}

/// A migrated application on a fresh database, with the simulator as provider (called
/// in-process) on a manual clock. Shut down afterwards.
struct TestContext: Sendable {
    let app: Application
    let clock: ManualClock
    let simulator: KieSimulator

    var tester: any TestingApplicationTester { get throws { try app.testing() } }
}

/// The database the suite runs on: SQLite in memory, or PostgreSQL when `TEST_DATABASE_URL`
/// names one (a later issue runs the suite on both).
func testDatabase() -> AppConfig.DatabaseLocation {
    if let url = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], url.hasPrefix("postgres") {
        return .postgres(url: url)
    }
    return .sqliteMemory
}

func withTestApp(
    adjust: (inout AppConfig) -> Void = { _ in },
    _ body: (TestContext) async throws -> Void
) async throws {
    var config = AppConfig(
        database: testDatabase(),
        provider: .simulator,
        publicURL: "https://phim.test",
        dataDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("phim-tests-\(UUID().uuidString)").path,
        simulator: .init(jobDuration: .seconds(20)),
        reconciler: .init(interval: .seconds(15), staleAfter: .seconds(60), jobTimeout: .seconds(3600),
                          unconfirmedSubmissionTimeout: .seconds(1800)),
        passwordHashCost: 4
    )
    adjust(&config)
    let app = try await Application.make(.testing)
    app.logger.logLevel = .warning
    let clock = ManualClock()
    app.clock = clock.appClock
    do {
        try await configure(app, config)
        try await app.autoMigrate()
        guard let simulator = app.simulator else { throw TestSetupError("configure made no simulator") }
        app.provider = SimulatorProvider(simulator: simulator)
        try await body(TestContext(app: app, clock: clock, simulator: simulator))
    } catch {
        try? await app.autoRevert()
        try? await app.asyncShutdown()
        try? FileManager.default.removeItem(atPath: config.dataDirectory)
        throw error
    }
    try await app.autoRevert()
    try await app.asyncShutdown()
    try? FileManager.default.removeItem(atPath: config.dataDirectory)
}

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
