import Foundation
import PhimProvider
import PhimSupport

/// One pass of the background reconciler: asks the provider about jobs that have heard nothing
/// for a while, so jobs finish even when callbacks are lost, and ends jobs that can no longer
/// finish.
///
/// A job is queried only when its `next_check_at` has passed, and claiming it moves that time a
/// full interval ahead first (one conditional UPDATE), so each job costs at most one provider
/// query per interval, however many tabs watch it and however many processes run passes.
public struct Reconciler: Sendable {
    public var provider: any VideoProvider
    public var lifecycle: JobLifecycle
    public var settings: Settings
    public var clock: AppClock
    /// Jobs looked at per pass; the rest wait for the next one.
    public var batchSize = 200

    public init(provider: any VideoProvider, lifecycle: JobLifecycle, settings: Settings, clock: AppClock) {
        self.provider = provider
        self.lifecycle = lifecycle
        self.settings = settings
        self.clock = clock
    }

    public struct PassReport: Equatable, Sendable {
        public var queried = 0
        public var updated = 0
        public var queryFailures = 0
        public var timedOut = 0
        public var unconfirmedReleased = 0
        public var deadlinesPassed = 0
        public var queueTimedOut = 0
        public init() {}
    }

    public func runPass(on db: Database) throws -> PassReport {
        var report = PassReport()
        let now = clock.nowMillis()

        // Jobs that ran too long at the provider, and sends it never confirmed, are refunded
        // (counted from the send: a job may have waited in the queue first).
        let expired = try db.query("""
            SELECT id FROM video_jobs WHERE status IN ('pending', 'processing') AND sent_at <= ? LIMIT ?
            """, [.integer(now - Int64(settings.jobTimeoutSeconds * 1000)), .int(batchSize)])
        for row in expired {
            if try lifecycle.fail(jobID: row.string(0), reason: .timedOut, onlyIf: [.pending, .processing], on: db) != .unchanged {
                report.timedOut += 1
            }
        }
        let unconfirmed = try db.query("""
            SELECT id FROM video_jobs WHERE status = 'submitting' AND sent_at <= ? LIMIT ?
            """, [.integer(now - Int64(settings.unconfirmedHoldSeconds * 1000)), .int(batchSize)])
        for row in unconfirmed {
            if try lifecycle.fail(jobID: row.string(0), reason: .submissionUnconfirmed, onlyIf: [.submitting], on: db) != .unchanged {
                report.unconfirmedReleased += 1
            }
        }

        // A deadline bounds the wait in the queue: past it, a job not yet sent is failed and
        // refunded. Once sent it no longer refunds: Kie has no cancel call (reference §4.3) and
        // bills the task it runs. `+status`: found through the deadlines index (few jobs have one).
        let overdue = try db.query("""
            SELECT id FROM video_jobs WHERE +status = 'queued' AND deadline_at <= ? LIMIT ?
            """, [.integer(now), .int(batchSize)])
        for row in overdue {
            if try lifecycle.fail(jobID: row.string(0), reason: .deadlineExceeded, onlyIf: [.queued], on: db) != .unchanged {
                report.deadlinesPassed += 1
            }
        }
        // Jobs the queue could not send in time: nothing was sent, so they are refunded in full.
        let stale = try db.query("""
            SELECT id FROM video_jobs WHERE status = 'queued' AND created_at <= ? LIMIT ?
            """, [.integer(now - Int64(settings.queueTimeoutSeconds * 1000)), .int(batchSize)])
        for row in stale {
            if try lifecycle.fail(jobID: row.string(0), reason: .queueTimeout, onlyIf: [.queued], on: db) != .unchanged {
                report.queueTimedOut += 1
            }
        }

        let due = try db.query("""
            SELECT id, provider_task_id, provider_family FROM video_jobs
            WHERE status IN ('pending', 'processing') AND next_check_at <= ? AND provider_task_id IS NOT NULL
            ORDER BY next_check_at LIMIT ?
            """, [.integer(now), .int(batchSize)])
        for row in due {
            let jobID = row.string(0), taskID = row.string(1)
            let family = ProviderFamily(rawValue: row.string(2)) ?? .market
            guard try Self.claimQuery(jobID: jobID, now: now, intervalMillis: settings.reconcileIntervalMillis,
                                      onlyIfDue: true, on: db)
            else { continue }
            report.queried += 1
            do {
                let status = try provider.taskStatus(taskID, family: family)
                if case .updated = try lifecycle.apply(status, toJob: jobID, source: .poll, on: db) { report.updated += 1 }
            } catch let error as ProviderError {
                // Left for the next interval; the claim already pushed its check time out.
                report.queryFailures += 1
                Log.warning("provider query failed", ["job_id": jobID, "error": "\(error)"])
            }
        }
        return report
    }

    /// Takes the right to ask the provider about a job now: atomically records the ask, unless
    /// the job was asked about less than an interval ago (by a pass in any process, or to confirm
    /// a callback), or, with `onlyIfDue`, its next check has not come yet.
    public static func claimQuery(jobID: String, now: Int64, intervalMillis: Int64, onlyIfDue: Bool, on db: Database) throws -> Bool {
        try db.write {
            try db.run("""
                UPDATE video_jobs SET next_check_at = ?, last_queried_at = ?
                WHERE id = ? AND (last_queried_at IS NULL OR last_queried_at <= ?) AND (? = 0 OR next_check_at <= ?)
                """, [.integer(now + intervalMillis), .integer(now), .text(jobID), .integer(now - intervalMillis),
                      .bool(onlyIfDue), .integer(now)]) == 1
        }
    }
}
