// Delivers queued webhooks: claims what is due, attempts it, records every attempt.
import Foundation
import PhimSupport

/// Delivers queued webhooks: each pass claims the deliveries that are due, attempts them, and
/// records every attempt. A failed attempt (no 2xx, no answer) is retried after the next delay
/// of the retry schedule; when the schedule runs out the delivery is `failed` until replayed.
///
/// Accounts take turns: a pass claims at most a few deliveries of each account, the oldest
/// first, and each account's attempts share one lane, so one account's backlog or slow
/// receivers cannot hold the others' deliveries back.
///
/// Claiming moves a delivery's next attempt a lease ahead and stamps it with the pass's claim, in
/// one statement, so two dispatchers (threads or processes) never send the same attempt, and a
/// crash mid-attempt only delays it by the lease. An attempt decides its delivery's state only
/// while the claim is still its own (a replay meanwhile starts the delivery afresh).
public struct WebhookDispatcher: Sendable {
    public var sender: any WebhookSender
    public var settings: Settings
    public var clock: AppClock
    public var batchSize = 50
    /// Deliveries of one account a pass may claim: its turn, before the next account's.
    public var deliveriesPerAccountPerPass = 5
    /// Accounts attempted at once, each on a short-lived thread of its own.
    public var parallelAccounts = 4
    /// How long into a pass an attempt may still start, so every attempt ends within the claim's
    /// lease (the lease covers one attempt and this window); what is left is released, due at once.
    public var attemptWindowSeconds: Double = 30

    /// How long a claimed delivery stays out of other dispatchers' reach: the window, the
    /// attempt's timeout and 30 s for the target check's DNS. A crash mid-attempt delays it this much.
    var leaseMillis: Int64 { Int64((attemptWindowSeconds + settings.webhooks.attemptTimeoutSeconds + 30) * 1000) }

    public init(sender: any WebhookSender, settings: Settings, clock: AppClock) {
        self.sender = sender
        self.settings = settings
        self.clock = clock
    }

    public struct PassReport: Equatable, Sendable {
        public var delivered = 0
        public var retrying = 0
        public var failed = 0
        /// Attempts by outcome (`delivered`, `rejected`: another status, `no_answer`, `refused_target`).
        public var outcomes: [String: Int] = [:]
        public var attempted: Int { delivered + retrying + failed }
    }

    public func runPass(on db: Database) throws -> PassReport {
        let claimed = try claim(on: db)
        guard !claimed.isEmpty else { return PassReport() }
        var secrets: [String: String] = [:]
        for userID in Set(claimed.map(\.userID)) {
            secrets[userID] = try WebhookEndpoints(clock: clock, settings: settings).endpoint(userID: userID, on: db).secret
        }
        let results = attemptAll(claimed, secrets: secrets)
        return try record(results, on: db)
    }

    /// Deletes delivered and failed deliveries (their attempts with them) whose last attempt is
    /// older than the retention period, a few hundred per transaction so no writer waits long.
    /// Pending ones stay, however old. Returns how many went.
    @discardableResult
    public func pruneFinishedDeliveries(on db: Database) throws -> Int {
        let cutoff = clock.nowMillis() - Int64(min(max(settings.webhooks.deliveryRetentionDays, 1), 36_500)) * 86_400_000
        let perTransaction = 500
        var removed = 0
        while true {
            let count = try db.write {
                try db.run("""
                    DELETE FROM webhook_deliveries WHERE id IN (
                      SELECT id FROM webhook_deliveries WHERE state IN ('delivered', 'failed')
                        AND COALESCE(last_attempt_at, created_at) < :cutoff LIMIT :batch)
                    """, ["cutoff": .integer(cutoff), "batch": .int(perTransaction)])
            }
            removed += count
            if count < perTransaction { return removed }
        }
    }

    // MARK: - Claiming

    private struct Claimed: Sendable {
        var delivery: WebhookDelivery
        var claim: String
        var userID: String { delivery.userID }
    }

    private func claim(on db: Database) throws -> [Claimed] {
        let now = clock.nowMillis()
        // Most passes find nothing due: an indexed read then, not a write lock every second.
        guard try db.first("SELECT 1 FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ? LIMIT 1",
                           [.integer(now)]) != nil
        else { return [] }
        let token = Crypto.randomToken(bytes: 16)
        // Round-robin over accounts: every account's oldest due deliveries (its turn 1) before
        // anyone's second, and no more than a few turns each per pass.
        let rows = try db.write {
            try db.rows("""
                UPDATE webhook_deliveries SET next_attempt_at = :lease_until, claim = :claim
                WHERE id IN (SELECT id FROM (
                               SELECT id, next_attempt_at, rowid AS sequence,
                                 ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY next_attempt_at, rowid) AS turn
                               FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= :now) AS due
                             WHERE turn <= :per_account ORDER BY turn, next_attempt_at, sequence LIMIT :batch)
                RETURNING \(WebhookDelivery.columns)
                """, ["lease_until": .integer(now + leaseMillis), "claim": .text(token), "now": .integer(now),
                      "per_account": .int(deliveriesPerAccountPerPass), "batch": .int(batchSize)])
        }
        return rows.map { Claimed(delivery: WebhookDelivery($0.row), claim: token) }.sorted { $0.delivery.sequence < $1.delivery.sequence }
    }

    // MARK: - Attempting

    private enum Result: Sendable {
        case answered(status: Int)
        case noAnswer(String)
        case refusedTarget(String)
        /// The pass ran out of time before this one's turn.
        case notAttempted

        var statusCode: Int? { if case .answered(let status) = self { status } else { nil } }
        var isSuccess: Bool { statusCode.map { (200..<300).contains($0) } ?? false }
        var error: String? {
            switch self {
            case .answered(let status): (200..<300).contains(status) ? nil : "HTTP \(status)"
            case .noAnswer(let detail), .refusedTarget(let detail): detail
            case .notAttempted: nil
            }
        }
        var outcome: String {
            switch self {
            case .answered: isSuccess ? "delivered" : "rejected"
            case .noAnswer: "no_answer"
            case .refusedTarget: "refused_target"
            case .notAttempted: "not_attempted"
            }
        }
    }

    private struct Attempt: Sendable {
        var claimed: Claimed
        var result: Result
        var attemptedAt: Int64
        var milliseconds: Int
    }

    /// Attempts every claimed delivery: one account's messages one after another, in the order
    /// they were queued (so each of its targets gets them in order); several accounts at once, so
    /// an account whose receivers are slow holds one lane, never all.
    private func attemptAll(_ claimed: [Claimed], secrets: [String: String]) -> [Attempt] {
        var lanes: [[Claimed]] = []
        var laneOfAccount: [String: Int] = [:]
        for item in claimed {
            if let lane = laneOfAccount[item.userID] { lanes[lane].append(item) } else {
                laneOfAccount[item.userID] = lanes.count
                lanes.append([item])
            }
        }
        let passStarted = DispatchTime.now()
        let window = UInt64(max(0, attemptWindowSeconds) * 1e9)
        let run: @Sendable ([Claimed]) -> [Attempt] = { [self] lane in
            lane.map { item in
                guard DispatchTime.now().uptimeNanoseconds - passStarted.uptimeNanoseconds <= window else {
                    return Attempt(claimed: item, result: .notAttempted, attemptedAt: clock.nowMillis(), milliseconds: 0)
                }
                return attempt(item, secret: secrets[item.userID] ?? "")
            }
        }
        let width = min(parallelAccounts, lanes.count)
        guard width > 1 else { return lanes.flatMap(run) }
        let queue = Locked((next: 0, results: [Attempt]()))
        let finished = DispatchSemaphore(value: 0)
        let work = lanes
        for _ in 0..<width {
            startThread(name: "webhook-attempts", stackSizeBytes: 1 << 20) {
                while let lane = queue.withLock({ state -> [Claimed]? in
                    guard state.next < work.count else { return nil }
                    state.next += 1
                    return work[state.next - 1]
                }) {
                    let attempts = run(lane)
                    queue.withLock { $0.results += attempts }
                }
                finished.signal()
            }
        }
        for _ in 0..<width { finished.wait() }
        return queue.current.results
    }

    private func attempt(_ claimed: Claimed, secret: String) -> Attempt {
        let delivery = claimed.delivery
        let started = DispatchTime.now()
        func finish(_ result: Result) -> Attempt {
            let elapsed = Int((DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1_000_000)
            return Attempt(claimed: claimed, result: result, attemptedAt: clock.nowMillis(), milliseconds: elapsed)
        }
        // One lookup per attempt, and the connection goes to exactly what it checked (DNS rebinding).
        let target: WebhookTargetPolicy.Target
        do {
            target = try WebhookTargetPolicy(settings: settings.webhooks).target(delivery.url)
        } catch let refusal as WebhookTargetPolicy.Refusal {
            // DNS trouble may pass: retried like a receiver that did not answer.
            if case .unresolvable = refusal { return finish(.noAnswer(refusal.description)) }
            return finish(.refusedTarget("target refused: \(refusal)"))
        } catch {
            return finish(.refusedTarget("target refused: \(error)"))
        }
        let headers = WebhookSigner.headers(secret: secret, messageID: delivery.messageID, at: clock.now(), body: delivery.payload)
        do {
            let status = try sender.post(url: delivery.url, connectingTo: target.addresses, headers: headers, body: delivery.payload,
                                         timeoutSeconds: settings.webhooks.attemptTimeoutSeconds)
            return finish(.answered(status: status))
        } catch {
            return finish(.noAnswer(String("\(error)".prefix(300))))
        }
    }

    // MARK: - Recording

    private func record(_ attempts: [Attempt], on db: Database) throws -> PassReport {
        let schedule = settings.webhooks.retrySchedule
        var report = PassReport()
        var outcomes: [(Attempt, WebhookDeliveryState, Bool)] = []
        try db.write {
            for attempt in attempts.sorted(by: { $0.claimed.delivery.sequence < $1.claimed.delivery.sequence }) {
                let delivery = attempt.claimed.delivery
                let now = attempt.attemptedAt
                let result = attempt.result
                if case .notAttempted = result {
                    try db.run("UPDATE webhook_deliveries SET claim = NULL, next_attempt_at = ? WHERE id = ? AND claim = ?",
                               [.integer(now), .text(delivery.id), .text(attempt.claimed.claim)])
                    continue
                }
                try db.run("""
                    INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, error, duration_ms) VALUES (?, ?, ?, ?, ?)
                    """, [.text(delivery.id), .integer(now), result.statusCode.map { .int($0) } ?? .null,
                          .optionalText(result.error), .int(attempt.milliseconds)])
                let count = delivery.attempts + 1
                let state: WebhookDeliveryState
                var next: Int64?
                if result.isSuccess {
                    state = .delivered
                } else if case .refusedTarget = result {
                    state = .failed
                } else if count <= schedule.count {
                    state = .pending
                    next = now + Int64(schedule[count - 1] * 1000)
                } else {
                    state = .failed
                }
                let changed = try db.run("""
                    UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt_at = ?, last_attempt_at = ?,
                      last_status_code = ?, last_error = ?, delivered_at = ?, claim = NULL
                    WHERE id = ? AND claim = ?
                    """, [.text(state.rawValue), .int(count), .optionalInt(next), .integer(now),
                          result.statusCode.map { .int($0) } ?? .null, .optionalText(result.error),
                          .optionalInt(state == .delivered ? now : nil), .text(delivery.id), .text(attempt.claimed.claim)])
                outcomes.append((attempt, state, changed == 1))
            }
        }
        for (attempt, state, decided) in outcomes {
            let delivery = attempt.claimed.delivery
            report.outcomes[attempt.result.outcome, default: 0] += 1
            let attemptNumber = String(delivery.attempts + 1), status = attempt.result.statusCode.map(String.init) ?? "none"
            let error = attempt.result.error ?? ""
            if !decided {
                Log.info("webhook attempt finished after its delivery was replayed",
                         ["job_id": delivery.videoID, "webhook_id": delivery.messageID, "status": status, "error": error])
                continue
            }
            switch state {
            case .delivered: report.delivered += 1
            case .pending: report.retrying += 1
            case .failed: report.failed += 1
            }
            switch state {
            case .delivered:
                Log.info("webhook delivered", ["job_id": delivery.videoID, "webhook_id": delivery.messageID, "event": delivery.eventType,
                                               "attempt": attemptNumber, "status": status])
            case .pending:
                Log.info("webhook attempt failed; will retry", ["job_id": delivery.videoID, "webhook_id": delivery.messageID,
                                                                "event": delivery.eventType, "attempt": attemptNumber, "status": status,
                                                                "error": error])
            case .failed:
                Log.warning("webhook delivery failed for good", ["job_id": delivery.videoID, "webhook_id": delivery.messageID,
                                                                 "event": delivery.eventType, "attempt": attemptNumber, "status": status,
                                                                 "error": error])
            }
        }
        return report
    }
}
