import Foundation
import PhimProvider
import PhimSupport

/// Public links to finished videos, and where a finished video plays now.
///
/// A shared video gets an unguessable token (256 random bits); `/v/<token>` plays it without
/// naming its owner. Withdrawing the link or deleting the video makes the token find nothing at
/// once; sharing again makes a new one.
///
/// Kie's result URLs usually stop working after about a day, and the video itself is deleted
/// after 14 days (reference §9), so players never hold the stored URL: they ask Phim, which
/// redirects to the stored URL while it is young, then to a fresh 20-minute link from Kie's
/// download-url call (reused while it has 2 minutes left), and says "expired" after 14 days.
public struct Sharing: Sendable {
    /// How long the stored result URL is trusted before fresh links are fetched.
    static let resultURLTrustedMillis: Int64 = 20 * 3_600_000
    /// Kie's download links live 20 minutes; one is reused for 18.
    static let freshLinkReuseMillis: Int64 = 18 * 60_000

    public var clock: AppClock
    public var settings: Settings
    public var views: ShareViewCounter

    public init(clock: AppClock, settings: Settings, views: ShareViewCounter = .shared) {
        self.clock = clock
        self.settings = settings
        self.views = views
    }

    public static func url(base: String, token: String) -> String { "\(base)/v/\(token)" }

    /// Publishes a finished video; asking again gives the same link.
    public func share(_ id: String?, ownerID: String, on db: Database) throws -> (token: String, sharedAt: Int64) {
        let video = try Gallery(userID: ownerID).video(id, on: db)
        guard video.status == .completed, !isExpired(video) else { throw AppError.notShareable }
        if let token = video.shareToken, let at = video.sharedAt { return (token, at) }
        let token = Crypto.randomToken()
        let now = clock.nowMillis()
        try db.write {
            try db.run("UPDATE video_jobs SET share_token = ?, shared_at = ? WHERE id = ? AND share_token IS NULL",
                       [.text(token), .integer(now), .text(video.id)])
            try Feed.bump(userID: ownerID, jobID: video.id, on: db)
        }
        // Two shares at once: whichever wrote first is the link.
        let stored = try VideoRecord.find(video.id, on: db)!
        Log.info("video shared", ["job_id": video.id])
        return (stored.shareToken ?? token, stored.sharedAt ?? now)
    }

    /// Withdraws the link at once.
    public func unshare(_ id: String?, ownerID: String, on db: Database) throws {
        let video = try Gallery(userID: ownerID).video(id, on: db)
        try db.write {
            try db.run("UPDATE video_jobs SET share_token = NULL, shared_at = NULL WHERE id = ?", [.text(video.id)])
            try Feed.bump(userID: ownerID, jobID: video.id, on: db)
        }
    }

    /// The shared video behind a token; nil for an unknown, withdrawn or deleted one.
    public func sharedVideo(token: String, on db: Database) throws -> VideoRecord? {
        guard token.count == 43, token.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        return try db.first("SELECT \(VideoRecord.columns) FROM video_jobs WHERE share_token = ? AND deleted_at IS NULL AND status = 'completed'",
                            [.text(token)]).map(VideoRecord.init)
    }

    /// Counts one view of a shared page: a number per video and day, never who viewed. Counted in
    /// memory and written by `ShareViewCounter.flush`, so an anonymous GET writes nothing.
    public func countView(of video: VideoRecord) {
        views.add(jobID: video.id, day: clock.nowMillis() / 86_400_000)
    }

    /// When the provider deletes a finished video.
    public func expiresAt(_ video: VideoRecord) -> Int64? {
        guard video.status == .completed, let finished = video.finishedAt else { return nil }
        return finished + Int64(settings.resultLifetimeDays) * 86_400_000
    }

    public func isExpired(_ video: VideoRecord) -> Bool {
        expiresAt(video).map { clock.nowMillis() >= $0 } ?? false
    }

    /// Where the finished video plays now.
    public func mediaLocation(of video: VideoRecord, provider: any VideoProvider, on db: Database) throws -> String {
        guard video.status == .completed, let stored = video.videoURL, let finished = video.finishedAt else { throw AppError.videoNotFound }
        guard !isExpired(video) else { throw AppError.videoExpired(days: settings.resultLifetimeDays) }
        let now = clock.nowMillis()
        if now - finished < Self.resultURLTrustedMillis { return stored }
        if let fresh = video.freshURL, let until = video.freshURLUntil, now < until { return fresh }
        do {
            let fresh = try provider.freshDownloadURL(for: stored)
            try db.write {
                try db.run("UPDATE video_jobs SET fresh_url = ?, fresh_url_until = ? WHERE id = ?",
                           [.text(fresh), .integer(now + Self.freshLinkReuseMillis), .text(video.id)])
            }
            return fresh
        } catch let error as ProviderError {
            // The stored URL may still work; better a link that might play than none.
            Log.warning("could not get a fresh download link; using the stored one", ["job_id": video.id, "error": "\(error)"])
            return stored
        }
    }
}

/// Views of shared pages not yet written: this process's counts per video and day, written in
/// one transaction by `flush` (every few seconds from a background loop, and at shutdown), so
/// the public page costs no write under the process-wide write lock. The stored counts are at
/// most one flush behind; a crash loses at most the views since the last flush.
public final class ShareViewCounter: Sendable {
    public static let shared = ShareViewCounter()

    private struct Key: Hashable {
        var jobID: String
        var day: Int64
    }

    private let pending = Locked<[Key: Int64]>([:])

    public init() {}

    func add(jobID: String, day: Int64) {
        pending.withLock { $0[Key(jobID: jobID, day: day), default: 0] += 1 }
    }

    /// Views counted and not yet written.
    public var unwritten: Int64 { pending.withLock { $0.values.reduce(0, +) } }

    /// Writes every pending count in one write transaction; returns how many views it wrote.
    /// A failed write keeps the counts for the next flush. A video gone from the database meanwhile is skipped.
    @discardableResult
    public func flush(on db: Database) throws -> Int64 {
        let batch = pending.withLock { counts in
            defer { counts = [:] }
            return counts
        }
        guard !batch.isEmpty else { return 0 }
        do {
            try db.write {
                for (key, views) in batch {
                    let values: [String: SQLValue] = ["job": .text(key.jobID), "day": .integer(key.day), "views": .integer(views)]
                    try db.run("""
                        INSERT INTO share_views (job_id, day, views)
                        SELECT :job, :day, :views WHERE EXISTS (SELECT 1 FROM video_jobs WHERE id = :job)
                        ON CONFLICT (job_id, day) DO UPDATE SET views = share_views.views + excluded.views
                        """, values)
                    // Not a change the studio needs to hear about at once, so the feed is not bumped.
                    try db.run("UPDATE video_jobs SET share_views = share_views + :views WHERE id = :job",
                               ["job": .text(key.jobID), "views": .integer(views)])
                }
            }
        } catch {
            pending.withLock { counts in
                for (key, views) in batch { counts[key, default: 0] += views }
            }
            throw error
        }
        return batch.values.reduce(0, +)
    }
}
