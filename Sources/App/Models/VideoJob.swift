import Fluent
import Foundation

/// One request for a video: what was asked, what it costs, and what the provider said.
///
/// The video itself stays on the provider's CDN; Phim keeps only its URLs.
public final class VideoJob: Model, @unchecked Sendable {
    public static let schema = "video_jobs"

    @ID(key: .id) public var id: UUID?
    @Parent(key: "user_id") var user: User

    // What was asked
    @Enum(key: "mode") var mode: VideoMode
    @Field(key: "model") var model: String
    @Field(key: "prompt") var prompt: String
    @Enum(key: "aspect_ratio") var aspectRatio: AspectRatio
    @Field(key: "duration_seconds") var durationSeconds: Int
    @Enum(key: "quality") var quality: VideoQuality
    @OptionalField(key: "upload_id") var uploadID: UUID?
    @OptionalField(key: "image_url") var imageURL: String?
    /// The price held when the job was created; later price changes do not touch it.
    @Field(key: "price_credits") var priceCredits: Int
    /// The client's `Idempotency-Key`, unique per user.
    @OptionalField(key: "idempotency_key") var idempotencyKey: String?
    /// The id of the HTTP request that created the job (`request-id` in its log lines); later
    /// log lines about the job carry it as `origin_request_id`.
    @OptionalField(key: "request_id") var requestID: String?
    /// A digest of the request, to tell a true retry from a reused key.
    @OptionalField(key: "request_fingerprint") var requestFingerprint: String?

    // Where it is
    @Enum(key: "status") var status: JobStatus
    @Field(key: "progress") var progress: Int
    @Enum(key: "hold_state") var holdState: HoldState
    @OptionalField(key: "provider_task_id") var providerTaskID: String?
    /// The provider's last reported state (`waiting`, `queuing`, `generating`, `success`, `fail`).
    @OptionalField(key: "provider_state") var providerState: String?
    /// SHA-256 (hex) of the secret in this job's callback URL; the secret itself is never stored.
    @Field(key: "callback_secret_hash") var callbackSecretHash: String

    // What came out
    @OptionalField(key: "video_url") var videoURL: String?
    @OptionalField(key: "watermark_video_url") var watermarkVideoURL: String?
    @OptionalEnum(key: "failure_reason") var failureReason: FailureReason?
    @OptionalField(key: "provider_fail_code") var providerFailCode: String?
    @OptionalField(key: "provider_fail_message") var providerFailMessage: String?

    // When
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date
    /// Last time anything was heard from the provider about this job (create reply, callback, poll).
    @OptionalField(key: "last_heard_at") var lastHeardAt: Date?
    /// When the reconciler should next ask the provider; `nil` once the job is terminal.
    @OptionalField(key: "next_check_at") var nextCheckAt: Date?
    /// When the provider was last asked about this job (by the reconciler or to confirm a
    /// callback); two asks are at least one reconcile interval apart.
    @OptionalField(key: "last_queried_at") var lastQueriedAt: Date?
    /// Where this video's events are sent (besides the account's endpoint), and which ones
    /// (`WebhookEventFilter.stored`; `nil` means all).
    @OptionalField(key: "webhook_url") var webhookURL: String?
    @OptionalField(key: "webhook_events") var webhookEvents: String?

    /// The caller's deadline: unfinished by then, the job fails and is refunded.
    @OptionalField(key: "deadline_at") var deadlineAt: Date?
    @OptionalField(key: "finished_at") var finishedAt: Date?
    /// A fresh provider download link for `video_url` and when it stops working (`MediaLinks`).
    @OptionalField(key: "fresh_url") var freshURL: String?
    @OptionalField(key: "fresh_url_until") var freshURLUntil: Date?
    /// The secret part of the video's public share link (`/v/<token>`); `nil` when not shared.
    @OptionalField(key: "share_token") var shareToken: String?
    @OptionalField(key: "shared_at") var sharedAt: Date?
    /// Soft delete: hidden from the owner, still settled normally, ledger untouched.
    @OptionalField(key: "deleted_at") var deletedAt: Date?

    public init() {}
}
