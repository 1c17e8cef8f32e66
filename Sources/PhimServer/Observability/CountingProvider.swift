import Foundation
import PhimProvider
import PhimSupport

/// The provider, with every call counted by its outcome and timed (`phim_provider_calls_total`).
public struct CountingProvider: VideoProvider {
    public var inner: any VideoProvider
    var metrics: Metrics
    var callLog: ProviderCallLog

    public init(_ inner: any VideoProvider, metrics: Metrics = .shared, callLog: ProviderCallLog = .shared) {
        self.inner = inner
        self.metrics = metrics
        self.callLog = callLog
    }

    public func createTask(_ request: ProviderTaskRequest) throws -> ProviderTaskID {
        try measure("create_task", model: request.providerModel) { try inner.createTask(request) }
    }

    public func taskStatus(_ id: ProviderTaskID, family: ProviderFamily) throws -> ProviderTaskStatus {
        try measure("record_info") { try inner.taskStatus(id, family: family) }
    }

    public func uploadFile(_ bytes: Data, fileName: String) throws -> String {
        try measure("upload_file") { try inner.uploadFile(bytes, fileName: fileName) }
    }

    public func priceFeed() throws -> [ProviderPriceRecord] {
        try measure("price_feed") { try inner.priceFeed() }
    }

    public func remainingCredits() throws -> Int {
        try measure("credit") { try inner.remainingCredits() }
    }

    public func freshDownloadURL(for url: String) throws -> String {
        try measure("download_url") { try inner.freshDownloadURL(for: url) }
    }

    /// `model`: the provider's model id, for a create (provider health shows creates per model).
    private func measure<Result>(_ call: String, model: String? = nil, _ body: () throws -> Result) throws -> Result {
        let started = DispatchTime.now().uptimeNanoseconds
        var outcome = "ok"
        var detail: String?
        defer {
            let micros = Int64((DispatchTime.now().uptimeNanoseconds - started) / 1_000)
            metrics.count("phim_provider_call_microseconds_total", [("call", call)], by: micros)
            metrics.count("phim_provider_calls_total", [("call", call), ("outcome", outcome)])
            callLog.record(call: call, outcome: outcome, micros: micros, detail: detail, model: model)
        }
        do {
            return try body()
        } catch let error as ProviderError {
            outcome = switch error {
            case .rejected(let code, _): "rejected_\(code)"
            case .unreachable: "unreachable"
            case .ambiguous: "ambiguous"
            case .invalidResponse: "invalid_response"
            }
            detail = "\(error)"
            throw error
        }
    }
}
