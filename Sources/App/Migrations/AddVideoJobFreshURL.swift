import Fluent

/// A fresh download link from the provider, kept while it is valid, so playing a video that is
/// a day or more old costs one provider call per twenty minutes, not one per view.
struct AddVideoJobFreshURL: AsyncMigration {
    func prepare(on database: any Database) async throws {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        try await database.schema(VideoJob.schema).field("fresh_url", .string).update()
        try await database.schema(VideoJob.schema).field("fresh_url_until", .datetime).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(VideoJob.schema).deleteField("fresh_url_until").update()
        try await database.schema(VideoJob.schema).deleteField("fresh_url").update()
    }
}
