import Foundation

/// Where a job is in its life. Terminal states never change again.
public enum JobStatus: String, Codable, Sendable, CaseIterable {
    /// Credits are held and the job waits its turn to be sent to the provider (`ProviderQueue`);
    /// nothing has been sent, so a cancel or a deadline refunds it in full.
    case queued
    /// Credits are held and the create call is in flight, or its outcome is unknown (it timed
    /// out after sending); a callback or the reconciler settles which.
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
        case .queued: 0
        case .submitting: 1
        case .pending: 2
        case .processing: 3
        case .completed, .failed, .canceled: 4
        }
    }

    public static let unfinished: [JobStatus] = [.queued, .submitting, .pending, .processing]
    /// Sent to the provider and not finished: what counts against its cap on running tasks.
    public static let atProvider: [JobStatus] = [.submitting, .pending, .processing]
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
    /// The provider refused the create because the model is paused, removed or unsupported.
    case modelUnavailable = "model_unavailable"
    /// It waited in Phim's queue longer than `PHIM_QUEUE_TIMEOUT_SECONDS`; nothing was sent.
    case queueTimeout = "queue_timeout"

    /// Failures Phim decided on its own while the provider's task may still have run; a later
    /// success from the provider is recorded, uncharged.
    static let releasedByPhim: Set<FailureReason> = [.submissionUnconfirmed, .timedOut, .deadlineExceeded]
}
