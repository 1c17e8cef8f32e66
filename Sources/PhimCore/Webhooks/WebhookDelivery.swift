// One queued webhook message for one target URL, and the attempts made to send it.
import Foundation
import PhimSupport

/// The state of one message in the delivery log.
public enum WebhookDeliveryState: String, Sendable, CaseIterable {
    /// Waiting for its first attempt or a retry.
    case pending
    /// A 2xx answer was received.
    case delivered
    /// Every retry failed, or the target was refused; a replay starts it again.
    case failed
}

/// One event for one target URL: a Standard Webhooks message with a fixed id and body, sent
/// until it is acknowledged or its retries run out.
public struct WebhookDelivery: Sendable {
    public var id: String
    public var userID: String
    public var videoID: String
    /// `webhook-id`: the same on every attempt and replay, so receivers can drop duplicates.
    public var messageID: String
    /// `video.started`, `video.progress`, `video.completed`, `video.failed`, `video.canceled`.
    public var eventType: String
    public var url: String
    /// The exact JSON body that is signed and sent, fixed when the event happened.
    public var payload: String
    public var state: WebhookDeliveryState
    /// Attempts since it was queued (or last replayed); decides the next retry's delay.
    public var attempts: Int
    /// When a dispatcher may next try it; nil once delivered or failed.
    public var nextAttemptAt: Int64?
    public var lastAttemptAt: Int64?
    public var lastStatusCode: Int?
    public var lastError: String?
    public var createdAt: Int64
    public var deliveredAt: Int64?
    /// Insertion order: the delivery log's cursor, and the order a target gets its messages in.
    public var sequence: Int64

    static let columns = """
        id, user_id, job_id, message_id, event_type, url, payload, state, attempts, next_attempt_at,
        last_attempt_at, last_status_code, last_error, created_at, delivered_at, rowid
        """

    init(_ row: Row) {
        id = row.string(0)
        userID = row.string(1)
        videoID = row.string(2)
        messageID = row.string(3)
        eventType = row.string(4)
        url = row.string(5)
        payload = row.string(6)
        state = WebhookDeliveryState(rawValue: row.string(7)) ?? .failed
        attempts = row.int(8)
        nextAttemptAt = row.optionalInt64(9)
        lastAttemptAt = row.optionalInt64(10)
        lastStatusCode = row.optionalInt64(11).map(Int.init)
        lastError = row.optionalString(12)
        createdAt = row.int64(13)
        deliveredAt = row.optionalInt64(14)
        sequence = row.int64(15)
    }
}

/// One try at sending a delivery, kept so a person can see each retry and its answer.
public struct WebhookAttempt: Sendable {
    public var attemptedAt: Int64
    /// The receiver's HTTP status; nil when no answer came (timeout, refused connection, refused target).
    public var statusCode: Int?
    public var error: String?
    public var durationMillis: Int
}
