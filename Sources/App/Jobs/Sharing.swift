import Fluent
import Foundation
import Logging
import Vapor

/// Share links: the owner of a finished video publishes it at `/v/<token>`, a page anyone with
/// the link can open (it plays the video from the provider's CDN and carries Open Graph tags
/// for link previews), and can withdraw it at any time.
///
/// The token is 256 random bits, so links cannot be guessed or enumerated; withdrawing clears
/// it, and sharing again makes a new one, so a withdrawn link never comes back to life.
struct Sharing: Sendable {
    let store: Store
    let clock: AppClock
    let logger: Logger

    static func url(base: String, token: String) -> String { "\(base)/v/\(token)" }

    /// The video's link, made now or kept from before.
    func share(_ video: VideoJob, expiry: VideoExpiry) async throws -> (token: String, at: Date) {
        guard video.status == .completed, video.videoURL != nil else { throw AppError.notShareable }
        if expiry.isExpired(video) { throw AppError.videoExpired(days: expiry.lifetimeDays) }
        if let token = video.shareToken, let at = video.sharedAt { return (token, at) }
        let token = VideoCreation.randomToken()
        let now = clock.now()
        video.shareToken = token
        video.sharedAt = now
        try await store.write { db in try await video.save(on: db) }
        logger.info("video shared", metadata: ["job_id": .string(video.id?.uuidString ?? "")])
        return (token, now)
    }

    func unshare(_ video: VideoJob) async throws {
        guard video.shareToken != nil else { return }
        video.shareToken = nil
        video.sharedAt = nil
        try await store.write { db in try await video.save(on: db) }
        logger.info("video share withdrawn", metadata: ["job_id": .string(video.id?.uuidString ?? "")])
    }

    /// The shared video behind a link: completed, not deleted, still shared. Anything else
    /// answers like a link that never existed.
    static func video(token: String, on db: any Database) async throws -> VideoJob {
        guard token.count == 43, token.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }),
              let video = try await VideoJob.query(on: db).filter(\.$shareToken == token).filter(\.$deletedAt == nil).first(),
              video.status == .completed, video.videoURL != nil
        else { throw AppError.routeNotFound }
        return video
    }
}

extension API {
    struct ShareLink: Content {
        var url: String
        var sharedAt: Date
    }
}
