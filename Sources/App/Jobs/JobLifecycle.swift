import Fluent
import Foundation
import Logging
import SQLKit

/// The one place where a job changes state and its credits move.
///
/// The create reply, provider callbacks, reconciler polls, cancels and timeouts all come here,
/// so the rules hold whatever the source: states only move forward, a terminal state never
/// changes, and the hold is settled or released exactly once (in the same transaction as the
/// state change, guarded by the ledger's unique `close:<job>` key). The webhook deliveries a
/// change announces are queued in that same transaction (`WebhookOutbox`).
struct JobLifecycle: Sendable {
    let store: Store
    let clock: AppClock
    let logger: Logger
    let events: JobEventBus
    let settings: AppConfig.ReconcilerSettings

    /// Where a piece of news came from; it decides when the reconciler should ask next.
    enum Source: String, Sendable {
        case createReply = "create_reply", callback, poll
    }

    enum Outcome: Equatable, Sendable {
        case unknownJob
        /// The news names another provider task than the job's: changes nothing.
        case taskMismatch
        /// The news was old, repeated, or about a job that has already ended.
        case unchanged
        case updated(JobStatus)
    }

    /// Applies what the provider said about a job's task.
    @discardableResult
    func apply(_ news: ProviderTaskStatus, toJob jobID: UUID, source: Source) async throws -> Outcome {
        let now = clock.now()
        if let announcement = try await applyInOneStatement(news, toJob: jobID, source: source, at: now) {
            return await report((.updated(announcement.event.status), announcement), jobID: jobID, source: source.rawValue)
        }
        let outcome: (Outcome, Announcement?) = try await closingOnce { db in
            guard let job = try await VideoJob.find(jobID, on: db) else { return (.unknownJob, nil) }
            if let known = job.providerTaskID, known != news.taskID { return (.taskMismatch, nil) }
            if job.status == .failed, let reason = job.failureReason, FailureReason.releasedByPhim.contains(reason),
               news.state == .success, job.providerState != "success" {
                // The provider finished after Phim gave up on the job (its deadline, the time
                // limit, or a create never confirmed): kept on record for provider
                // reconciliation, never charged.
                job.providerTaskID = news.taskID
                job.providerState = news.state.rawValue
                job.lastHeardAt = now
                try await job.save(on: db)
                return (.unchanged, nil)
            }
            if job.status.isTerminal { return (.unchanged, nil) }
            let previous = (status: job.status, progress: job.progress)

            job.providerTaskID = news.taskID
            job.lastHeardAt = now
            job.nextCheckAt = nextCheck(after: now, source: source)

            let target = Self.target(for: news)
            let movesForward = target.status.rank > job.status.rank
                || (target.status == job.status && target.progress > job.progress)
            guard movesForward else {
                try await job.save(on: db)
                return (.unchanged, nil)
            }
            job.providerState = news.state.rawValue
            job.progress = max(job.progress, target.progress)
            job.updatedAt = now
            switch target.status {
            case .completed:
                job.status = .completed
                job.videoURL = target.videoURL
                job.watermarkVideoURL = target.watermarkVideoURL
                try await finish(job, holdState: .settled, at: now, on: db)
            case .failed:
                job.status = .failed
                job.failureReason = target.failure
                job.providerFailCode = news.failCode
                job.providerFailMessage = news.failMessage
                try await finish(job, holdState: .released, at: now, on: db)
            default:
                job.status = target.status
                try await job.save(on: db)
            }
            try await WebhookOutbox.enqueue(for: job, previous: previous, at: now, on: db)
            return (.updated(job.status), Self.announcement(for: job))
        }
        return await report(outcome, jobID: jobID, source: source.rawValue)
    }

    /// Ends an unfinished job as failed and refunds it, for reasons of Phim's own: the create
    /// was refused, the provider never confirmed it, or it ran past the time limit.
    @discardableResult
    func fail(jobID: UUID, reason: FailureReason, providerCode: String? = nil, providerMessage: String? = nil,
              onlyIf allowed: [JobStatus] = JobStatus.unfinished) async throws -> Outcome {
        let now = clock.now()
        let outcome: (Outcome, Announcement?) = try await closingOnce { db in
            guard let job = try await VideoJob.find(jobID, on: db) else { return (.unknownJob, nil) }
            guard allowed.contains(job.status) else { return (.unchanged, nil) }
            let previous = (status: job.status, progress: job.progress)
            job.status = .failed
            job.failureReason = reason
            job.providerFailCode = providerCode
            job.providerFailMessage = providerMessage
            job.updatedAt = now
            try await finish(job, holdState: .released, at: now, on: db)
            try await WebhookOutbox.enqueue(for: job, previous: previous, at: now, on: db)
            return (.updated(.failed), Self.announcement(for: job))
        }
        return await report(outcome, jobID: jobID, source: reason.rawValue)
    }

    /// Cancels a job the provider has not started on, and refunds it. Kie has no cancel call
    /// (reference §4.3), so the task may still run there; its later news is ignored.
    func cancel(jobID: UUID, ownerID: UUID) async throws -> VideoJob {
        let now = clock.now()
        let (job, event): (VideoJob, JobEvent?) = try await store.writeTransaction { db in
            guard let job = try await VideoJob.query(on: db)
                .filter(\.$id == jobID).filter(\.$user.$id == ownerID).filter(\.$deletedAt == nil).first()
            else { throw AppError.videoNotFound }
            if job.status == .canceled { return (job, nil) } // a repeated cancel is not an error
            guard job.status == .pending else { throw AppError.notCancelable(status: job.status.rawValue) }
            let previous = (status: job.status, progress: job.progress)
            job.status = .canceled
            job.updatedAt = now
            try await finish(job, holdState: .released, at: now, on: db)
            try await WebhookOutbox.enqueue(for: job, previous: previous, at: now, on: db)
            return (job, Self.event(for: job))
        }
        if let event {
            logger.info("job canceled", metadata: ["job_id": .string(jobID.uuidString)])
            await events.publish(event)
        }
        return job
    }

    // MARK: - Internals

    /// When the reconciler should next ask about a job that just heard news: after a poll, one
    /// interval; after a callback or the create reply, only once the job has gone quiet.
    private func nextCheck(after now: Date, source: Source) -> Date {
        now.adding(source == .poll ? settings.interval : max(settings.interval, settings.staleAfter))
    }

    /// The two changes most news makes, a created task confirmed (submitting → pending) and a
    /// running task's progress rising, as one conditional `UPDATE` instead of a transaction
    /// that reads the whole job first (on SQLite every write waits for the one before it, so
    /// the shorter the better). The conditions restate the general path's rules for exactly
    /// these moves: same task, forward only, and no webhook to announce (no per-video URL, no
    /// account endpoint), so the result is the same either way. Anything else (the first move
    /// to processing, a finish, a repeat, another task) matches no row and goes the general way.
    private func applyInOneStatement(_ news: ProviderTaskStatus, toJob jobID: UUID, source: Source,
                                     at now: Date) async throws -> Announcement? {
        let target = Self.target(for: news)
        let checkAgainAt = nextCheck(after: now, source: source)
        let statement: SQLQueryString
        switch target.status {
        case .pending:
            statement = """
                UPDATE video_jobs SET status = \(bind: JobStatus.pending.rawValue), progress = \(bind: target.progress),
                  provider_task_id = \(bind: news.taskID), provider_state = \(bind: news.state.rawValue),
                  last_heard_at = \(bind: now), next_check_at = \(bind: checkAgainAt), updated_at = \(bind: now)
                WHERE id = \(bind: jobID) AND status = \(bind: JobStatus.submitting.rawValue)
                  AND (provider_task_id IS NULL OR provider_task_id = \(bind: news.taskID))
                RETURNING user_id, request_id
                """
        case .processing:
            statement = """
                UPDATE video_jobs SET progress = \(bind: target.progress), provider_state = \(bind: news.state.rawValue),
                  last_heard_at = \(bind: now), next_check_at = \(bind: checkAgainAt), updated_at = \(bind: now)
                WHERE id = \(bind: jobID) AND status = \(bind: JobStatus.processing.rawValue) AND progress < \(bind: target.progress)
                  AND provider_task_id = \(bind: news.taskID) AND webhook_url IS NULL
                  AND NOT EXISTS (SELECT 1 FROM webhook_endpoints
                                  WHERE webhook_endpoints.user_id = video_jobs.user_id AND webhook_endpoints.url IS NOT NULL)
                RETURNING user_id, request_id
                """
        default:
            return nil
        }
        let row = try await store.write { db in try await (db as! any SQLDatabase).raw(statement).first() }
        guard let row else { return nil }
        let event = JobEvent(userID: try row.decode(column: "user_id", as: UUID.self), jobID: jobID,
                             status: target.status, progress: target.progress)
        return Announcement(event: event, originRequestID: try row.decode(column: "request_id", as: String?.self))
    }

    /// Runs a state change in a transaction. If another path closed the job's hold first (a
    /// duplicate callback on another instance, say), the ledger's unique key rejects this
    /// attempt, the transaction rolls back, and the news counts as already applied.
    private func closingOnce(_ body: @escaping @Sendable (any Database) async throws -> (Outcome, Announcement?)) async throws -> (Outcome, Announcement?) {
        do {
            return try await store.writeTransaction(body)
        } catch CreditLedger.LedgerError.alreadyRecorded {
            return (.unchanged, nil)
        }
    }

    private func finish(_ job: VideoJob, holdState: HoldState, at now: Date, on db: any Database) async throws {
        job.holdState = holdState
        job.finishedAt = now
        job.nextCheckAt = nil
        // A finished job shows full progress; a failed or canceled one none, as before it ran.
        job.progress = job.status == .completed ? 100 : 0
        try await job.save(on: db)
        if holdState == .settled {
            try await CreditLedger.settle(job: job, at: now, on: db)
        } else {
            try await CreditLedger.release(job: job, at: now, on: db)
        }
    }

    /// A committed change: the event for live listeners, and the id of the request that
    /// created the job, so its log lines can be followed from create to completion.
    struct Announcement: Sendable {
        var event: JobEvent
        var originRequestID: String?
    }

    private func report(_ outcome: (Outcome, Announcement?), jobID: UUID, source: String) async -> Outcome {
        if let announcement = outcome.1 {
            var metadata: Logger.Metadata = [
                "job_id": .string(jobID.uuidString), "status": .string(announcement.event.status.rawValue), "source": .string(source),
            ]
            if let origin = announcement.originRequestID { metadata["origin_request_id"] = .string(origin) }
            logger.info("job updated", metadata: metadata)
            await events.publish(announcement.event)
        }
        return outcome.0
    }

    private static func announcement(for job: VideoJob) -> Announcement? {
        event(for: job).map { Announcement(event: $0, originRequestID: job.requestID) }
    }

    private static func event(for job: VideoJob) -> JobEvent? {
        guard let id = job.id else { return nil }
        return JobEvent(userID: job.$user.id, jobID: id, status: job.status, progress: job.progress)
    }

    struct Target {
        var status: JobStatus
        var progress: Int
        var videoURL: String?
        var watermarkVideoURL: String?
        var failure: FailureReason?
    }

    /// Maps the provider's state to ours: waiting/queuing → pending (10 %), generating →
    /// processing (the provider's progress, else 50 %), success → completed, fail → failed.
    static func target(for news: ProviderTaskStatus) -> Target {
        switch news.state {
        case .waiting, .queuing:
            return Target(status: .pending, progress: 10)
        case .generating, .other:
            return Target(status: .processing, progress: min(99, max(11, news.progress ?? 50)))
        case .success:
            // Prefer the clean video, fall back to the watermarked one (reference §4.2). A success
            // without any video is the integration's failure, not the user's: refund it.
            guard let url = news.resultURLs.first ?? news.watermarkedURLs.first else {
                return Target(status: .failed, progress: 0, failure: .missingResult)
            }
            let watermarked = news.resultURLs.isEmpty ? nil : news.watermarkedURLs.first
            return Target(status: .completed, progress: 100, videoURL: url, watermarkVideoURL: watermarked)
        case .fail:
            return Target(status: .failed, progress: 0, failure: isContentRejection(news) ? .contentRejected : .providerFailed)
        }
    }

    /// Content-policy rejections arrive as ordinary failed tasks (reference §7); their message
    /// is the only sign.
    static func isContentRejection(_ news: ProviderTaskStatus) -> Bool {
        let message = (news.failMessage ?? "").lowercased()
        return ["content policy", "policy", "flagged", "moderation", "sensitive", "violat", "nsfw", "prohibited"]
            .contains { message.contains($0) }
    }
}
