@testable import App
import Foundation
import NIOConcurrencyHelpers

/// A provider whose answers a test decides: queued create outcomes (else a fresh task id) and
/// a status function (else "generating"). Records every call.
final class ScriptedProvider: VideoProvider, Sendable {
    enum CreateOutcome: Sendable {
        case accept
        case fail(ProviderError)
    }

    private struct State {
        var createOutcomes: [CreateOutcome] = []
        var statusErrors: [ProviderError] = []
        var createRequests: [ProviderTaskRequest] = []
        var statusQueries: [ProviderTaskID] = []
    }

    private let state = NIOLockedValueBox(State())
    private let status: @Sendable (ProviderTaskID) -> ProviderTaskStatus

    init(status: @escaping @Sendable (ProviderTaskID) -> ProviderTaskStatus = { .init(taskID: $0, state: .generating) }) {
        self.status = status
    }

    func queueCreate(_ outcome: CreateOutcome) { state.withLockedValue { $0.createOutcomes.append(outcome) } }
    func queueStatusError(_ error: ProviderError) { state.withLockedValue { $0.statusErrors.append(error) } }
    var createRequests: [ProviderTaskRequest] { state.withLockedValue { $0.createRequests } }
    var statusQueries: [ProviderTaskID] { state.withLockedValue { $0.statusQueries } }

    func createTask(_ request: ProviderTaskRequest) async throws -> ProviderTaskID {
        let outcome = state.withLockedValue { state -> CreateOutcome in
            state.createRequests.append(request)
            return state.createOutcomes.isEmpty ? .accept : state.createOutcomes.removeFirst()
        }
        switch outcome {
        case .accept: return "task-\(UUID().uuidString.prefix(8))"
        case .fail(let error): throw error
        }
    }

    func taskStatus(_ id: ProviderTaskID) async throws -> ProviderTaskStatus {
        let error = state.withLockedValue { state -> ProviderError? in
            state.statusQueries.append(id)
            return state.statusErrors.isEmpty ? nil : state.statusErrors.removeFirst()
        }
        if let error { throw error }
        return status(id)
    }
}
