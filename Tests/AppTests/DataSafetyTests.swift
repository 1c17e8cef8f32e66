@testable import App
import Foundation
import SQLKit
import Testing

@Suite("Data safety")
struct DataSafetyTests {
    @Test("a SQLite file runs in write-ahead-log mode with full sync, so a crash keeps every commit",
          .enabled(if: !isTestingOnPostgres))
    func sqliteSurvivesCrashes() async throws {
        try await withTestApp { t in
            let sql = t.app.db as! any SQLDatabase
            let mode = try await sql.raw("PRAGMA journal_mode").first()?.decode(column: "journal_mode", as: String.self)
            #expect(mode == "wal")
            // 2 = FULL: a commit is on disk before it is acknowledged, even across a power cut.
            let sync = try await sql.raw("PRAGMA synchronous").first()?.decode(column: "synchronous", as: Int.self)
            #expect(sync == 2)
        }
    }
}
