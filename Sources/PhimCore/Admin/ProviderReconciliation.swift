import Foundation
import PhimProvider
import PhimSupport

/// Compares what Phim's ledger did with the videos of a period against what the provider says
/// about their tasks, and lists where the two disagree.
///
/// Kie bills a task that succeeds and reports failed tasks as not charged (reference §10.1), so
/// each video's hold (settled = the user paid, released = refunded) is held against its task's
/// state at the provider. The provider's balance is read and kept too, so the next run can say
/// how far it moved.
public struct ProviderReconciliation: Sendable {
    public var provider: any VideoProvider
    public var clock: AppClock

    public init(provider: any VideoProvider, clock: AppClock) {
        self.provider = provider
        self.clock = clock
    }

    /// What the two sides say about one video.
    public enum Verdict: String, Sendable, CaseIterable {
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
        /// Both agree on the outcome, but the provider charged more than its list price when the
        /// video was made: Phim's price for the model may be too low.
        case providerChargedAboveList = "provider_charged_above_list"

        public var isDifference: Bool { self != .match && self != .inFlight }
    }

    public struct Line: Sendable {
        public var videoID: String
        public var createdAt: Int64
        public var priceCredits: Int
        public var hold: HoldState
        public var providerTaskID: String?
        public var providerAnswer: String
        public var verdict: Verdict
        public var model: String
        /// Kie's list price when the video was made, and what Kie says it charged (its credits).
        public var listCredits: Double?
        public var providerCharged: Double?
    }

    public struct Report: Sendable {
        public var since: Int64
        public var until: Int64
        public var lines: [Line]
        public var balanceNow: Int?
        public var balanceError: String?
        public var previousBalance: (checkedAt: Int64, credits: Int)?

        public var differences: [Line] { lines.filter { $0.verdict.isDifference } }
        public var settledCredits: Int { lines.filter { $0.hold == .settled }.reduce(0) { $0 + $1.priceCredits } }
        public var providerBilled: Int { lines.filter { $0.providerAnswer == "success" }.count }
        /// Differences that took money from a user; `phim provider reconcile` fails on these.
        public var overcharges: [Line] { lines.filter { $0.verdict == .userChargedProviderDidNotBill } }
    }

    public func run(since: Int64, until: Int64, on db: Database) throws -> Report {
        let rows = try db.rows("""
            SELECT id, created_at, price_credits, hold_state, provider_task_id, failure_reason, model, provider_family,
              provider_list_millicredits, provider_consumed_millicredits, sent_at FROM video_jobs
            WHERE created_at >= :since AND created_at < :until ORDER BY created_at
            """, ["since": .integer(since), "until": .integer(until)])
        var lines: [Line] = []
        for row in rows {
            let hold = HoldState(rawValue: row.string("hold_state")) ?? .open
            let failure = row.optionalString("failure_reason").flatMap(FailureReason.init(rawValue:))
            let task = row.optionalString("provider_task_id")
            let family = ProviderFamily(rawValue: row.string("provider_family")) ?? .market
            let listCredits = row.optionalInt64("provider_list_millicredits").map { Double($0) / 1000 }
            var charged = row.optionalInt64("provider_consumed_millicredits").map { Double($0) / 1000 }
            // Running videos are not compared, and a video without a task id cannot be asked about.
            var answer = "-"
            var state: ProviderState?
            var asked = false, unknown = false, failed = false
            if hold != .open, let task {
                asked = true
                do {
                    let status = try provider.taskStatus(task, family: family)
                    state = status.state
                    charged = status.creditsConsumed ?? charged
                    answer = status.state.rawValue
                } catch ProviderError.rejected(let code, _) where code == 404 || code == 422 {
                    unknown = true // Kie's answer for an id it does not know (reference §11.3)
                    answer = "no such task"
                } catch {
                    failed = true
                    answer = "query failed"
                }
            }
            var verdict = Self.verdict(hold: hold, failure: failure, asked: asked, state: state, unknownTask: unknown, queryFailed: failed,
                                       neverSent: row.optionalInt64("sent_at") == nil)
            if verdict == .match, let listCredits, let charged, charged > listCredits * 1.01 { verdict = .providerChargedAboveList }
            lines.append(Line(videoID: row.string("id"), createdAt: row.int64("created_at"), priceCredits: row.int("price_credits"),
                              hold: hold, providerTaskID: task, providerAnswer: answer, verdict: verdict, model: row.string("model"),
                              listCredits: listCredits, providerCharged: charged))
        }
        var report = Report(since: since, until: until, lines: lines)
        if let last = try db.first("SELECT checked_at, credits FROM provider_balance_checks ORDER BY checked_at DESC LIMIT 1") {
            report.previousBalance = (last.int64(0), last.int(1))
        }
        do {
            let credits = try provider.remainingCredits()
            report.balanceNow = credits
            try db.write {
                try db.run("INSERT INTO provider_balance_checks (checked_at, credits) VALUES (?, ?)", [.integer(clock.nowMillis()), .int(credits)])
            }
        } catch {
            report.balanceError = "\(error)"
        }
        return report
    }

    /// Holds one video's hold against its task's state at the provider.
    static func verdict(hold: HoldState, failure: FailureReason?, asked: Bool, state: ProviderState?, unknownTask: Bool,
                        queryFailed: Bool, neverSent: Bool = false) -> Verdict {
        if hold == .open { return .inFlight }
        let charged = hold == .settled
        // Ended in the queue (canceled, its deadline or the queue timeout): the provider was never asked.
        if neverSent { return charged ? .userChargedProviderDidNotBill : .match }
        guard asked else {
            // A create the provider refused made no task; any other video without a task id
            // lost its create's answer, and only the provider's console can say more.
            return !charged && (failure == .providerError || failure == .modelUnavailable) ? .match : .unverifiable
        }
        if queryFailed { return .queryFailed }
        if unknownTask { return charged ? .userChargedProviderDidNotBill : .match }
        switch state {
        case .success: return charged ? .match : .providerBilledUserRefunded
        case .fail: return charged ? .userChargedProviderDidNotBill : .match
        default: return .providerStillRunning
        }
    }
}
