@testable import App
import Fluent
import Foundation
import SQLKit
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

/// The database a test runs on: a fresh SQLite file, or, when `TEST_DATABASE_URL` names a
/// PostgreSQL server on this machine, a fresh schema there (`scripts/test.sh` runs the suite both ways).
func testDatabase(directory: String) throws -> AppConfig.DatabaseLocation {
    guard let url = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], url.hasPrefix("postgres") else {
        return .sqliteFile(path: directory + "/test.sqlite")
    }
    // Tests drop what they make: never point them at anything but a local server.
    guard let host = URLComponents(string: url)?.host, ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host) else {
        throw TestSetupError("TEST_DATABASE_URL must name a server on this machine")
    }
    return .postgres(url: url, schema: "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased())
}

var isTestingOnPostgres: Bool {
    ProcessInfo.processInfo.environment["TEST_DATABASE_URL"]?.hasPrefix("postgres") == true
}

/// The configuration every test starts from, on a fresh database in `directory`.
func testConfig(directory: String) throws -> AppConfig {
    AppConfig(
        database: try testDatabase(directory: directory),
        provider: .simulator,
        publicURL: "https://phim.test",
        dataDirectory: directory + "/data",
        simulator: .init(jobDuration: .seconds(20)),
        reconciler: .init(interval: .seconds(15), staleAfter: .seconds(60), jobTimeout: .seconds(3600),
                          unconfirmedSubmissionTimeout: .seconds(1800)),
        passwordHashCost: 4
    )
}

/// A configured, migrated application on `config`'s database (whose PostgreSQL schema is made
/// if `createSchema`), on the manual clock. The caller shuts it down.
func startTestApp(_ config: AppConfig, clock: ManualClock, createSchema: Bool) async throws -> Application {
    let app = try await Application.make(.testing)
    app.logger.logLevel = .warning
    app.clock = clock.appClock
    do {
        try await configure(app, config)
        if createSchema, case .postgres(_, let schema?) = config.database, let sql = app.db as? any SQLDatabase {
            try await sql.raw("CREATE SCHEMA \(ident: schema)").run()
        }
        try await app.autoMigrate()
    } catch {
        try? await app.asyncShutdown()
        throw error
    }
    return app
}

func withTestApp(
    adjust: (inout AppConfig) -> Void = { _ in },
    _ body: (TestContext) async throws -> Void
) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("phim-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    var config = try testConfig(directory: directory)
    adjust(&config)
    let clock = ManualClock()
    let app: Application
    do {
        app = try await startTestApp(config, clock: clock, createSchema: true)
    } catch {
        try? FileManager.default.removeItem(atPath: directory)
        throw error
    }
    do {
        guard let simulator = app.simulator else { throw TestSetupError("configure made no simulator") }
        app.provider = SimulatorProvider(simulator: simulator)
        try await body(TestContext(app: app, clock: clock, simulator: simulator))
    } catch {
        await tearDownTestApp(app, config, directory: directory)
        throw error
    }
    await tearDownTestApp(app, config, directory: directory)
}

/// Drops what a test made (its PostgreSQL schema, its folder) and shuts the application down.
func tearDownTestApp(_ app: Application, _ config: AppConfig, directory: String) async {
    if case .postgres(_, let schema?) = config.database, let sql = app.db as? any SQLDatabase {
        try? await sql.raw("DROP SCHEMA \(ident: schema) CASCADE").run()
    }
    try? await app.asyncShutdown()
    try? FileManager.default.removeItem(atPath: directory)
}

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
