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
    func taskStatus(_ id: ProviderTaskID, family: ProviderFamily) throws -> ProviderTaskStatus
    /// The provider account's remaining credits (Kie's `GET /api/v1/chat/credit`).
    func remainingCredits() throws -> Int
    /// A fresh, short-lived direct link to a video the provider made (Kie's download-url).
    func freshDownloadURL(for url: String) throws -> String
    /// Puts a file on the provider's own temporary file host (free) and returns its public URL:
    /// how a reference image reaches a model when Phim has no public address.
    func uploadFile(_ bytes: Data, fileName: String) throws -> String
    /// Kie's public price list, every page of it. Costs nothing and starts no task.
    func priceFeed() throws -> [ProviderPriceRecord]
}

public typealias ProviderTaskID = String

/// One create, in Phim's vocabulary and the catalog's spelling; `KieWire` turns it into the
/// provider's JSON for the model's family.
public struct ProviderTaskRequest: Sendable, Equatable {
    public var wire: WireSpec
    public var mode: VideoMode
    public var prompt: String
    /// Phim's ratio ("16:9"), one the model offers.
    public var aspectRatio: String
    public var durationSeconds: Int
    /// Phim's resolution id ("720p"), one the model offers.
    public var resolution: String
    public var audio: Bool
    public var imageURL: String?
    public var callbackURL: String

    public init(wire: WireSpec, mode: VideoMode, prompt: String, aspectRatio: String, durationSeconds: Int, resolution: String,
                audio: Bool, imageURL: String?, callbackURL: String) {
        self.wire = wire
        self.mode = mode
        self.prompt = prompt
        self.aspectRatio = aspectRatio
        self.durationSeconds = durationSeconds
        self.resolution = resolution
        self.audio = audio
        self.imageURL = imageURL
        self.callbackURL = callbackURL
    }

    public var family: ProviderFamily { wire.family }
    public var providerModel: String { wire.providerModels[mode] ?? "" }
}

/// One row of Kie's public price feed (`/client/v1/model-pricing/page`).
public struct ProviderPriceRecord: Sendable, Equatable {
    /// A label such as "Kling 3.0, video, with audio-720P", not an API id.
    public var description: String
    /// Kie credits, per `unit`.
    public var credits: Double
    /// "per second", "per video", …
    public var unit: String
    /// The model id the record's page names (`anchor`'s `model=`), when it names one.
    public var modelID: String?

    public init(description: String, credits: Double, unit: String, modelID: String?) {
        self.description = description
        self.credits = credits
        self.unit = unit
        self.modelID = modelID
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
    /// What the provider charged for the task, in its credits (Kie's `creditsConsumed`), when it says.
    public var creditsConsumed: Double?

    public init(taskID: ProviderTaskID, state: ProviderState, progress: Int? = nil, resultURLs: [String] = [],
                watermarkedURLs: [String] = [], failCode: String? = nil, failMessage: String? = nil, callbackURL: String? = nil,
                creditsConsumed: Double? = nil) {
        self.taskID = taskID
        self.state = state
        self.progress = progress
        self.resultURLs = resultURLs
        self.watermarkedURLs = watermarkedURLs
        self.failCode = failCode
        self.failMessage = failMessage
        self.callbackURL = callbackURL
        self.creditsConsumed = creditsConsumed
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
