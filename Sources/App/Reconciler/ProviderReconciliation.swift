import Fluent
import Foundation
import Logging

/// Compares what Phim's ledger did with the videos of a period against what the provider says
/// about their tasks, and lists where the two disagree.
///
/// Kie bills a task that succeeds and reports failed tasks as not charged (reference §10.1),
/// so each video's hold (settled = the user paid, released = refunded) is held against its
/// task's state at the provider. The provider's balance is read too and kept, so the next run
/// can show how far it moved. Used by `phim provider reconcile`.
struct ProviderReconciliation: Sendable {
    let db: any Database
    let provider: any VideoProvider
    let clock: AppClock
    var parallelQueries = 8

    /// What the two sides say about one video.
    enum Verdict: String, Sendable, CaseIterable {
        /// Both agree: charged and billed, or refunded and not billed.
        case match
        /// The video is still running; nothing to compare yet.
        case inFlight = "in_flight"
        /// The provider billed a task whose user was refunded (a late success after a deadline,
        /// the time limit or an unconfirmed create): a cost the operator carries.
        case providerBilledUserRefunded = "provider_billed_user_refunded"
        /// The user was charged for a task the provider did not bill: the user should be refunded.
        case userChargedProviderDidNotBill = "user_charged_provider_did_not_bill"
        /// Phim closed the hold but the provider is still working on the task; it may bill later.
        case providerStillRunning = "provider_still_running"
        /// No task id is known (the create's answer was lost), so the provider cannot be asked.
        case unverifiable
        /// The provider could not be asked just now.
        case queryFailed = "query_failed"

        var isDifference: Bool { self != .match && self != .inFlight }
    }

    /// What the provider said about a video's task.
    enum ProviderAnswer: Sendable, Equatable {
        /// The video has no task id.
        case notAsked
        case state(ProviderState)
        /// The provider has no such task.
        case unknownTask
        case failed(String)

        var summary: String {
            switch self {
            case .notAsked: "-"
            case .state(let state): state.rawValue
            case .unknownTask: "no such task"
            case .failed: "query failed"
            }
        }
    }

    struct Line: Sendable {
        var videoID: UUID
        var userID: UUID
        var createdAt: Date
        var priceCredits: Int
        var hold: HoldState
        var failure: FailureReason?
        var providerTaskID: String?
        var provider: ProviderAnswer
        var verdict: Verdict
    }

    struct Report: Sendable {
        var since: Date
        var until: Date
        var lines: [Line]
        var balanceNow: Int?
        var balanceError: String?
        var previousBalance: (checkedAt: Date, credits: Int)?

        var differences: [Line] { lines.filter { $0.verdict.isDifference } }
        func count(_ hold: HoldState) -> Int { lines.filter { $0.hold == hold }.count }
        var settledCredits: Int { lines.filter { $0.hold == .settled }.reduce(0) { $0 + $1.priceCredits } }
        var providerBilled: Int { lines.filter { $0.provider == .state(.success) }.count }
        /// Differences that took money from a user; `phim provider reconcile` fails on these.
        var overcharges: [Line] { lines.filter { $0.verdict == .userChargedProviderDidNotBill } }
    }

    func run(since: Date, until: Date) async throws -> Report {
        let jobs = try await VideoJob.query(on: db)
            .filter(\.$createdAt >= since).filter(\.$createdAt < until)
            .sort(\.$createdAt).all()

        // Running videos are not compared, and a video without a task id cannot be asked about.
        let asked = jobs.compactMap { job -> Asked? in
            guard job.holdState != .open, let id = job.id, let task = job.providerTaskID else { return nil }
            return Asked(jobID: id, taskID: task)
        }
        let answered = await asked.concurrentMap(width: parallelQueries) { video in
            Answered(jobID: video.jobID, answer: await ask(video.taskID))
        }
        let answers = Dictionary(uniqueKeysWithValues: answered.map { ($0.jobID, $0.answer) })

        let lines = try jobs.map { job in
            let answer = answers[try job.requireID()] ?? .notAsked
            return Line(videoID: try job.requireID(), userID: job.$user.id, createdAt: job.createdAt,
                        priceCredits: job.priceCredits, hold: job.holdState, failure: job.failureReason,
                        providerTaskID: job.providerTaskID, provider: answer,
                        verdict: Self.verdict(hold: job.holdState, failure: job.failureReason, provider: answer))
        }

        var report = Report(since: since, until: until, lines: lines)
        if let last = try await ProviderBalanceCheck.query(on: db).sort(\.$checkedAt, .descending).first() {
            report.previousBalance = (last.checkedAt, last.credits)
        }
        do {
            report.balanceNow = try await ProviderBalanceCheck.take(from: provider, at: clock.now(), on: db)
        } catch {
            report.balanceError = "\(error)"
        }
        return report
    }

    private struct Asked: Sendable {
        var jobID: UUID
        var taskID: ProviderTaskID
    }

    private struct Answered: Sendable {
        var jobID: UUID
        var answer: ProviderAnswer
    }

    private func ask(_ taskID: String) async -> ProviderAnswer {
        do {
            return .state(try await provider.taskStatus(taskID).state)
        } catch ProviderError.rejected(let code, _) where code == 404 || code == 422 {
            // Kie's answer for an id it does not know (reference §11.3).
            return .unknownTask
        } catch {
            return .failed("\(error)")
        }
    }

    /// Holds one video's hold against its task's state at the provider.
    static func verdict(hold: HoldState, failure: FailureReason?, provider: ProviderAnswer) -> Verdict {
        if hold == .open { return .inFlight }
        let charged = hold == .settled
        switch provider {
        case .notAsked:
            // A create the provider refused made no task; any other video without a task id
            // lost its create's answer, and only the provider's console can say more.
            return !charged && failure == .providerError ? .match : .unverifiable
        case .failed: return .queryFailed
        case .unknownTask: return charged ? .userChargedProviderDidNotBill : .match
        case .state(.success): return charged ? .match : .providerBilledUserRefunded
        case .state(.fail): return charged ? .userChargedProviderDidNotBill : .match
        case .state: return .providerStillRunning
        }
    }
}
