import Fluent

/// `request_id`: the request that created a job, so its log lines can be followed to the end.
struct AddVideoJobRequestID: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema(VideoJob.schema).field("request_id", .string).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(VideoJob.schema).deleteField("request_id").update()
    }
}
