import Foundation
import PhimProvider
import PhimSupport

/// Every account's videos, for operators: lists by state, model and age, the stuck ones,
/// failures grouped by reason, and asking the provider about one video now.
public struct JobAdministration: Sendable {
    public var clock: AppClock
    public var settings: Settings

    public init(clock: AppClock, settings: Settings) {
        self.clock = clock
        self.settings = settings
    }

    public struct Listed: Sendable {
        public var video: VideoRecord
        public var ownerEmail: String
        public var lastHeardAt: Int64?
    }

    static let columns = VideoRecord.columns.split(separator: ",").map { "j." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        .joined(separator: ", ")

    /// Newest first; deleted videos included (they are still money).
    public func list(state: JobStatus?, model: String?, hours: Int?, limit: Int, on db: Database) throws -> [Listed] {
        let since = hours.map { clock.nowMillis() - Int64($0) * 3_600_000 } ?? 0
        return try db.query("""
            SELECT \(Self.columns), u.email, j.last_heard_at FROM video_jobs j JOIN users u ON u.id = j.user_id
            WHERE (? IS NULL OR j.status = ?) AND (? IS NULL OR j.model = ?) AND j.created_at >= ?
            ORDER BY j.created_at DESC, j.id DESC LIMIT ?
            """, [.optionalText(state?.rawValue), .optionalText(state?.rawValue), .optionalText(model),
                  .optionalText(model), .integer(since), .int(limit)]).map(listed)
    }

    /// Unfinished videos with no news from the provider for longer than the reconciler allows
    /// (`PHIM_STALE_AFTER_SECONDS` plus two intervals): the reconciler should have moved them.
    public func stuck(limit: Int, on db: Database) throws -> [Listed] {
        let cutoff = clock.nowMillis() - Int64((settings.staleAfterSeconds + 2 * settings.reconcileIntervalSeconds) * 1000)
        return try db.query("""
            SELECT \(Self.columns), u.email, j.last_heard_at FROM video_jobs j JOIN users u ON u.id = j.user_id
            WHERE j.status IN ('submitting', 'pending', 'processing') AND COALESCE(j.last_heard_at, j.created_at) < ?
            ORDER BY COALESCE(j.last_heard_at, j.created_at) LIMIT ?
            """, [.integer(cutoff), .int(limit)]).map(listed)
    }

    public struct FailureGroup: Sendable {
        public var reason: String
        public var providerCode: String?
        public var count: Int
        public var example: String?
        public var latestAt: Int64
    }

    /// Failed videos of the last `hours`, grouped by reason and provider code, most frequent first.
    public func failures(hours: Int, on db: Database) throws -> [FailureGroup] {
        try db.query("""
            SELECT failure_reason, provider_fail_code, COUNT(*), MAX(provider_fail_message), MAX(finished_at) FROM video_jobs
            WHERE status = 'failed' AND finished_at >= ? GROUP BY failure_reason, provider_fail_code ORDER BY COUNT(*) DESC, failure_reason
            """, [.integer(clock.nowMillis() - Int64(hours) * 3_600_000)]).map {
            FailureGroup(reason: $0.optionalString(0) ?? "unknown", providerCode: $0.optionalString(1), count: $0.int(2),
                         example: $0.optionalString(3), latestAt: $0.int64(4))
        }
    }

    public enum ReconcileResult: Sendable, Equatable {
        /// The provider's answer, and whether it changed the video.
        case asked(state: String, changed: Bool)
        /// Asked less than a reconcile interval ago (by anyone): not asked again.
        case askedRecently
        /// The video has no provider task to ask about (its create was refused or is unconfirmed).
        case noTask
        /// The provider answered, but refused the query or no longer knows the task: news for the
        /// operator, not an outage to retry.
        case providerRefused(code: Int, message: String)
    }

    /// Asks the provider about one video now and applies the answer, at most once per reconcile
    /// interval like the reconciler; audited.
    public func reconcile(videoID: String, provider: any VideoProvider, lifecycle: JobLifecycle, by actor: Administration.Actor,
                          on db: Database) throws -> (Listed, ReconcileResult) {
        let id = videoID.lowercased()
        guard UUID(uuidString: id) != nil, let before = try find(id, on: db) else { throw AppError.videoNotFound }
        guard let taskID = before.video.providerTaskID else { return (before, .noTask) }
        let now = clock.nowMillis()
        guard try Reconciler.claimQuery(jobID: id, now: now, intervalMillis: settings.reconcileIntervalMillis, onlyIfDue: false, on: db) else {
            return (before, .askedRecently)
        }
        let status: ProviderTaskStatus
        do {
            status = try provider.taskStatus(taskID, family: before.video.providerFamily)
        } catch let error as ProviderError {
            Log.warning("an operator's provider query failed", ["job_id": id, "error": "\(error)"])
            if case .rejected(let code, let message) = error, !error.isTransient {
                return (before, .providerRefused(code: code, message: message))
            }
            throw AppError.providerQueryFailed
        }
        // The answer applied and its audit entry in one transaction: neither without the other.
        let (outcome, after) = try db.write {
            let outcome = try lifecycle.apply(status, toJob: id, source: .poll, on: db)
            let after = try find(id, on: db)!
            try Administration(clock: clock).record(actor, "job.reconcile", targetUserID: after.video.userID, target: "video \(id)",
                                                    reason: nil, before: [("status", .string(before.video.status.rawValue))],
                                                    after: [("status", .string(after.video.status.rawValue)),
                                                            ("provider_state", .string(status.state.rawValue))], at: now, on: db)
            return (outcome, after)
        }
        if case .updated = outcome { return (after, .asked(state: status.state.rawValue, changed: true)) }
        return (after, .asked(state: status.state.rawValue, changed: false))
    }

    public func find(_ id: String, on db: Database) throws -> Listed? {
        try db.first("""
            SELECT \(Self.columns), u.email, j.last_heard_at FROM video_jobs j JOIN users u ON u.id = j.user_id WHERE j.id = ?
            """, [.text(id)]).map(listed)
    }

    private func listed(_ row: Row) -> Listed {
        let count = VideoRecord.columnCount
        return Listed(video: VideoRecord(row), ownerEmail: row.string(count), lastHeardAt: row.optionalInt64(count + 1))
    }
}
