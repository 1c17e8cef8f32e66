import Foundation

/// What a video's answers show: the API's `Video` and `Receipt`, the studio's card.
///
/// Both the Fluent model and `VideoRecord` have these, so an answer is built the same way
/// whichever read produced the row.
protocol VideoColumns {
    var id: UUID? { get }
    var status: JobStatus { get }
    var progress: Int { get }
    var mode: VideoMode { get }
    var model: String { get }
    var prompt: String { get }
    var aspectRatio: AspectRatio { get }
    var durationSeconds: Int { get }
    var quality: VideoQuality { get }
    var priceCredits: Int { get }
    var uploadID: UUID? { get }
    var imageURL: String? { get }
    var videoURL: String? { get }
    var watermarkVideoURL: String? { get }
    var failureReason: FailureReason? { get }
    var providerFailCode: String? { get }
    var providerFailMessage: String? { get }
    var holdState: HoldState { get }
    var createdAt: Date { get }
    var updatedAt: Date { get }
    var finishedAt: Date? { get }
    var deadlineAt: Date? { get }
    var shareToken: String? { get }
}

extension VideoJob: VideoColumns {}

/// A video as the read paths load it: those columns only, decoded straight from the row.
///
/// Reading a gallery page through the Fluent model walks every one of its 35 properties by
/// reflection for each row, which was most of the CPU a read cost (BENCHMARKS.md). Reads that
/// only show a video use this instead; anything that changes a job still goes through
/// `VideoJob` and `JobLifecycle`.
struct VideoRecord: VideoColumns, Decodable, Sendable {
    var id: UUID?
    var status: JobStatus
    var progress: Int
    var mode: VideoMode
    var model: String
    var prompt: String
    var aspectRatio: AspectRatio
    var durationSeconds: Int
    var quality: VideoQuality
    var priceCredits: Int
    var uploadID: UUID?
    var imageURL: String?
    var videoURL: String?
    var watermarkVideoURL: String?
    var failureReason: FailureReason?
    var providerFailCode: String?
    var providerFailMessage: String?
    var holdState: HoldState
    var createdAt: Date
    var updatedAt: Date
    var finishedAt: Date?
    var deadlineAt: Date?
    var shareToken: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, status, progress, mode, model, prompt
        case aspectRatio = "aspect_ratio", durationSeconds = "duration_seconds", quality
        case priceCredits = "price_credits", uploadID = "upload_id", imageURL = "image_url"
        case videoURL = "video_url", watermarkVideoURL = "watermark_video_url"
        case failureReason = "failure_reason", providerFailCode = "provider_fail_code"
        case providerFailMessage = "provider_fail_message", holdState = "hold_state"
        case createdAt = "created_at", updatedAt = "updated_at", finishedAt = "finished_at", deadlineAt = "deadline_at"
        case shareToken = "share_token"
    }

    /// The select list, in the table's own column names (the same on SQLite and PostgreSQL).
    static let selectList = CodingKeys.allCases.map(\.rawValue).joined(separator: ", ")

    /// The same columns read from the table under the alias `v` in a join.
    static let selectListInJoin = CodingKeys.allCases.map { "v.\($0.rawValue) AS \($0.rawValue)" }.joined(separator: ", ")
}

/// What a ledger entry's answers show (the API's `Transaction`, the credits page's line).
protocol LedgerColumns {
    var id: UUID? { get }
    var kind: CreditEntry.Kind { get }
    var availableDelta: Int { get }
    var heldDelta: Int { get }
    var jobID: UUID? { get }
    var reason: String? { get }
    var createdAt: Date { get }
}

extension CreditEntry: LedgerColumns {}

/// A ledger entry as the read paths load it (see `VideoRecord`).
struct LedgerRecord: LedgerColumns, Decodable, Sendable {
    var id: UUID?
    var kind: CreditEntry.Kind
    var availableDelta: Int
    var heldDelta: Int
    var jobID: UUID?
    var reason: String?
    var createdAt: Date

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, kind, availableDelta = "available_delta", heldDelta = "held_delta", jobID = "job_id", reason
        case createdAt = "created_at"
    }

    /// The columns read from the table under the alias `e` in a join, each named `entry_<column>`.
    static let selectListInJoin = CodingKeys.allCases.map { "e.\($0.rawValue) AS entry_\($0.rawValue)" }.joined(separator: ", ")
}
