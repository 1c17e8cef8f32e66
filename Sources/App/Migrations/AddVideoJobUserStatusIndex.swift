import Fluent
import SQLKit

/// An index on (user, status) for the count of a user's unfinished videos that every create
/// makes inside its write transaction. Without it the count read every video the user ever
/// made (the gallery index has no status), so creates slowed as an account's gallery grew and,
/// on SQLite, held the write lock while doing it (BENCHMARKS.md).
struct AddVideoJobUserStatusIndex: AsyncMigration {
    func prepare(on database: any Database) async throws {
        guard let sql = database as? any SQLDatabase else { return }
        try await sql.create(index: "video_jobs_user_status").on(VideoJob.schema).column("user_id").column("status").run()
    }

    func revert(on database: any Database) async throws {
        guard let sql = database as? any SQLDatabase else { return }
        try await sql.drop(index: "video_jobs_user_status").run()
    }
}
