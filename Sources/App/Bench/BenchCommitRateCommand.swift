import Fluent
import Foundation
import NIOConcurrencyHelpers
import SQLKit
import Vapor

/// `phim bench commit-rate`: the database's raw rate of small write transactions, through the
/// same connection pool and write rule (`Store.writeTransaction`) the service uses, on a scratch
/// table. The benchmark holds video creation, which commits one such transaction (plus reads
/// and a provider call), against it.
struct BenchCommitRateCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "seconds", help: "How long to write (default 5).") var seconds: Int?
        @Option(name: "concurrency", help: "Writers at once (default 16).") var concurrency: Int?
    }
    var help: String { "Measures committed single-row write transactions per second." }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        let sql = app.db as! any SQLDatabase
        try await sql.raw("DROP TABLE IF EXISTS bench_commits").run()
        try await sql.raw("CREATE TABLE bench_commits (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, amount BIGINT NOT NULL, created_at TEXT NOT NULL)").run()
        let seconds = max(1, signature.seconds ?? 5), writers = max(1, signature.concurrency ?? 16)
        let store = app.store
        let deadline = ContinuousClock.now + .seconds(seconds)
        let committed = NIOLockedValueBox(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<writers {
                group.addTask {
                    while ContinuousClock.now < deadline {
                        try await store.writeTransaction { db in
                            let id = UUID().uuidString
                            try await (db as! any SQLDatabase).raw("INSERT INTO bench_commits (id, user_id, amount, created_at) VALUES (\(bind: id), \(bind: id), 7000, \(bind: Date().description))").run()
                        }
                        committed.withLockedValue { $0 += 1 }
                    }
                }
            }
            try await group.waitForAll()
        }
        try await sql.raw("DROP TABLE bench_commits").run()
        let rate = Double(committed.withLockedValue { $0 }) / Double(seconds)
        context.console.print(String(format: "commits_per_second %.1f", rate))
    }
}
