// The provider as the fault run sees it: the in-process simulator plus what only a process or a network can do.
import Foundation
import PhimProvider
import PhimSupport

/// Wraps `InProcessSimulatorProvider` with faults the simulator cannot have on its own: the
/// service dying around the create call, a refused connection, and failing status queries.
/// Business errors and accept-then-hang stay the simulator's (`KieSimulator.inject`).
final class FaultyProvider: VideoProvider, @unchecked Sendable {
    enum CreateFault: String, Sendable {
        case crashBeforeSend = "service killed between the hold and the provider call"
        case crashAfterSend = "service killed after the provider accepted the create"
        case unreachable = "provider unreachable on create"
    }

    /// The service process dying mid-request. Not a `ProviderError`, so nothing in the service
    /// handles it: it unwinds the request like the end of the process would, leaving only what
    /// was committed. The run throws the answer away and restarts.
    struct SimulatedCrash: Error {}

    struct State {
        var createFaults: [CreateFault] = []
        var failingQueries = 0
        var queriesFailed = 0
        /// Set by a crash; the run takes it to know the answer it got was never sent.
        var crashed = false
        /// The job named in the callback URL of each create that reached this provider, in order.
        var createdForJobs: [String] = []
    }

    let inner: InProcessSimulatorProvider
    private let state = Locked(State())

    init(_ inner: InProcessSimulatorProvider) { self.inner = inner }

    func queue(_ fault: CreateFault) { state.withLock { $0.createFaults.append(fault) } }
    var queuedCreateFaults: Int { state.withLock { $0.createFaults.count } }
    func clearQueuedCreateFaults() { state.withLock { $0.createFaults.removeAll() } }
    func failNextQueries(_ count: Int) { state.withLock { $0.failingQueries += count } }
    func stopFailingQueries() { state.withLock { $0.failingQueries = 0 } }
    var queriesFailed: Int { state.withLock { $0.queriesFailed } }

    /// Whether the last request crashed the service (without forgetting it).
    var hasCrashed: Bool { state.withLock { $0.crashed } }

    /// Whether the last request crashed the service, and forgets it.
    func takeCrashed() -> Bool { state.withLock { state in defer { state.crashed = false }; return state.crashed } }

    /// The job of the last create that reached the provider (the crash faults included).
    var lastCreateJobID: String? { state.withLock { $0.createdForJobs.last } }
    /// How many creates reached the provider, faulted or not.
    var createsSeen: Int { state.withLock { $0.createdForJobs.count } }

    func createTask(_ request: ProviderTaskRequest) throws -> ProviderTaskID {
        let fault: CreateFault? = state.withLock { state in
            state.createdForJobs.append(Self.jobID(inCallbackURL: request.callbackURL) ?? "")
            return state.createFaults.isEmpty ? nil : state.createFaults.removeFirst()
        }
        switch fault {
        case .crashBeforeSend?:
            state.withLock { $0.crashed = true }
            throw SimulatedCrash()
        case .crashAfterSend?:
            _ = try inner.createTask(request)
            state.withLock { $0.crashed = true }
            throw SimulatedCrash()
        case .unreachable?:
            throw ProviderError.unreachable(detail: "simulated connection refused")
        case nil:
            return try inner.createTask(request)
        }
    }

    func taskStatus(_ id: ProviderTaskID, family: ProviderFamily) throws -> ProviderTaskStatus {
        let fails = state.withLock { state -> Bool in
            guard state.failingQueries > 0 else { return false }
            state.failingQueries -= 1
            state.queriesFailed += 1
            return true
        }
        if fails { throw ProviderError.unreachable(detail: "simulated status query failure") }
        return try inner.taskStatus(id, family: family)
    }

    func remainingCredits() throws -> Int { try inner.remainingCredits() }
    func freshDownloadURL(for url: String) throws -> String { try inner.freshDownloadURL(for: url) }
    func uploadFile(_ bytes: Data, fileName: String) throws -> String { try inner.uploadFile(bytes, fileName: fileName) }
    func priceFeed() throws -> [ProviderPriceRecord] { try inner.priceFeed() }

    /// `<base>/api/v1/webhooks/kie/<job>/<secret>[/progress]` → `<job>`.
    static func jobID(inCallbackURL url: String) -> String? {
        guard let path = URL(string: url)?.path else { return nil }
        let segments = path.split(separator: "/").map(String.init)
        guard segments.count >= 6, segments[0...3] == ["api", "v1", "webhooks", "kie"] else { return nil }
        return segments[4]
    }
}
