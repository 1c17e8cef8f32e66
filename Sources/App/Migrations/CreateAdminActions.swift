import Fluent
import SQLKit

/// The audit log of operators' actions, and the switch that disables an account.
struct CreateAdminActions: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema(AdminAction.schema)
            .id()
            .field("actor_id", .uuid, .references(User.schema, "id", onDelete: .setNull))
            .field("actor", .string, .required)
            .field("action", .string, .required)
            .field("target_user_id", .uuid, .references(User.schema, "id", onDelete: .setNull))
            .field("target", .string)
            .field("reason", .string)
            .field("before", .string, .required)
            .field("after", .string, .required)
            .field("created_at", .datetime, .required)
            .create()
        try await database.schema(User.schema).field("disabled_at", .datetime).update()
        guard let sql = database as? any SQLDatabase else { return }
        try await sql.create(index: "admin_actions_created").on(AdminAction.schema).column("created_at").run()
        try await sql.create(index: "admin_actions_target").on(AdminAction.schema).column("target_user_id").column("created_at").run()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(User.schema).deleteField("disabled_at").update()
        try await database.schema(AdminAction.schema).delete()
    }
}
