import Foundation

/// Times and counts every call to the provider it wraps (`phim_provider_call_duration_seconds`,
/// `phim_provider_calls_total`), sorted by how the call ended.
struct MeasuredProvider: VideoProvider {
    let inner: any VideoProvider
    let metrics: PhimMetrics

    func createTask(_ request: ProviderTaskRequest) async throws -> ProviderTaskID {
        try await measure("create") { try await inner.createTask(request) }
    }

    func taskStatus(_ id: ProviderTaskID) async throws -> ProviderTaskStatus {
        try await measure("status") { try await inner.taskStatus(id) }
    }

    func remainingCredits() async throws -> Int {
        try await measure("credit") { try await inner.remainingCredits() }
    }

    private func measure<T>(_ call: String, _ body: () async throws -> T) async throws -> T {
        let started = ContinuousClock.now
        do {
            let value = try await body()
            metrics.providerCall(call, duration: ContinuousClock.now - started, error: nil)
            return value
        } catch {
            metrics.providerCall(call, duration: ContinuousClock.now - started, error: Self.kind(of: error))
            throw error
        }
    }

    static func kind(of error: any Error) -> String {
        switch error as? ProviderError {
        case .rejected(let code, _): "rejected_\(code)"
        case .unreachable: "unreachable"
        case .ambiguous: "ambiguous"
        case .invalidResponse: "invalid_response"
        case nil: "other"
        }
    }
}
