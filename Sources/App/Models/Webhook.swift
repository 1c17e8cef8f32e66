import Fluent
import Foundation

/// A user's webhook settings: the signing secret every delivery to them carries, and an
/// optional account-level endpoint that hears about all their videos.
final class WebhookEndpoint: Model, @unchecked Sendable {
    static let schema = "webhook_endpoints"

    @ID(key: .id) var id: UUID?
    @Parent(key: "user_id") var user: User
    /// Where every video's events go; `nil` when only per-video `webhook_url`s are used.
    @OptionalField(key: "url") var url: String?
    /// The event filter for `url` (`WebhookEventFilter.stored`); `nil` means every event.
    @OptionalField(key: "events") var events: String?
    /// `whsec_` + base64 of 32 random bytes (Standard Webhooks). Kept readable: signing needs it.
    @Field(key: "secret") var secret: String
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date

    init() {}
}

/// The state of one message in the delivery log.
enum WebhookDeliveryState: String, Codable, Sendable, CaseIterable {
    /// Waiting for its first attempt or a retry.
    case pending
    /// A 2xx answer was received.
    case delivered
    /// Every retry failed, or the target was refused; a replay starts it again.
    case failed
}

/// One event for one target URL: a Standard Webhooks message with a fixed id and body, sent
/// until it is acknowledged or its retries run out.
final class WebhookDelivery: Model, @unchecked Sendable {
    static let schema = "webhook_deliveries"

    @ID(key: .id) var id: UUID?
    @Parent(key: "user_id") var user: User
    @Field(key: "job_id") var jobID: UUID
    /// `webhook-id`: the same on every attempt and replay, so receivers can drop duplicates.
    @Field(key: "message_id") var messageID: String
    /// `video.started`, `video.progress`, `video.completed`, `video.failed`, `video.canceled`.
    @Field(key: "event_type") var eventType: String
    @Field(key: "url") var url: String
    /// The exact JSON body that is signed and sent, fixed when the event happened.
    @Field(key: "payload") var payload: String
    @Enum(key: "state") var state: WebhookDeliveryState
    /// Attempts since it was queued (or last replayed); decides the next retry's delay.
    @Field(key: "attempts") var attempts: Int
    /// When the dispatcher may next try it; `nil` once delivered or failed.
    @OptionalField(key: "next_attempt_at") var nextAttemptAt: Date?
    @OptionalField(key: "last_attempt_at") var lastAttemptAt: Date?
    @OptionalField(key: "last_status_code") var lastStatusCode: Int?
    @OptionalField(key: "last_error") var lastError: String?
    @Field(key: "created_at") var createdAt: Date
    @OptionalField(key: "delivered_at") var deliveredAt: Date?

    init() {}
}

/// One try at sending a delivery, kept so a person can see each retry and its answer.
final class WebhookAttempt: Model, @unchecked Sendable {
    static let schema = "webhook_attempts"

    @ID(key: .id) var id: UUID?
    @Field(key: "delivery_id") var deliveryID: UUID
    @Field(key: "attempted_at") var attemptedAt: Date
    /// The receiver's HTTP status; `nil` when no answer came (timeout, refused connection, refused target).
    @OptionalField(key: "status_code") var statusCode: Int?
    @OptionalField(key: "error") var error: String?
    @Field(key: "duration_ms") var durationMilliseconds: Int

    init() {}
}
