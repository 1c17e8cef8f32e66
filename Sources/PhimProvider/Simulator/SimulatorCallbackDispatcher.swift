// Posts the simulator's due callbacks over HTTP, the way Kie would.
import Foundation
import PhimSupport

/// Every tick, takes the callbacks whose time has come and posts each once, with Kie's 15 s
/// timeout and no retry: the reference documents none, so Phim must not depend on one. A
/// refused or failed delivery is only logged; polling is what makes Phim correct anyway.
public final class SimulatorCallbackDispatcher: @unchecked Sendable {
    /// How the deliveries went, for tests and the demo's logs.
    public struct Statistics: Sendable, Equatable {
        public var delivered = 0
        public var refused = 0
        public var failed = 0

        public init(delivered: Int = 0, refused: Int = 0, failed: Int = 0) {
            self.delivered = delivered
            self.refused = refused
            self.failed = failed
        }
    }

    public let simulator: KieSimulator
    private let tickSeconds: TimeInterval
    private let timeoutMilliseconds: Int
    /// One tick's deliveries go out on at most this many short-lived threads at once.
    private let parallelDeliveries: Int
    private let state = NSCondition()
    private var running = false
    private var stopping = false
    private var counts = Statistics()

    public init(simulator: KieSimulator, tickMilliseconds: Int = 200, timeoutMilliseconds: Int = 15_000,
                parallelDeliveries: Int = 4) {
        self.simulator = simulator
        self.tickSeconds = TimeInterval(max(1, tickMilliseconds)) / 1000
        self.timeoutMilliseconds = timeoutMilliseconds
        self.parallelDeliveries = max(1, parallelDeliveries)
    }

    public var statistics: Statistics { state.withLock { counts } }

    /// Starts the dispatching thread; a second call does nothing.
    public func start() {
        state.lock()
        defer { state.unlock() }
        // Still winding down from a stop: carry on instead of starting a second loop.
        stopping = false
        guard !running else { return }
        running = true
        startThread(name: "sim-callbacks") { [self] in loop() }
    }

    /// No tick starts after this returns; deliveries already under way finish (each within its timeout).
    public func stop() {
        state.withLock {
            stopping = true
            state.broadcast()
        }
    }

    private func loop() {
        while true {
            state.lock()
            let until = Date().addingTimeInterval(tickSeconds)
            while !stopping && Date() < until { _ = state.wait(until: until) }
            let stop = stopping
            if stop { running = false }
            state.unlock()
            if stop { return }
            deliver(simulator.takeDueCallbacks())
        }
    }

    /// Posts one tick's callbacks, a few at a time, and returns when all have been tried.
    private func deliver(_ callbacks: [KieSimulator.Callback]) {
        guard !callbacks.isEmpty else { return }
        if callbacks.count == 1 {
            deliver(callbacks[0])
            return
        }
        let next = Locked(0)
        let done = DispatchSemaphore(value: 0)
        let workers = min(parallelDeliveries, callbacks.count)
        for _ in 0..<workers {
            startThread(name: "sim-callback") { [self] in
                while true {
                    let index = next.withLock { value -> Int in
                        defer { value += 1 }
                        return value
                    }
                    guard index < callbacks.count else { break }
                    deliver(callbacks[index])
                }
                done.signal()
            }
        }
        for _ in 0..<workers { done.wait() }
    }

    private func deliver(_ callback: KieSimulator.Callback) {
        do {
            let reply = try HTTPClient.send(method: "POST", url: callback.url, headers: callback.headers.sorted { $0.key < $1.key },
                                            body: callback.body, timeoutMilliseconds: timeoutMilliseconds,
                                            maxResponseBytes: 64 * 1024)
            if (200..<300).contains(reply.status) {
                state.withLock { counts.delivered += 1 }
            } else {
                state.withLock { counts.refused += 1 }
                Log.warning("simulator callback refused", ["task_id": callback.taskID, "kind": callback.kind.rawValue,
                                                           "status": String(reply.status)])
            }
        } catch {
            state.withLock { counts.failed += 1 }
            Log.warning("simulator callback failed", ["task_id": callback.taskID, "kind": callback.kind.rawValue,
                                                      "error": "\(error)"])
        }
    }
}
