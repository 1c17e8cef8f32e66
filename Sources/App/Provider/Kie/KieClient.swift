import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The live provider: Kie AI's HTTP API, or anything that speaks its contract (the simulator).
struct KieClient: VideoProvider {
    let http: HTTPClient
    /// Resolved per call, because in demo mode the simulator's address is this server's own,
    /// which is known only once `serve` has bound its port.
    let baseURL: @Sendable () -> String
    let apiKey: String
    let clock: AppClock
    let logger: Logger
    var createTimeout: TimeAmount = .seconds(30)
    var readTimeout: TimeAmount = .seconds(15)
    /// Delays between attempts of a read; creates are never retried (a second create could bill twice).
    var readRetryDelays: [Duration] = [.milliseconds(500), .seconds(1), .seconds(2)]

    func createTask(_ request: ProviderTaskRequest) async throws -> ProviderTaskID {
        let body = try JSONEncoder().encode(KieWire.createTaskBody(for: request))
        let reply = try await send(.POST, path: "/api/v1/jobs/createTask", body: body, timeout: createTimeout)
        do {
            return try KieWire.parseCreateReply(reply.body)
        } catch ProviderError.invalidResponse(let detail) {
            // The provider answered, but not in its contract: a gateway page, or a reply cut short.
            // The task may have been created, so the caller must not send it again.
            throw reply.status.code >= 500 || reply.status == .ok
                ? ProviderError.ambiguous(detail: "\(detail) (HTTP \(reply.status.code))")
                : ProviderError.rejected(code: Int(reply.status.code), message: detail)
        }
    }

    func taskStatus(_ id: ProviderTaskID) async throws -> ProviderTaskStatus {
        var query = URLComponents()
        query.queryItems = [URLQueryItem(name: "taskId", value: id)]
        let path = "/api/v1/jobs/recordInfo?" + (query.percentEncodedQuery ?? "")
        var attempt = 0
        while true {
            do {
                let reply = try await send(.GET, path: path, body: nil, timeout: readTimeout)
                return try KieWire.parseRecordInfoReply(reply.body)
            } catch let error as ProviderError where error.isTransient && attempt < readRetryDelays.count {
                logger.warning("provider read failed, retrying", metadata: [
                    "task_id": .string(id), "attempt": .stringConvertible(attempt + 1), "error": .string("\(error)"),
                ])
                try await clock.sleep(readRetryDelays[attempt])
                attempt += 1
            }
        }
    }

    /// The account's remaining provider credits (reference §10.1).
    public func remainingCredits() async throws -> Int {
        let reply = try await send(.GET, path: "/api/v1/chat/credit", body: nil, timeout: readTimeout)
        return try KieWire.parseCreditReply(reply.body)
    }

    /// A temporary direct link to a Kie-made video (reference §9: valid 20 minutes).
    public func freshDownloadURL(for url: String) async throws -> String {
        let reply = try await send(.POST, path: "/api/v1/common/download-url", body: try KieWire.downloadURLBody(for: url),
                                   timeout: readTimeout)
        return try KieWire.parseDownloadURLReply(reply.body)
    }

    // MARK: - Transport

    private struct Reply {
        var status: HTTPResponseStatus
        var body: Data
    }

    private func send(_ method: HTTPMethod, path: String, body: Data?, timeout: TimeAmount) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL() + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        request.headers.add(name: "Accept", value: "application/json")
        // Cloudflare in front of Kie has refused requests without a browser-like agent (§11.19).
        request.headers.add(name: "User-Agent", value: "Mozilla/5.0 (compatible; Phim/1.0)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: body))
        }
        do {
            let response = try await http.execute(request, timeout: timeout)
            let buffer = try await response.body.collect(upTo: 4 * 1024 * 1024)
            return Reply(status: response.status, body: Data(buffer: buffer))
        } catch {
            throw Self.classify(error)
        }
    }

    /// Sorts a transport error into "never sent" and "may have been processed".
    static func classify(_ error: any Error) -> ProviderError {
        if let error = error as? HTTPClientError, error == .connectTimeout {
            return .unreachable(detail: "connect timeout")
        }
        if error is NIOConnectionError {
            return .unreachable(detail: "connection failed")
        }
        if let error = error as? ChannelError, case .connectTimeout = error {
            return .unreachable(detail: "connect timeout")
        }
        if let error = error as? IOError, [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH].contains(error.errnoCode) {
            return .unreachable(detail: "connection refused")
        }
        return .ambiguous(detail: String(describing: error))
    }
}
