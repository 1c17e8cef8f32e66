import Fluent
import SQLKit

/// Share links: a video's owner can publish it at an unguessable address and withdraw it.
struct AddVideoJobSharing: AsyncMigration {
    func prepare(on database: any Database) async throws {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        try await database.schema(VideoJob.schema).field("share_token", .string).update()
        try await database.schema(VideoJob.schema).field("shared_at", .datetime).update()
        guard let sql = database as? any SQLDatabase else { return }
        try await sql.create(index: "video_jobs_share_token").on(VideoJob.schema).column("share_token").unique().run()
    }

    func revert(on database: any Database) async throws {
        if let sql = database as? any SQLDatabase { try await sql.drop(index: "video_jobs_share_token").run() }
        try await database.schema(VideoJob.schema).deleteField("shared_at").update()
        try await database.schema(VideoJob.schema).deleteField("share_token").update()
    }
}
