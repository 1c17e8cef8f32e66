import Fluent
import Foundation
import Logging
import Vapor

/// Where a finished video can be played or downloaded now. Phim never copies videos; it keeps
/// the provider's URL, which has two limits (reference §9): the URL itself usually stops
/// working after about a day, and the provider deletes the video after 14 days. So:
/// - in its first 20 hours, the result URL as stored;
/// - after that, a fresh 20-minute link from the provider's download-url call, kept and reused
///   for 18 minutes (one provider call per video per 18 minutes of viewing, at most);
/// - past the provider's retention, nothing: the video has expired (410 `video_expired`).
/// The studio's player and download button and the share page all go through here
/// (`GET /api/v1/videos/{id}/media`, `GET /v/<token>/media`, each a redirect).
struct MediaLinks: Sendable {
    let store: Store
    let clock: AppClock
    let provider: any VideoProvider
    let logger: Logger
    let expiry: VideoExpiry

    static let storedURLTrustedFor: TimeInterval = 20 * 3600
    static let freshURLReusedFor: TimeInterval = 18 * 60

    func playableURL(for video: VideoJob) async throws -> String {
        guard video.status == .completed, let stored = video.videoURL, let finished = video.finishedAt else {
            throw AppError.videoNotFound
        }
        let now = clock.now()
        if expiry.isExpired(video, at: now) { throw AppError.videoExpired(days: expiry.lifetimeDays) }
        if now.timeIntervalSince(finished) < Self.storedURLTrustedFor { return stored }
        if let fresh = video.freshURL, let until = video.freshURLUntil, until > now { return fresh }
        do {
            let fresh = try await provider.freshDownloadURL(for: stored)
            video.freshURL = fresh
            video.freshURLUntil = now.addingTimeInterval(Self.freshURLReusedFor)
            try await store.write { db in try await video.save(on: db) }
            return fresh
        } catch let error as ProviderError {
            // The stored URL may still work; it is the best there is.
            logger.warning("could not get a fresh video link; using the stored one",
                           metadata: ["job_id": .string(video.id?.uuidString ?? ""), "error": .string("\(error)")])
            return stored
        }
    }
}

/// When a finished video stops being available at the provider.
struct VideoExpiry: Sendable {
    var lifetimeDays: Int
    var now: Date

    func expiresAt(_ video: some VideoColumns) -> Date? {
        guard video.status == .completed, let finished = video.finishedAt else { return nil }
        return finished.addingTimeInterval(Double(lifetimeDays) * 86_400)
    }

    func isExpired(_ video: some VideoColumns, at moment: Date? = nil) -> Bool {
        expiresAt(video).map { $0 <= (moment ?? now) } ?? false
    }

    /// Whole days left, rounded up (a video with 3 hours left has 1 day left).
    func daysLeft(_ video: some VideoColumns) -> Int? {
        expiresAt(video).map { max(0, Int(($0.timeIntervalSince(now) / 86_400).rounded(.up))) }
    }
}

extension Request {
    /// A redirect to where `video` plays now; never cached, as the link changes.
    func redirectToMedia(of video: VideoJob) async throws -> Response {
        let response = redirect(to: try await mediaLinks.playableURL(for: video), redirectType: .temporary)
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return response
    }

    var videoExpiry: VideoExpiry { VideoExpiry(lifetimeDays: application.phimConfig.resultLifetimeDays, now: clock.now()) }
    var mediaLinks: MediaLinks {
        MediaLinks(store: store, clock: clock, provider: application.provider, logger: logger, expiry: videoExpiry)
    }
}
