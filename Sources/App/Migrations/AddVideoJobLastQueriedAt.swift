import Fluent

/// `last_queried_at`: callbacks are confirmed with the provider before money moves, and those
/// confirmations share the reconciler's one-ask-per-interval budget per job.
struct AddVideoJobLastQueriedAt: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema(VideoJob.schema).field("last_queried_at", .datetime).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(VideoJob.schema).deleteField("last_queried_at").update()
    }
}
