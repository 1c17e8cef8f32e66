// Queues webhook deliveries inside the transaction of the job change they announce.
import Foundation
import PhimSupport

/// Queues the deliveries a job's change announces, in the change's own transaction, so an event
/// is sent if and only if the change it announces was committed: a crash can delay a delivery,
/// never lose one or announce something that did not happen, and a change that rolls back (a
/// duplicate callback that lost the race to close the hold) queues nothing.
struct WebhookOutbox {
    var clock: AppClock
    var settings: Settings

    /// Called by `JobLifecycle` after it changed `before`'s job, inside its write transaction.
    /// Queues the event once per target URL that wants it: the video's own `webhook_url` and
    /// the account's endpoint (once when both are the same URL).
    func announce(changeOf before: VideoRecord, at now: Int64, on db: Database) throws {
        guard let targets = try db.first("""
            SELECT v.webhook_url, v.webhook_events, e.url, e.events FROM video_jobs v
            LEFT JOIN webhook_endpoints e ON e.user_id = v.user_id WHERE v.id = ?
            """, [.text(before.id)]),
            targets.optionalString(0) != nil || targets.optionalString(2) != nil,
            let after = try VideoRecord.find(before.id, on: db),
            let event = WebhookEvent.announcing(from: (before.status, before.progress), to: (after.status, after.progress))
        else { return }
        var urls: [String] = []
        if let url = targets.optionalString(0), WebhookEventFilter(stored: targets.optionalString(1)).includes(event) {
            urls.append(url)
        }
        if let url = targets.optionalString(2), WebhookEventFilter(stored: targets.optionalString(3)).includes(event), !urls.contains(url) {
            urls.append(url)
        }
        guard !urls.isEmpty else { return }
        guard let videoJSON = settings.webhooks.videoJSON else {
            Log.error("webhook not queued: the web side's video JSON is not wired into the settings", ["job_id": before.id])
            return
        }
        // Standard Webhooks' envelope; `data` is the video as its owner reads it at this moment.
        let body = JSON.object([
            ("type", .string(event.type)), ("timestamp", .string(ISOTime.string(now))),
            ("data", videoJSON(after, Sharing(clock: clock, settings: settings))),
        ]).serialized()
        for url in urls {
            try db.run("""
                INSERT INTO webhook_deliveries (id, user_id, job_id, message_id, event_type, url, payload, state, attempts,
                  next_attempt_at, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)
                """, [.text(UUID().uuidString.lowercased()), .text(after.userID), .text(after.id), .text(WebhookSigner.makeMessageID()),
                      .text(event.type), .text(url), .text(body), .integer(now), .integer(now)])
        }
    }
}
