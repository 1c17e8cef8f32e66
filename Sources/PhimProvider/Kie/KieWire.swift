// Kie AI's JSON contract, both families (Market jobs and Veo), read and written in one place.
// The facts and their sources: shared/reference/kie-api.md and kie-video-models.md.
import Foundation
import PhimSupport

/// Request bodies, the reply envelope, task records and callbacks. The live client, the
/// simulator and the webhook handler all go through here, so all three read and write the same
/// shapes. Readers are lenient where Kie's own documents disagree (reference §11).
public enum KieWire {
    // MARK: - Creating a task

    /// Where a create goes and what it says, for the request's family.
    public struct CreateCall: Sendable {
        public var path: String
        public var body: JSON
        public func data() -> Data { body.data() }
    }

    /// The create for a request: Market `{model, callBackUrl, input{...}}` or Veo's flat body.
    /// Every input is spelled as the catalog says (field name, JSON type, value), and every value
    /// Phim relies on is sent explicitly: documented defaults are reportedly not always applied
    /// (kie-api.md §3.1, §11.16).
    public static func createCall(for request: ProviderTaskRequest) -> CreateCall {
        let wire = request.wire
        var input: [(String, JSON)] = [(wire.prompt.field, .string(request.prompt))]
        if request.mode == .imageToVideo, let image = wire.image, let url = request.imageURL {
            input.append((image.field, image.shape == .array ? .array([.string(url)]) : .string(url)))
        }
        if let field = wire.duration.field {
            input.append((field, wire.duration.type == .string ? .string(String(request.durationSeconds)) : .int(request.durationSeconds)))
        }
        if let field = wire.aspectRatio.field, request.mode == .textToVideo || wire.aspectRatio.sendWithImage {
            input.append((field, .string(request.aspectRatio)))
        }
        if let field = wire.resolution.field, let value = wire.resolution.values.first(where: { $0.id == request.resolution }) {
            input.append((field, .string(value.wire)))
        }
        if let field = wire.audio.field {
            switch wire.audio.policy {
            case .optional: input.append((field, .bool(request.audio)))
            case .always: input.append((field, .bool(true)))
            case .none: break
            }
        }
        input += wire.fixed
        input += wire.modeFields[request.mode] ?? []
        switch wire.family {
        case .market:
            return CreateCall(path: "/api/v1/jobs/createTask", body: .object([
                ("model", .string(request.providerModel)), ("callBackUrl", .string(request.callbackURL)), ("input", .object(input)),
            ]))
        case .veo:
            return CreateCall(path: "/api/v1/veo/generate", body: .object(
                [("model", .string(request.providerModel)), ("callBackUrl", .string(request.callbackURL))] + input))
        }
    }

    /// Where a task's status is read, for its family.
    public static func statusPath(family: ProviderFamily) -> String {
        family == .market ? "/api/v1/jobs/recordInfo" : "/api/v1/veo/record-info"
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

    /// Reads a status reply: Market's recordInfo, or Veo's record-info.
    public static func parseStatusReply(_ body: Data, family: ProviderFamily) throws -> ProviderTaskStatus {
        guard let envelope = Envelope.parse(body) else {
            throw ProviderError.invalidResponse(detail: "status reply is not the Kie envelope")
        }
        guard envelope.code == 200 else {
            throw ProviderError.rejected(code: envelope.code, message: envelope.message)
        }
        let status = family == .market ? status(from: envelope.data, fallback: nil) : veoStatus(from: envelope.data)
        guard let status else { throw ProviderError.invalidResponse(detail: "status reply has no task") }
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

    // MARK: - Files and prices

    /// Kie's `POST /api/file-stream-upload` for a file: its Content-Type and multipart body. Phim's
    /// files go to the `phim` folder.
    public static func fileUpload(_ bytes: Data, fileName: String) -> (contentType: String, body: Data) {
        let boundary = "phim-" + Crypto.randomToken()
        return ("multipart/form-data; boundary=\(boundary)", fileUploadBody(bytes, fileName: fileName, uploadPath: "phim", boundary: boundary))
    }

    /// A multipart body for Kie's `POST /api/file-stream-upload`: the file, the folder it goes
    /// to, and its name, whose extension sets the type the file host serves it with.
    public static func fileUploadBody(_ bytes: Data, fileName: String, uploadPath: String, boundary: String) -> Data {
        var body = Data()
        func part(_ name: String, _ value: String) {
            body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8))
        }
        part("uploadPath", uploadPath)
        part("fileName", fileName)
        body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(fileName)\"\r\n".utf8))
        body.append(Data("Content-Type: application/octet-stream\r\n\r\n".utf8))
        body.append(bytes)
        body.append(Data("\r\n--\(boundary)--\r\n".utf8))
        return body
    }

    /// Reads an upload reply: the file's public URL, `downloadUrl` as live replies give it, else
    /// `fileUrl` as the documents' example does (kie-api.md §9, §11.13).
    public static func parseFileUploadReply(_ body: Data) throws -> String {
        guard let envelope = Envelope.parse(body) else {
            throw ProviderError.invalidResponse(detail: "upload reply is not the Kie envelope")
        }
        guard envelope.code == 200 else {
            throw ProviderError.rejected(code: envelope.code, message: envelope.message)
        }
        for key in ["downloadUrl", "fileUrl"] {
            if let url = envelope.data[key]?.stringValue, url.hasPrefix("http") { return url }
        }
        throw ProviderError.invalidResponse(detail: "upload reply has no file URL")
    }

    /// The body of one page of the price feed (capped at 100 rows a page).
    public static func priceFeedPageBody(page: Int) -> Data {
        JSON.object([("pageNum", .int(page)), ("pageSize", .int(100)), ("interfaceType", .string("video"))]).data()
    }

    /// Every page of the price feed, read through `page` (the body of page n → its reply), up to 50.
    public static func readPriceFeed(_ page: (Data) throws -> Data) throws -> [ProviderPriceRecord] {
        var records: [ProviderPriceRecord] = []
        var number = 1, pages = 1
        repeat {
            let answer = try parsePriceFeedPage(try page(priceFeedPageBody(page: number)))
            records += answer.records
            pages = min(answer.pages, 50)
            number += 1
        } while number <= pages
        return records
    }

    /// One page of the price feed: its records and how many pages there are. `creditPrice` is a
    /// string; the model id, when the record names one, is in its page link (`?model=`).
    public static func parsePriceFeedPage(_ body: Data) throws -> (records: [ProviderPriceRecord], pages: Int) {
        guard let envelope = Envelope.parse(body) else {
            throw ProviderError.invalidResponse(detail: "price feed reply is not the Kie envelope")
        }
        guard envelope.code == 200 else {
            throw ProviderError.rejected(code: envelope.code, message: envelope.message)
        }
        guard case .array(let items) = envelope.data["records"] else {
            throw ProviderError.invalidResponse(detail: "price feed reply has no records")
        }
        let records = items.compactMap { item -> ProviderPriceRecord? in
            guard let description = item["modelDescription"]?.stringValue, let credits = decimal(item["creditPrice"]) else { return nil }
            var modelID: String?
            if let anchor = item["anchor"]?.stringValue, let components = URLComponents(string: anchor) {
                modelID = components.queryItems?.first { $0.name == "model" }?.value
            }
            return ProviderPriceRecord(description: description, credits: credits, unit: item["creditUnit"]?.stringValue ?? "",
                                       modelID: modelID)
        }
        return (records, flexibleInt(envelope.data["pages"]) ?? 1)
    }

    // MARK: - Callbacks

    /// Reads a callback body for a task of `family`.
    ///
    /// Market: a completion callback (the recordInfo shape; envelope code 501 means the task
    /// failed, kie-api.md §5.1) or a progress callback, which has no published schema (§5.2), so
    /// any JSON naming a task (under `data` or at the top level) is accepted.
    /// Veo: `{code, msg, data: {taskId, info: {resultUrls, …}}}`, where 200 is success and every
    /// other code a failure whose reason is `msg` (kie-video-models.md §2).
    public static func parseCallback(_ body: Data, family: ProviderFamily) -> ProviderTaskStatus? {
        guard let root = JSON.parse(body), case .object = root else { return nil }
        let data = root["data"].flatMap { value -> JSON? in
            if case .object = value { return value }
            return nil
        }
        if family == .veo {
            guard let data, let id = taskID(in: data) else { return nil }
            let code = flexibleInt(root["code"]) ?? 0
            guard code == 200 else {
                return ProviderTaskStatus(taskID: id, state: .fail, failCode: String(code),
                                          failMessage: root["msg"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 })
            }
            return ProviderTaskStatus(taskID: id, state: .success, resultURLs: urlList(data["info"]?["resultUrls"]))
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
            callbackURL: createParameters(field("param"))?["callBackUrl"]?.stringValue,
            creditsConsumed: decimal(field("creditsConsumed"))
        )
    }

    /// A Veo task from record-info: `successFlag` 0 running, 1 success, 2 failed, 3 generation
    /// failed; the videos in `response.resultUrls` (an array; older pages showed JSON text).
    static func veoStatus(from record: JSON) -> ProviderTaskStatus? {
        guard case .object = record, let id = taskID(in: record) else { return nil }
        let state: ProviderState
        switch flexibleInt(record["successFlag"]) {
        case 1: state = .success
        case 2, 3: state = .fail
        default: state = .generating
        }
        var urls = urlList(record["response"]?["resultUrls"])
        if urls.isEmpty { urls = urlList(record["resultUrls"]) }
        let parameters = createParameters(record["paramJson"]) ?? createParameters(record["param"])
        let message = record["errorMessage"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        return ProviderTaskStatus(
            taskID: id, state: state, resultURLs: state == .success ? urls : [],
            failCode: state == .fail ? (failCode(record["errorCode"]) ?? String(flexibleInt(record["successFlag"]) ?? 2)) : nil,
            failMessage: state == .fail ? message : nil,
            callbackURL: parameters?["callBackUrl"]?.stringValue,
            creditsConsumed: decimal(record["creditsConsumed"]))
    }

    /// A list of URLs sent as an array, or as JSON text holding one.
    private static func urlList(_ value: JSON?) -> [String] {
        if case .string(let text) = value, let parsed = JSON.parse(Data(text.utf8)) { return strings(parsed) }
        return strings(value)
    }

    /// A decimal sent as a number or a numeric string (Kie's credits can be fractional: 14.4).
    static func decimal(_ value: JSON?) -> Double? {
        switch value {
        case .number(let number): number.isFinite ? number : nil
        case .string(let text): Double(text.trimmingCharacters(in: .whitespaces)).flatMap { $0.isFinite ? $0 : nil }
        default: nil
        }
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
