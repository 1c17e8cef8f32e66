import Fluent

struct CreateUpload: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema(Upload.schema)
            .id()
            .field("user_id", .uuid, .required, .references(User.schema, "id", onDelete: .cascade))
            .field("content_type", .string, .required)
            .field("byte_size", .int64, .required)
            .field("storage_key", .string, .required)
            .field("created_at", .datetime, .required)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(Upload.schema).delete()
    }
}
