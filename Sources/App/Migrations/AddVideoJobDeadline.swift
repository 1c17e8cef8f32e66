import Fluent
import SQLKit

/// `deadline_at`: a create may say by when its video must be done (`deadline_seconds`).
struct AddVideoJobDeadline: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema(VideoJob.schema).field("deadline_at", .datetime).update()
        guard let sql = database as? any SQLDatabase else { return }
        // The reconciler's pass: unfinished jobs past their deadline.
        try await sql.create(index: "video_jobs_status_deadline").on(VideoJob.schema).column("status").column("deadline_at").run()
    }

    func revert(on database: any Database) async throws {
        if let sql = database as? any SQLDatabase {
            try await sql.drop(index: "video_jobs_status_deadline").run()
        }
        try await database.schema(VideoJob.schema).deleteField("deadline_at").update()
    }
}
