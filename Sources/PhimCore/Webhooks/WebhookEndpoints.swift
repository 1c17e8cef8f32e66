// Each account's webhook settings: its signing secret and an optional endpoint for every video.
import Foundation
import PhimSupport

/// A user's webhook settings: the `whsec_` secret every delivery to them is signed with (per-video
/// `webhook_url`s included), and an optional account endpoint that hears about all their videos.
/// Made, with a new secret, the first time they are needed.
public struct WebhookEndpoints: Sendable {
    public var clock: AppClock
    public var settings: Settings

    public init(clock: AppClock, settings: Settings) {
        self.clock = clock
        self.settings = settings
    }

    public struct Endpoint: Sendable {
        /// Where every video's events go; nil when only per-video `webhook_url`s are used.
        public var url: String?
        public var events: WebhookEventFilter
        /// Kept readable: signing needs it. Shown to its owner only, never logged.
        public var secret: String
        public var createdAt: Int64
        public var updatedAt: Int64
    }

    /// The settings, made on first read.
    public func endpoint(userID: String, on db: Database) throws -> Endpoint {
        if let found = try Self.find(userID: userID, on: db) { return found }
        try db.write { try Self.ensure(userID: userID, at: clock.nowMillis(), on: db) }
        return try Self.find(userID: userID, on: db)!
    }

    /// Replaces the account endpoint from `{url?, events?}`: a missing or null `url` removes it,
    /// a missing `events` means every event. The URL's form is checked before anything changes
    /// (no DNS on the request thread: where the name leads is checked before each attempt).
    public func update(userID: String, body: JSON, on db: Database) throws -> Endpoint {
        var url: String?
        if let value = body["url"], !value.isNull {
            guard let raw = value.stringValue else { throw AppError.invalidWebhookURL }
            url = raw
        }
        let filter = try WebhookEventFilter.requested(body["events"])
        if let url { try WebhookTargetPolicy(settings: settings.webhooks).require(url) }
        let now = clock.nowMillis()
        try db.write {
            try Self.ensure(userID: userID, at: now, on: db)
            try db.run("UPDATE webhook_endpoints SET url = ?, events = ?, updated_at = ? WHERE user_id = ?",
                       [.optionalText(url), .optionalText(url == nil ? nil : filter.stored), .integer(now), .text(userID)])
        }
        Log.info("webhook endpoint updated", ["user_id": userID, "has_url": url == nil ? "false" : "true"])
        return try Self.find(userID: userID, on: db)!
    }

    /// A new secret, effective at once: every attempt from now on is signed with it.
    public func rotateSecret(userID: String, on db: Database) throws -> Endpoint {
        let now = clock.nowMillis()
        try db.write {
            try Self.ensure(userID: userID, at: now, on: db)
            try db.run("UPDATE webhook_endpoints SET secret = ?, updated_at = ? WHERE user_id = ?",
                       [.text(WebhookSigner.makeSecret()), .integer(now), .text(userID)])
        }
        Log.info("webhook secret rotated", ["user_id": userID])
        return try Self.find(userID: userID, on: db)!
    }

    /// Makes the user's row, with a new secret, unless it exists (in the caller's transaction).
    static func ensure(userID: String, at now: Int64, on db: Database) throws {
        try db.run("""
            INSERT INTO webhook_endpoints (user_id, secret, created_at, updated_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (user_id) DO NOTHING
            """, [.text(userID), .text(WebhookSigner.makeSecret()), .integer(now), .integer(now)])
    }

    static func find(userID: String, on db: Database) throws -> Endpoint? {
        try db.first("SELECT url, events, secret, created_at, updated_at FROM webhook_endpoints WHERE user_id = ?",
                     [.text(userID)]).map { row in
            Endpoint(url: row.optionalString(0), events: WebhookEventFilter(stored: row.optionalString(1)), secret: row.string(2),
                     createdAt: row.int64(3), updatedAt: row.int64(4))
        }
    }
}
