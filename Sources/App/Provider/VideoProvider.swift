import Foundation

/// What Phim needs from a video provider. The live Kie client and the in-process simulator
/// adapter both conform; tests script their own.
public protocol VideoProvider: Sendable {
    /// Asks the provider to start a task. Throws `ProviderError`, whose case says whether the
    /// task may exist anyway (`.ambiguous`) or certainly does not.
    func createTask(_ request: ProviderTaskRequest) async throws -> ProviderTaskID
    /// Reads a task's current state. Never called from a user's request: only the reconciler
    /// asks, at most once per job per reconcile interval.
    func taskStatus(_ id: ProviderTaskID) async throws -> ProviderTaskStatus
    /// The provider account's remaining credits (Kie's `GET /api/v1/chat/credit`).
    func remainingCredits() async throws -> Int
    /// A fresh, short-lived direct link to a video the provider made (Kie's
    /// `POST /api/v1/common/download-url`, valid 20 minutes), for when the result URL itself
    /// may have stopped working.
    func freshDownloadURL(for url: String) async throws -> String
}

extension VideoProvider {
    /// Providers that cannot tell their balance say so.
    public func remainingCredits() async throws -> Int {
        throw ProviderError.invalidResponse(detail: "this provider does not report its balance")
    }

    /// Providers without fresh links say so; the stored URL is used as it is.
    public func freshDownloadURL(for url: String) async throws -> String {
        throw ProviderError.invalidResponse(detail: "this provider does not make fresh download links")
    }
}

public typealias ProviderTaskID = String

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
}

/// The provider's task state names (reference §4.3).
public enum ProviderState: Sendable, Equatable {
    case waiting, queuing, generating, success, fail
    /// A state name the reference does not list; treated as "still running".
    case other(String)

    init(_ raw: String) {
        switch raw.lowercased() {
        case "waiting": self = .waiting
        case "queuing", "queueing": self = .queuing
        case "generating": self = .generating
        case "success": self = .success
        case "fail", "failed": self = .fail
        default: self = .other(raw)
        }
    }

    var rawValue: String {
        switch self {
        case .waiting: "waiting"
        case .queuing: "queuing"
        case .generating: "generating"
        case .success: "success"
        case .fail: "fail"
        case .other(let raw): raw
        }
    }
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

    public init(taskID: ProviderTaskID, state: ProviderState, progress: Int? = nil, resultURLs: [String] = [],
                watermarkedURLs: [String] = [], failCode: String? = nil, failMessage: String? = nil) {
        self.taskID = taskID
        self.state = state
        self.progress = progress
        self.resultURLs = resultURLs
        self.watermarkedURLs = watermarkedURLs
        self.failCode = failCode
        self.failMessage = failMessage
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
    var isTransient: Bool {
        switch self {
        case .unreachable, .ambiguous, .invalidResponse: true
        case .rejected(let code, _): code == 429 || code == 455 || code >= 500
        }
    }
}
