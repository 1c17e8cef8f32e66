// A stand-in for Kie AI that speaks its contract; it powers demo mode, the tests and the benchmarks.
import Foundation
import PhimSupport

/// createTask, recordInfo, the credit balance, download links, completion and progress
/// callbacks (signed when a webhook key is set), Kie's states and its error codes.
///
/// Time comes from the injected clock, so a test can move a job from `waiting` to `success`
/// by advancing it. Callbacks are not sent from here: they pile up until someone takes them
/// with `takeDueCallbacks()`: the dispatcher posts them over HTTP, a test may drop,
/// duplicate or reorder them first.
///
/// Prompt tags, for demos and tests: `#fail` fails the job, `#reject` fails it as a
/// content-policy rejection, `#slow` makes it take ten times longer, `#stall` makes createTask
/// answer over HTTP only after `stallSeconds` (a slow provider), and `#error429` (any
/// three-digit code) makes createTask answer with that business code instead of a task.
///
/// Every method may be called from any thread: all state sits behind one lock.
public final class KieSimulator: @unchecked Sendable {
    public struct Settings: Sendable, Equatable {
        /// Seconds from create to the end of a task.
        public var jobDuration: TimeInterval
        public var failureRate: Double
        public var createRateLimitPer10s: Int?
        public var expectedAPIKey: String?
        /// When set, every callback carries Kie's `X-Webhook-Timestamp` / `X-Webhook-Signature`.
        public var webhookHMACKey: String?
        /// The simulated provider account's balance. Each created task costs `taskCost`, given
        /// back when the task fails (Kie reports failed tasks as not charged, reference §10.1).
        public var accountCredits: Int
        public var taskCost: Int
        public var seed: UInt64?
        /// Share of callbacks (0...1) that are lost on the way, as Kie documents no retries.
        public var callbackDropRate: Double

        public init(jobDuration: TimeInterval = 20, failureRate: Double = 0, createRateLimitPer10s: Int? = nil,
                    expectedAPIKey: String? = nil, webhookHMACKey: String? = nil, accountCredits: Int = 10_000_000,
                    taskCost: Int = 30, seed: UInt64? = nil, callbackDropRate: Double = 0) {
            self.jobDuration = jobDuration
            self.failureRate = failureRate
            self.createRateLimitPer10s = createRateLimitPer10s
            self.expectedAPIKey = expectedAPIKey
            self.webhookHMACKey = webhookHMACKey
            self.accountCredits = accountCredits
            self.taskCost = taskCost
            self.seed = seed
            self.callbackDropRate = callbackDropRate
        }

        /// Demo-mode settings from the environment. A value that does not parse keeps its
        /// default and is named in a warning (never its value: the keys are secrets).
        public static func fromEnvironment(_ env: [String: String]) -> Settings {
            var settings = Settings()
            func value(_ name: String) -> String? {
                guard let raw = env[name]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
                return raw
            }
            func invalid(_ name: String) { Log.warning("ignoring an invalid simulator setting", ["variable": name]) }
            if let raw = value("PHIM_SIMULATOR_DELAY_SECONDS") {
                if let seconds = Double(raw), seconds.isFinite, seconds >= 0 { settings.jobDuration = seconds } else { invalid("PHIM_SIMULATOR_DELAY_SECONDS") }
            }
            if let raw = value("PHIM_SIMULATOR_FAILURE_RATE") {
                if let rate = Double(raw), (0...1).contains(rate) { settings.failureRate = rate } else { invalid("PHIM_SIMULATOR_FAILURE_RATE") }
            }
            if let raw = value("PHIM_SIMULATOR_RATE_LIMIT") {
                if let limit = Int(raw), limit >= 0 { settings.createRateLimitPer10s = limit == 0 ? nil : limit } else { invalid("PHIM_SIMULATOR_RATE_LIMIT") }
            }
            if let raw = value("PHIM_SIMULATOR_CALLBACK_DROP_RATE") {
                if let rate = Double(raw), (0...1).contains(rate) { settings.callbackDropRate = rate } else { invalid("PHIM_SIMULATOR_CALLBACK_DROP_RATE") }
            }
            if let raw = value("PHIM_SIMULATOR_SEED") {
                if let seed = UInt64(raw) { settings.seed = seed } else { invalid("PHIM_SIMULATOR_SEED") }
            }
            settings.expectedAPIKey = value("PHIM_SIMULATOR_API_KEY")
            settings.webhookHMACKey = value("KIE_WEBHOOK_HMAC_KEY")
            return settings
        }
    }

    /// A fault to apply to the next createTask calls, in order.
    public enum Fault: Sendable, Equatable {
        /// Answer with this Kie business code (402, 429, 455, 500 …) and create nothing.
        case reply(code: Int, message: String)
        /// Create the task, then never answer (the caller times out after sending).
        case acceptThenHang
    }

    /// A reply to one HTTP call, in the provider's shape.
    public struct Reply: Sendable, Equatable {
        public var status: Int
        public var body: Data
        /// Set when the reply must be withheld (see `Fault.acceptThenHang`).
        public var hangs: Bool
        /// Seconds to wait before answering: a slow provider (the `#stall` prompt tag).
        public var delaySeconds: Double

        public init(status: Int, body: Data, hangs: Bool = false, delaySeconds: Double = 0) {
            self.status = status
            self.body = body
            self.hangs = hangs
            self.delaySeconds = delaySeconds
        }
    }

    /// A callback the provider would now send.
    public struct Callback: Sendable, Equatable {
        public enum Kind: String, Sendable { case progress, completion }
        public var kind: Kind
        public var taskID: String
        public var url: String
        public var headers: [String: String]
        public var body: Data

        public init(kind: Kind, taskID: String, url: String, headers: [String: String], body: Data) {
            self.kind = kind
            self.taskID = taskID
            self.url = url
            self.headers = headers
            self.body = body
        }
    }

    /// How often each endpoint was called, for tests and benchmarks.
    public struct CallCounts: Sendable, Equatable, Codable {
        public var createTask = 0
        public var recordInfo = 0
        public var credit = 0
        public var downloadURL = 0
        public var callbacksQueued = 0
        public var callbacksDropped = 0
    }

    /// What the provider saw, for the multi-instance test and the benchmarks.
    public struct Statistics: Sendable, Equatable, Codable {
        public var calls: CallCounts
        public var tasks: Int
        /// recordInfo calls per task, on average, over tasks that were asked about at all.
        public var recordInfoPerQueriedTask: Double
        /// The shortest time between two recordInfo calls about the same task (nil: never twice).
        public var shortestQueryGapSeconds: Double?
    }

    struct SimulatedTask {
        var id: String
        var body: KieWire.CreateTaskBody
        var rawParam: String
        var createdAt: Date
        var duration: TimeInterval
        var outcome: Outcome
        var progressCallbackSent = false
        var completionCallbackSent = false

        enum Outcome { case success, fail(code: String, message: String) }
    }

    private let lock = NSLock()
    private let clock: AppClock
    private var settings: Settings
    private var media: String
    private var tasks: [String: SimulatedTask] = [:]
    /// Tasks that still owe a callback, so `takeDueCallbacks` never scans finished ones.
    private var awaitingCallbacks: Set<String> = []
    /// Tasks that will fail and have not been refunded yet.
    private var failingTasks: Set<String> = []
    private var recentCreates: [Date] = []
    private var faults: [Fault] = []
    /// When each task was last asked about, and the shortest gap seen between two asks.
    private var lastQueryAt: [String: Date] = [:]
    private var knownTaskQueries = 0
    private var shortestQueryGap: TimeInterval?
    private var random: SplitMix64
    private var counts = CallCounts()

    /// - Parameter mediaBaseURL: the base under which `<base>/<taskId>-<aspect>.mp4` is served.
    public init(settings: Settings, clock: AppClock, mediaBaseURL: String) {
        self.settings = settings
        self.clock = clock
        self.media = Self.trimmed(mediaBaseURL)
        self.random = SplitMix64(seed: settings.seed ?? UInt64.random(in: .min ... .max))
    }

    /// Settable because in demo mode the server's port is known only once it has bound.
    public var mediaBaseURL: String {
        get { lock.withLock { media } }
        set { lock.withLock { media = Self.trimmed(newValue) } }
    }

    public func inject(_ fault: Fault) { lock.withLock { faults.append(fault) } }
    /// Faults injected and not yet used by a create.
    public var pendingFaults: Int { lock.withLock { faults.count } }
    public func clearFaults() { lock.withLock { faults.removeAll() } }
    public func setFailureRate(_ rate: Double) { lock.withLock { settings.failureRate = rate } }
    public func setAccountCredits(_ credits: Int) { lock.withLock { settings.accountCredits = credits } }
    public var accountCredits: Int { lock.withLock { settings.accountCredits } }
    public var callCounts: CallCounts { lock.withLock { counts } }

    /// The callback URLs a task was created with (completion first), as a provider would know them.
    public func callbackURLs(forTask id: String) -> [String] {
        lock.withLock {
            guard let body = tasks[id]?.body else { return [] }
            return [body.callBackUrl, body.progressCallBackUrl].compactMap { $0 }
        }
    }

    // MARK: - Endpoints

    public func createTask(authorization: String?, body: Data) -> Reply {
        lock.withLock {
            counts.createTask += 1
            if let denied = checkAuthorization(authorization) { return denied }
            let now = clock.now()
            if let limit = settings.createRateLimitPer10s {
                recentCreates.removeAll { now.timeIntervalSince($0) >= 10 }
                if recentCreates.count >= limit {
                    return envelope(code: 429, msg: "Rate limit exceeded: \(limit) requests per 10 seconds")
                }
                recentCreates.append(now)
            }
            var hang = false
            if !faults.isEmpty {
                switch faults.removeFirst() {
                case .reply(let code, let message): return envelope(code: code, msg: message)
                case .acceptThenHang: hang = true
                }
            }
            guard let request = KieWire.CreateTaskBody.parse(body) else {
                return envelope(code: 422, msg: "Invalid request body")
            }
            let prompt = request.input.prompt ?? ""
            if let code = Self.requestedErrorCode(in: prompt) {
                return envelope(code: code, msg: "Simulated error \(code)")
            }
            if let problem = Self.validate(request) { return envelope(code: 422, msg: problem) }
            refundFailedTasks(at: now)
            guard settings.accountCredits >= settings.taskCost else {
                return envelope(code: 402, msg: "Credits insufficient")
            }
            settings.accountCredits -= settings.taskCost

            let outcome: SimulatedTask.Outcome
            if prompt.contains("#reject") {
                outcome = .fail(code: "400", message: "Your prompt was flagged by the content policy (simulated)")
            } else if prompt.contains("#fail") || randomFraction() < settings.failureRate {
                outcome = .fail(code: "500", message: "Internal error: video generation failed (simulated)")
            } else {
                outcome = .success
            }
            let id = (0..<4).map { _ in Self.hex32(UInt32(truncatingIfNeeded: random.next())) }.joined()
            let duration = prompt.contains("#slow") ? settings.jobDuration * 10 : settings.jobDuration
            tasks[id] = SimulatedTask(id: id, body: request, rawParam: String(decoding: body, as: UTF8.self),
                                      createdAt: now, duration: duration, outcome: outcome)
            if request.callBackUrl != nil || request.progressCallBackUrl != nil { awaitingCallbacks.insert(id) }
            if case .fail = outcome { failingTasks.insert(id) }

            var reply = envelope(code: 200, msg: "success", data: .object([("taskId", .string(id))]))
            reply.hangs = hang
            if prompt.contains("#stall") { reply.delaySeconds = Self.stallSeconds }
            return reply
        }
    }

    public func recordInfo(authorization: String?, taskID: String?) -> Reply {
        lock.withLock {
            counts.recordInfo += 1
            if let denied = checkAuthorization(authorization) { return denied }
            guard let taskID, let task = tasks[taskID] else {
                // What integrators observe for an unknown id (reference §11.3).
                return envelope(code: 422, msg: "recordInfo is null")
            }
            let now = clock.now()
            if let last = lastQueryAt[taskID] {
                shortestQueryGap = min(shortestQueryGap ?? .infinity, now.timeIntervalSince(last))
            }
            lastQueryAt[taskID] = now
            knownTaskQueries += 1
            return recordReply(for: task, code: 200, msg: "success", at: now)
        }
    }

    public func credit(authorization: String?) -> Reply {
        lock.withLock {
            counts.credit += 1
            if let denied = checkAuthorization(authorization) { return denied }
            refundFailedTasks(at: clock.now())
            return envelope(code: 200, msg: "success", data: .int(settings.accountCredits))
        }
    }

    /// A temporary link to one of this simulator's videos, as Kie's download-url makes them
    /// (any other URL is refused with 422, as Kie refuses URLs it did not make).
    public func downloadURL(authorization: String?, body: Data) -> Reply {
        lock.withLock {
            counts.downloadURL += 1
            if let denied = checkAuthorization(authorization) { return denied }
            guard let url = JSON.parse(body)?["url"]?.stringValue, url.hasPrefix(media + "/"), url.hasSuffix(".mp4")
            else { return envelope(code: 422, msg: "Only Kie-generated URLs are supported") }
            let token = (0..<2).map { _ in Self.hex32(UInt32(truncatingIfNeeded: random.next())) }.joined()
            return envelope(code: 200, msg: "success", data: .string("\(url)?download=\(token)"))
        }
    }

    public func statistics() -> Statistics {
        lock.withLock {
            Statistics(calls: counts, tasks: tasks.count,
                       recordInfoPerQueriedTask: lastQueryAt.isEmpty ? 0 : Double(knownTaskQueries) / Double(lastQueryAt.count),
                       shortestQueryGapSeconds: shortestQueryGap)
        }
    }

    /// The statistics as `GET /_simulator/stats` serves them: snake_case keys, sorted.
    public func statisticsJSON() -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(statistics())) ?? Data("{}".utf8)
    }

    /// Removes and returns the callbacks whose time has come: a progress callback once a task
    /// starts generating, and the completion callback once it ends.
    public func takeDueCallbacks() -> [Callback] {
        lock.withLock {
            let now = clock.now()
            var due: [Callback] = []
            // In task order, not the set's (which changes from run to run), so a seeded run repeats.
            for id in awaitingCallbacks.sorted() {
                guard var task = tasks[id] else { continue }
                let state = state(of: task, at: now)
                if let url = task.body.progressCallBackUrl, !task.progressCallbackSent, state == .generating || state.isTerminal {
                    task.progressCallbackSent = true
                    // A task that ended between two looks skips its progress report, as Kie's may.
                    if state == .generating {
                        let body = JSON.object([
                            ("code", .int(200)), ("msg", .string("progress")),
                            ("data", .object([("taskId", .string(id)), ("state", .string("generating")),
                                              ("progress", .int(progress(of: task, at: now)))])),
                        ]).data()
                        due.append(Callback(kind: .progress, taskID: id, url: url, headers: signedHeaders(taskID: id, at: now),
                                            body: body))
                    }
                }
                if state.isTerminal {
                    if let url = task.body.callBackUrl, !task.completionCallbackSent {
                        let reply = state == .success
                            ? recordReply(for: task, code: 200, msg: "Playground task completed successfully.", at: now)
                            : recordReply(for: task, code: 501, msg: "Playground task failed.", at: now)
                        due.append(Callback(kind: .completion, taskID: id, url: url, headers: signedHeaders(taskID: id, at: now),
                                            body: reply.body))
                    }
                    task.completionCallbackSent = true
                    awaitingCallbacks.remove(id)
                }
                tasks[id] = task
            }
            if settings.callbackDropRate > 0 {
                let before = due.count
                due.removeAll { _ in randomFraction() < settings.callbackDropRate }
                counts.callbacksDropped += before - due.count
            }
            counts.callbacksQueued += due.count
            return due
        }
    }

    // MARK: - Behaviour (the lock is held)

    /// Gives back the cost of every task that has failed by `now`, once.
    private func refundFailedTasks(at now: Date) {
        for id in failingTasks {
            guard let task = tasks[id], state(of: task, at: now) == .fail else { continue }
            failingTasks.remove(id)
            settings.accountCredits += settings.taskCost
        }
    }

    /// The code in an `#errorNNN` prompt tag (100…599).
    /// How long a `#stall` create takes to answer over HTTP: long enough to stop a server
    /// mid-request in a test, short of any client timeout.
    public static let stallSeconds: Double = 3

    static func requestedErrorCode(in prompt: String) -> Int? {
        var rest = Substring(prompt)
        while let range = rest.range(of: "#error") {
            let digits = rest[range.upperBound...].prefix(3)
            if digits.count == 3, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let code = Int(digits), (100...599).contains(code) {
                return code
            }
            rest = rest[range.upperBound...]
        }
        return nil
    }

    func state(of task: SimulatedTask, at now: Date) -> ProviderState {
        let total = task.duration
        let elapsed = now.timeIntervalSince(task.createdAt)
        if total <= 0 || elapsed >= total {
            if case .fail = task.outcome { return .fail }
            return .success
        }
        let fraction = elapsed / total
        if fraction < 0.1 { return .waiting }
        if fraction < 0.2 { return .queuing }
        return .generating
    }

    private func progress(of task: SimulatedTask, at now: Date) -> Int {
        guard task.duration > 0 else { return 100 }
        return min(100, max(0, Int(now.timeIntervalSince(task.createdAt) / task.duration * 100)))
    }

    private static func validate(_ request: KieWire.CreateTaskBody) -> String? {
        guard let model = VideoModel(rawValue: request.model) else { return "model is not supported" }
        guard let prompt = request.input.prompt, !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            return "input.prompt is required"
        }
        if prompt.count > 10_000 { return "input.prompt must be at most 10000 characters" }
        if let ratio = request.input.aspectRatio, AspectRatio(rawValue: ratio) == nil {
            return "input.aspect_ratio must be portrait or landscape"
        }
        if let frames = request.input.nFrames, !VideoDurations.allowed.map(String.init).contains(frames) {
            return "input.n_frames must be \"10\" or \"15\""
        }
        if let size = request.input.size, !model.isPro || VideoQuality(rawValue: size) == nil {
            return "input.size is not supported for this model"
        }
        if model.mode == .imageToVideo {
            guard let urls = request.input.imageURLs, urls.count == 1,
                  let url = URL(string: urls[0]), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                return "input.image_urls must hold exactly one public image URL"
            }
        }
        return nil
    }

    private func checkAuthorization(_ header: String?) -> Reply? {
        guard let header, header.hasPrefix("Bearer "), header.count > "Bearer ".count else {
            return envelope(code: 401, msg: "You do not have access permissions")
        }
        if let expected = settings.expectedAPIKey, !Crypto.constantTimeEqual(header, "Bearer \(expected)") {
            return envelope(code: 401, msg: "You do not have access permissions")
        }
        return nil
    }

    private func recordReply(for task: SimulatedTask, code: Int, msg: String, at now: Date) -> Reply {
        let state = state(of: task, at: now)
        let createdMs = task.createdAt.unixMillis
        let finishedMs = createdMs + Int64((task.duration * 1000).rounded())
        var result: JSON = .null, failCode: JSON = .string(""), failMsg: JSON = .string("")
        var completeTime: JSON = .null, costTime: JSON = .null
        switch (state, task.outcome) {
        case (.success, _):
            let aspect = task.body.input.aspectRatio ?? "landscape"
            var fields: [(String, JSON)] = [("resultUrls", .array([.string("\(media)/\(task.id)-\(aspect).mp4")]))]
            if task.body.input.removeWatermark == true {
                fields.append(("resultWaterMarkUrls", .array([.string("\(media)/\(task.id)-\(aspect)-wm.mp4")])))
            }
            // Kie sends resultJson as JSON text inside the JSON (§4.2).
            result = .string(JSON.object(fields).serialized())
            failCode = .null
            failMsg = .null
            completeTime = .int64(finishedMs)
            costTime = .int(Int(task.duration.rounded()))
        case (.fail, .fail(let code, let message)):
            failCode = .string(code)
            failMsg = .string(message)
            completeTime = .int64(finishedMs)
        default:
            break
        }
        let data = JSON.object([
            ("taskId", .string(task.id)), ("model", .string(task.body.model)), ("state", .string(state.rawValue)),
            ("param", .string(task.rawParam)), ("resultJson", result), ("failCode", failCode), ("failMsg", failMsg),
            ("costTime", costTime), ("completeTime", completeTime), ("createTime", .int64(createdMs)),
            ("updateTime", .int64(now.unixMillis)), ("progress", .int(progress(of: task, at: now))),
        ])
        return envelope(code: code, msg: msg, data: data)
    }

    private func signedHeaders(taskID: String, at now: Date) -> [String: String] {
        var headers = ["Content-Type": "application/json"]
        guard let key = settings.webhookHMACKey else { return headers }
        let timestamp = String(Int64(now.timeIntervalSince1970))
        headers["X-Webhook-Timestamp"] = timestamp
        headers["X-Webhook-Signature"] = KieWire.webhookSignature(taskID: taskID, timestamp: timestamp, key: key)
        return headers
    }

    /// Kie answers HTTP 200 with the outcome in the envelope's `code`, even for errors (§7).
    private func envelope(code: Int, msg: String, data: JSON = .null) -> Reply {
        Reply(status: 200, body: JSON.object([("code", .int(code)), ("msg", .string(msg)), ("data", data)]).data())
    }

    private func randomFraction() -> Double { Double(random.next() % 1_000_000) / 1_000_000 }

    private static func hex32(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    private static func trimmed(_ base: String) -> String {
        var base = base
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }
}
