// The live provider: Kie AI's HTTP API, or anything that speaks its contract (the simulator's server).
import Foundation
import PhimSupport

/// Blocking calls over `HTTPClient`. Creates are never retried (a second create could bill
/// twice); reads are retried a few times, since asking again costs nothing.
public struct KieClient: VideoProvider {
    public let baseURL: String
    /// Kie's file host (`kieai.redpandaai.co`), a separate host with the same key.
    public let uploadBaseURL: String
    let apiKey: String
    let clock: AppClock
    public var createTimeoutMilliseconds: Int
    public var readTimeoutMilliseconds: Int
    /// Pauses between attempts of a read, in seconds, taken from `clock` so tests do not wait.
    public var readRetryDelays: [TimeInterval] = [0.5, 1, 2]

    public static let defaultUploadBaseURL = "https://kieai.redpandaai.co"

    public init(baseURL: String, apiKey: String, uploadBaseURL: String = KieClient.defaultUploadBaseURL, clock: AppClock = .system,
                createTimeoutMilliseconds: Int = 30_000, readTimeoutMilliseconds: Int = 15_000) {
        func trimmed(_ url: String) -> String {
            var base = url
            while base.hasSuffix("/") { base.removeLast() }
            return base
        }
        self.baseURL = trimmed(baseURL)
        self.uploadBaseURL = trimmed(uploadBaseURL)
        self.apiKey = apiKey
        self.clock = clock
        self.createTimeoutMilliseconds = createTimeoutMilliseconds
        self.readTimeoutMilliseconds = readTimeoutMilliseconds
    }

    public func createTask(_ request: ProviderTaskRequest) throws -> ProviderTaskID {
        let call = KieWire.createCall(for: request)
        let reply = try send("POST", path: call.path, body: call.data(), timeoutMilliseconds: createTimeoutMilliseconds)
        return try Self.readCreateReply(status: reply.status, body: reply.body)
    }

    public func taskStatus(_ id: ProviderTaskID, family: ProviderFamily) throws -> ProviderTaskStatus {
        let path = KieWire.statusPath(family: family) + "?taskId=" + Self.percentEncoded(id)
        return try read("status") {
            try KieWire.parseStatusReply(try send("GET", path: path, body: nil, timeoutMilliseconds: readTimeoutMilliseconds).body,
                                         family: family)
        }
    }

    /// Kie's stream upload (kie-api.md §9). Not retried: a second upload only makes a second
    /// copy, but the caller is a create, which gives up and refunds rather than wait.
    public func uploadFile(_ bytes: Data, fileName: String) throws -> String {
        let upload = KieWire.fileUpload(bytes, fileName: fileName)
        let reply = try send("POST", url: uploadBaseURL + "/api/file-stream-upload", body: upload.body, contentType: upload.contentType,
                             timeoutMilliseconds: createTimeoutMilliseconds)
        return try KieWire.parseFileUploadReply(reply.body)
    }

    /// Every page of Kie's public price feed (no key needed; sent anyway, it does no harm).
    public func priceFeed() throws -> [ProviderPriceRecord] {
        try KieWire.readPriceFeed { body in
            try read("price-feed") {
                try send("POST", path: "/client/v1/model-pricing/page", body: body, timeoutMilliseconds: readTimeoutMilliseconds).body
            }
        }
    }

    /// The account's remaining provider credits (reference §10.1).
    public func remainingCredits() throws -> Int {
        try read("credit") {
            try KieWire.parseCreditReply(try send("GET", path: "/api/v1/chat/credit", body: nil,
                                                  timeoutMilliseconds: readTimeoutMilliseconds).body)
        }
    }

    /// A temporary direct link to a Kie-made video (reference §9: valid 20 minutes).
    public func freshDownloadURL(for url: String) throws -> String {
        let body = KieWire.downloadURLBody(for: url)
        return try read("download-url") {
            try KieWire.parseDownloadURLReply(try send("POST", path: "/api/v1/common/download-url", body: body,
                                                       timeoutMilliseconds: readTimeoutMilliseconds).body)
        }
    }

    /// What a createTask answer means. Shared with the in-process simulator provider, so both
    /// draw the same conclusions from the same bytes.
    static func readCreateReply(status: Int, body: Data) throws -> ProviderTaskID {
        do {
            return try KieWire.parseCreateReply(body)
        } catch ProviderError.invalidResponse(let detail) {
            // The provider answered, but not in its contract: a gateway page, or a reply cut short.
            // The task may have been created, so the caller must not send it again. A 4xx page
            // (Cloudflare's 403, say) comes from in front of Kie: the request never reached it.
            if status >= 500 || (200..<300).contains(status) {
                throw ProviderError.ambiguous(detail: "\(detail) (HTTP \(status))")
            }
            throw ProviderError.rejected(code: status, message: detail)
        }
    }

    // MARK: - Transport

    private func read<Value>(_ name: String, _ attempt: () throws -> Value) throws -> Value {
        var retries = 0
        while true {
            do {
                return try attempt()
            } catch let error as ProviderError where error.isTransient && retries < readRetryDelays.count {
                Log.warning("provider read failed, retrying", ["call": name, "attempt": String(retries + 1), "error": "\(error)"])
                clock.sleep(readRetryDelays[retries])
                retries += 1
            }
        }
    }

    private func send(_ method: String, path: String, body: Data?, timeoutMilliseconds: Int) throws -> HTTPReply {
        try send(method, url: baseURL + path, body: body, contentType: "application/json", timeoutMilliseconds: timeoutMilliseconds)
    }

    private func send(_ method: String, url: String, body: Data?, contentType: String, timeoutMilliseconds: Int) throws -> HTTPReply {
        let headers = [
            ("Authorization", "Bearer \(apiKey)"),
            ("Accept", "application/json"),
            ("Content-Type", contentType),
            ("User-Agent", HTTPClient.browserUserAgent),
        ]
        do {
            return try HTTPClient.send(method: method, url: url, headers: headers, body: body,
                                       timeoutMilliseconds: timeoutMilliseconds)
        } catch HTTPClientError.unreachable(let detail) {
            throw ProviderError.unreachable(detail: detail)
        } catch HTTPClientError.failedAfterSending(let detail) {
            throw ProviderError.ambiguous(detail: detail)
        }
    }

    /// Task ids are opaque (§11.20): everything but RFC 3986's unreserved characters is escaped.
    static func percentEncoded(_ text: String) -> String {
        var allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}
