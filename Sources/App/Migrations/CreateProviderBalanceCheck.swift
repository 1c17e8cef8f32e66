import Fluent

struct CreateProviderBalanceCheck: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema(ProviderBalanceCheck.schema)
            .id()
            .field("checked_at", .datetime, .required)
            .field("credits", .int64, .required)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(ProviderBalanceCheck.schema).delete()
    }
}
