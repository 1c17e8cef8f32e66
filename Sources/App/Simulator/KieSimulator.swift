import Foundation
import NIOHTTP1

/// A stand-in for Kie AI that speaks its contract: createTask, recordInfo, the credit balance,
/// completion and progress callbacks (signed when a webhook key is set), its states and its
/// error codes. It powers demo mode, the tests and the benchmarks.
///
/// Time comes from the injected clock, so a test can move a job from `waiting` to `success`
/// by advancing it. Callbacks are not sent from here: they pile up until someone takes them
/// with `takeDueCallbacks()`: the dispatcher posts them over HTTP, a test may drop,
/// duplicate or reorder them first.
///
/// Prompt tags, for demos and tests: `#fail` fails the job, `#reject` fails it as a
/// content-policy rejection, `#slow` makes it take ten times longer, and `#error429` (any
/// three-digit code) makes createTask answer with that business code instead of a task.
public actor KieSimulator {
    public struct Settings: Sendable {
        public var jobDuration: Duration
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

        public init(jobDuration: Duration = .seconds(20), failureRate: Double = 0, createRateLimitPer10s: Int? = nil,
                    expectedAPIKey: String? = nil, webhookHMACKey: String? = nil,
                    accountCredits: Int = 10_000_000, taskCost: Int = 30, seed: UInt64? = nil, callbackDropRate: Double = 0) {
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
    }

    /// A fault to apply to the next createTask calls, in order.
    public enum Fault: Sendable, Equatable {
        /// Answer with this Kie business code (402, 429, 455, 500 …) and create nothing.
        case reply(code: Int, message: String)
        /// Create the task, then never answer (the caller times out after sending).
        case acceptThenHang
    }

    /// A reply to one HTTP call, in the provider's shape.
    public struct Reply: Sendable {
        public var status: HTTPResponseStatus
        public var body: Data
        /// Set when the reply must be withheld (see `Fault.acceptThenHang`).
        public var hangs: Bool = false
    }

    /// A callback the provider would now send.
    public struct Callback: Sendable, Equatable {
        public enum Kind: String, Sendable { case progress, completion }
        public var kind: Kind
        public var taskID: String
        public var url: String
        public var headers: [String: String]
        public var body: Data
    }

    /// How often each endpoint was called, for tests and benchmarks.
    public struct CallCounts: Sendable, Equatable, Codable {
        public var createTask = 0
        public var recordInfo = 0
        public var downloadURL = 0
        public var callbacksQueued = 0
        public var callbacksDropped = 0
    }

    /// What the provider saw, for the multi-instance test and the benchmarks.
    public struct Statistics: Sendable, Codable {
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
        var duration: Duration
        var outcome: Outcome
        var progressCallbackSent = false
        var completionCallbackSent = false

        enum Outcome { case success, fail(code: String, message: String) }
    }

    private var settings: Settings
    private let clock: AppClock
    private let mediaBaseURL: @Sendable () -> String
    private var tasks: [String: SimulatedTask] = [:]
    /// Tasks that still owe a callback, so `takeDueCallbacks` never scans finished ones.
    private var awaitingCallbacks: Set<String> = []
    /// Tasks that will fail and have not been refunded yet.
    private var failingTasks: Set<String> = []
    private var recentCreates: [Date] = []
    private var faults: [Fault] = []
    /// When each task was last asked about, and the shortest gap seen between two asks.
    private var lastQueryAt: [String: Date] = [:]
    private var shortestQueryGap: TimeInterval?
    private var random: SplitMix64
    public private(set) var callCounts = CallCounts()

    /// - Parameter mediaBaseURL: where `GET <base>/<file>.mp4` serves the sample video.
    public init(settings: Settings, clock: AppClock, mediaBaseURL: @escaping @Sendable () -> String) {
        self.settings = settings
        self.clock = clock
        self.mediaBaseURL = mediaBaseURL
        self.random = SplitMix64(seed: settings.seed ?? UInt64.random(in: .min ... .max))
    }

    public func inject(_ fault: Fault) { faults.append(fault) }
    /// Faults injected and not yet used by a create.
    public var pendingFaults: Int { faults.count }
    public func clearFaults() { faults.removeAll() }
    /// The callback URLs a task was created with (completion first), as a provider would know them.
    public func callbackURLs(forTask id: String) -> [String] {
        guard let body = tasks[id]?.body else { return [] }
        return [body.callBackUrl, body.progressCallBackUrl].compactMap { $0 }
    }
    public func setFailureRate(_ rate: Double) { settings.failureRate = rate }
    public func setAccountCredits(_ credits: Int) { settings.accountCredits = credits }

    // MARK: - Endpoints

    public func createTask(authorization: String?, body: Data) -> Reply {
        callCounts.createTask += 1
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
        guard let request = try? JSONDecoder().decode(KieWire.CreateTaskBody.self, from: body) else {
            return envelope(code: 422, msg: "Invalid request body")
        }
        if let code = Self.requestedErrorCode(in: request.input.prompt ?? "") {
            return envelope(code: code, msg: "Simulated error \(code)")
        }
        if let problem = validate(request) { return envelope(code: 422, msg: problem) }
        refundFailedTasks(at: now)
        guard settings.accountCredits >= settings.taskCost else {
            return envelope(code: 402, msg: "Credits insufficient")
        }
        settings.accountCredits -= settings.taskCost

        let prompt = request.input.prompt ?? ""
        let outcome: SimulatedTask.Outcome
        if prompt.contains("#reject") {
            outcome = .fail(code: "400", message: "Your prompt was flagged by the content policy (simulated)")
        } else if prompt.contains("#fail") || Double(random.next() % 1_000_000) / 1_000_000 < settings.failureRate {
            outcome = .fail(code: "500", message: "Internal error: video generation failed (simulated)")
        } else {
            outcome = .success
        }
        let id = (0..<4).map { _ in String(format: "%08x", UInt32(truncatingIfNeeded: random.next())) }.joined()
        let duration = prompt.contains("#slow") ? settings.jobDuration * 10 : settings.jobDuration
        tasks[id] = SimulatedTask(id: id, body: request, rawParam: String(decoding: body, as: UTF8.self),
                                  createdAt: now, duration: duration, outcome: outcome)
        if request.callBackUrl != nil || request.progressCallBackUrl != nil { awaitingCallbacks.insert(id) }
        if case .fail = outcome { failingTasks.insert(id) }

        var reply = envelope(code: 200, msg: "success", data: ["taskId": id])
        reply.hangs = hang
        return reply
    }

    public func recordInfo(authorization: String?, taskID: String?) -> Reply {
        callCounts.recordInfo += 1
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
        return recordReply(for: task, code: 200, msg: "success", at: clock.now())
    }

    public func statistics() -> Statistics {
        Statistics(calls: callCounts, tasks: tasks.count,
                   recordInfoPerQueriedTask: lastQueryAt.isEmpty ? 0 : Double(callCounts.recordInfo) / Double(lastQueryAt.count),
                   shortestQueryGapSeconds: shortestQueryGap)
    }

    public func credit(authorization: String?) -> Reply {
        if let denied = checkAuthorization(authorization) { return denied }
        refundFailedTasks(at: clock.now())
        return envelope(code: 200, msg: "success", data: settings.accountCredits)
    }

    /// A temporary link to one of this simulator's videos, as Kie's download-url makes them
    /// (any other URL is refused with 422, as Kie refuses URLs it did not make).
    public func downloadURL(authorization: String?, body: Data) -> Reply {
        callCounts.downloadURL += 1
        if let denied = checkAuthorization(authorization) { return denied }
        guard let request = try? JSONDecoder().decode([String: String].self, from: body), let url = request["url"],
              url.hasPrefix(mediaBaseURL() + "/"), url.hasSuffix(".mp4")
        else { return envelope(code: 422, msg: "Only Kie-generated URLs are supported") }
        let token = (0..<2).map { _ in String(format: "%08x", UInt32(truncatingIfNeeded: random.next())) }.joined()
        return envelope(code: 200, msg: "success", data: "\(url)?download=\(token)")
    }

    /// Removes and returns the callbacks whose time has come: a progress callback once a task
    /// starts generating, and the completion callback once it ends.
    public func takeDueCallbacks() -> [Callback] {
        let now = clock.now()
        var due: [Callback] = []
        // In task order, not the set's (which changes from run to run), so a seeded run repeats.
        for id in awaitingCallbacks.sorted() {
            guard var task = tasks[id] else { continue }
            let state = state(of: task, at: now)
            if let url = task.body.progressCallBackUrl, !task.progressCallbackSent,
               state == .generating || state == .success || state == .fail {
                task.progressCallbackSent = true
                if state == .generating {
                    let body = json(["code": 200, "msg": "progress",
                                     "data": ["taskId": id, "state": "generating", "progress": progress(of: task, at: now)]])
                    due.append(Callback(kind: .progress, taskID: id, url: url, headers: signedHeaders(taskID: id, at: now), body: body))
                }
            }
            if state == .success || state == .fail {
                if let url = task.body.callBackUrl, !task.completionCallbackSent {
                    let reply = state == .success
                        ? recordReply(for: task, code: 200, msg: "Playground task completed successfully.", at: now)
                        : recordReply(for: task, code: 501, msg: "Playground task failed.", at: now)
                    due.append(Callback(kind: .completion, taskID: id, url: url, headers: signedHeaders(taskID: id, at: now), body: reply.body))
                }
                task.completionCallbackSent = true
                awaitingCallbacks.remove(id)
            }
            tasks[id] = task
        }
        if settings.callbackDropRate > 0 {
            let before = due.count
            due.removeAll { _ in Double(random.next() % 1_000_000) / 1_000_000 < settings.callbackDropRate }
            callCounts.callbacksDropped += before - due.count
        }
        callCounts.callbacksQueued += due.count
        return due
    }

    // MARK: - Behaviour

    /// Gives back the cost of every task that has failed by `now`, once.
    private func refundFailedTasks(at now: Date) {
        for id in failingTasks {
            guard let task = tasks[id], state(of: task, at: now) == .fail else { continue }
            failingTasks.remove(id)
            settings.accountCredits += settings.taskCost
        }
    }

    /// The code in an `#errorNNN` prompt tag.
    static func requestedErrorCode(in prompt: String) -> Int? {
        guard let range = prompt.range(of: #"#error[1-5][0-9][0-9]"#, options: .regularExpression) else { return nil }
        return Int(prompt[range].dropFirst("#error".count))
    }

    func state(of task: SimulatedTask, at now: Date) -> ProviderState {
        let total = task.duration.timeInterval
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
        let total = task.duration.timeInterval
        guard total > 0 else { return 100 }
        return min(100, max(0, Int(now.timeIntervalSince(task.createdAt) / total * 100)))
    }

    private func validate(_ request: KieWire.CreateTaskBody) -> String? {
        guard let model = VideoModel(rawValue: request.model) else { return "model is not supported" }
        guard let prompt = request.input.prompt, !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            return "input.prompt is required"
        }
        if prompt.count > 10_000 { return "input.prompt must be at most 10000 characters" }
        if let ratio = request.input.aspect_ratio, AspectRatio(rawValue: ratio) == nil {
            return "input.aspect_ratio must be portrait or landscape"
        }
        if let frames = request.input.n_frames, frames != "10" && frames != "15" {
            return "input.n_frames must be \"10\" or \"15\""
        }
        if let size = request.input.size, !model.isPro || VideoQuality(rawValue: size) == nil {
            return "input.size is not supported for this model"
        }
        if model.mode == .imageToVideo {
            guard let urls = request.input.image_urls, urls.count == 1,
                  let url = URL(string: urls[0]), url.scheme?.hasPrefix("http") == true else {
                return "input.image_urls must hold exactly one public image URL"
            }
        }
        return nil
    }

    private func checkAuthorization(_ header: String?) -> Reply? {
        guard let header, header.hasPrefix("Bearer "), header.count > "Bearer ".count else {
            return envelope(code: 401, msg: "You do not have access permissions")
        }
        if let expected = settings.expectedAPIKey, header != "Bearer \(expected)" {
            return envelope(code: 401, msg: "You do not have access permissions")
        }
        return nil
    }

    private func recordReply(for task: SimulatedTask, code: Int, msg: String, at now: Date) -> Reply {
        let state = state(of: task, at: now)
        let createdMs = Int(task.createdAt.timeIntervalSince1970 * 1000)
        let finishedMs = createdMs + Int(task.duration.timeInterval * 1000)
        var data: [String: Any] = [
            "taskId": task.id, "model": task.body.model, "state": state.rawValue, "param": task.rawParam,
            "createTime": createdMs, "updateTime": Int(now.timeIntervalSince1970 * 1000),
            "progress": progress(of: task, at: now),
        ]
        switch (state, task.outcome) {
        case (.success, _):
            let aspect = task.body.input.aspect_ratio ?? "landscape"
            var result: [String: Any] = ["resultUrls": ["\(mediaBaseURL())/\(task.id)-\(aspect).mp4"]]
            if task.body.input.remove_watermark == true {
                result["resultWaterMarkUrls"] = ["\(mediaBaseURL())/\(task.id)-\(aspect)-wm.mp4"]
            }
            data["resultJson"] = String(decoding: json(result), as: UTF8.self)
            data["failCode"] = NSNull()
            data["failMsg"] = NSNull()
            data["completeTime"] = finishedMs
            data["costTime"] = Int(task.duration.timeInterval)
        case (.fail, .fail(let failCode, let failMessage)):
            data["resultJson"] = NSNull()
            data["failCode"] = failCode
            data["failMsg"] = failMessage
            data["completeTime"] = finishedMs
        default:
            data["resultJson"] = NSNull()
            data["failCode"] = ""
            data["failMsg"] = ""
            data["completeTime"] = NSNull()
        }
        return Reply(status: .ok, body: json(["code": code, "msg": msg, "data": data]))
    }

    private func signedHeaders(taskID: String, at now: Date) -> [String: String] {
        var headers = ["Content-Type": "application/json"]
        guard let key = settings.webhookHMACKey else { return headers }
        let timestamp = String(Int(now.timeIntervalSince1970))
        headers["X-Webhook-Timestamp"] = timestamp
        headers["X-Webhook-Signature"] = KieWire.webhookSignature(taskID: taskID, timestamp: timestamp, key: key)
        return headers
    }

    /// Kie answers HTTP 200 with the outcome in the envelope's `code`, even for errors (§7).
    private func envelope(code: Int, msg: String, data: Any? = nil) -> Reply {
        Reply(status: .ok, body: json(["code": code, "msg": msg, "data": data ?? NSNull()]))
    }

    private func json(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    }
}

/// A small seeded generator, so a simulator run with a fixed seed repeats exactly.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
