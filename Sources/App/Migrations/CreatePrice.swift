import Fluent

struct CreatePrice: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema(Price.schema)
            .id()
            .field("model", .string, .required)
            .field("duration_seconds", .int, .required)
            .field("quality", .string, .required)
            .field("credits", .int64, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "model", "duration_seconds", "quality")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(Price.schema).delete()
    }
}
