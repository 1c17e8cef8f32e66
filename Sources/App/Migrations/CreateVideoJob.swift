import Fluent
import SQLKit

struct CreateVideoJob: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema(VideoJob.schema)
            .id()
            .field("user_id", .uuid, .required, .references(User.schema, "id", onDelete: .cascade))
            .field("mode", .string, .required)
            .field("model", .string, .required)
            .field("prompt", .string, .required)
            .field("aspect_ratio", .string, .required)
            .field("duration_seconds", .int, .required)
            .field("quality", .string, .required)
            .field("upload_id", .uuid)
            .field("image_url", .string)
            .field("price_credits", .int64, .required)
            .field("idempotency_key", .string)
            .field("request_fingerprint", .string)
            .field("status", .string, .required)
            .field("progress", .int, .required)
            .field("hold_state", .string, .required)
            .field("provider_task_id", .string)
            .field("provider_state", .string)
            .field("callback_secret_hash", .string, .required)
            .field("video_url", .string)
            .field("watermark_video_url", .string)
            .field("failure_reason", .string)
            .field("provider_fail_code", .string)
            .field("provider_fail_message", .string)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .field("last_heard_at", .datetime)
            .field("next_check_at", .datetime)
            .field("finished_at", .datetime)
            .field("deleted_at", .datetime)
            // A retry with the same key finds the first job instead of making a second one.
            .unique(on: "user_id", "idempotency_key")
            .unique(on: "provider_task_id")
            .create()

        guard let sql = database as? any SQLDatabase else { return }
        // The gallery: one user's jobs, newest first.
        try await sql.create(index: "video_jobs_user_created").on(VideoJob.schema)
            .column("user_id").column("created_at").column("id").run()
        // The reconciler: unfinished jobs that are due.
        try await sql.create(index: "video_jobs_status_next_check").on(VideoJob.schema)
            .column("status").column("next_check_at").run()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(VideoJob.schema).delete()
    }
}
