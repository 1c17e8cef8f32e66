/// What a person asks for: text-to-video, or image-to-video with a reference image.
public enum VideoMode: String, Codable, Sendable, CaseIterable {
    case textToVideo = "text_to_video"
    case imageToVideo = "image_to_video"
}

/// The Kie Sora 2 models Phim offers, by their provider ids.
public enum VideoModel: String, Codable, Sendable, CaseIterable {
    case sora2TextToVideo = "sora-2-text-to-video"
    case sora2ImageToVideo = "sora-2-image-to-video"
    case sora2StableTextToVideo = "sora-2-text-to-video-stable"
    case sora2StableImageToVideo = "sora-2-image-to-video-stable"
    case sora2ProTextToVideo = "sora-2-pro-text-to-video"
    case sora2ProImageToVideo = "sora-2-pro-image-to-video"

    public var mode: VideoMode {
        switch self {
        case .sora2TextToVideo, .sora2StableTextToVideo, .sora2ProTextToVideo: .textToVideo
        case .sora2ImageToVideo, .sora2StableImageToVideo, .sora2ProImageToVideo: .imageToVideo
        }
    }

    /// The model used when a request names only a mode.
    public static func standard(for mode: VideoMode) -> VideoModel {
        mode == .textToVideo ? .sora2TextToVideo : .sora2ImageToVideo
    }

    /// Only the Pro models take Kie's `size` parameter, so only they offer `high`.
    public var isPro: Bool { self == .sora2ProTextToVideo || self == .sora2ProImageToVideo }

    /// Kie documents `remove_watermark` and progress callbacks for the standard and Pro models,
    /// not for the "stable" tier (reference §2, §11.15), so those fields are sent only here.
    public var supportsWatermarkRemovalAndProgress: Bool {
        self != .sora2StableTextToVideo && self != .sora2StableImageToVideo
    }

    public var qualities: [VideoQuality] { isPro ? [.standard, .high] : [.standard] }
}

public enum AspectRatio: String, Codable, Sendable, CaseIterable {
    case landscape, portrait
}

/// Kie's `size`: `high` is the 1080p tier of the Pro models.
public enum VideoQuality: String, Codable, Sendable, CaseIterable {
    case standard, high
}

/// The clip lengths Kie accepts (`n_frames`, despite its name, is seconds).
public enum VideoDurations {
    public static let allowed = [10, 15]
}

/// Where a job is in its life. Terminal states never change again.
public enum JobStatus: String, Codable, Sendable, CaseIterable {
    /// Credits are held and the create call to the provider is in flight, or its outcome is
    /// unknown (it timed out after sending); the reconciler or a callback settles which.
    case submitting
    /// The provider accepted the task and is waiting or queuing.
    case pending
    /// The provider is generating.
    case processing
    case completed
    case failed
    case canceled

    public var isTerminal: Bool { self == .completed || self == .failed || self == .canceled }

    /// Order along the normal path, so a late "waiting" never moves a job back from "generating".
    var rank: Int {
        switch self {
        case .submitting: 0
        case .pending: 1
        case .processing: 2
        case .completed, .failed, .canceled: 3
        }
    }

    static let unfinished: [JobStatus] = [.submitting, .pending, .processing]
}

/// The life of the credits a job reserved: open until the job ends, then settled (spent) on
/// success or released (refunded) on failure or cancel. Exactly one of the two happens.
public enum HoldState: String, Codable, Sendable {
    case open, settled, released
}

/// Why a job failed, in Phim's own words (the provider's code and message are kept beside it).
public enum FailureReason: String, Codable, Sendable, CaseIterable {
    case providerFailed = "provider_failed"
    case contentRejected = "content_rejected"
    case providerError = "provider_error"
    case submissionUnconfirmed = "submission_unconfirmed"
    case timedOut = "timed_out"
    /// The caller's `deadline_seconds` passed first.
    case deadlineExceeded = "deadline_exceeded"
    case missingResult = "missing_result"

    /// Failures Phim decided on its own while the provider's task may still have run; if the
    /// provider later reports a success, it is recorded (uncharged) for provider reconciliation.
    static let releasedByPhim: Set<FailureReason> = [.submissionUnconfirmed, .timedOut, .deadlineExceeded]
}

/// The price table an empty database starts with.
///
/// 10 s standard costs 7,000 credits in both modes (the product's reference price); the other
/// rows keep the ratios of Kie's own list prices (reference §10.2): stable ≈ 1.17×, Pro
/// standard 5×, Pro high 11×, and 15 s ≈ 1.5× (Pro 1.8× and 1.9×).
enum DefaultPrices {
    static func credits(model: VideoModel, durationSeconds: Int, quality: VideoQuality) -> Int? {
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
}
