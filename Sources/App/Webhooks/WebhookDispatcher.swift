import AsyncHTTPClient
import Fluent
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SQLKit
import Vapor

/// Sends one webhook attempt. The real one posts over HTTP; tests record and answer.
protocol WebhookSender: Sendable {
    /// Posts `body` with `headers` and returns the receiver's HTTP status; throws when no
    /// answer came within `timeout` (refused connection, timeout, TLS failure).
    func post(url: String, headers: [(String, String)], body: String, timeout: Duration) async throws -> Int
}

/// Posts webhooks with a client of its own that never follows redirects (a redirect could
/// lead into the private network the target policy keeps out).
struct HTTPWebhookSender: WebhookSender {
    let client: HTTPClient

    func post(url: String, headers: [(String, String)], body: String, timeout: Duration) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Phim-Webhooks/1.0")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout / .milliseconds(1))))
        // The answer's body is not used; read a little of it so the connection can be reused.
        _ = try? await response.body.collect(upTo: 16 * 1024)
        return Int(response.status.code)
    }
}

/// Closes the webhook client when the application stops.
struct HTTPClientShutdown: LifecycleHandler {
    let client: HTTPClient

    func shutdownAsync(_ application: Application) async {
        try? await client.shutdown()
    }
}

/// Delivers queued webhooks: each pass claims the deliveries that are due, attempts them, and
/// records every attempt. A failed attempt (no 2xx, no answer) is retried after the next delay
/// in `retrySchedule`; when the schedule runs out the delivery is `failed` until replayed.
///
/// Claiming moves a delivery's next attempt a lease ahead first, so two instances never send
/// the same attempt, and a crash mid-attempt only delays it by the lease.
struct WebhookDispatcher: Sendable {
    let store: Store
    let sender: any WebhookSender
    let policy: WebhookTargetPolicy
    let clock: AppClock
    let logger: Logger
    let settings: AppConfig.WebhookSettings
    var metrics: PhimMetrics? = nil
    var batchSize = 50
    var parallelAttempts = 8

    struct PassReport: Equatable, Sendable {
        var delivered = 0
        var retrying = 0
        var failed = 0
        var attempted: Int { delivered + retrying + failed }
    }

    private enum Result: Sendable {
        case answered(status: Int)
        case noAnswer(String)
        case refusedTarget(String)

        var statusCode: Int? { if case .answered(let status) = self { status } else { nil } }
        var isSuccess: Bool { if let statusCode { (200..<300).contains(statusCode) } else { false } }
        var error: String? {
            switch self {
            case .answered(let status): (200..<300).contains(status) ? nil : "HTTP \(status)"
            case .noAnswer(let detail): detail
            case .refusedTarget(let detail): detail
            }
        }
    }

    func runPass() async throws -> PassReport {
        let now = clock.now()
        let due = try await WebhookDelivery.query(on: store.db)
            .filter(\.$state == .pending).filter(\.$nextAttemptAt <= now)
            .sort(\.$nextAttemptAt).limit(batchSize).all()
        var claimed: [WebhookDelivery] = []
        for delivery in due where try await claim(delivery, now: now) { claimed.append(delivery) }

        var secrets: [UUID: String] = [:]
        for userID in Set(claimed.map { $0.$user.id }) {
            secrets[userID] = try await WebhookOutbox.endpoint(forUser: userID, at: now, on: store.db).secret
        }

        var report = PassReport()
        let secretByUser = secrets
        let attempts = await claimed.concurrentMap(width: parallelAttempts) { delivery in
            await attempt(delivery, secret: secretByUser[delivery.$user.id] ?? "")
        }
        for attempt in attempts {
            let state = try await record(attempt.result, of: attempt.delivery, durationMilliseconds: attempt.milliseconds)
            metrics?.webhookAttempt(state)
            switch state {
            case .delivered: report.delivered += 1
            case .pending: report.retrying += 1
            case .failed: report.failed += 1
            }
        }
        return report
    }

    /// Queues a delivery to be sent again at once, with a fresh retry schedule. The message id
    /// and body stay the same, so a receiver that already has it can tell.
    static func replay(_ delivery: WebhookDelivery, at now: Date, on db: any Database) async throws {
        delivery.state = .pending
        delivery.attempts = 0
        delivery.nextAttemptAt = now
        delivery.deliveredAt = nil
        try await delivery.save(on: db)
    }

    // MARK: - Internals

    private func claim(_ delivery: WebhookDelivery, now: Date) async throws -> Bool {
        let sql = store.db as! any SQLDatabase // both supported drivers are SQL databases
        return try await sql.update(WebhookDelivery.schema)
            .set("next_attempt_at", to: now.adding(settings.attemptTimeout + .seconds(60)))
            .where("id", .equal, delivery.id)
            .where("state", .equal, WebhookDeliveryState.pending.rawValue)
            .where("next_attempt_at", .lessThanOrEqual, now)
            .returning("id").first() != nil
    }

    private struct Attempt: Sendable {
        var delivery: WebhookDelivery
        var result: Result
        var milliseconds: Int
    }

    private func attempt(_ delivery: WebhookDelivery, secret: String) async -> Attempt {
        let started = ContinuousClock.now
        func elapsed() -> Int { Int((ContinuousClock.now - started) / .milliseconds(1)) }
        do {
            try await policy.check(delivery.url)
        } catch {
            return Attempt(delivery: delivery, result: .refusedTarget("target refused: \(error)"), milliseconds: elapsed())
        }
        let headers = WebhookSigner.headers(secret: secret, messageID: delivery.messageID, at: clock.now(), body: delivery.payload)
        do {
            let status = try await sender.post(url: delivery.url, headers: headers, body: delivery.payload,
                                               timeout: settings.attemptTimeout)
            return Attempt(delivery: delivery, result: .answered(status: status), milliseconds: elapsed())
        } catch {
            return Attempt(delivery: delivery, result: .noAnswer(String("\(error)".prefix(300))), milliseconds: elapsed())
        }
    }

    private func record(_ result: Result, of delivery: WebhookDelivery, durationMilliseconds: Int) async throws -> WebhookDeliveryState {
        let now = clock.now()
        let schedule = settings.retrySchedule
        let state: WebhookDeliveryState = try await store.writeTransaction { db in
            guard let current = try await WebhookDelivery.find(delivery.id, on: db) else { return .failed }
            let attempt = WebhookAttempt()
            attempt.deliveryID = try current.requireID()
            attempt.attemptedAt = now
            attempt.statusCode = result.statusCode
            attempt.error = result.error
            attempt.durationMilliseconds = durationMilliseconds
            try await attempt.create(on: db)

            current.attempts += 1
            current.lastAttemptAt = now
            current.lastStatusCode = result.statusCode
            current.lastError = result.error
            if result.isSuccess {
                current.state = .delivered
                current.deliveredAt = now
                current.nextAttemptAt = nil
            } else if case .refusedTarget = result {
                current.state = .failed
                current.nextAttemptAt = nil
            } else if current.attempts <= schedule.count {
                current.nextAttemptAt = now.adding(schedule[current.attempts - 1])
            } else {
                current.state = .failed
                current.nextAttemptAt = nil
            }
            try await current.save(on: db)
            return current.state
        }
        let metadata: Logger.Metadata = [
            "job_id": .string(delivery.jobID.uuidString), "webhook_id": .string(delivery.messageID),
            "event": .string(delivery.eventType), "attempt": .stringConvertible(delivery.attempts + 1),
            "status": .string(result.statusCode.map(String.init) ?? "none"),
        ]
        switch state {
        case .delivered: logger.info("webhook delivered", metadata: metadata)
        case .pending: logger.notice("webhook attempt failed; will retry", metadata: metadata.merging(["error": .string(result.error ?? "")]) { $1 })
        case .failed: logger.warning("webhook delivery failed for good", metadata: metadata.merging(["error": .string(result.error ?? "")]) { $1 })
        }
        return state
    }
}

/// Runs dispatcher passes until cancelled: back to back while there is work, else every poll interval.
struct WebhookDispatcherLoop: Sendable {
    let makeDispatcher: @Sendable () -> WebhookDispatcher
    let pollInterval: Duration
    let clock: AppClock
    let logger: Logger

    func run() async {
        while !Task.isCancelled {
            var busy = false
            do {
                busy = try await makeDispatcher().runPass().attempted > 0
            } catch {
                logger.error("webhook pass failed", metadata: ["error": .string("\(error)")])
            }
            if !busy {
                do { try await clock.sleep(pollInterval) } catch { return }
            }
        }
    }
}
