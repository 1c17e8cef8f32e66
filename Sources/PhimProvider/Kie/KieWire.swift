// Kie AI's "jobs" JSON contract (shared/reference/kie-api.md), read and written in one place.
import Foundation
import PhimSupport

/// Request bodies, the reply envelope, task records and callbacks. The live client, the
/// simulator and the webhook handler all go through here, so all three read and write the same
/// shapes. Readers are lenient where Kie's own documents disagree (reference §11).
public enum KieWire {
    // MARK: - createTask

    /// A createTask body, as Phim sends it and as the simulator reads it back.
    public struct CreateTaskBody: Sendable, Equatable {
        public var model: String
        public var callBackUrl: String?
        public var progressCallBackUrl: String?
        public var input: Input

        public struct Input: Sendable, Equatable {
            public var prompt: String?
            public var imageURLs: [String]?
            public var aspectRatio: String?
            public var nFrames: String?
            public var size: String?
            public var removeWatermark: Bool?
            public var uploadMethod: String?

            public init(prompt: String? = nil, imageURLs: [String]? = nil, aspectRatio: String? = nil, nFrames: String? = nil,
                        size: String? = nil, removeWatermark: Bool? = nil, uploadMethod: String? = nil) {
                self.prompt = prompt
                self.imageURLs = imageURLs
                self.aspectRatio = aspectRatio
                self.nFrames = nFrames
                self.size = size
                self.removeWatermark = removeWatermark
                self.uploadMethod = uploadMethod
            }
        }

        public init(model: String, callBackUrl: String? = nil, progressCallBackUrl: String? = nil, input: Input) {
            self.model = model
            self.callBackUrl = callBackUrl
            self.progressCallBackUrl = progressCallBackUrl
            self.input = input
        }

        /// The JSON in a fixed field order, absent fields left out (Kie must not see `null`s).
        public var json: JSON {
            var inputFields: [(String, JSON)] = []
            if let prompt = input.prompt { inputFields.append(("prompt", .string(prompt))) }
            if let urls = input.imageURLs { inputFields.append(("image_urls", .array(urls.map { .string($0) }))) }
            if let ratio = input.aspectRatio { inputFields.append(("aspect_ratio", .string(ratio))) }
            if let frames = input.nFrames { inputFields.append(("n_frames", .string(frames))) }
            if let size = input.size { inputFields.append(("size", .string(size))) }
            if let remove = input.removeWatermark { inputFields.append(("remove_watermark", .bool(remove))) }
            if let method = input.uploadMethod { inputFields.append(("upload_method", .string(method))) }
            var fields: [(String, JSON)] = [("model", .string(model))]
            if let url = callBackUrl { fields.append(("callBackUrl", .string(url))) }
            if let url = progressCallBackUrl { fields.append(("progressCallBackUrl", .string(url))) }
            fields.append(("input", .object(inputFields)))
            return .object(fields)
        }

        public func data() -> Data { json.data() }

        /// Reads a body back; nil when it is not JSON or a field has the wrong type (Kie answers 422).
        public static func parse(_ data: Data) -> CreateTaskBody? {
            guard let root = JSON.parse(data), case .object = root,
                  let model = root["model"]?.stringValue,
                  let input = root["input"], case .object = input,
                  let callBack = optionalString(root["callBackUrl"]),
                  let progress = optionalString(root["progressCallBackUrl"]),
                  let prompt = optionalString(input["prompt"]),
                  let ratio = optionalString(input["aspect_ratio"]),
                  let frames = optionalString(input["n_frames"]),
                  let size = optionalString(input["size"]),
                  let method = optionalString(input["upload_method"])
            else { return nil }
            var urls: [String]?
            if let list = input["image_urls"], !list.isNull {
                guard case .array(let items) = list else { return nil }
                let strings = items.compactMap(\.stringValue)
                guard strings.count == items.count else { return nil }
                urls = strings
            }
            var remove: Bool?
            if let flag = input["remove_watermark"], !flag.isNull {
                guard case .bool(let value) = flag else { return nil }
                remove = value
            }
            return CreateTaskBody(model: model, callBackUrl: callBack, progressCallBackUrl: progress,
                                  input: Input(prompt: prompt, imageURLs: urls, aspectRatio: ratio,
                                               nFrames: frames, size: size, removeWatermark: remove,
                                               uploadMethod: method))
        }

        /// `.some(nil)` for absent or null, `.some(text)` for a string, nil for any other type.
        private static func optionalString(_ value: JSON?) -> String?? {
            guard let value, !value.isNull else { return .some(nil) }
            guard let text = value.stringValue else { return nil }
            return .some(text)
        }
    }

    /// The createTask body for a request. Every field we rely on is sent explicitly, because
    /// documented defaults are reportedly not always applied (reference §3.1, §11.16).
    public static func createTaskBody(for request: ProviderTaskRequest) -> CreateTaskBody {
        // The stable tier documents neither field; whether it ignores or refuses them is unknown (§11.15).
        let extras = request.model.supportsWatermarkRemovalAndProgress
        return CreateTaskBody(
            model: request.model.rawValue,
            callBackUrl: request.callbackURL,
            progressCallBackUrl: extras ? request.progressCallbackURL : nil,
            input: .init(
                prompt: request.prompt,
                imageURLs: request.model.mode == .imageToVideo ? request.imageURL.map { [$0] } : nil,
                aspectRatio: request.aspectRatio.rawValue,
                nFrames: String(request.durationSeconds),
                size: request.model.isPro ? request.quality.rawValue : nil,
                removeWatermark: extras ? true : nil,
                uploadMethod: "s3"
            )
        )
    }

    // MARK: - The envelope

    /// `{code, msg, data}`. Some documented examples say `message` instead of `msg` (§11.1), and
    /// `code` has been seen as a string.
    public struct Envelope: Sendable {
        public var code: Int
        public var message: String
        public var data: JSON

        public static func parse(_ body: Data) -> Envelope? {
            guard let root = JSON.parse(body), let code = flexibleInt(root["code"]) else { return nil }
            let message = root["msg"]?.stringValue ?? root["message"]?.stringValue ?? ""
            return Envelope(code: code, message: message, data: root["data"] ?? .null)
        }
    }

    /// Reads a createTask reply. Throws `ProviderError.rejected` for a business error.
    public static func parseCreateReply(_ body: Data) throws -> ProviderTaskID {
        guard let envelope = Envelope.parse(body) else {
            throw ProviderError.invalidResponse(detail: "createTask reply is not the Kie envelope")
        }
        guard envelope.code == 200 else {
            throw ProviderError.rejected(code: envelope.code, message: envelope.message)
        }
        guard let id = taskID(in: envelope.data) else {
            throw ProviderError.invalidResponse(detail: "createTask succeeded without a taskId")
        }
        return id
    }

    /// Reads a recordInfo reply.
    public static func parseRecordInfoReply(_ body: Data) throws -> ProviderTaskStatus {
        guard let envelope = Envelope.parse(body) else {
            throw ProviderError.invalidResponse(detail: "recordInfo reply is not the Kie envelope")
        }
        guard envelope.code == 200 else {
            throw ProviderError.rejected(code: envelope.code, message: envelope.message)
        }
        guard let status = status(from: envelope.data, fallback: nil) else {
            throw ProviderError.invalidResponse(detail: "recordInfo reply has no task")
        }
        return status
    }

    /// Reads a credit balance reply (§10.1): `data` is the remaining credit count, documented as
    /// an integer, guarded here for numeric strings and decimals (a fraction is dropped).
    public static func parseCreditReply(_ body: Data) throws -> Int {
        guard let envelope = Envelope.parse(body) else {
            throw ProviderError.invalidResponse(detail: "credit reply is not the Kie envelope")
        }
        guard envelope.code == 200 else {
            throw ProviderError.rejected(code: envelope.code, message: envelope.message)
        }
        guard let credits = flexibleInt(envelope.data, truncating: true) else {
            throw ProviderError.invalidResponse(detail: "credit reply has no number")
        }
        return credits
    }

    /// The body of `POST /api/v1/common/download-url`.
    public static func downloadURLBody(for url: String) -> Data {
        JSON.object([("url", .string(url))]).data()
    }

    /// Reads a download-url reply: `data` is the temporary link (§9, valid 20 minutes).
    public static func parseDownloadURLReply(_ body: Data) throws -> String {
        guard let envelope = Envelope.parse(body) else {
            throw ProviderError.invalidResponse(detail: "download-url reply is not the Kie envelope")
        }
        guard envelope.code == 200 else {
            throw ProviderError.rejected(code: envelope.code, message: envelope.message)
        }
        guard let link = envelope.data.stringValue, link.hasPrefix("http") else {
            throw ProviderError.invalidResponse(detail: "download-url reply has no link")
        }
        return link
    }

    // MARK: - Callbacks

    /// Reads a callback body: a completion callback (the recordInfo shape; envelope code 501
    /// means the task failed, §5.1) or a progress callback, which has no published schema (§5.2),
    /// so any JSON naming a task (under `data` or at the top level) is accepted.
    public static func parseCallback(_ body: Data) -> ProviderTaskStatus? {
        guard let root = JSON.parse(body), case .object = root else { return nil }
        let data = root["data"].flatMap { value -> JSON? in
            if case .object = value { return value }
            return nil
        }
        guard var status = status(from: data ?? root, fallback: root) else { return nil }
        if let code = flexibleInt(root["code"]), code == 501 { status.state = .fail }
        return status
    }

    /// Kie's webhook signature (§6): base64 of HMAC-SHA-256 over `"<taskId>.<timestamp>"`, keyed
    /// with the raw console key. The simulator signs with it and the webhook handler checks with it.
    public static func webhookSignature(taskID: String, timestamp: String, key: String) -> String {
        let mac = Crypto.hmacSHA256(key: Array(key.utf8), message: Array("\(taskID).\(timestamp)".utf8))
        return Data(mac).base64EncodedString()
    }

    /// Whether `signature` is Kie's for this task and time, compared in constant time. Only the
    /// task id and time are signed, never the body: re-read the task before moving money (§6).
    public static func isValidWebhookSignature(_ signature: String, taskID: String, timestamp: String, key: String) -> Bool {
        Crypto.constantTimeEqual(webhookSignature(taskID: taskID, timestamp: timestamp, key: key), signature)
    }

    // MARK: - Task records

    /// A task as recordInfo or a callback describes it; `fallback` is where a progress callback
    /// may keep what `record` lacks (the top level, when the task sits under `data`).
    static func status(from record: JSON, fallback: JSON?) -> ProviderTaskStatus? {
        guard case .object = record else { return nil }
        // The Suno callback shape says `task_id`; Sora's says `taskId` (§11.5).
        guard let id = taskID(in: record) ?? fallback.flatMap(taskID(in:)) else { return nil }
        func field(_ name: String) -> JSON? {
            if let value = record[name], !value.isNull { return value }
            if let value = fallback?[name], !value.isNull { return value }
            return nil
        }
        let result = resultJSON(field("resultJson"))
        return ProviderTaskStatus(
            taskID: id,
            // A record without a state is a progress report: the task is running.
            state: ProviderState(field("state")?.stringValue ?? "generating"),
            progress: progressPercent(field("progress")),
            resultURLs: strings(result?["resultUrls"]),
            watermarkedURLs: strings(result?["resultWaterMarkUrls"]),
            failCode: failCode(field("failCode")),
            failMessage: field("failMsg")?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
            callbackURL: createParameters(field("param"))?["callBackUrl"]?.stringValue
        )
    }

    /// `param` is the createTask body as JSON text inside the JSON, like `resultJson`.
    private static func createParameters(_ value: JSON?) -> JSON? {
        switch value {
        case .string(let text): JSON.parse(Data(text.utf8))
        case .some(let object) where object["callBackUrl"] != nil: object
        default: nil
        }
    }

    private static func taskID(in record: JSON) -> String? {
        for key in ["taskId", "task_id"] {
            if let id = record[key]?.stringValue, !id.isEmpty { return id }
        }
        return nil
    }

    /// `resultJson` is JSON text inside the JSON, parsed a second time (§4.2); an object is
    /// accepted too, in case the provider ever stops double-encoding it.
    private static func resultJSON(_ value: JSON?) -> JSON? {
        switch value {
        case .string(let text): JSON.parse(Data(text.utf8))
        case .some(let object) where object["resultUrls"] != nil || object["resultWaterMarkUrls"] != nil: object
        default: nil
        }
    }

    private static func strings(_ value: JSON?) -> [String] {
        guard case .array(let items) = value else { return [] }
        return items.compactMap(\.stringValue)
    }

    /// `failCode` arrives as a string, a number or null (§11.10); empty means none.
    private static func failCode(_ value: JSON?) -> String? {
        switch value {
        case .string(let text): text.isEmpty ? nil : text
        case .number: value?.intValue.map(String.init) ?? value?.serialized()
        default: nil
        }
    }

    private static func progressPercent(_ value: JSON?) -> Int? {
        flexibleInt(value, truncating: true).map { min(100, max(0, $0)) }
    }

    /// An integer sent as a number or a numeric string; decimals only when `truncating`.
    static func flexibleInt(_ value: JSON?, truncating: Bool = false) -> Int? {
        switch value {
        case .number(let number):
            if let whole = value?.intValue { return whole }
            return truncating && number.isFinite && abs(number) < 9e15 ? Int(number) : nil
        case .string(let text):
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if let whole = Int(trimmed) { return whole }
            guard truncating, let number = Double(trimmed), number.isFinite, abs(number) < 9e15 else { return nil }
            return Int(number)
        default:
            return nil
        }
    }
}
