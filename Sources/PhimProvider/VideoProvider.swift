import Foundation

/// What Phim needs from a video provider. The live Kie client (which also talks to the
/// simulator, over real HTTP) conforms; tests script their own.
///
/// Every call blocks the calling thread: Phim's FastCGI workers and background loops are threads.
public protocol VideoProvider: Sendable {
    /// Asks the provider to start a task. Throws `ProviderError`, whose case says whether the
    /// task may exist anyway (`.ambiguous`) or certainly does not.
    func createTask(_ request: ProviderTaskRequest) throws -> ProviderTaskID
    /// Reads a task's current state. Never called from a user's request: only the reconciler
    /// and callback confirmation ask, at most once per job per reconcile interval.
    func taskStatus(_ id: ProviderTaskID) throws -> ProviderTaskStatus
    /// The provider account's remaining credits (Kie's `GET /api/v1/chat/credit`).
    func remainingCredits() throws -> Int
    /// A fresh, short-lived direct link to a video the provider made (Kie's download-url).
    func freshDownloadURL(for url: String) throws -> String
}

public typealias ProviderTaskID = String

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

/// One createTask call, in Phim's vocabulary; `KieWire` turns it into the provider's JSON.
public struct ProviderTaskRequest: Sendable, Equatable {
    public var model: VideoModel
    public var prompt: String
    public var aspectRatio: AspectRatio
    public var durationSeconds: Int
    public var quality: VideoQuality
    public var imageURL: String?
    public var callbackURL: String
    public var progressCallbackURL: String?

    public init(model: VideoModel, prompt: String, aspectRatio: AspectRatio, durationSeconds: Int, quality: VideoQuality,
                imageURL: String?, callbackURL: String, progressCallbackURL: String?) {
        self.model = model
        self.prompt = prompt
        self.aspectRatio = aspectRatio
        self.durationSeconds = durationSeconds
        self.quality = quality
        self.imageURL = imageURL
        self.callbackURL = callbackURL
        self.progressCallbackURL = progressCallbackURL
    }
}

/// The provider's task state names (reference §4.3).
public enum ProviderState: Sendable, Equatable {
    case waiting, queuing, generating, success, fail
    /// A state name the reference does not list; treated as "still running".
    case other(String)

    public init(_ raw: String) {
        switch raw.lowercased() {
        case "waiting": self = .waiting
        case "queuing", "queueing": self = .queuing
        case "generating": self = .generating
        case "success": self = .success
        case "fail", "failed": self = .fail
        default: self = .other(raw)
        }
    }

    public var rawValue: String {
        switch self {
        case .waiting: "waiting"
        case .queuing: "queuing"
        case .generating: "generating"
        case .success: "success"
        case .fail: "fail"
        case .other(let raw): raw
        }
    }

    public var isTerminal: Bool { self == .success || self == .fail }
}

/// What the provider said about a task, from a recordInfo reply or a callback.
public struct ProviderTaskStatus: Sendable, Equatable {
    public var taskID: ProviderTaskID
    public var state: ProviderState
    /// 0...100 when the provider reports it (progress callbacks, some replies).
    public var progress: Int?
    /// The deliverable video; without watermark when removal was asked for.
    public var resultURLs: [String]
    public var watermarkedURLs: [String]
    public var failCode: String?
    public var failMessage: String?
    /// The completion callback URL the task was created with (recordInfo's `param`): in the
    /// provider's own answer, it says which job the task was made for.
    public var callbackURL: String?

    public init(taskID: ProviderTaskID, state: ProviderState, progress: Int? = nil, resultURLs: [String] = [],
                watermarkedURLs: [String] = [], failCode: String? = nil, failMessage: String? = nil, callbackURL: String? = nil) {
        self.taskID = taskID
        self.state = state
        self.progress = progress
        self.resultURLs = resultURLs
        self.watermarkedURLs = watermarkedURLs
        self.failCode = failCode
        self.failMessage = failMessage
        self.callbackURL = callbackURL
    }
}

/// Why a provider call did not succeed, sorted by what the caller may conclude.
public enum ProviderError: Error, Sendable, Equatable {
    /// The provider answered with a business error code (reference §7); nothing was created.
    case rejected(code: Int, message: String)
    /// The request never reached the provider (connection refused, DNS, connect timeout).
    case unreachable(detail: String)
    /// The request may have been processed: a timeout after sending, a dropped connection, or a
    /// gateway error. A create that ends like this must not be sent again.
    case ambiguous(detail: String)
    /// The provider answered with something that is not its contract.
    case invalidResponse(detail: String)

    /// Worth asking again for a read: the provider may answer next time.
    public var isTransient: Bool {
        switch self {
        case .unreachable, .ambiguous, .invalidResponse: true
        case .rejected(let code, _): code == 429 || code == 455 || code >= 500
        }
    }
}
