import Fluent
import SQLKit

/// Outbound webhooks: each user's secret and account endpoint, the delivery log with its
/// attempts, and a video's own `webhook_url` and event filter.
struct CreateWebhooks: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema(WebhookEndpoint.schema)
            .id()
            .field("user_id", .uuid, .required, .references(User.schema, "id", onDelete: .cascade))
            .field("url", .string)
            .field("events", .string)
            .field("secret", .string, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "user_id")
            .create()

        try await database.schema(WebhookDelivery.schema)
            .id()
            .field("user_id", .uuid, .required, .references(User.schema, "id", onDelete: .cascade))
            .field("job_id", .uuid, .required)
            .field("message_id", .string, .required)
            .field("event_type", .string, .required)
            .field("url", .string, .required)
            .field("payload", .string, .required)
            .field("state", .string, .required)
            .field("attempts", .int, .required)
            .field("next_attempt_at", .datetime)
            .field("last_attempt_at", .datetime)
            .field("last_status_code", .int)
            .field("last_error", .string)
            .field("created_at", .datetime, .required)
            .field("delivered_at", .datetime)
            .unique(on: "message_id")
            .create()

        try await database.schema(WebhookAttempt.schema)
            .id()
            .field("delivery_id", .uuid, .required, .references(WebhookDelivery.schema, "id", onDelete: .cascade))
            .field("attempted_at", .datetime, .required)
            .field("status_code", .int)
            .field("error", .string)
            .field("duration_ms", .int, .required)
            .create()

        // One column per statement: SQLite adds columns one at a time.
        try await database.schema(VideoJob.schema).field("webhook_url", .string).update()
        try await database.schema(VideoJob.schema).field("webhook_events", .string).update()

        guard let sql = database as? any SQLDatabase else { return }
        // The dispatcher's scan: pending deliveries whose next attempt is due.
        try await sql.create(index: "webhook_deliveries_due").on(WebhookDelivery.schema)
            .column("state").column("next_attempt_at").run()
        // The delivery log, newest first per user.
        try await sql.create(index: "webhook_deliveries_user_created").on(WebhookDelivery.schema)
            .column("user_id").column("created_at").run()
        try await sql.create(index: "webhook_attempts_delivery").on(WebhookAttempt.schema)
            .column("delivery_id").run()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(VideoJob.schema).deleteField("webhook_events").update()
        try await database.schema(VideoJob.schema).deleteField("webhook_url").update()
        try await database.schema(WebhookAttempt.schema).delete()
        try await database.schema(WebhookDelivery.schema).delete()
        try await database.schema(WebhookEndpoint.schema).delete()
    }
}
