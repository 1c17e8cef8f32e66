// A stand-in for Kie AI that speaks its contract and is as strict as Kie; it powers demo mode, the tests and the benchmarks.
import Foundation
import PhimSupport

/// Kie's Market API (createTask, recordInfo), Veo 3.1 (generate, record-info), the file upload
/// host, the public price feed, the credit balance, download links, and completion callbacks
/// (signed when a webhook key is set), with Kie's states and error codes.
///
/// Every create is checked against Kie's documented input rules for its model
/// (`KieModelRules`, the simulator's own table): an unknown field, a wrong JSON type (`5` where
/// Kie wants `"5"`), a value the model does not offer or a missing field is refused as Kie
/// refuses it, naming the field. Sora 2 ids (and `Settings.pausedModels`) answer "temporarily
/// paused". Image URLs are fetched as Kie fetches them (`ImageFetcher`), and a task whose image
/// cannot be fetched or is not a JPEG, PNG or WebP is created and then fails at once.
///
/// Time comes from the injected clock, so a test can move a job from `waiting` to `success`
/// by advancing it. Callbacks are not sent from here: they pile up until someone takes them
/// with `takeDueCallbacks()`: the dispatcher posts them over HTTP, a test may drop,
/// duplicate or reorder them first.
///
/// Prompt tags, for demos and tests: `#fail` fails the job, `#reject` fails it as a
/// content-policy rejection, `#slow` makes it take ten times longer, `#stall` makes the create
/// answer over HTTP only after `stallSeconds` (a slow provider), and `#error429` (any
/// three-digit code) makes the create answer with that business code instead of a task.
///
/// Every method may be called from any thread: all state sits behind one lock, which is never
/// held while fetching an image.
public final class KieSimulator: @unchecked Sendable {
    public struct Settings: Sendable, Equatable {
        /// Seconds from create to the end of a task.
        public var jobDuration: TimeInterval
        public var failureRate: Double
        /// Creates of both families (Market and Veo) allowed per 10 s; over it, 429.
        public var createRateLimitPer10s: Int?
        /// Tasks that may run at once; a create over it is refused with 429 (Kie's cap on
        /// running tasks: over either limit "rejected with 429, not queued").
        public var maxRunningTasks: Int?
        public var expectedAPIKey: String?
        /// When set, every callback carries Kie's `X-Webhook-Timestamp` / `X-Webhook-Signature`.
        public var webhookHMACKey: String?
        /// The simulated provider account's starting balance. Each task is debited its model's
        /// list price at create and refunded when it fails (Kie bills successes only).
        public var accountCredits: Int
        public var seed: UInt64?
        /// Share of callbacks (0...1) that are lost on the way, as Kie documents no retries.
        public var callbackDropRate: Double
        /// Provider model ids answered with "This interface is temporarily paused" (Sora 2 ids always are).
        public var pausedModels: Set<String>
        /// Price-feed prices that differ from the list price: "<model id>|<description>" → credits.
        public var priceOverrides: [String: Double]

        public init(jobDuration: TimeInterval = 20, failureRate: Double = 0, createRateLimitPer10s: Int? = nil,
                    maxRunningTasks: Int? = nil, expectedAPIKey: String? = nil, webhookHMACKey: String? = nil, accountCredits: Int = 10_000_000,
                    seed: UInt64? = nil, callbackDropRate: Double = 0, pausedModels: Set<String> = [],
                    priceOverrides: [String: Double] = [:]) {
            self.jobDuration = jobDuration
            self.failureRate = failureRate
            self.createRateLimitPer10s = createRateLimitPer10s
            self.maxRunningTasks = maxRunningTasks
            self.expectedAPIKey = expectedAPIKey
            self.webhookHMACKey = webhookHMACKey
            self.accountCredits = accountCredits
            self.seed = seed
            self.callbackDropRate = callbackDropRate
            self.pausedModels = pausedModels
            self.priceOverrides = priceOverrides
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
            if let raw = value("PHIM_SIMULATOR_MAX_RUNNING") {
                if let limit = Int(raw), limit >= 0 { settings.maxRunningTasks = limit == 0 ? nil : limit } else { invalid("PHIM_SIMULATOR_MAX_RUNNING") }
            }
            if let raw = value("PHIM_SIMULATOR_CALLBACK_DROP_RATE") {
                if let rate = Double(raw), (0...1).contains(rate) { settings.callbackDropRate = rate } else { invalid("PHIM_SIMULATOR_CALLBACK_DROP_RATE") }
            }
            if let raw = value("PHIM_SIMULATOR_SEED") {
                if let seed = UInt64(raw) { settings.seed = seed } else { invalid("PHIM_SIMULATOR_SEED") }
            }
            if let raw = value("PHIM_SIMULATOR_PAUSED_MODELS") {
                settings.pausedModels = Set(raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
            }
            settings.expectedAPIKey = value("PHIM_SIMULATOR_API_KEY")
            settings.webhookHMACKey = value("KIE_WEBHOOK_HMAC_KEY")
            return settings
        }
    }

    /// A fault to apply to the next creates (of either family), in order.
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
        /// Only completion callbacks are sent now: Kie documents progress callbacks for Sora 2 only.
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
        public var veoGenerate = 0
        public var veoRecordInfo = 0
        public var credit = 0
        public var downloadURL = 0
        /// Calls to the three upload endpoints.
        public var uploads = 0
        /// Calls to the two price-feed endpoints.
        public var pricing = 0
        public var callbacksQueued = 0
        public var callbacksDropped = 0
    }

    /// What the provider saw, for the multi-instance test and the benchmarks.
    public struct Statistics: Sendable, Equatable, Codable {
        public var calls: CallCounts
        public var tasks: Int
        /// Status queries per task, on average, over tasks that were asked about at all.
        public var recordInfoPerQueriedTask: Double
        /// The shortest time between two status queries about the same task (nil: never twice).
        public var shortestQueryGapSeconds: Double?
        /// The most creates accepted within any 10 seconds (what Kie's rate limit counts).
        public var peakCreatesPer10s: Int
        /// The most tasks running at once (created, not yet finished).
        public var peakRunning: Int
    }

    struct SimulatedTask {
        var id: String
        var family: KieModelRules.Family
        var model: String
        /// The create body as it came, echoed as `param` (Market) or `paramJson` (Veo).
        var rawParam: String
        var callBackURL: String?
        var createdAt: Date
        var duration: TimeInterval
        var outcome: Outcome
        var priceMilliCredits: Int64
        var isPortrait: Bool
        var completionCallbackSent = false

        enum Outcome { case success, fail(Failure) }
    }

    /// Why a task failed, in each family's terms.
    struct Failure {
        /// Market `failCode`.
        var failCode: String
        /// Veo `errorCode`, and the code of its failure callback.
        var veoCode: Int
        var message: String
        /// A content-policy rejection: Veo `successFlag` 2 (else 3, "generation failed").
        var isRejection: Bool

        static let rejected = Failure(failCode: "400", veoCode: 400, message: "Your prompt was flagged by the content policy (simulated)",
                                      isRejection: true)
        static let generationFailed = Failure(failCode: "500", veoCode: 501, message: "Internal error: video generation failed (simulated)",
                                              isRejection: false)
        static func badImage(_ message: String) -> Failure { Failure(failCode: "500", veoCode: 400, message: message, isRejection: false) }
    }

    // Everything below `lock` is guarded by it (internal only so that the `KieSimulator+…` files can reach it).
    let lock = NSLock()
    let clock: AppClock
    let imageFetcher: ImageFetcher?
    var settings: Settings
    var media: String
    /// nil: derived from the media base (`…/media` → `…`).
    var uploadBase: String?
    var tasks: [String: SimulatedTask] = [:]
    /// Tasks that still owe a callback, so `takeDueCallbacks` never scans finished ones.
    var awaitingCallbacks: Set<String> = []
    /// Tasks that will fail and have not been refunded yet.
    var failingTasks: Set<String> = []
    /// The balance in thousandths of a credit, so that prices such as 3.8/s bill exactly.
    var balanceMilliCredits: Int64
    /// Accepted creates of the last 10 seconds, oldest first (times only grow).
    var recentCreates = SlidingWindow(seconds: 10)
    /// When each running task ends, soonest first.
    var runningUntil = EndTimes()
    var peakCreatesPer10s = 0
    var peakRunning = 0
    var faults: [Fault] = []
    /// When each task was last asked about, and the shortest gap seen between two asks.
    var lastQueryAt: [String: Date] = [:]
    var knownTaskQueries = 0
    var shortestQueryGap: TimeInterval?
    var random: SplitMix64
    var counts = CallCounts()
    var uploads = SimulatorUploads()

    /// - Parameters:
    ///   - mediaBaseURL: the base under which `<base>/<taskId>-<landscape|portrait>.mp4` is served.
    ///   - imageFetcher: how image URLs are fetched; by default the simulator's own uploads come
    ///     from memory and anything else over HTTP (5 s, 10 MB, 2xx only).
    public init(settings: Settings, clock: AppClock, mediaBaseURL: String, imageFetcher: ImageFetcher? = nil) {
        self.settings = settings
        self.clock = clock
        self.imageFetcher = imageFetcher
        self.media = Self.trimmed(mediaBaseURL)
        self.balanceMilliCredits = Int64(settings.accountCredits) * 1_000
        self.random = SplitMix64(seed: settings.seed ?? UInt64.random(in: .min ... .max))
    }

    /// Settable because in demo mode the server's port is known only once it has bound.
    public var mediaBaseURL: String {
        get { lock.withLock { media } }
        set { lock.withLock { media = Self.trimmed(newValue) } }
    }

    /// Where uploaded files are served (`<base>/kieai/<n>/<name>`): Kie's upload host. Defaults to
    /// the media base without its `/media`; settable like it.
    public var uploadBaseURL: String {
        get { lock.withLock { currentUploadBase } }
        set { lock.withLock { uploadBase = Self.trimmed(newValue) } }
    }

    var currentUploadBase: String {
        if let uploadBase { return uploadBase }
        return media.hasSuffix("/media") ? String(media.dropLast("/media".count)) : media
    }

    /// Replaces the paused model ids (Sora 2 ids stay paused).
    public func setPaused(_ ids: Set<String>) { lock.withLock { settings.pausedModels = ids } }
    public func inject(_ fault: Fault) { lock.withLock { faults.append(fault) } }
    /// Faults injected and not yet used by a create.
    public var pendingFaults: Int { lock.withLock { faults.count } }
    public func clearFaults() { lock.withLock { faults.removeAll() } }
    public func setFailureRate(_ rate: Double) { lock.withLock { settings.failureRate = rate } }
    /// Kie's two limits, as a test sets them: creates per 10 s and tasks running at once (nil: none).
    public func setLimits(createsPer10s: Int?, maxRunning: Int?) {
        lock.withLock {
            settings.createRateLimitPer10s = createsPer10s
            settings.maxRunningTasks = maxRunning
        }
    }
    public func setAccountCredits(_ credits: Int) { lock.withLock { balanceMilliCredits = Int64(credits) * 1_000 } }
    /// The balance in whole credits (rounded down), failed tasks refunded.
    public var accountCredits: Int {
        lock.withLock {
            refundFailedTasks(at: clock.now())
            return Int((Double(balanceMilliCredits) / 1_000).rounded(.down))
        }
    }
    public var callCounts: CallCounts { lock.withLock { counts } }

    /// The callback URL a task was created with, as a provider would know it.
    public func callbackURLs(forTask id: String) -> [String] {
        lock.withLock { tasks[id]?.callBackURL.map { [$0] } ?? [] }
    }

    // MARK: - Market endpoints

    /// `POST /api/v1/jobs/createTask`.
    public func createTask(authorization: String?, body: Data) -> Reply {
        create(family: .market, authorization: authorization, body: body)
    }

    /// `GET /api/v1/jobs/recordInfo?taskId=`.
    public func recordInfo(authorization: String?, taskID: String?) -> Reply {
        lock.withLock {
            counts.recordInfo += 1
            if let denied = checkAuthorization(authorization) { return denied }
            guard let task = queried(taskID, family: .market) else {
                // What integrators observe for an unknown id (reference §11.3).
                return envelope(code: 422, msg: "recordInfo is null")
            }
            return marketRecordReply(for: task, code: 200, msg: "success", at: clock.now())
        }
    }

    /// `GET /api/v1/chat/credit`: the balance, a fractional number when the prices made it one.
    public func credit(authorization: String?) -> Reply {
        lock.withLock {
            counts.credit += 1
            if let denied = checkAuthorization(authorization) { return denied }
            refundFailedTasks(at: clock.now())
            return envelope(code: 200, msg: "success", data: .number(Double(balanceMilliCredits) / 1_000))
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
                       shortestQueryGapSeconds: shortestQueryGap, peakCreatesPer10s: peakCreatesPer10s, peakRunning: peakRunning)
        }
    }

    /// The statistics as `GET /_simulator/stats` serves them: snake_case keys, sorted.
    public func statisticsJSON() -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(statistics())) ?? Data("{}".utf8)
    }

    /// Removes and returns the completion callbacks whose time has come (both families), in task order.
    public func takeDueCallbacks() -> [Callback] {
        lock.withLock {
            let now = clock.now()
            var due: [Callback] = []
            // In task order, not the set's (which changes from run to run), so a seeded run repeats.
            for id in awaitingCallbacks.sorted() {
                guard var task = tasks[id], state(of: task, at: now).isTerminal else { continue }
                if let url = task.callBackURL, !task.completionCallbackSent {
                    due.append(Callback(kind: .completion, taskID: id, url: url, headers: signedHeaders(taskID: id, at: now),
                                        body: completionCallbackBody(for: task, at: now)))
                }
                task.completionCallbackSent = true
                awaitingCallbacks.remove(id)
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

    // MARK: - Creating (both families)

    /// How long a `#stall` create takes to answer over HTTP: long enough to stop a server
    /// mid-request in a test, short of any client timeout.
    public static let stallSeconds: Double = 3

    private enum Admission {
        case refused(Reply)
        case admitted(hangs: Bool)
    }

    /// Auth, paused ids, the rate limit and injected faults (under the lock), then the model's
    /// rules and the images (without it), then billing and the task (under it again).
    func create(family: KieModelRules.Family, authorization: String?, body: Data) -> Reply {
        let json = JSON.parse(body)
        let admission: Admission = lock.withLock {
            switch family {
            case .market: counts.createTask += 1
            case .veo: counts.veoGenerate += 1
            }
            if let denied = checkAuthorization(authorization) { return .refused(denied) }
            // Paused before anything else is checked: Kie answers so for every Sora 2 create.
            if let model = json?["model"]?.stringValue, isPaused(model) {
                return .refused(envelope(code: 500, msg: "This interface is temporarily paused"))
            }
            let now = clock.now()
            recentCreates.forget(before: now)
            if let limit = settings.createRateLimitPer10s, recentCreates.count >= limit {
                return .refused(envelope(code: 429, msg: "Rate limit exceeded: \(limit) requests per 10 seconds"))
            }
            recentCreates.add(now)
            peakCreatesPer10s = max(peakCreatesPer10s, recentCreates.count)
            if !faults.isEmpty {
                switch faults.removeFirst() {
                case .reply(let code, let message): return .refused(envelope(code: code, msg: message))
                case .acceptThenHang: return .admitted(hangs: true)
                }
            }
            return .admitted(hangs: false)
        }
        let hangs: Bool
        switch admission {
        case .refused(let reply): return reply
        case .admitted(let withheld): hangs = withheld
        }

        let request: KieModelRules.ValidatedCreate
        switch family == .market ? KieModelRules.validateMarket(json) : KieModelRules.validateVeo(json) {
        case .failure(let refusal): return envelope(code: refusal.code, msg: refusal.msg)
        case .success(let valid): request = valid
        }
        if let code = Self.requestedErrorCode(in: request.prompt) {
            return envelope(code: code, msg: "Simulated error \(code)")
        }
        // Kie accepts the create and fetches the images; a bad one fails the task, not the create.
        var imageProblem: String?
        for url in request.imageURLs {
            imageProblem = SimulatorImages.problem(with: fetchImage(url), family: family)
            if imageProblem != nil { break }
        }

        return lock.withLock {
            let now = clock.now()
            refundFailedTasks(at: now)
            // Checked here, where the task is added under the same lock, so concurrent creates never exceed it.
            runningUntil.removeEnded(by: now)
            if let limit = settings.maxRunningTasks, runningUntil.count >= limit {
                return envelope(code: 429, msg: "Too many running tasks: \(limit) at most")
            }
            guard balanceMilliCredits >= request.priceMilliCredits else {
                return envelope(code: 402, msg: "Credits insufficient")
            }
            balanceMilliCredits -= request.priceMilliCredits

            let prompt = request.prompt
            let outcome: SimulatedTask.Outcome
            if let imageProblem {
                outcome = .fail(.badImage(imageProblem))
            } else if prompt.contains("#reject") {
                outcome = .fail(.rejected)
            } else if prompt.contains("#fail") || randomFraction() < settings.failureRate {
                outcome = .fail(.generationFailed)
            } else {
                outcome = .success
            }
            let id = (0..<4).map { _ in Self.hex32(UInt32(truncatingIfNeeded: random.next())) }.joined()
            // A task whose image failed ends at once: its first status already says so.
            let duration = imageProblem != nil ? 0 : prompt.contains("#slow") ? settings.jobDuration * 10 : settings.jobDuration
            tasks[id] = SimulatedTask(id: id, family: family, model: request.rules.id, rawParam: String(decoding: body, as: UTF8.self),
                                      callBackURL: request.callBackURL, createdAt: now, duration: duration, outcome: outcome,
                                      priceMilliCredits: request.priceMilliCredits, isPortrait: request.isPortrait)
            if request.callBackURL != nil { awaitingCallbacks.insert(id) }
            if case .fail = outcome { failingTasks.insert(id) }
            if duration > 0 {
                runningUntil.add(now.addingTimeInterval(duration))
                peakRunning = max(peakRunning, runningUntil.count)
            }

            var reply = envelope(code: 200, msg: "success", data: .object([("taskId", .string(id))]))
            reply.hangs = hangs
            if prompt.contains("#stall") { reply.delaySeconds = Self.stallSeconds }
            return reply
        }
    }

    /// One image as Kie would get it: through the injected fetcher, else the simulator's own
    /// uploads from memory and anything else over HTTP. Never called with the lock held.
    func fetchImage(_ url: String) -> FetchedImage? {
        if let imageFetcher { return imageFetcher(url) }
        let base = uploadBaseURL + "/"
        if base.count > 1, url.hasPrefix(base) {
            var rest = Substring(url.dropFirst(base.count))
            if let end = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
            guard let path = String(rest).removingPercentEncoding else { return nil }
            return uploadedFile(path: path)
        }
        return SimulatorImages.fetchOverHTTP(url)
    }

    // MARK: - Behaviour (the lock is held)

    func isPaused(_ model: String) -> Bool { KieModelRules.isSora(model) || settings.pausedModels.contains(model) }

    /// The task of this family a status query names, noting when it was asked about.
    func queried(_ taskID: String?, family: KieModelRules.Family) -> SimulatedTask? {
        guard let taskID, let task = tasks[taskID], task.family == family else { return nil }
        let now = clock.now()
        if let last = lastQueryAt[taskID] {
            shortestQueryGap = min(shortestQueryGap ?? .infinity, now.timeIntervalSince(last))
        }
        lastQueryAt[taskID] = now
        knownTaskQueries += 1
        return task
    }

    /// Gives back the price of every task that has failed by `now`, once.
    func refundFailedTasks(at now: Date) {
        for id in failingTasks {
            guard let task = tasks[id], state(of: task, at: now) == .fail else { continue }
            failingTasks.remove(id)
            balanceMilliCredits += task.priceMilliCredits
        }
    }

    /// The code in an `#errorNNN` prompt tag (100…599).
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

    /// The sample video a successful task points to.
    func resultURL(of task: SimulatedTask) -> String {
        "\(media)/\(task.id)-\(task.isPortrait ? "portrait" : "landscape").mp4"
    }

    func finishedMillis(of task: SimulatedTask) -> Int64 {
        task.createdAt.unixMillis + Int64((task.duration * 1000).rounded())
    }

    /// recordInfo's answer, and (with code 200/501) the Market completion callback's body.
    /// `creditsConsumed` appears once the task ended: the list price on success, 0 on failure.
    /// No `progress`: Kie documents none for these models, so Phim must not rely on one.
    func marketRecordReply(for task: SimulatedTask, code: Int, msg: String, at now: Date) -> Reply {
        let state = state(of: task, at: now)
        var result: JSON = .null, failCode: JSON = .string(""), failMsg: JSON = .string("")
        var completeTime: JSON = .null, costTime: JSON = .null
        var credits: JSON?
        switch (state, task.outcome) {
        case (.success, _):
            // Kie sends resultJson as JSON text inside the JSON (§4.2).
            result = .string(JSON.object([("resultUrls", .array([.string(resultURL(of: task))]))]).serialized())
            failCode = .null
            failMsg = .null
            completeTime = .int64(finishedMillis(of: task))
            costTime = .int(Int(task.duration.rounded()))
            credits = .number(Double(task.priceMilliCredits) / 1_000)
        case (.fail, .fail(let failure)):
            failCode = .string(failure.failCode)
            failMsg = .string(failure.message)
            completeTime = .int64(finishedMillis(of: task))
            credits = .int(0)
        default:
            break
        }
        var fields: [(String, JSON)] = [
            ("taskId", .string(task.id)), ("model", .string(task.model)), ("state", .string(state.rawValue)),
            ("param", .string(task.rawParam)), ("resultJson", result), ("failCode", failCode), ("failMsg", failMsg),
            ("costTime", costTime), ("completeTime", completeTime), ("createTime", .int64(task.createdAt.unixMillis)),
            ("updateTime", .int64(now.unixMillis)),
        ]
        if let credits { fields.append(("creditsConsumed", credits)) }
        return envelope(code: code, msg: msg, data: .object(fields))
    }

    private func completionCallbackBody(for task: SimulatedTask, at now: Date) -> Data {
        switch task.family {
        case .market:
            return state(of: task, at: now) == .success
                ? marketRecordReply(for: task, code: 200, msg: "Playground task completed successfully.", at: now).body
                : marketRecordReply(for: task, code: 501, msg: "Playground task failed.", at: now).body
        case .veo:
            return veoCallbackBody(for: task)
        }
    }

    func checkAuthorization(_ header: String?) -> Reply? {
        guard let header, header.hasPrefix("Bearer "), header.count > "Bearer ".count else {
            return envelope(code: 401, msg: "You do not have access permissions")
        }
        if let expected = settings.expectedAPIKey, !Crypto.constantTimeEqual(header, "Bearer \(expected)") {
            return envelope(code: 401, msg: "You do not have access permissions")
        }
        return nil
    }

    func signedHeaders(taskID: String, at now: Date) -> [String: String] {
        var headers = ["Content-Type": "application/json"]
        guard let key = settings.webhookHMACKey else { return headers }
        let timestamp = String(Int64(now.timeIntervalSince1970))
        headers["X-Webhook-Timestamp"] = timestamp
        headers["X-Webhook-Signature"] = KieWire.webhookSignature(taskID: taskID, timestamp: timestamp, key: key)
        return headers
    }

    /// Kie answers HTTP 200 with the outcome in the envelope's `code`, even for errors (§7).
    func envelope(code: Int, msg: String, data: JSON = .null) -> Reply {
        Reply(status: 200, body: JSON.object([("code", .int(code)), ("msg", .string(msg)), ("data", data)]).data())
    }

    func randomFraction() -> Double { Double(random.next() % 1_000_000) / 1_000_000 }

    static func hex32(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    static func trimmed(_ base: String) -> String {
        var base = base
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }
}
