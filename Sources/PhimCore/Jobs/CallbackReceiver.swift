import Foundation
import PhimProvider
import PhimSupport

/// Receives the provider's callbacks at `/api/v1/webhooks/kie/<job>/<secret>[/progress]`.
///
/// The secret in the path was given to the provider for this job only, so a callback that does
/// not carry it, or names another job's task, changes nothing. When the operator set Kie's
/// webhook HMAC key, the signature and its timestamp are checked too. Duplicates and late
/// arrivals are answered and change nothing (`JobLifecycle` only moves forward).
///
/// Kie signs only the task id and the time, never the body (reference §6), so an outcome that
/// moves money is not taken from the callback: the provider is asked, and its answer applies.
public struct CallbackReceiver: Sendable {
    /// How far a signed callback's timestamp may be from our clock (the reference leaves it to us).
    public static let replayWindowSeconds: Double = 300

    public var provider: any VideoProvider
    public var lifecycle: JobLifecycle
    public var settings: Settings
    public var clock: AppClock

    public init(provider: any VideoProvider, lifecycle: JobLifecycle, settings: Settings, clock: AppClock) {
        self.provider = provider
        self.lifecycle = lifecycle
        self.settings = settings
        self.clock = clock
    }

    public struct Signature: Sendable {
        public var timestamp: String?
        public var signature: String?
        public init(timestamp: String?, signature: String?) {
            self.timestamp = timestamp
            self.signature = signature
        }
    }

    /// Returns the job's status after the callback.
    public func receive(jobID rawJobID: String, secret: String, body: Data, signature: Signature,
                        isProgress: Bool, on db: Database) throws -> JobStatus {
        let jobID = rawJobID.lowercased()
        guard UUID(uuidString: jobID) != nil,
              let target = try db.firstRow("""
                  SELECT callback_secret_hash, provider_task_id, status, provider_family FROM video_jobs WHERE id = :id
                  """, ["id": .text(jobID)]),
              Crypto.constantTimeEqual(Crypto.sha256Hex(secret), target.string("callback_secret_hash"))
        else { throw AppError.callbackNotFound }
        let status = JobStatus(rawValue: target.string("status")) ?? .failed
        let family = ProviderFamily(rawValue: target.string("provider_family")) ?? .market

        guard let news = KieWire.parseCallback(body, family: family) else { throw AppError.invalidJSON(detail: "not a Kie task callback") }
        if let key = settings.webhookHMACKey { try verify(signature, taskID: news.taskID, key: key) }
        let knownTask = target.optionalString("provider_task_id")
        if let knownTask, knownTask != news.taskID {
            Log.warning("callback names another task", ["job_id": jobID])
            throw AppError.callbackTaskMismatch
        }
        // Progress callbacks are advisory and unschemaed (reference §5.2): an outcome seen there
        // is confirmed by the completion callback or a poll, never billed from here.
        if isProgress && news.state.isTerminal { return status }

        var confirmed = news
        if knownTask == nil || (news.state.isTerminal && !status.isTerminal) {
            guard let answer = try confirmWithProvider(news.taskID, family: family, jobID: jobID, on: db) else { return status }
            // A job whose create went unanswered learns its task here, so the task must be the
            // one the provider made for this job: its record keeps the callback URL it was given.
            // The body is not signed (nor is it in another task's signed callback replayed here).
            if knownTask == nil, answer.callbackURL?.hasSuffix("/webhooks/kie/\(jobID)/\(secret)") != true {
                Log.warning("callback names a task the provider did not make for this job", ["job_id": jobID])
                throw AppError.callbackTaskMismatch
            }
            confirmed = answer
        }
        switch try lifecycle.apply(confirmed, toJob: jobID, source: .callback, on: db) {
        case .taskMismatch: throw AppError.callbackTaskMismatch
        case .updated(let newStatus): return newStatus
        case .unchanged, .unknownJob: return status
        }
    }

    /// The provider's own account of the task, or nil when it cannot be had now: then the
    /// reconciler asks as soon as the one-ask-per-interval rule allows, so the outcome still
    /// lands (a little later) even if this callback was the last one.
    private func confirmWithProvider(_ taskID: String, family: ProviderFamily, jobID: String, on db: Database) throws -> ProviderTaskStatus? {
        let now = clock.nowMillis()
        guard try Reconciler.claimQuery(jobID: jobID, now: now, intervalMillis: settings.reconcileIntervalMillis,
                                        onlyIfDue: false, on: db)
        else {
            // Asked less than an interval ago: due now, so the next pass asks once the gap allows.
            try db.write {
                try db.run("UPDATE video_jobs SET next_check_at = ? WHERE id = ? AND status IN ('submitting', 'pending', 'processing')",
                           [.integer(now), .text(jobID)])
            }
            return nil
        }
        do {
            let answer = try provider.taskStatus(taskID, family: family)
            return answer.taskID == taskID ? answer : nil
        } catch {
            Log.warning("could not confirm a callback with the provider; the reconciler will", ["job_id": jobID, "error": "\(error)"])
            return nil
        }
    }

    private func verify(_ signature: Signature, taskID: String, key: String) throws {
        guard let timestamp = signature.timestamp, let given = signature.signature, let seconds = Double(timestamp),
              abs(clock.now().timeIntervalSince1970 - seconds) <= Self.replayWindowSeconds
        else { throw AppError.invalidSignature }
        let expected = KieWire.webhookSignature(taskID: taskID, timestamp: timestamp, key: key)
        guard Crypto.constantTimeEqual(expected, given) else { throw AppError.invalidSignature }
    }
}
