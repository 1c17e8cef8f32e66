import Crypto
import Foundation

/// The Kie AI "jobs" JSON contract (see `shared/reference/kie-api.md`): request bodies, the
/// reply envelope, task records and callbacks. Used by the live client, the simulator and the
/// webhook handler, so all three read and write the same shapes.
public enum KieWire {
    // MARK: - createTask

    public struct CreateTaskBody: Codable, Sendable, Equatable {
        public var model: String
        public var callBackUrl: String?
        public var progressCallBackUrl: String?
        public var input: Input

        public struct Input: Codable, Sendable, Equatable {
            public var prompt: String?
            public var image_urls: [String]?
            public var aspect_ratio: String?
            public var n_frames: String?
            public var size: String?
            public var remove_watermark: Bool?
            public var upload_method: String?
        }
    }

    /// The createTask body for a request. Every field we rely on is sent explicitly, because
    /// documented defaults are reportedly not always applied (reference §3.1, §11.16).
    static func createTaskBody(for request: ProviderTaskRequest) -> CreateTaskBody {
        let extras = request.model.supportsWatermarkRemovalAndProgress
        return CreateTaskBody(
            model: request.model.rawValue,
            callBackUrl: request.callbackURL,
            progressCallBackUrl: extras ? request.progressCallbackURL : nil,
            input: .init(
                prompt: request.prompt,
                image_urls: request.imageURL.map { [$0] },
                aspect_ratio: request.aspectRatio.rawValue,
                n_frames: String(request.durationSeconds),
                size: request.model.isPro ? request.quality.rawValue : nil,
                remove_watermark: extras ? true : nil,
                upload_method: "s3"
            )
        )
    }

    // MARK: - Envelope

    /// `{code, msg, data}`. Some documented examples say `message` instead of `msg` (§11.1).
    struct Envelope<Payload: Decodable>: Decodable {
        var code: Int
        var msg: String?
        var data: Payload?

        enum CodingKeys: String, CodingKey { case code, msg, message, data }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            code = try container.decode(FlexibleInt.self, forKey: .code).value
            msg = try container.decodeIfPresent(String.self, forKey: .msg)
                ?? container.decodeIfPresent(String.self, forKey: .message)
            data = try? container.decodeIfPresent(Payload.self, forKey: .data)
        }
    }

    struct TaskIDPayload: Decodable { var taskId: String }

    /// A task as recordInfo (and the completion callback) describes it.
    public struct TaskRecord: Codable, Sendable {
        public var taskId: String?
        /// Seen in the Suno callback shape; accepted as a fallback (§11.5).
        public var task_id: String?
        public var model: String?
        public var state: String?
        public var param: String?
        public var resultJson: String?
        public var failCode: FlexibleString?
        public var failMsg: String?
        public var progress: FlexibleInt?
        public var costTime: FlexibleInt?
        public var completeTime: FlexibleInt?
        public var createTime: FlexibleInt?
        public var updateTime: FlexibleInt?

        var resolvedTaskID: String? { taskId ?? task_id }
    }

    /// The `resultJson` text, once parsed a second time (§4.2).
    public struct ResultJSON: Codable, Sendable {
        public var resultUrls: [String]?
        public var resultWaterMarkUrls: [String]?
    }

    /// Reads a createTask reply. Throws `ProviderError.rejected` for a business error.
    static func parseCreateReply(_ data: Data) throws -> ProviderTaskID {
        let envelope: Envelope<TaskIDPayload>
        do {
            envelope = try JSONDecoder().decode(Envelope<TaskIDPayload>.self, from: data)
        } catch {
            throw ProviderError.invalidResponse(detail: "createTask reply is not the Kie envelope")
        }
        guard envelope.code == 200 else {
            throw ProviderError.rejected(code: envelope.code, message: envelope.msg ?? "")
        }
        guard let id = envelope.data?.taskId, !id.isEmpty else {
            throw ProviderError.invalidResponse(detail: "createTask succeeded without a taskId")
        }
        return id
    }

    /// Reads a credit balance reply (reference §10.1): `data` is the remaining credit count.
    static func parseCreditReply(_ data: Data) throws -> Int {
        guard let envelope = try? JSONDecoder().decode(Envelope<FlexibleInt>.self, from: data) else {
            throw ProviderError.invalidResponse(detail: "credit reply is not the Kie envelope")
        }
        guard envelope.code == 200, let credits = envelope.data else {
            throw ProviderError.rejected(code: envelope.code, message: envelope.msg ?? "")
        }
        return credits.value
    }

    /// The body of `POST /api/v1/common/download-url`.
    static func downloadURLBody(for url: String) throws -> Data {
        try JSONEncoder().encode(["url": url])
    }

    /// Reads a download-url reply: `data` is the temporary link.
    static func parseDownloadURLReply(_ data: Data) throws -> String {
        guard let envelope = try? JSONDecoder().decode(Envelope<String>.self, from: data) else {
            throw ProviderError.invalidResponse(detail: "download-url reply is not the Kie envelope")
        }
        guard envelope.code == 200, let link = envelope.data, link.hasPrefix("http") else {
            throw ProviderError.rejected(code: envelope.code, message: envelope.msg ?? "")
        }
        return link
    }

    /// Reads a recordInfo reply.
    static func parseRecordInfoReply(_ data: Data) throws -> ProviderTaskStatus {
        let envelope: Envelope<TaskRecord>
        do {
            envelope = try JSONDecoder().decode(Envelope<TaskRecord>.self, from: data)
        } catch {
            throw ProviderError.invalidResponse(detail: "recordInfo reply is not the Kie envelope")
        }
        guard envelope.code == 200 else {
            throw ProviderError.rejected(code: envelope.code, message: envelope.msg ?? "")
        }
        guard let record = envelope.data, let status = status(from: record) else {
            throw ProviderError.invalidResponse(detail: "recordInfo reply has no task")
        }
        return status
    }

    /// Reads a callback body (completion or progress). Accepts the task under `data` or at the
    /// top level, since progress callbacks have no published schema (§5.2).
    static func parseCallback(_ data: Data) -> ProviderTaskStatus? {
        let decoder = JSONDecoder()
        if let envelope = try? decoder.decode(Envelope<TaskRecord>.self, from: data),
           let record = envelope.data, var status = status(from: record) {
            // Envelope 501 means the task failed even if `state` is missing (§5.1).
            if envelope.code == 501, record.state == nil { status.state = .fail }
            return status
        }
        if let record = try? decoder.decode(TaskRecord.self, from: data) {
            return status(from: record)
        }
        return nil
    }

    static func status(from record: TaskRecord) -> ProviderTaskStatus? {
        guard let id = record.resolvedTaskID, !id.isEmpty else { return nil }
        let result = record.resultJson.flatMap { text in
            try? JSONDecoder().decode(ResultJSON.self, from: Data(text.utf8))
        }
        let failCode = record.failCode?.value.flatMap { $0.isEmpty ? nil : $0 }
        let failMessage = record.failMsg.flatMap { $0.isEmpty ? nil : $0 }
        return ProviderTaskStatus(
            taskID: id,
            state: ProviderState(record.state ?? "generating"),
            progress: record.progress.map { min(100, max(0, $0.value)) },
            resultURLs: result?.resultUrls ?? [],
            watermarkedURLs: result?.resultWaterMarkUrls ?? [],
            failCode: failCode,
            failMessage: failMessage
        )
    }

    /// Kie's webhook signature (§6): base64 of HMAC-SHA256 over `"<taskId>.<timestamp>"`, keyed
    /// with the raw console key. The simulator signs with it and the webhook handler checks with it.
    static func webhookSignature(taskID: String, timestamp: String, key: String) -> String {
        let message = Data("\(taskID).\(timestamp)".utf8)
        return Data(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(key.utf8)))).base64EncodedString()
    }
}

/// An integer the provider may send as a number, a numeric string, or a decimal (§10.1, §11.10).
public struct FlexibleInt: Codable, Sendable, Equatable {
    public var value: Int
    public init(_ value: Int) { self.value = value }
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let int = try? container.decode(Int.self) { value = int; return }
        if let double = try? container.decode(Double.self) { value = Int(double); return }
        if let text = try? container.decode(String.self), let int = Int(text) { value = int; return }
        throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an integer")
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// A code the provider may send as a string, a number or null (`failCode`, §11.10).
public struct FlexibleString: Codable, Sendable, Equatable {
    public var value: String?
    public init(_ value: String?) { self.value = value }
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { value = nil; return }
        if let text = try? container.decode(String.self) { value = text; return }
        if let int = try? container.decode(Int.self) { value = String(int); return }
        if let double = try? container.decode(Double.self) { value = String(double); return }
        value = nil
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}
