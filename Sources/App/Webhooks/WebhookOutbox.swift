import Fluent
import Foundation

/// Queues webhook deliveries inside the transaction that changes a job, so an event is sent
/// if and only if the change it announces was committed: a crash can delay a delivery, never
/// lose one or announce something that did not happen.
enum WebhookOutbox {
    /// Queues the event a job's change announces, once per target URL that wants it: the
    /// video's own `webhook_url` and the account's endpoint.
    static func enqueue(for job: VideoJob, previous: (status: JobStatus, progress: Int), at now: Date,
                        on db: any Database) async throws {
        guard let event = WebhookEvent.announcing(from: previous, to: job) else { return }
        var targets: [String] = []
        if let url = job.webhookURL, WebhookEventFilter(stored: job.webhookEvents).includes(event) {
            targets.append(url)
        }
        if let endpoint = try await WebhookEndpoint.query(on: db).filter(\.$user.$id == job.$user.id).first(),
           let url = endpoint.url, WebhookEventFilter(stored: endpoint.events).includes(event), !targets.contains(url) {
            targets.append(url)
        }
        guard !targets.isEmpty else { return }
        let body = try payload(event, job: job, at: now)
        for url in targets {
            let delivery = WebhookDelivery()
            delivery.$user.id = job.$user.id
            delivery.jobID = try job.requireID()
            delivery.messageID = WebhookSigner.makeMessageID()
            delivery.eventType = event.type
            delivery.url = url
            delivery.payload = body
            delivery.state = .pending
            delivery.attempts = 0
            delivery.nextAttemptAt = now
            delivery.createdAt = now
            try await delivery.create(on: db)
        }
    }

    /// The message body: Standard Webhooks' `type`, `timestamp` and `data`, where `data` is the
    /// video exactly as `GET /api/v1/videos/{id}` shows it at that moment (without the receipt).
    static func payload(_ event: WebhookEvent, job: VideoJob, at now: Date) throws -> String {
        struct Message: Encodable {
            var type: String
            var timestamp: Date
            var data: API.Video
        }
        let message = Message(type: event.type, timestamp: now, data: try API.Video(job, language: .vi))
        return String(decoding: try API.encoder.encode(message), as: UTF8.self)
    }

    /// The user's webhook settings, made (with a new secret) the first time they are needed.
    static func endpoint(forUser userID: UUID, at now: Date, on db: any Database) async throws -> WebhookEndpoint {
        if let existing = try await WebhookEndpoint.query(on: db).filter(\.$user.$id == userID).first() { return existing }
        let endpoint = WebhookEndpoint()
        endpoint.$user.id = userID
        endpoint.secret = WebhookSigner.makeSecret()
        endpoint.createdAt = now
        endpoint.updatedAt = now
        do {
            try await endpoint.create(on: db)
            return endpoint
        } catch {
            // Another request made it first (the user id is unique); use theirs.
            guard (error as? any DatabaseError)?.isConstraintFailure == true,
                  let made = try await WebhookEndpoint.query(on: db).filter(\.$user.$id == userID).first()
            else { throw error }
            return made
        }
    }
}
