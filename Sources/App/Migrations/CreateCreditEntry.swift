import Fluent
import SQLKit

struct CreateCreditEntry: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema(CreditEntry.schema)
            .id()
            .field("user_id", .uuid, .required, .references(User.schema, "id", onDelete: .restrict))
            .field("job_id", .uuid)
            .field("kind", .string, .required)
            .field("available_delta", .int64, .required)
            .field("held_delta", .int64, .required)
            .field("reason", .string)
            .field("unique_key", .string)
            .field("created_at", .datetime, .required)
            .unique(on: "unique_key")
            .create()

        guard let sql = database as? any SQLDatabase else { return }
        try await sql.create(index: "credit_entries_user_created").on(CreditEntry.schema)
            .column("user_id").column("created_at").run()
        try await sql.create(index: "credit_entries_job").on(CreditEntry.schema)
            .column("job_id").run()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(CreditEntry.schema).delete()
    }
}
