import Foundation
import PhimProvider
import PhimSupport

/// A video job as stored: what the API shows its owner and what the lifecycle changes.
public struct VideoRecord: Sendable {
    public var id: String
    public var userID: String
    public var mode: VideoMode
    public var model: String
    public var prompt: String
    /// "16:9", "9:16" or "1:1".
    public var aspectRatio: String
    public var durationSeconds: Int
    public var resolution: String
    public var audio: Bool
    public var imageURL: String?
    public var priceCredits: Int
    public var idempotencyKey: String?
    public var requestFingerprint: String
    public var requestID: String?
    public var status: JobStatus
    public var progress: Int
    public var holdState: HoldState
    public var callbackSecretHash: String
    public var providerTaskID: String?
    public var providerState: String?
    public var videoURL: String?
    public var watermarkVideoURL: String?
    public var failureReason: FailureReason?
    public var providerFailCode: String?
    public var providerFailMessage: String?
    public var createdAt: Int64
    public var updatedAt: Int64
    public var finishedAt: Int64?
    public var deletedAt: Int64?
    public var feedVersion: Int64
    public var deadlineAt: Int64?
    public var shareToken: String?
    public var sharedAt: Int64?
    public var freshURL: String?
    public var freshURLUntil: Int64?
    /// Times the shared page was viewed (every share of the video together).
    public var shareViews: Int
    public var providerFamily: ProviderFamily
    /// The provider's model id the task was created with.
    public var providerModel: String?
    /// Kie's list price for this video when it was made, and what Kie reported charging.
    public var providerListCredits: Double?
    public var providerConsumedCredits: Double?
    /// When the provider was given the task (nil while queued).
    public var sentAt: Int64?
    /// The owner canceled after the provider had the task: Kie cannot stop it, so the job runs
    /// on and is settled when it ends; the owner only stopped waiting for it.
    public var stoppedWaitingAt: Int64?

    static let columns = """
        id, user_id, mode, model, prompt, aspect_ratio, duration_seconds, resolution, image_url, price_credits,
        idempotency_key, request_fingerprint, request_id, status, progress, hold_state, callback_secret_hash,
        provider_task_id, provider_state, video_url, watermark_video_url, failure_reason, provider_fail_code,
        provider_fail_message, created_at, updated_at, finished_at, deleted_at, feed_version, deadline_at,
        share_token, shared_at, fresh_url, fresh_url_until, share_views, audio, provider_family, provider_model,
        provider_list_millicredits, provider_consumed_millicredits, sent_at, stopped_waiting_at
        """

    /// How many columns `columns` lists; a query may select more after them.
    static let columnCount = columns.split(separator: ",").count

    init(_ row: some RowReading) {
        id = row.string(0)
        userID = row.string(1)
        mode = VideoMode(rawValue: row.string(2)) ?? .textToVideo
        model = row.string(3)
        prompt = row.string(4)
        aspectRatio = row.string(5)
        durationSeconds = row.int(6)
        resolution = row.string(7)
        imageURL = row.optionalString(8)
        priceCredits = row.int(9)
        idempotencyKey = row.optionalString(10)
        requestFingerprint = row.string(11)
        requestID = row.optionalString(12)
        status = JobStatus(rawValue: row.string(13)) ?? .failed
        progress = row.int(14)
        holdState = HoldState(rawValue: row.string(15)) ?? .open
        callbackSecretHash = row.string(16)
        providerTaskID = row.optionalString(17)
        providerState = row.optionalString(18)
        videoURL = row.optionalString(19)
        watermarkVideoURL = row.optionalString(20)
        failureReason = row.optionalString(21).flatMap(FailureReason.init(rawValue:))
        providerFailCode = row.optionalString(22)
        providerFailMessage = row.optionalString(23)
        createdAt = row.int64(24)
        updatedAt = row.int64(25)
        finishedAt = row.optionalInt64(26)
        deletedAt = row.optionalInt64(27)
        feedVersion = row.int64(28)
        deadlineAt = row.optionalInt64(29)
        shareToken = row.optionalString(30)
        sharedAt = row.optionalInt64(31)
        freshURL = row.optionalString(32)
        freshURLUntil = row.optionalInt64(33)
        shareViews = row.int(34)
        audio = row.int(35) != 0
        providerFamily = ProviderFamily(rawValue: row.string(36)) ?? .market
        providerModel = row.optionalString(37)
        providerListCredits = row.optionalInt64(38).map { Double($0) / 1000 }
        providerConsumedCredits = row.optionalInt64(39).map { Double($0) / 1000 }
        sentAt = row.optionalInt64(40)
        stoppedWaitingAt = row.optionalInt64(41)
    }

    static func find(_ id: String, on db: Database) throws -> VideoRecord? {
        try db.first("SELECT \(columns) FROM video_jobs WHERE id = ?", [.text(id)]).map(VideoRecord.init)
    }
}

/// The owner's view of their videos. Every query names the owner, so another user's video
/// answers exactly like a missing one.
public struct Gallery: Sendable {
    public var userID: String

    public init(userID: String) { self.userID = userID }

    public func video(_ id: String?, on db: Database) throws -> VideoRecord {
        guard let id = id?.lowercased(), UUID(uuidString: id) != nil,
              let row = try db.first("SELECT \(VideoRecord.columns) FROM video_jobs WHERE id = ? AND user_id = ? AND deleted_at IS NULL",
                                     [.text(id), .text(userID)])
        else { throw AppError.videoNotFound }
        return VideoRecord(row)
    }

    public struct Page: Sendable {
        public var videos: [VideoRecord]
        public var nextCursor: String?
        /// The owner's change counter when the page was read; `changes(after:)` starts from it.
        public var version: Int64
    }

    /// Newest first; the cursor is `<created_at>.<id>` of the last video shown.
    public func page(limit: Int, cursor: String?, on db: Database) throws -> Page {
        var after: (Int64, String) = (Int64.max, "")
        if let cursor {
            let parts = cursor.split(separator: ".", maxSplits: 1)
            guard parts.count == 2, let millis = Int64(parts[0]), UUID(uuidString: String(parts[1])) != nil else {
                throw AppError.invalidCursor
            }
            after = (millis, String(parts[1]))
        }
        return try db.read {
            let version = try db.first("SELECT feed_version FROM users WHERE id = ?", [.text(userID)])?.int64(0) ?? 0
            var videos = try db.query("""
                SELECT \(VideoRecord.columns) FROM video_jobs
                WHERE user_id = ? AND deleted_at IS NULL AND (created_at < ? OR (created_at = ? AND id < ?))
                ORDER BY created_at DESC, id DESC LIMIT ?
                """, [.text(userID), .integer(after.0), .integer(after.0), .text(after.1), .int(limit + 1)], decode: VideoRecord.init)
            let more = videos.count > limit
            if more { videos.removeLast(videos.count - limit) }
            let next = more ? videos.last.map { "\($0.createdAt).\($0.id)" } : nil
            return Page(videos: videos, nextCursor: next, version: version)
        }
    }

    public struct Changes: Sendable {
        public var version: Int64
        public var changed: [VideoRecord]
        public var deleted: [String]
    }

    /// What changed since the owner's counter stood at `version`: nil when nothing did, which
    /// costs one primary-key read (the page polls this; it never reaches the provider).
    public func changes(after version: Int64, on db: Database) throws -> Changes? {
        try db.read {
            let current = try db.first("SELECT feed_version FROM users WHERE id = ?", [.text(userID)])?.int64(0) ?? 0
            guard current != version else { return nil }
            let rows = try db.query("""
                SELECT \(VideoRecord.columns) FROM video_jobs WHERE user_id = ? AND feed_version > ?
                ORDER BY feed_version LIMIT 200
                """, [.text(userID), .integer(version)], decode: VideoRecord.init)
            // More than a page changed: answer up to the last one shown; the next poll takes the rest.
            let upTo = rows.count == 200 ? rows.last!.feedVersion : current
            return Changes(version: upTo, changed: rows.filter { $0.deletedAt == nil },
                           deleted: rows.filter { $0.deletedAt != nil }.map(\.id))
        }
    }

    /// Hides a video from its owner at once; the job still finishes and settles.
    public func delete(_ id: String?, at now: Int64, on db: Database) throws {
        let video = try self.video(id, on: db)
        try db.write {
            try db.run("UPDATE video_jobs SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL", [.integer(now), .text(video.id)])
            try Feed.bump(userID: userID, jobID: video.id, on: db)
        }
        Log.info("video deleted", ["job_id": video.id])
    }
}

/// The per-owner change counter the studio polls: every change to a video raises the owner's
/// counter and stamps the video with it, in the change's own transaction.
enum Feed {
    static func bump(userID: String, jobID: String, on db: Database) throws {
        guard let version = try db.first("UPDATE users SET feed_version = feed_version + 1 WHERE id = ? RETURNING feed_version",
                                         [.text(userID)])?.int64(0) else { return }
        try db.run("UPDATE video_jobs SET feed_version = ? WHERE id = ?", [.integer(version), .text(jobID)])
    }
}
