import Foundation
import PhimProvider
import PhimSupport

/// What one video costs, in credits, by model, length and quality. A job copies its price when
/// it is created, so a later change never alters what an existing job is charged.
public enum Prices {
    public struct Row: Sendable, Equatable {
        public var model: VideoModel
        public var durationSeconds: Int
        public var quality: VideoQuality
        public var credits: Int
    }

    /// 10 s standard costs 7,000 credits in both modes (the product's reference price); the
    /// other rows keep the ratios of Kie's own list prices (reference §10.2): stable ≈ 1.17×,
    /// Pro standard 5×, Pro high 11×, and 15 s ≈ 1.5× (Pro 1.8× and 1.9×).
    static func defaultCredits(model: VideoModel, durationSeconds: Int, quality: VideoQuality) -> Int? {
        switch (model, durationSeconds, quality) {
        case (.sora2TextToVideo, 10, .standard), (.sora2ImageToVideo, 10, .standard): 7_000
        case (.sora2TextToVideo, 15, .standard), (.sora2ImageToVideo, 15, .standard): 10_500
        case (.sora2StableTextToVideo, 10, .standard), (.sora2StableImageToVideo, 10, .standard): 8_200
        case (.sora2StableTextToVideo, 15, .standard), (.sora2StableImageToVideo, 15, .standard): 9_400
        case (.sora2ProTextToVideo, 10, .standard), (.sora2ProImageToVideo, 10, .standard): 35_000
        case (.sora2ProTextToVideo, 15, .standard), (.sora2ProImageToVideo, 15, .standard): 63_000
        case (.sora2ProTextToVideo, 10, .high), (.sora2ProImageToVideo, 10, .high): 77_000
        case (.sora2ProTextToVideo, 15, .high), (.sora2ProImageToVideo, 15, .high): 147_000
        default: nil
        }
    }

    /// Fills an empty price table (run by the migrations).
    static func seedDefaults(on db: Database) throws {
        guard try db.first("SELECT COUNT(*) FROM prices")?.int(0) == 0 else { return }
        let now = Date().unixMillis
        for model in VideoModel.allCases {
            for duration in VideoDurations.allowed {
                for quality in model.qualities {
                    guard let credits = defaultCredits(model: model, durationSeconds: duration, quality: quality) else { continue }
                    try db.run("INSERT INTO prices (model, duration_seconds, quality, credits, updated_at) VALUES (?, ?, ?, ?, ?)",
                               [.text(model.rawValue), .int(duration), .text(quality.rawValue), .int(credits), .integer(now)])
                }
            }
        }
    }

    public static func all(on db: Database) throws -> [Row] {
        try db.query("SELECT model, duration_seconds, quality, credits FROM prices ORDER BY model, duration_seconds, quality")
            .compactMap { row in
                guard let model = VideoModel(rawValue: row.string(0)), let quality = VideoQuality(rawValue: row.string(2)) else { return nil }
                return Row(model: model, durationSeconds: row.int(1), quality: quality, credits: row.int(3))
            }
    }

    public static func credits(model: VideoModel, durationSeconds: Int, quality: VideoQuality, on db: Database) throws -> Int? {
        try db.first("SELECT credits FROM prices WHERE model = ? AND duration_seconds = ? AND quality = ?",
                     [.text(model.rawValue), .int(durationSeconds), .text(quality.rawValue)])?.int(0)
    }
}
