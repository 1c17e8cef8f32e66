import Crypto
import Fluent
import SQLKit
import Vapor

/// Receives the provider's callbacks at `/api/v1/webhooks/kie/<job>/<secret>[/progress]`.
///
/// The secret in the path was given to the provider for this job only, so a callback that does
/// not carry it, or names another job's task, changes nothing. When the operator set Kie's
/// webhook HMAC key, the signature and its timestamp are checked too. Duplicates and late
/// arrivals are answered 200 and change nothing (`JobLifecycle` only moves forward).
///
/// Kie signs only the task id and the time, never the body (reference §6), so an outcome that
/// moves money (success or failure) is not taken from the callback: the provider is asked, and
/// its answer is what applies. A callback with a tampered body therefore cannot charge or
/// refund anything the provider does not confirm.
struct KieWebhookController: RouteCollection {
    /// How far a signed callback's timestamp may be from our clock (the reference leaves it to us).
    static let replayWindow: TimeInterval = 300

    func boot(routes: any RoutesBuilder) throws {
        let hooks = routes.grouped("webhooks", "kie", ":jobID", ":secret")
        let limit = ByteCount(value: BodyLimits.callback)
        hooks.on(.POST, body: .collect(maxSize: limit)) { try await receive($0, isProgress: false) }
        hooks.on(.POST, "progress", body: .collect(maxSize: limit)) { try await receive($0, isProgress: true) }
    }

    struct Acknowledgement: Content {
        var received: Bool
        var status: JobStatus?
    }

    /// Counts every callback by how it ended (`phim_provider_callbacks_total`).
    func receive(_ req: Request, isProgress: Bool) async throws -> Acknowledgement {
        do {
            let acknowledgement = try await accept(req, isProgress: isProgress)
            req.application.metrics.callback("accepted", progress: isProgress)
            return acknowledgement
        } catch {
            req.application.metrics.callback((error as? AppError)?.code ?? "error", progress: isProgress)
            throw error
        }
    }

    private func accept(_ req: Request, isProgress: Bool) async throws -> Acknowledgement {
        guard let jobID = req.parameters.get("jobID", as: UUID.self), let secret = req.parameters.get("secret"),
              let job = try await CallbackTarget.find(jobID, on: req.db),
              Self.constantTimeEqual(VideoCreation.hash(secret), job.callbackSecretHash)
        else { throw AppError.callbackNotFound }

        let body = req.body.data.map { Data(buffer: $0) } ?? Data()
        guard let news = KieWire.parseCallback(body) else {
            throw AppError.invalidJSON(detail: "not a Kie task callback")
        }
        if let key = req.application.phimConfig.webhookHMACKey {
            try verifySignature(req, taskID: news.taskID, key: key)
        }
        if let known = job.providerTaskID, known != news.taskID {
            req.logger.warning("callback names another task", metadata: ["job_id": .string(jobID.uuidString)])
            throw AppError.callbackTaskMismatch
        }

        let lifecycle = req.jobLifecycle
        if isProgress && (news.state == .success || news.state == .fail) {
            // Progress callbacks are advisory and unschemaed (reference §5.2): an outcome seen
            // there is confirmed by the completion callback or a poll, never billed from here.
            return Acknowledgement(received: true, status: job.status)
        }
        var confirmed = news
        if news.state == .success || news.state == .fail, !job.status.isTerminal {
            guard let answer = try await confirmWithProvider(news.taskID, jobID: jobID, req: req) else {
                return Acknowledgement(received: true, status: job.status)
            }
            confirmed = answer
        }
        switch try await lifecycle.apply(confirmed, toJob: jobID, source: .callback) {
        case .taskMismatch: throw AppError.callbackTaskMismatch
        case .updated(let status): return Acknowledgement(received: true, status: status)
        case .unchanged, .unknownJob: return Acknowledgement(received: true, status: job.status)
        }
    }

    /// The provider's own account of the task, or nil when it cannot be had now: then the
    /// reconciler asks as soon as the one-ask-per-interval rule allows, so the outcome still
    /// lands (a little later) even if this callback was the last one.
    private func confirmWithProvider(_ taskID: ProviderTaskID, jobID: UUID, req: Request) async throws -> ProviderTaskStatus? {
        let now = req.clock.now()
        let interval = req.application.phimConfig.reconciler.interval
        guard try await Reconciler.claimQuery(jobID: jobID, now: now, interval: interval, on: req.db, onlyIfDue: false) else {
            // Asked less than an interval ago: due now, so the next pass asks once the gap allows.
            try await VideoJob.query(on: req.db).set(\.$nextCheckAt, to: now)
                .filter(\.$id == jobID).filter(\.$status ~~ JobStatus.unfinished).update()
            return nil
        }
        do {
            let answer = try await req.application.provider.taskStatus(taskID)
            return answer.taskID == taskID ? answer : nil
        } catch {
            req.logger.warning("could not confirm a callback with the provider; the reconciler will",
                               metadata: ["job_id": .string(jobID.uuidString), "error": .string("\(error)")])
            return nil
        }
    }

    /// What checking a callback needs to know about its job, read without the full model
    /// (`JobLifecycle` reads the job again, in its transaction, to change it).
    struct CallbackTarget: Decodable {
        var callbackSecretHash: String
        var providerTaskID: String?
        var status: JobStatus

        enum CodingKeys: String, CodingKey {
            case callbackSecretHash = "callback_secret_hash", providerTaskID = "provider_task_id", status
        }

        static func find(_ jobID: UUID, on db: any Database) async throws -> CallbackTarget? {
            try await (db as! any SQLDatabase).raw("""
                SELECT callback_secret_hash, provider_task_id, status FROM video_jobs WHERE id = \(bind: jobID)
                """).first(decoding: CallbackTarget.self)
        }
    }

    private func verifySignature(_ req: Request, taskID: String, key: String) throws {
        guard let timestamp = req.headers.first(name: "X-Webhook-Timestamp"),
              let signature = req.headers.first(name: "X-Webhook-Signature"),
              let seconds = TimeInterval(timestamp),
              abs(req.clock.now().timeIntervalSince1970 - seconds) <= Self.replayWindow
        else { throw AppError.invalidSignature }
        let expected = KieWire.webhookSignature(taskID: taskID, timestamp: timestamp, key: key)
        guard Self.constantTimeEqual(expected, signature) else { throw AppError.invalidSignature }
    }

    /// Compares without stopping at the first difference, so timing does not leak the secret.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8), right = Array(b.utf8)
        guard left.count == right.count else { return false }
        return zip(left, right).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
