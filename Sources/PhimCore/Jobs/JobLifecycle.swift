import Foundation
import PhimProvider
import PhimSupport

/// The one place where a job changes state and its credits move.
///
/// The create reply, provider callbacks, reconciler polls, cancels and timeouts all come here,
/// so the rules hold whatever the source: states only move forward, a terminal state never
/// changes, and the hold is settled or released exactly once, in the same transaction as the
/// state change (guarded by the ledger's unique `close:<job>` key). The webhooks a change
/// announces are queued in that transaction too (`WebhookOutbox`).
public struct JobLifecycle: Sendable {
    public var clock: AppClock
    public var settings: Settings

    public init(clock: AppClock, settings: Settings) {
        self.clock = clock
        self.settings = settings
    }

    /// Where a piece of news came from; it decides when the reconciler should ask next.
    public enum Source: String, Sendable {
        case createReply = "create_reply", callback, poll
    }

    public enum Outcome: Equatable, Sendable {
        case unknownJob
        /// The news names another provider task than the job's: changes nothing.
        case taskMismatch
        /// The news was old, repeated, or about a job that has already ended.
        case unchanged
        case updated(JobStatus)
    }

    /// Applies what the provider said about a job's task.
    @discardableResult
    public func apply(_ news: ProviderTaskStatus, toJob jobID: String, source: Source, on db: Database) throws -> Outcome {
        let now = clock.nowMillis()
        var origin: String?
        let outcome: Outcome = try closingOnce(db) {
            guard let job = try VideoRecord.find(jobID, on: db) else { return .unknownJob }
            origin = job.requestID
            if let known = job.providerTaskID, known != news.taskID { return .taskMismatch }
            if job.status == .failed, let reason = job.failureReason, FailureReason.releasedByPhim.contains(reason),
               news.state == .success, job.providerState != "success" {
                // The provider finished after Phim gave up on the job: kept on record for the
                // operator's reconciliation with the provider's bill, never charged.
                try db.run("UPDATE video_jobs SET provider_task_id = ?, provider_state = 'success', last_heard_at = ? WHERE id = ?",
                           [.text(news.taskID), .integer(now), .text(jobID)])
                return .unchanged
            }
            if job.status.isTerminal { return .unchanged }

            let target = Self.target(for: news)
            let movesForward = target.status.rank > job.status.rank
                || (target.status == job.status && target.progress > job.progress)
            let nextCheck = self.nextCheck(after: now, source: source)
            guard movesForward else {
                try db.run("UPDATE video_jobs SET provider_task_id = ?, last_heard_at = ?, next_check_at = ? WHERE id = ?",
                           [.text(news.taskID), .integer(now), .integer(nextCheck), .text(jobID)])
                return .unchanged
            }
            switch target.status {
            case .completed, .failed:
                try db.run("""
                    UPDATE video_jobs SET provider_task_id = :task, provider_state = :state, last_heard_at = :now, updated_at = :now,
                      video_url = :video_url, watermark_video_url = :watermark_url, failure_reason = :failure,
                      provider_fail_code = :fail_code, provider_fail_message = :fail_message,
                      provider_consumed_millicredits = COALESCE(:consumed, provider_consumed_millicredits)
                    WHERE id = :id
                    """, ["task": .text(news.taskID), "state": .text(news.state.rawValue), "now": .integer(now),
                          "video_url": .optionalText(target.videoURL), "watermark_url": .optionalText(target.watermarkVideoURL),
                          "failure": .optionalText(target.failure?.rawValue),
                          "fail_code": .optionalText(news.failCode.map { String($0.prefix(100)) }),
                          "fail_message": .optionalText(news.failMessage.map { String($0.prefix(1000)) }),
                          "consumed": news.creditsConsumed.map { .integer(Int64(($0 * 1000).rounded())) } ?? .null,
                          "id": .text(jobID)])
                try finish(job, as: target.status, at: now, on: db)
            default:
                try db.run("""
                    UPDATE video_jobs SET status = ?, progress = ?, provider_task_id = ?, provider_state = ?, last_heard_at = ?,
                      next_check_at = ?, updated_at = ? WHERE id = ?
                    """, [.text(target.status.rawValue), .int(max(job.progress, target.progress)), .text(news.taskID),
                          .text(news.state.rawValue), .integer(now), .integer(nextCheck), .integer(now), .text(jobID)])
                try Feed.bump(userID: job.userID, jobID: jobID, on: db)
                try WebhookOutbox(clock: clock, settings: settings).announce(changeOf: job, at: now, on: db)
            }
            return .updated(target.status)
        }
        report(outcome, jobID: jobID, source: source.rawValue, origin: origin)
        return outcome
    }

    /// Ends an unfinished job as failed and refunds it, for reasons of Phim's own: the create
    /// was refused, the provider never confirmed it, or it ran past the time limit.
    @discardableResult
    public func fail(jobID: String, reason: FailureReason, providerCode: String? = nil, providerMessage: String? = nil,
                     onlyIf allowed: [JobStatus] = JobStatus.unfinished, on db: Database) throws -> Outcome {
        let now = clock.nowMillis()
        var origin: String?
        let outcome: Outcome = try closingOnce(db) {
            guard let job = try VideoRecord.find(jobID, on: db) else { return .unknownJob }
            origin = job.requestID
            guard allowed.contains(job.status) else { return .unchanged }
            try db.run("""
                UPDATE video_jobs SET failure_reason = ?, provider_fail_code = ?, provider_fail_message = ?, updated_at = ? WHERE id = ?
                """, [.text(reason.rawValue), .optionalText(providerCode), .optionalText(providerMessage.map { String($0.prefix(1000)) }),
                      .integer(now), .text(jobID)])
            try finish(job, as: .failed, at: now, on: db)
            return .updated(.failed)
        }
        report(outcome, jobID: jobID, source: reason.rawValue, origin: origin)
        return outcome
    }

    /// A cancel by the owner. A job still in Phim's queue was never sent: it is canceled and
    /// refunded at once. Once the provider has the task, Kie cannot stop it (it has no cancel
    /// call, reference §4.3) and bills it: the owner only stops waiting; the job runs on and is
    /// settled when the provider finishes, refunded only if the provider reports a failure.
    public func cancel(jobID: String, ownerID: String, on db: Database) throws -> VideoRecord {
        let now = clock.nowMillis()
        let canceled = try closingOnce(db) { () -> Bool in
            let job = try Gallery(userID: ownerID).video(jobID, on: db)
            switch job.status {
            case .canceled:
                return false // a repeated cancel is not an error
            case .queued:
                try db.run("UPDATE video_jobs SET updated_at = :now WHERE id = :id", ["now": .integer(now), "id": .text(job.id)])
                try finish(job, as: .canceled, at: now, on: db)
                return true
            case .submitting, .pending, .processing:
                if job.stoppedWaitingAt == nil {
                    try db.run("UPDATE video_jobs SET stopped_waiting_at = :now, updated_at = :now WHERE id = :id",
                               ["now": .integer(now), "id": .text(job.id)])
                    try Feed.bump(userID: job.userID, jobID: job.id, on: db)
                }
                return false
            case .completed, .failed:
                throw AppError.notCancelable(status: job.status.rawValue)
            }
        } ifAlreadyClosed: { false }
        if canceled { Log.info("job canceled", ["job_id": jobID]) }
        return try Gallery(userID: ownerID).video(jobID, on: db)
    }

    // MARK: - Internals

    /// When the reconciler should next ask about a job that just heard news: after a poll, one
    /// interval; after a callback or the create reply, only once the job has gone quiet.
    private func nextCheck(after now: Int64, source: Source) -> Int64 {
        let wait = source == .poll ? settings.reconcileIntervalSeconds : max(settings.reconcileIntervalSeconds, settings.staleAfterSeconds)
        return now + Int64(wait * 1000)
    }

    /// Moves a job to its terminal state and closes its hold, in the caller's transaction.
    private func finish(_ job: VideoRecord, as status: JobStatus, at now: Int64, on db: Database) throws {
        let hold: HoldState = status == .completed ? .settled : .released
        // A finished job shows full progress; a failed or canceled one none, as before it ran.
        try db.run("""
            UPDATE video_jobs SET status = ?, hold_state = ?, progress = ?, finished_at = ?, next_check_at = NULL WHERE id = ?
            """, [.text(status.rawValue), .text(hold.rawValue), .int(status == .completed ? 100 : 0), .integer(now), .text(job.id)])
        if hold == .settled {
            try CreditLedger.settle(userID: job.userID, jobID: job.id, price: job.priceCredits, at: now, on: db)
        } else {
            try CreditLedger.release(userID: job.userID, jobID: job.id, price: job.priceCredits, at: now, on: db)
        }
        try Feed.bump(userID: job.userID, jobID: job.id, on: db)
        try WebhookOutbox(clock: clock, settings: settings).announce(changeOf: job, at: now, on: db)
    }

    /// Runs a state change in a write transaction. If another path closed the job's hold first
    /// (a duplicate callback in another process, say), the ledger's unique key refuses this
    /// attempt, the transaction rolls back, and the news counts as already applied.
    private func closingOnce(_ db: Database, _ body: () throws -> Outcome) throws -> Outcome {
        try closingOnce(db, body, ifAlreadyClosed: { .unchanged })
    }

    private func closingOnce<Result>(_ db: Database, _ body: () throws -> Result,
                                     ifAlreadyClosed: () -> Result) throws -> Result {
        do {
            return try db.write(body)
        } catch CreditLedger.LedgerError.alreadyRecorded {
            return ifAlreadyClosed()
        }
    }

    /// Logs a change with the id of the request that created the job, so a video's whole life
    /// can be followed in the logs from its create to its end.
    private func report(_ outcome: Outcome, jobID: String, source: String, origin: String?) {
        if case .updated(let status) = outcome {
            Log.info("job updated", ["job_id": jobID, "status": status.rawValue, "source": source, "origin_request_id": origin ?? ""])
        }
    }

    struct Target {
        var status: JobStatus
        var progress: Int
        var videoURL: String?
        var watermarkVideoURL: String?
        var failure: FailureReason?
    }

    /// Maps the provider's state to ours: waiting/queuing → pending, generating → processing,
    /// success → completed, fail → failed. Progress is the provider's own figure when it gives
    /// one (most models give none: then 0, and the studio shows elapsed time against the
    /// model's typical time instead of an invented percentage).
    static func target(for news: ProviderTaskStatus) -> Target {
        switch news.state {
        case .waiting, .queuing:
            return Target(status: .pending, progress: 0)
        case .generating, .other:
            return Target(status: .processing, progress: news.progress.map { min(99, max(1, $0)) } ?? 0)
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
