import Fluent
import Foundation
import Logging
import SQLKit

/// One pass of the background reconciler: asks the provider about jobs that have heard
/// nothing for a while, so jobs finish even when callbacks are lost, and ends jobs that
/// can no longer finish.
///
/// A job is queried only when its `next_check_at` has passed, and claiming it moves that time
/// a full interval ahead first, so each job costs at most one provider query per interval,
/// however many browsers watch it and however many instances run passes.
struct Reconciler: Sendable {
    let store: Store
    let provider: any VideoProvider
    let clock: AppClock
    let logger: Logger
    let lifecycle: JobLifecycle
    let settings: AppConfig.ReconcilerSettings
    /// Jobs looked at per pass; the rest wait for the next one.
    var batchSize = 200
    /// Provider queries in flight at once.
    var parallelQueries = 8

    struct PassReport: Equatable, Sendable {
        var queried = 0
        var updated = 0
        var queryFailures = 0
        var timedOut = 0
        var unconfirmedReleased = 0
        var deadlinesPassed = 0
    }

    func runPass() async throws -> PassReport {
        var report = PassReport()
        let now = clock.now()

        // Jobs that ran too long, and creates the provider never confirmed, are refunded.
        let expired = try await VideoJob.query(on: store.db)
            .filter(\.$status ~~ [.pending, .processing])
            .filter(\.$createdAt <= now.adding(.zero - settings.jobTimeout))
            .limit(batchSize).all()
        for job in expired {
            if try await lifecycle.fail(jobID: job.requireID(), reason: .timedOut, onlyIf: [.pending, .processing]) != .unchanged {
                report.timedOut += 1
            }
        }
        let unconfirmed = try await VideoJob.query(on: store.db)
            .filter(\.$status == .submitting)
            .filter(\.$createdAt <= now.adding(.zero - settings.unconfirmedSubmissionTimeout))
            .limit(batchSize).all()
        for job in unconfirmed {
            if try await lifecycle.fail(jobID: job.requireID(), reason: .submissionUnconfirmed, onlyIf: [.submitting]) != .unchanged {
                report.unconfirmedReleased += 1
            }
        }

        // Past the caller's deadline: failed and refunded. Kie has no cancel call (reference
        // §4.3), so the task may run on; a late success is recorded by `JobLifecycle`, uncharged.
        let overdue = try await VideoJob.query(on: store.db)
            .filter(\.$status ~~ JobStatus.unfinished)
            .filter(\.$deadlineAt <= now)
            .limit(batchSize).all()
        for job in overdue {
            if try await lifecycle.fail(jobID: job.requireID(), reason: .deadlineExceeded, onlyIf: JobStatus.unfinished) != .unchanged {
                report.deadlinesPassed += 1
            }
        }

        let due = try await VideoJob.query(on: store.db)
            .filter(\.$status ~~ [.pending, .processing])
            .filter(\.$nextCheckAt <= now)
            .sort(\.$nextCheckAt)
            .limit(batchSize).all()
        var claimed: [Claimed] = []
        for job in due {
            guard let taskID = job.providerTaskID, let id = job.id else { continue }
            if try await claim(jobID: id, now: now) { claimed.append(Claimed(jobID: id, taskID: taskID)) }
        }

        let provider = provider
        let polls = await claimed.concurrentMap(width: parallelQueries) { job in
            do { return Poll(job: job, status: try await provider.taskStatus(job.taskID), error: nil) }
            catch { return Poll(job: job, status: nil, error: "\(error)") }
        }
        for poll in polls {
            report.queried += 1
            if let status = poll.status {
                if case .updated = try await lifecycle.apply(status, toJob: poll.job.jobID, source: .poll) { report.updated += 1 }
            } else {
                // Left for the next interval; the claim already pushed its check time out.
                report.queryFailures += 1
                logger.warning("provider query failed", metadata: [
                    "job_id": .string(poll.job.jobID.uuidString), "error": .string(poll.error ?? ""),
                ])
            }
        }
        return report
    }

    private struct Claimed: Sendable {
        var jobID: UUID
        var taskID: ProviderTaskID
    }

    /// What one provider query brought back.
    private struct Poll: Sendable {
        var job: Claimed
        var status: ProviderTaskStatus?
        var error: String?
    }

    /// Moves a due job's next check one interval ahead, unless someone else already did.
    /// Returns whether this pass won the job.
    private func claim(jobID: UUID, now: Date) async throws -> Bool {
        try await Self.claimQuery(jobID: jobID, now: now, interval: settings.interval, on: store.db, onlyIfDue: true)
    }

    /// Takes the right to ask the provider about a job now: atomically records the ask, unless
    /// the job was asked about less than an interval ago (by a pass on any instance, or to
    /// confirm a callback), or, with `onlyIfDue`, its next check has not come yet.
    static func claimQuery(jobID: UUID, now: Date, interval: Duration, on db: any Database, onlyIfDue: Bool) async throws -> Bool {
        let sql = db as! any SQLDatabase // both supported drivers are SQL databases
        var update = sql.update(VideoJob.schema)
            .set("next_check_at", to: now.adding(interval))
            .set("last_queried_at", to: now)
            .where("id", .equal, jobID)
            .where(group: { $0.where("last_queried_at", .is, SQLLiteral.null)
                .orWhere("last_queried_at", .lessThanOrEqual, now.adding(.zero - interval)) })
        if onlyIfDue { update = update.where("next_check_at", .lessThanOrEqual, now) }
        return try await update.returning("id").first() != nil
    }
}

/// Runs reconciler passes every interval until cancelled.
struct ReconcilerLoop: Sendable {
    let makeReconciler: @Sendable () -> Reconciler
    let interval: Duration
    let clock: AppClock
    let logger: Logger
    var metrics: PhimMetrics? = nil

    func run() async {
        while !Task.isCancelled {
            do {
                let started = ContinuousClock.now
                let report = try await makeReconciler().runPass()
                metrics?.reconcilerPass(duration: ContinuousClock.now - started, queried: report.queried)
                if report != .init() {
                    logger.info("reconcile pass", metadata: [
                        "queried": .stringConvertible(report.queried), "updated": .stringConvertible(report.updated),
                        "failures": .stringConvertible(report.queryFailures), "timed_out": .stringConvertible(report.timedOut),
                        "unconfirmed": .stringConvertible(report.unconfirmedReleased),
                        "deadlines": .stringConvertible(report.deadlinesPassed),
                    ])
                }
            } catch {
                logger.error("reconcile pass failed", metadata: ["error": .string("\(error)")])
            }
            do { try await clock.sleep(interval) } catch { return }
        }
    }
}
