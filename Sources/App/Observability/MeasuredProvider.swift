import Foundation

/// Times and counts every call to the provider it wraps (`phim_provider_call_duration_seconds`,
/// `phim_provider_calls_total`), sorted by how the call ended, and tallies it per minute for
/// the admin page (`ProviderCallLog`).
struct MeasuredProvider: VideoProvider {
    let inner: any VideoProvider
    let metrics: PhimMetrics
    let log: ProviderCallLog
    let clock: AppClock

    func createTask(_ request: ProviderTaskRequest) async throws -> ProviderTaskID {
        try await measure("create") { try await inner.createTask(request) }
    }

    func taskStatus(_ id: ProviderTaskID) async throws -> ProviderTaskStatus {
        try await measure("status") { try await inner.taskStatus(id) }
    }

    func remainingCredits() async throws -> Int {
        try await measure("credit") { try await inner.remainingCredits() }
    }

    func freshDownloadURL(for url: String) async throws -> String {
        try await measure("download_url") { try await inner.freshDownloadURL(for: url) }
    }

    private func measure<T>(_ call: String, _ body: () async throws -> T) async throws -> T {
        let started = ContinuousClock.now
        do {
            let value = try await body()
            let duration = ContinuousClock.now - started
            metrics.providerCall(call, duration: duration, error: nil)
            log.record(call: call, outcome: "ok", duration: duration, at: clock.now())
            return value
        } catch {
            let duration = ContinuousClock.now - started
            metrics.providerCall(call, duration: duration, error: Self.kind(of: error))
            log.record(call: call, outcome: Self.kind(of: error), duration: duration, at: clock.now())
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
