import Foundation
import PhimCore
import PhimSupport

/// Wakes a sleeping thread early: a create that queued a job wakes this process's dispatcher.
public final class Wakeup: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending = false

    public init() {}

    public func signal() {
        condition.lock()
        pending = true
        condition.broadcast()
        condition.unlock()
    }

    /// Sleeps until `signal` or `seconds` pass, whichever is first.
    public func wait(seconds: Double) {
        condition.lock()
        let until = Date(timeIntervalSinceNow: max(0, seconds))
        while !pending, condition.wait(until: until) {}
        pending = false
        condition.unlock()
    }
}

/// This process's side of the admission queue (`ProviderQueue`). Every FastCGI process runs one;
/// the one holding the lease claims jobs, one at a time and only when one of its sender threads
/// is free to send it at once, and its senders call the provider (up to 30 s each, never on a
/// request's thread). The others wait to take over if the holder goes away.
public final class Dispatcher: @unchecked Sendable {
    private let app: App
    private let databasePath: String
    /// Who holds the lease: this process, unique across restarts.
    private let holder = "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UUID().uuidString.prefix(8))"
    private let senderCount: Int
    private let condition = NSCondition()
    private var claims: [ProviderQueue.Claim] = []
    private var idleSenders = 0
    private var sending = 0
    private var stopping = false

    /// Seconds a lease lasts; the holder renews it when less than half is left.
    static let leaseSeconds = 6.0

    public init(app: App, databasePath: String, senders: Int = 8) {
        self.app = app
        self.databasePath = databasePath
        senderCount = senders
    }

    public func start() {
        for index in 0..<senderCount { startThread(name: "sender-\(index)") { self.senderLoop() } }
        startThread(name: "dispatcher") { self.claimLoop() }
    }

    /// Stops claiming, lets the sends in flight finish (up to `seconds`), and gives the lease up
    /// so another process takes over at once.
    public func stop(waitingUpTo seconds: Double) {
        condition.lock()
        stopping = true
        condition.broadcast()
        let until = Date(timeIntervalSinceNow: seconds)
        while sending > 0 || !claims.isEmpty, condition.wait(until: until) {}
        condition.unlock()
        do {
            try app.queue.releaseLease(holder: holder, on: try Database(path: databasePath))
        } catch {
            Log.warning("could not give the dispatch lease up", ["error": "\(error)"])
        }
    }

    private func claimLoop() {
        var database: Database?
        var leaseUntil: Int64 = 0
        while true {
            condition.lock()
            let stopped = stopping
            condition.unlock()
            if stopped { return }
            do {
                if database == nil { database = try Database(path: databasePath) }
                let db = database!
                let now = app.clock.nowMillis()
                if leaseUntil - now < Int64(Self.leaseSeconds * 500) {
                    let held = try app.queue.takeLease(holder: holder, seconds: Self.leaseSeconds, on: db)
                    leaseUntil = held ? now + Int64(Self.leaseSeconds * 1000) : 0
                }
                guard leaseUntil > now else {
                    app.queueWakeup.wait(seconds: 1)
                    continue
                }
                // A claim is taken only when a sender can send it now, so its time in the window is its send's.
                condition.lock()
                while idleSenders <= claims.count, !stopping { _ = condition.wait(until: Date(timeIntervalSinceNow: 1)) }
                condition.unlock()
                let (next, claim) = try app.queue.claimNext(on: db)
                if let claim {
                    condition.lock()
                    claims.append(claim)
                    condition.broadcast()
                    condition.unlock()
                    continue
                }
                switch next {
                case .waitUntil(let at): app.queueWakeup.wait(seconds: min(1, Double(max(0, at - app.clock.nowMillis())) / 1000))
                case .full: app.queueWakeup.wait(seconds: 0.5)
                case .empty, .claimed: app.queueWakeup.wait(seconds: 0.25)
                }
            } catch {
                Log.error("dispatch failed", ["error": "\(error)"])
                database = nil
                Thread.sleep(forTimeInterval: 1)
            }
        }
    }

    private func senderLoop() {
        var database: Database?
        while true {
            condition.lock()
            idleSenders += 1
            condition.broadcast()
            while claims.isEmpty { condition.wait() }
            let claim = claims.removeFirst()
            idleSenders -= 1
            sending += 1
            condition.unlock()
            do {
                if database == nil { database = try Database(path: databasePath) }
                try app.queue.send(claim, on: database!)
            } catch {
                // The job stays `submitting`: the provider may have it; a callback or the reconciler settles it.
                Log.error("recording a send failed", ["job_id": claim.job.id, "error": "\(error)"])
                database = nil
            }
            condition.lock()
            sending -= 1
            condition.broadcast()
            condition.unlock()
            // A send that ended may free a place at the provider.
            app.queueWakeup.signal()
        }
    }
}
