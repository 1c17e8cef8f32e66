import Fluent
import Foundation
import Logging
import SQLKit

/// The operator's view of every account's videos: filtered lists, the stuck ones, failures
/// grouped by reason, and asking the provider about one video now.
struct JobAdministration: Sendable {
    let store: Store
    let clock: AppClock
    let logger: Logger
    let provider: any VideoProvider
    let lifecycle: JobLifecycle
    let settings: AppConfig.ReconcilerSettings

    /// One video as the operator's lists show it, with its owner.
    struct Row: Decodable, Sendable {
        var id: UUID
        var userID: UUID
        var email: String
        var status: JobStatus
        var model: String
        var prompt: String
        var priceCredits: Int
        var holdState: HoldState
        var failureReason: FailureReason?
        var providerFailMessage: String?
        var providerTaskID: String?
        var providerState: String?
        var createdAt: Date
        var lastHeardAt: Date?
        var finishedAt: Date?
        var deletedAt: Date?

        enum CodingKeys: String, CodingKey {
            case id, userID = "user_id", email, status, model, prompt, priceCredits = "price_credits", holdState = "hold_state"
            case failureReason = "failure_reason", providerFailMessage = "provider_fail_message"
            case providerTaskID = "provider_task_id", providerState = "provider_state", createdAt = "created_at"
            case lastHeardAt = "last_heard_at", finishedAt = "finished_at", deletedAt = "deleted_at"
        }

        static let selectList = """
            v.id AS id, v.user_id AS user_id, u.email AS email, v.status AS status, v.model AS model, v.prompt AS prompt,
            v.price_credits AS price_credits, v.hold_state AS hold_state, v.failure_reason AS failure_reason,
            v.provider_fail_message AS provider_fail_message, v.provider_task_id AS provider_task_id,
            v.provider_state AS provider_state, v.created_at AS created_at, v.last_heard_at AS last_heard_at,
            v.finished_at AS finished_at, v.deleted_at AS deleted_at
            """
    }

    struct Filter: Sendable {
        var status: JobStatus?
        var model: VideoModel?
        /// Only videos created within this many hours.
        var hours: Int?
    }

    /// Newest first, every account's (soft-deleted ones too, marked).
    func list(_ filter: Filter, limit: Int = 100) async throws -> [Row] {
        var query: SQLQueryString = "SELECT \(unsafeRaw: Row.selectList) FROM video_jobs v JOIN users u ON u.id = v.user_id WHERE 1 = 1"
        if let status = filter.status { query += " AND v.status = \(bind: status.rawValue)" }
        if let model = filter.model { query += " AND v.model = \(bind: model.rawValue)" }
        if let hours = filter.hours { query += " AND v.created_at >= \(bind: clock.now().addingTimeInterval(-3600 * Double(hours)))" }
        query += " ORDER BY v.created_at DESC, v.id DESC LIMIT \(literal: limit)"
        return try await sql.raw(query).all(decoding: Row.self)
    }

    /// How long an unfinished video may go without news before it counts as stuck: the
    /// reconciler asks after `staleAfter` and then every interval, and each answer is news, so
    /// silence past that plus two intervals means neither callbacks nor polls are getting through.
    var stuckAfter: TimeInterval {
        (settings.staleAfter + settings.interval * 2).timeInterval
    }

    /// Unfinished videos with no news (or, never heard of, no create answer) for longer than `stuckAfter`, oldest first.
    func stuck(limit: Int = 50) async throws -> [Row] {
        let cutoff = clock.now().addingTimeInterval(-stuckAfter)
        let unfinished = JobStatus.unfinished.map(\.rawValue)
        return try await sql.raw("""
            SELECT \(unsafeRaw: Row.selectList) FROM video_jobs v JOIN users u ON u.id = v.user_id
            WHERE v.status IN (\(binds: unfinished)) AND COALESCE(v.last_heard_at, v.created_at) < \(bind: cutoff)
            ORDER BY COALESCE(v.last_heard_at, v.created_at), v.id LIMIT \(literal: limit)
            """).all(decoding: Row.self)
    }

    /// Failures of the last `hours`, grouped by reason and the provider's code, most frequent first.
    struct FailureGroup: Decodable, Sendable {
        var failureReason: FailureReason?
        var providerFailCode: String?
        var count: Int
        /// One of the provider's messages in the group, as an example.
        var example: String?

        enum CodingKeys: String, CodingKey {
            case failureReason = "failure_reason", providerFailCode = "provider_fail_code", count, example
        }
    }

    func failures(hours: Int) async throws -> [FailureGroup] {
        let since = clock.now().addingTimeInterval(-3600 * Double(hours))
        return try await sql.raw("""
            SELECT failure_reason, provider_fail_code, COUNT(*) AS count, MAX(provider_fail_message) AS example
            FROM video_jobs WHERE status = \(bind: JobStatus.failed.rawValue) AND finished_at >= \(bind: since)
            GROUP BY failure_reason, provider_fail_code ORDER BY count DESC, failure_reason
            """).all(decoding: FailureGroup.self)
    }

    enum ReconcileResult: Equatable, Sendable {
        /// Already completed, failed or canceled: nothing to ask.
        case finished(JobStatus)
        /// The create's answer never came, so there is no task id, and Kie cannot look a task up without one.
        case noTask
        /// Asked less than an interval ago (each video costs at most one query per interval).
        case askedRecently(retryInSeconds: Int)
        case queried(before: JobStatus, after: JobStatus, providerState: String)
        case queryFailed(String)
    }

    /// Asks the provider about one video now and applies the answer, within the
    /// one-ask-per-interval budget the reconciler keeps. Recorded in the audit log.
    func reconcileNow(_ jobID: UUID, by actor: AccountAdministration.Actor) async throws -> ReconcileResult {
        guard let job = try await VideoJob.find(jobID, on: store.db) else { throw AppError.videoNotFound }
        if job.status.isTerminal { return .finished(job.status) }
        guard let taskID = job.providerTaskID else { return .noTask }
        let now = clock.now()
        guard try await Reconciler.claimQuery(jobID: jobID, now: now, interval: settings.interval, on: store.db, onlyIfDue: false) else {
            let next = (job.lastQueriedAt ?? now).addingTimeInterval(settings.interval.timeInterval)
            return .askedRecently(retryInSeconds: max(1, Int(next.timeIntervalSince(now).rounded(.up))))
        }
        let result: ReconcileResult
        do {
            let answer = try await provider.taskStatus(taskID)
            try await lifecycle.apply(answer, toJob: jobID, source: .poll)
            let after = try await VideoJob.find(jobID, on: store.db)?.status ?? job.status
            result = .queried(before: job.status, after: after, providerState: answer.state.rawValue)
        } catch let error as ProviderError {
            result = .queryFailed("\(error)")
        }
        let after: [String: AuditValue] = switch result {
        case .queried(_, let status, let state): ["status": .text(status.rawValue), "provider_state": .text(state)]
        case .queryFailed(let message): ["status": .text(job.status.rawValue), "query_failed": .text(String(message.prefix(200)))]
        default: [:]
        }
        try await AdminAction(actor: actor, action: .reconcileJob, targetUserID: job.$user.id, target: "video \(jobID.uuidString.lowercased())",
                              reason: nil, before: ["status": .text(job.status.rawValue)], after: after, at: now).create(on: store.db)
        logger.notice("video reconciled by an operator", metadata: ["job_id": .string(jobID.uuidString), "actor": .string(actor.label)])
        return result
    }

    private var sql: any SQLDatabase { store.db as! any SQLDatabase } // both supported drivers are SQL databases
}
