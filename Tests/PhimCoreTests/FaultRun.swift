// The seeded fault-injection run: random operations and faults against the real handlers on a real SQLite file.
import Foundation
import PhimCore
import PhimProvider
import PhimServer
import PhimSupport

/// Drives the real request handlers (`App.handle`) on a real SQLite file through random
/// operations from a dozen users while the provider, the network and the process misbehave,
/// then lets time run out and checks that money and privacy survived. Only the outside is
/// replaced: the provider (the simulator, in-process, behind `FaultyProvider`) and the clock.
///
/// Everything random comes from one seed, and nothing iterates a set or a dictionary unsorted
/// or reads the wall clock, so a seed replays the same run (`PHIM_FAULT_SEED`). Operations run
/// one at a time, except double submissions, which race on two threads and two connections.
final class FaultRun {
    struct Options {
        var seed: UInt64
        var operations: Int
        var users = 12
    }

    struct Invariant {
        var name: String
        var holds: Bool
        var detail: String
    }

    struct Report {
        /// The same for the same seed and number of operations.
        var text: String
        var invariants: [Invariant]
        var passed: Bool { invariants.allSatisfy(\.holds) }
    }

    static let hmacKey = "fault-run-hmac-key"

    let options: Options
    let directory: String
    let databasePath: String
    let clock = ManualClock()
    /// The provider outlives every restart of the service, as the real one does.
    let simulator: KieSimulator
    let provider: FaultyProvider
    private var settings: Settings
    private var app: App
    private var db: Database
    /// Two more connections, as two more worker threads of the process have.
    private var racers: [Database]
    private var random: FaultRandom

    private struct Caller {
        var id: String
        var email: String
        var key: String
    }

    /// A job the run knows was made, and by whom.
    private struct Video {
        var id: String
        var owner: Int
    }

    private var users: [Caller] = []
    private var granted: [Int] = []
    /// Every job the service made for a request: answered, refused after its hold, or made by a
    /// request that crashed the service (known from the provider's side), in order.
    private var made: [Video] = []
    /// Creates answered 202 or 200, with their owner.
    private var acknowledged: [Video] = []
    private var deleted: Set<String> = []
    private var usedKeys: [(owner: Int, key: String, prompt: String)] = []
    private var heldBack: [KieSimulator.Callback] = []
    /// Recent genuine callbacks, to forge from.
    private var recent: [KieSimulator.Callback] = []
    /// Every task the provider reported on (dropped callbacks included), by the job in its URL.
    private var tasksOfJob: [String: Set<String>] = [:]
    private var keyCounter = 0
    private var createCounter = 0

    private var operations: [String: Int] = [:]
    private var faults: [String: Int] = [:]
    private var observed: [String: Int] = [:]
    private var violations: [String] = []
    private var figures: [String] = []

    init(options: Options) throws {
        Crypto.initialize()
        self.options = options
        random = FaultRandom(seed: options.seed ^ 0xFA17_7E57)
        directory = NSTemporaryDirectory() + "phim-fault-run-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        databasePath = directory + "/phim.sqlite"

        settings = Settings(publicBaseURL: "http://127.0.0.1:8080", uploadsDirectory: directory + "/uploads")
        settings.reconcileIntervalSeconds = 15
        settings.staleAfterSeconds = 60
        // Creates whose outcome stays unknown count as unfinished for a day, and a dozen users
        // sign up from one address; the run is about money and privacy, not these limits
        // (MoneyTests and AbuseTests check them).
        settings.maxUnfinishedVideos = 1_000_000
        settings.createsPerMinute = 1_000_000
        settings.signupsPerAddressPerHour = 1_000
        // Each create sends its own job at once (the dispatcher, in-line); jobs the provider sent
        // back to the queue go in the dispatch passes beside the reconciler's.
        settings.dispatchOnCreate = true
        settings.providerCreatesPer10s = 1_000_000
        settings.providerMaxRunning = 1_000_000

        // The provider always signs its callbacks; whether Phim checks depends on its settings.
        var simulatorSettings = KieSimulator.Settings.fromEnvironment([:])
        simulatorSettings.jobDuration = 20
        simulatorSettings.failureRate = 0.03
        simulatorSettings.seed = options.seed
        simulatorSettings.webhookHMACKey = Self.hmacKey
        simulator = KieSimulator(settings: simulatorSettings, clock: clock.clock, mediaBaseURL: "http://127.0.0.1:8080/simulator/media")
        provider = FaultyProvider(InProcessSimulatorProvider(simulator: simulator))

        db = try Database(path: databasePath)
        try Migrations.run(on: db)
        racers = [try Database(path: databasePath), try Database(path: databasePath)]
        app = App(settings: settings, provider: provider, clock: clock.clock, hasher: PasswordHasher(cost: .minimum))
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    // MARK: - Randomness and tallies

    private func roll(_ bound: Int) -> Int { Int(random.next() % UInt64(bound)) }
    private func chance(_ percent: Int) -> Bool { roll(100) < percent }
    private func pick<T>(_ items: [T]) -> T? { items.isEmpty ? nil : items[roll(items.count)] }

    private func count(_ operation: String) { operations[operation, default: 0] += 1 }
    private func inject(_ fault: String) { faults[fault, default: 0] += 1 }
    private func observe(_ event: String) { observed[event, default: 0] += 1 }
    private func violation(_ text: String) { violations.append(text) }

    /// A UUID no job has (from the run's seed, so the run repeats).
    private func missingID() -> String {
        let hex = (0..<4).map { _ in String(format: "%08x", UInt32(truncatingIfNeeded: random.next())) }.joined()
        let characters = Array(hex)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(characters[$0]) }.joined(separator: "-")
    }

    // MARK: - The run

    func run() throws -> Report {
        for index in 0..<options.users {
            users.append(try makeUser(index))
            let credits = 7_000 * (1 + roll(20))
            try CreditLedger.grant(userID: users[index].id, amount: credits, reason: "fault run: opening balance",
                                   at: clock.now.unixMillis, on: db)
            granted.append(credits)
        }
        for index in 0..<options.operations {
            // The operator configures Kie's webhook HMAC key half-way, and restarts to apply it.
            if index == options.operations / 2 {
                settings.webhookHMACKey = Self.hmacKey
                restart()
                count("service restarted to configure the webhook HMAC key")
            }
            switch roll(100) {
            case 0..<27: create()
            case 27..<30: createBatch()
            case 30..<36: doubleSubmit()
            case 36..<40: reuseKey()
            case 40..<46: cancel()
            case 46..<50: delete()
            case 50..<54: probeAnotherUsersVideo()
            case 54..<57: try grant()
            case 57..<85: passTime()
            case 85..<90: reconcile()
            case 90..<94: releaseHeldBack()
            case 94..<99: forgeCallback()
            default:
                inject("service killed between requests")
                restart()
                count("service restarted")
            }
        }
        try settle()
        let invariants = try checkInvariants()
        return Report(text: summary(invariants), invariants: invariants)
    }

    // MARK: - Requests

    private func send(_ method: String, _ target: String, json: JSON? = nil, body: [UInt8] = [],
                      headers: [String: String] = [:], as caller: Caller? = nil, on connection: Database? = nil) -> Response {
        let response = Self.send(method, target, json: json, body: body, headers: headers, as: caller, to: app, on: connection ?? db)
        // No operation expects a 500. A simulated crash's answer is the exception: nobody hears it.
        if response.status == 500, !provider.hasCrashed { violation("\(method) \(target) answered 500: \(response.bodyText)") }
        return response
    }

    /// Static, so the racing threads of a double submission call it without touching the run.
    private static func send(_ method: String, _ target: String, json: JSON? = nil, body: [UInt8] = [],
                             headers: [String: String] = [:], as caller: Caller?, to app: App, on db: Database) -> Response {
        let (path, query) = Request.splitTarget(target)
        var allHeaders = headers
        var bytes = body
        if let json {
            bytes = Array(json.serialized().utf8)
            allHeaders["content-type"] = "application/json"
        }
        if let caller { allHeaders["authorization"] = "Bearer \(caller.key)" }
        // Request ids are the run's own, so even the service's log lines repeat with the seed.
        return app.handle(Request(method: method, path: path, query: query, headers: allHeaders, body: bytes,
                                  requestID: "fault-run"), db: db)
    }

    private func errorCode(_ response: Response) -> String { response.bodyJSON?["error"]?["code"]?.stringValue ?? "" }

    /// Records a violation unless the answer is one of those expected for the operation.
    @discardableResult
    private func expect(_ response: Response, _ allowed: Set<Int>, _ what: String) -> Bool {
        guard allowed.contains(response.status) else {
            violation("\(what) answered \(response.status) \(errorCode(response)) (expected \(allowed.sorted()))")
            return false
        }
        return true
    }

    private func makeUser(_ index: Int) throws -> Caller {
        let email = "fault-\(index)@phim.test"
        let credentials = JSON.object([("email", .string(email)), ("password", .string("correct horse \(index)"))])
        let registered = send("POST", "/api/v1/auth/register", json: credentials)
        let login = send("POST", "/api/v1/auth/login", json: credentials)
        let cookie = login.headers.filter { $0.0 == "Set-Cookie" }.map { $0.1.components(separatedBy: ";")[0] }.joined(separator: "; ")
        let key = send("POST", "/api/v1/api-keys", json: .object([("name", .string("fault run"))]),
                       headers: ["cookie": cookie, "x-csrf-token": login.header("X-CSRF-Token") ?? ""])
        guard registered.status == 201, let id = login.bodyJSON?["id"]?.stringValue,
              let secret = key.bodyJSON?["key"]?.stringValue
        else { throw SetupFailed(detail: "user \(index): \(registered.status) \(login.status) \(key.status)") }
        return Caller(id: id, email: email, key: secret)
    }

    struct SetupFailed: Error { var detail: String }

    // MARK: - Creating

    private func create() {
        count("create")
        let owner = roll(users.count)
        createCounter += 1
        var prompt = "Fault run clip \(createCounter)"
        if chance(12) { prompt += " #fail" }
        if chance(4) { prompt += " #reject" }
        if chance(5) { prompt += " #slow" }
        var headers: [String: String] = [:]
        if chance(60) {
            keyCounter += 1
            headers["idempotency-key"] = "fault-key-\(keyCounter)"
        }
        var fields: [(String, JSON)] = [("prompt", .string(prompt)), ("duration", .int(chance(30) ? 15 : 10))]
        // Some with a deadline, a few of them shorter than a #slow job takes.
        if chance(10) { fields.append(("deadline_seconds", .int(60 + roll(540)))) }
        let body = JSON.object(fields)
        let fault = injectCreateFault()
        let reachedBefore = provider.createsSeen, jobsBefore = jobCount()
        var response = send("POST", "/api/v1/videos", json: body, headers: headers, as: users[owner])
        let reached = provider.createsSeen > reachedBefore
        let used = fault != nil && simulator.pendingFaults == 0 && provider.queuedCreateFaults == 0
        simulator.clearFaults()
        provider.clearQueuedCreateFaults()
        if let fault, used { inject(fault.name) }
        let what = "create (\(used ? fault!.name : "no fault"))"

        if provider.takeCrashed() {
            // The client never heard back: the process died mid-request. Its job is known only
            // from the provider's side (the callback URL it was given names the job).
            guard let jobID = provider.lastCreateJobID else { return violation("a crash without a create") }
            made.append(Video(id: jobID, owner: owner))
            restart()
            count("service restarted")
            guard let key = headers["idempotency-key"] else { return }
            // A client with an Idempotency-Key retries, and must get the same job, charged once.
            count("create retried after a crash")
            response = send("POST", "/api/v1/videos", json: body, headers: headers, as: users[owner])
            guard expect(response, [200], "a retry after a crash") else { return }
            if response.bodyJSON?["id"]?.stringValue != jobID { violation("a retry after a crash answered another job") }
            acknowledged.append(Video(id: jobID, owner: owner))
            usedKeys.append((owner, key, prompt))
            return
        }

        // Every create that holds its credits answers 202 at once; the send's fate is in the video's status.
        guard expect(response, [202, 402], what) else { return }
        if response.status == 402 {
            if errorCode(response) != "insufficient_credits" { violation("\(what) answered \(errorCode(response)), expected insufficient_credits") }
            if reached || jobCount() != jobsBefore { violation("\(what): refused for want of credits, yet something was made or sent") }
            return observe("creates refused for want of credits")
        }
        let id = response.bodyJSON?["id"]?.stringValue
        guard reached else {
            // The dispatch pauses a few seconds after the provider's 429: the video waits in the queue.
            if response.bodyJSON?["status"]?.stringValue != "queued" { violation("\(what): not sent, yet answered \(response.bodyText)") }
            if let id { made.append(Video(id: id, owner: owner)); acknowledged.append(Video(id: id, owner: owner)) }
            if let key = headers["idempotency-key"] { usedKeys.append((owner, key, prompt)) }
            return observe("creates queued behind a pause")
        }
        guard let id, id == provider.lastCreateJobID else { return violation("\(what): the answer names another job than the provider saw") }
        let status = response.bodyJSON?["status"]?.stringValue
        let expectedStatus: Set<String> = switch (used ? fault : nil) {
        case .reply(429)?, .reply(455)?, .reply(500)?, .unreachable?: ["queued"] // nothing made: back in the queue
        case .reply?: ["failed"] // refused (402): refunded at once
        case .hang?: ["submitting"]
        default: ["pending", "processing", "completed", "failed"]
        }
        if let status, !expectedStatus.contains(status) { violation("\(what) answered a \(status) video, expected \(expectedStatus.sorted())") }
        if status == "queued" { observe("sends the provider refused as busy, queued again") }
        made.append(Video(id: id, owner: owner))
        if response.status == 202 {
            acknowledged.append(Video(id: id, owner: owner))
            if let key = headers["idempotency-key"] { usedKeys.append((owner, key, prompt)) }
            // An unknown outcome must keep the job submitting, its hold open.
            if fault == .hang, used, response.bodyJSON?["status"]?.stringValue != "submitting" {
                violation("a create whose outcome is unknown answered \(response.bodyJSON?["status"]?.stringValue ?? "")")
            }
        }
    }

    private enum CreateFault: Equatable {
        case crashBeforeSend, crashAfterSend, unreachable, hang
        case reply(Int)

        var name: String {
            switch self {
            case .crashBeforeSend: FaultyProvider.CreateFault.crashBeforeSend.rawValue
            case .crashAfterSend: FaultyProvider.CreateFault.crashAfterSend.rawValue
            case .unreachable: FaultyProvider.CreateFault.unreachable.rawValue
            case .hang: "provider accepted the create and never answered"
            case .reply(let code): "provider answered \(code) on create"
            }
        }
    }

    /// Queues one fault for the next provider create, or none.
    private func injectCreateFault() -> CreateFault? {
        let fault: CreateFault
        switch roll(100) {
        case 0..<5: fault = .crashBeforeSend
        case 5..<8: fault = .crashAfterSend
        case 8..<11: fault = .unreachable
        case 11..<14: fault = .reply(500)
        case 14..<17: fault = .reply(429)
        case 17..<19: fault = .reply(402)
        case 19..<21: fault = .reply(455)
        case 21..<25: fault = .hang
        default: return nil
        }
        switch fault {
        case .crashBeforeSend: provider.queue(.crashBeforeSend)
        case .crashAfterSend: provider.queue(.crashAfterSend)
        case .unreachable: provider.queue(.unreachable)
        case .hang: simulator.inject(.acceptThenHang)
        case .reply(let code): simulator.inject(.reply(code: code, message: "simulated \(code)"))
        }
        return fault
    }

    /// The same create with the same Idempotency-Key from two threads at once, each on its own
    /// connection to the file: one job, charged once, both answers naming it.
    private func doubleSubmit() {
        count("double submit (two racing creates, one key)")
        let owner = roll(users.count)
        keyCounter += 1
        let key = "fault-double-\(keyCounter)"
        let prompt = "Double submitted \(keyCounter)"
        let body = JSON.object([("prompt", .string(prompt))])
        let caller = users[owner], app = self.app, connections = racers
        let answers = Locked<[Int: Response]>([:])
        let group = DispatchGroup()
        for index in 0..<2 {
            group.enter()
            Thread.detachNewThread {
                let response = Self.send("POST", "/api/v1/videos", json: body, headers: ["idempotency-key": key], as: caller,
                                         to: app, on: connections[index])
                answers.withLock { $0[index] = response }
                group.leave()
            }
        }
        group.wait()
        let responses = answers.current.sorted { $0.key < $1.key }.map(\.value)
        if responses.contains(where: { $0.status == 500 }) { violation("a double submission answered 500") }
        let statuses = responses.map(\.status).sorted()
        let ids = Set(responses.compactMap { $0.bodyJSON?["id"]?.stringValue })
        let jobs = (try? db.first("SELECT COUNT(*) FROM video_jobs WHERE user_id = ? AND idempotency_key = ?",
                                  [.text(caller.id), .text(key)])?.int(0)) ?? -1
        switch statuses {
        case [200, 202] where ids.count == 1 && jobs == 1:
            let id = ids.first!
            made.append(Video(id: id, owner: owner))
            acknowledged.append(Video(id: id, owner: owner))
            usedKeys.append((owner, key, prompt))
        case [402, 402] where ids.isEmpty && jobs == 0:
            observe("double submit refused for want of credits")
        default:
            violation("a double submission answered \(statuses) with \(ids.count) ids and made \(jobs) jobs")
        }
    }

    /// 2–4 variants of one prompt, each its own job, held and charged on its own; the whole
    /// batch must be affordable when it starts, or nothing is made.
    private func createBatch() {
        count("batch create (2-4 variants)")
        let owner = roll(users.count)
        let variants = 2 + roll(3)
        createCounter += 1
        let prompt = "Fault run batch \(createCounter)" + (chance(15) ? " #fail" : "")
        var headers: [String: String] = [:]
        if chance(50) {
            keyCounter += 1
            headers["idempotency-key"] = "fault-batch-\(keyCounter)"
        }
        let reachedBefore = provider.createsSeen, jobsBefore = jobCount()
        let response = send("POST", "/api/v1/videos/batch", json: .object([("prompt", .string(prompt)), ("variants", .int(variants))]),
                            headers: headers, as: users[owner])
        let reached = provider.createsSeen - reachedBefore
        guard expect(response, [202, 402], "a batch create") else { return }
        guard response.status == 202 else {
            if reached != 0 || jobCount() != jobsBefore { violation("a batch refused for want of credits made or sent something") }
            return observe("batches refused for want of credits")
        }
        guard case .array(let videos)? = response.bodyJSON?["videos"], response.bodyJSON?["refused"] == nil else {
            return violation("a batch answered 202 without all its videos: \(response.bodyText)")
        }
        let ids = videos.compactMap { $0["id"]?.stringValue }
        // Each variant is sent at once, unless the dispatch pauses after the provider's 429: then it waits in the queue.
        let queued = videos.filter { $0["status"]?.stringValue == "queued" }.count
        if ids.count != variants || reached + queued < variants || Set(ids).count != variants {
            violation("a batch of \(variants) answered \(ids.count) videos after \(reached) provider creates, \(queued) queued")
        }
        for id in ids {
            made.append(Video(id: id, owner: owner))
            acknowledged.append(Video(id: id, owner: owner))
        }
    }

    private func reuseKey() {
        guard let used = pick(usedKeys) else { return }
        count("key reused with another body")
        let before = jobCount()
        let response = send("POST", "/api/v1/videos", json: .object([("prompt", .string(used.prompt + " but different"))]),
                            headers: ["idempotency-key": used.key], as: users[used.owner])
        if expect(response, [422], "a reused key"), errorCode(response) != "idempotency_key_reused" {
            violation("a reused key answered \(errorCode(response))")
        }
        if jobCount() != before { violation("a reused key made a job") }
    }

    private func jobCount() -> Int { (try? db.first("SELECT COUNT(*) FROM video_jobs")?.int(0)) ?? -1 }

    // MARK: - Canceling, deleting, probing, granting

    private func cancel() {
        guard let video = pick(acknowledged) else { return }
        count("cancel")
        let before = snapshot(video.id)
        let response = send("POST", "/api/v1/videos/\(video.id)/cancel", as: users[video.owner])
        // Exactly predictable: a queued job is canceled and refunded; one the provider has runs
        // on (the owner stops waiting); a canceled one answers again; an ended one cannot be.
        let status = before?.status ?? "missing"
        let expected: Set<Int> = deleted.contains(video.id) ? [404] : ["completed", "failed"].contains(status) ? [409] : [200]
        guard expect(response, expected, "a cancel of a \(status) video") else { return }
        guard response.status == 200 else { return }
        let after = response.bodyJSON?["status"]?.stringValue
        switch status {
        case "queued", "canceled":
            if after != "canceled" { violation("a cancel of a \(status) video answered \(after ?? "")") }
            if status == "queued" { observe("videos canceled while queued") }
        default:
            if after == "canceled" || response.bodyJSON?["stopped_waiting"] != .bool(true) {
                violation("a cancel of a \(status) video (the provider has it) answered \(after ?? "") without stopping waiting")
            }
            observe("cancels that only stopped waiting")
        }
    }

    private func delete() {
        guard let video = pick(acknowledged) else { return }
        count("delete")
        let response = send("DELETE", "/api/v1/videos/\(video.id)", as: users[video.owner])
        if expect(response, deleted.contains(video.id) ? [404] : [204], "a delete"), response.status == 204 {
            deleted.insert(video.id)
        }
    }

    /// Another user reads, deletes and cancels someone's video: each answer must be the one a
    /// missing video gets, byte for byte, and the video must not change.
    private func probeAnotherUsersVideo() {
        guard let video = pick(made), users.count > 1 else { return }
        count("another user's video probed")
        let stranger = (video.owner + 1 + roll(users.count - 1)) % users.count
        let missing = missingID()
        let before = snapshot(video.id)
        for (method, suffix) in [("GET", ""), ("DELETE", ""), ("POST", "/cancel"), ("GET", "/media"), ("POST", "/share"), ("DELETE", "/share")] {
            let probe = send(method, "/api/v1/videos/\(video.id)\(suffix)", as: users[stranger])
            let control = send(method, "/api/v1/videos/\(missing)\(suffix)", as: users[stranger])
            if probe.status != 404 || probe.status != control.status || probe.body != control.body {
                violation("a stranger's \(method) \(suffix) on a video answered \(probe.status) \(probe.bodyText), a missing one \(control.status)")
            }
        }
        if snapshot(video.id) != before { violation("a stranger's probe changed video \(video.id)") }
    }

    private func grant() throws {
        count("operator grant")
        let user = roll(users.count)
        let amount = 5_000 * (1 + roll(20))
        try CreditLedger.grant(userID: users[user].id, amount: amount, reason: "fault run", at: clock.now.unixMillis, on: db)
        granted[user] += amount
    }

    private func reconcile() {
        count("reconciler pass")
        if chance(30) { provider.failNextQueries(1 + roll(5)) }
        do {
            try app.queue.runPass(on: db) // the dispatcher: jobs sent back to the queue go again
            _ = try app.reconciler().runPass(on: db)
        } catch {
            violation("a reconciler pass threw \(error)")
        }
    }

    // MARK: - Time and callbacks

    private func passTime() {
        count("time passes")
        clock.advance(TimeInterval(1 + roll(30)))
        var due = simulator.takeDueCallbacks()
        note(due)
        if due.count > 1, chance(30) {
            due.reverse()
            inject("callbacks reordered")
        }
        // Jobs whose create went unanswered learn their task from their first callback: the
        // moment a forgery could do most harm, so forgers aim there more often.
        let unknownTask = Set((try? db.query("SELECT id FROM video_jobs WHERE provider_task_id IS NULL AND status = 'submitting'"))?
            .map { $0.string(0) } ?? [])
        for callback in due {
            let aimed = FaultyProvider.jobID(inCallbackURL: callback.url).map(unknownTask.contains) == true
            if chance(aimed ? 30 : 4) {
                // A forger who saw the URL gets in first (another task, or the outcome flipped).
                observe("forgeries sent just before the genuine callback")
                forge(2 + roll(callback.kind == .completion ? 3 : 2), from: callback)
            }
            switch roll(100) {
            case 0..<12: inject("callback dropped")
            case 12..<22:
                inject("callback delayed")
                heldBack.append(callback)
            case 22..<30:
                inject("callback duplicated")
                deliver(callback)
                deliver(callback)
            default: deliver(callback)
            }
        }
    }

    /// Keeps what every callback says about which task belongs to which job: the provider's own
    /// account, for the check that every outcome is the provider's.
    private func note(_ callbacks: [KieSimulator.Callback]) {
        for callback in callbacks {
            if let job = FaultyProvider.jobID(inCallbackURL: callback.url) { tasksOfJob[job, default: []].insert(callback.taskID) }
            recent.append(callback)
        }
        if recent.count > 200 { recent.removeFirst(recent.count - 200) }
    }

    private func releaseHeldBack() {
        guard !heldBack.isEmpty else { return }
        count("delayed callbacks arrive")
        heldBack.shuffle(using: &random)
        let arriving = Array(heldBack.prefix(1 + roll(heldBack.count)))
        heldBack.removeFirst(arriving.count)
        for callback in arriving { deliver(callback) }
    }

    private func post(_ callback: KieSimulator.Callback, path: String? = nil, body: Data? = nil) -> Response {
        var headers: [String: String] = [:]
        for (name, value) in callback.headers { headers[name.lowercased()] = value }
        return send("POST", path ?? URL(string: callback.url)!.path, body: Array(body ?? callback.body), headers: headers)
    }

    /// Whether Phim checks signatures now and this one is older than its replay window.
    private func isStale(_ callback: KieSimulator.Callback) -> Bool {
        guard settings.webhookHMACKey != nil, let stamp = callback.headers["X-Webhook-Timestamp"].flatMap(Double.init) else { return false }
        return clock.now.timeIntervalSince1970 - stamp > CallbackReceiver.replayWindowSeconds
    }

    /// A genuine callback is always taken (200), unless signatures are checked and it is older
    /// than the replay window (401); the reconciler then finds out.
    private func deliver(_ callback: KieSimulator.Callback) {
        let stale = isStale(callback)
        let response = post(callback)
        if expect(response, stale ? [401] : [200], "a genuine \(callback.kind.rawValue) callback"), stale {
            observe("genuine callbacks refused as older than the signature's window")
        }
    }

    /// Sends a callback the provider never sent, and checks it changed nothing it should not.
    private func forgeCallback() {
        let kindRoll = roll(5)
        // A forger aims where harm is possible: mostly at a job still in flight (its genuine
        // callback lost or late), and for a flipped outcome, at a completion callback.
        let candidates = kindRoll == 4 ? recent.filter { $0.kind == .completion } : recent
        let unfinished = Set((try? db.query("SELECT id FROM video_jobs WHERE status IN ('submitting', 'pending', 'processing')"))?
            .map { $0.string(0) } ?? [])
        let inFlight = candidates.filter { FaultyProvider.jobID(inCallbackURL: $0.url).map(unfinished.contains) == true }
        guard let genuine = (chance(75) ? pick(inFlight) : nil) ?? pick(candidates) else { return }
        forge(kindRoll, from: genuine)
    }

    /// One forgery of each kind, made from a genuine callback: 0 wrong secret, 1 another job's
    /// id, 2 another task's id, 3 another task's whole callback, 4 the outcome flipped.
    private func forge(_ kindRoll: Int, from genuine: KieSimulator.Callback) {
        var segments = URL(string: genuine.url)!.path.split(separator: "/").map(String.init)
        let jobID = segments[4]
        let text = String(decoding: genuine.body, as: UTF8.self)
        let stale = isStale(genuine)
        switch kindRoll {
        case 0:
            let kind = "forged callback: wrong secret in the path"
            segments[5] = (0..<8).map { _ in String(format: "%08x", UInt32(truncatingIfNeeded: random.next())) }.joined()
            inject(kind)
            forged(kind, target: jobID, expected: [404]) { post(genuine, path: "/" + segments.joined(separator: "/")) }
        case 1:
            guard let other = pick(made)?.id, other != jobID else { return }
            let kind = "forged callback: another job's id in the path"
            segments[4] = other
            inject(kind)
            forged(kind, target: other, expected: [404]) { post(genuine, path: "/" + segments.joined(separator: "/")) }
        case 2:
            guard let other = pick(recent)?.taskID, other != genuine.taskID else { return }
            let kind = "forged callback: another task's id in the body"
            inject(kind)
            // Signed, the signature covers the task id (401). Unsigned, the job's own task is
            // known (422), or the provider is asked, and its record of the named task names
            // another job (422), or it cannot be asked now (200, nothing applied).
            let expected: Set<Int> = settings.webhookHMACKey != nil ? [401] : [422, 200]
            forged(kind, target: jobID, expected: expected) {
                post(genuine, body: Data(text.replacingOccurrences(of: genuine.taskID, with: other).utf8))
            }
        case 3:
            guard let other = pick(recent), other.taskID != genuine.taskID else { return }
            let kind = "forged callback: another task's signed callback replayed to this job's URL"
            inject(kind)
            // Its signature is genuine (for its own task), so only the task check stops it.
            let expected: Set<Int> = isStale(other) ? [401] : [422, 200]
            let path = "/" + segments[0...5].joined(separator: "/") + (other.kind == .progress ? "/progress" : "")
            forged(kind, target: jobID, expected: expected) { post(other, path: path) }
        default:
            guard genuine.kind == .completion, let truth = KieWire.parseCallback(genuine.body, family: .market) else { return }
            let kind = "forged callback: genuine URL, outcome flipped"
            inject(kind)
            let flipped = truth.state == .success
                ? text.replacingOccurrences(of: #""state":"success""#, with: #""state":"fail""#)
                    .replacingOccurrences(of: #""code":200"#, with: #""code":501"#)
                : text.replacingOccurrences(of: #""state":"fail""#, with: #""state":"success""#)
                    .replacingOccurrences(of: #""code":501"#, with: #""code":200"#)
                    .replacingOccurrences(of: #""resultJson":null"#, with: #""resultJson":"{\"resultUrls\":[\"https://evil.test/x.mp4\"]}""#)
            let before = snapshot(jobID)
            let response = post(genuine, body: Data(flipped.utf8))
            // The URL and signature are genuine, so the callback is taken; only the provider's
            // confirmation may move money, so the job ends as the provider says or not at all.
            expect(response, stale ? [401] : [200], kind)
            guard let after = snapshot(jobID) else { return violation("\(kind): the job vanished") }
            if after != before {
                let agrees = switch after.status {
                case "completed": truth.state == .success && after.videoURL == truth.resultURLs.first
                case "failed": truth.state == .fail || !["provider_failed", "content_rejected"].contains(after.failureReason ?? "")
                default: after.status == before?.status && after.holdState == before?.holdState
                }
                if !agrees { violation("\(kind) left job \(jobID) \(after.status) while the provider says \(truth.state.rawValue)") }
            }
        }
    }

    /// Sends a forgery, expects one of its statuses, and checks the job and its owner's
    /// balances are as they were.
    private func forged(_ kind: String, target: String, expected: Set<Int>, _ send: () -> Response) {
        let before = snapshot(target)
        let response = send()
        expect(response, expected, kind)
        if snapshot(target) != before { violation("\(kind) changed job \(target)") }
    }

    /// What a forgery must not change: the job's state, money, task and result, and its owner's balances.
    private struct Snapshot: Equatable {
        var status: String
        var holdState: String
        var providerTaskID: String?
        var progress: Int
        var videoURL: String?
        var failureReason: String?
        var deletedAt: Int64?
        var finishedAt: Int64?
        var available: Int
        var held: Int
    }

    private func snapshot(_ jobID: String) -> Snapshot? {
        guard let row = try? db.first("""
            SELECT j.status, j.hold_state, j.provider_task_id, j.progress, j.video_url, j.failure_reason, j.deleted_at,
                   j.finished_at, u.credits_available, u.credits_held
            FROM video_jobs j JOIN users u ON u.id = j.user_id WHERE j.id = ?
            """, [.text(jobID)]) else { return nil }
        return Snapshot(status: row.string(0), holdState: row.string(1), providerTaskID: row.optionalString(2), progress: row.int(3),
                        videoURL: row.optionalString(4), failureReason: row.optionalString(5), deletedAt: row.optionalInt64(6),
                        finishedAt: row.optionalInt64(7), available: row.int(8), held: row.int(9))
    }

    // MARK: - Restarts

    /// The process dies: its App and every connection go, and new ones open the same file, as
    /// `phim fcgi` does when systemd starts it again. Only what was committed survives; the
    /// provider (and the callbacks it owes) lives on.
    private func restart() {
        racers = []
        do {
            db = try Database(path: databasePath)
            try Migrations.run(on: db)
            racers = [try Database(path: databasePath), try Database(path: databasePath)]
        } catch {
            violation("the service could not start again: \(error)")
        }
        app = App(settings: settings, provider: provider, clock: clock.clock, hasher: PasswordHasher(cost: .minimum))
    }

    // MARK: - The end

    /// Lets time run out with a well-behaved provider and network: every callback arrives, and
    /// the reconciler runs until every job has ended (the longest wait is the day an unconfirmed
    /// create keeps its hold), in a bounded number of rounds.
    private func settle() throws {
        provider.clearQueuedCreateFaults()
        provider.stopFailingQueries()
        simulator.clearFaults()
        let started = clock.now
        var rounds = 0
        for round in 0..<200 {
            rounds = round + 1
            // Small steps first, so every task still running ends and reports (the slowest take
            // 200 s), then large ones, to reach the time limits.
            clock.advance(round < 12 ? 30 : 900)
            let due = simulator.takeDueCallbacks()
            note(due)
            for callback in heldBack + due { deliver(callback) }
            heldBack = []
            try app.queue.runPass(on: db)
            for _ in 0..<50 {
                let pass = try app.reconciler().runPass(on: db)
                if pass.queried + pass.timedOut + pass.unconfirmedReleased == 0 { break }
            }
            let unfinished = try db.first("SELECT COUNT(*) FROM video_jobs WHERE status IN ('queued', 'submitting', 'pending', 'processing')")?.int(0)
            if round >= 11, unfinished == 0 { break }
        }
        figures.append("settled in \(rounds) rounds, \(Int(clock.now.timeIntervalSince(started) / 60)) simulated minutes after the last operation")
    }

    func checkInvariants() throws -> [Invariant] {
        var invariants: [Invariant] = []
        func check(_ name: String, _ problems: [String]) {
            invariants.append(Invariant(name: name, holds: problems.isEmpty,
                                        detail: problems.prefix(5).joined(separator: "; ") + (problems.count > 5 ? " (\(problems.count) in all)" : "")))
        }
        struct Job {
            var id, userID, status, holdState: String
            var failureReason, providerTaskID, providerState, videoURL: String?
            var price: Int
            var deleted: Bool
        }
        let jobs = try db.query("""
            SELECT id, user_id, status, hold_state, failure_reason, provider_task_id, provider_state, video_url, price_credits,
                   deleted_at IS NOT NULL
            FROM video_jobs ORDER BY rowid
            """).map { row in
            Job(id: row.string(0), userID: row.string(1), status: row.string(2), holdState: row.string(3),
                failureReason: row.optionalString(4), providerTaskID: row.optionalString(5), providerState: row.optionalString(6),
                videoURL: row.optionalString(7), price: row.int(8), deleted: row.bool(9))
        }
        let terminal: Set<String> = ["completed", "failed", "canceled"]

        check("every job is terminal", jobs.filter { !terminal.contains($0.status) }.map { "job \($0.id) is \($0.status)" })
        check("no hold is open on a terminal job",
              jobs.filter { terminal.contains($0.status) && $0.holdState != ($0.status == "completed" ? "settled" : "released") }
                  .map { "job \($0.id) is \($0.status) with its hold \($0.holdState)" })

        let ledger = try LedgerVerifier.verify(on: db)
        check("every balance equals its ledger (phim ledger verify)", ledger.problems)

        // Our own sums: what the run granted, less the price of every completed job, and the
        // ledger's grant and settle entries agreeing with both.
        var money: [String] = []
        var settledTotal = 0
        for (index, user) in users.enumerated() {
            let settled = jobs.filter { $0.userID == user.id && $0.status == "completed" }.reduce(0) { $0 + $1.price }
            settledTotal += settled
            let me = send("GET", "/api/v1/me", as: user).bodyJSON
            let available = me?["credits"]?.intValue ?? -1, held = me?["credits_on_hold"]?.intValue ?? -1
            if available != granted[index] - settled || held != 0 {
                money.append("\(user.email): \(available) available, \(held) held; granted \(granted[index]) - settled \(settled)")
            }
            let sums = try db.query("SELECT kind, SUM(available_delta), SUM(held_delta) FROM credit_entries WHERE user_id = ? GROUP BY kind ORDER BY kind",
                                    [.text(user.id)])
            let grants = sums.first { $0.string(0) == "grant" }?.int(1) ?? 0
            let settles = -(sums.first { $0.string(0) == "settle" }?.int(2) ?? 0)
            if grants != granted[index] || settles != settled {
                money.append("\(user.email): the ledger has \(grants) granted and \(settles) settled; the run \(granted[index]) and \(settled)")
            }
        }
        check("every balance equals grants minus settled, nothing held", money)

        let byID = Dictionary(uniqueKeysWithValues: jobs.map { ($0.id, $0) })
        check("every acknowledged create exists, owned by its creator", acknowledged.compactMap { video in
            byID[video.id]?.userID == users[video.owner].id ? nil : "video \(video.id) of \(users[video.owner].email)"
        })

        // The provider's side: which task it made for which job (every callback it sent names
        // both), and how each task ended, from its own record.
        let statistics = simulator.statistics()
        var outcome: [String] = []
        let tasksSeen = tasksOfJob.values.reduce(0) { $0 + $1.count }
        if tasksSeen != statistics.tasks { outcome.append("the provider made \(statistics.tasks) tasks, \(tasksSeen) reported") }
        var phimFailed: [String: Int] = [:]
        for job in jobs {
            let tasks = tasksOfJob[job.id] ?? []
            if tasks.count > 1 { outcome.append("job \(job.id) has \(tasks.count) provider tasks") }
            let task = tasks.sorted().first
            let truth = task.flatMap { id in try? KieWire.parseStatusReply(simulator.recordInfo(authorization: "Bearer fault-run", taskID: id).body, family: .market) }
            if let known = job.providerTaskID, known != task { outcome.append("job \(job.id) names task \(known), the provider made \(task ?? "none")") }
            let fine: Bool
            switch (job.status, job.failureReason) {
            case ("completed", _):
                fine = truth?.state == .success && job.providerTaskID == task && job.videoURL == truth?.resultURLs.first
            case ("failed", let reason?) where ["provider_failed", "content_rejected"].contains(reason):
                fine = truth?.state == .fail && job.providerTaskID == task
            case ("failed", "provider_error"?), ("failed", "queue_timeout"?):
                fine = task == nil // refused, never reached, or never sent: the provider made nothing
            case ("failed", let reason?) where ["submission_unconfirmed", "timed_out", "deadline_exceeded"].contains(reason):
                // The documented exception: Phim gave up and refunded; the provider may have made it.
                phimFailed["\(reason), provider says \(truth?.state.rawValue ?? "no task")", default: 0] += 1
                fine = true
            case ("canceled", _):
                fine = task == nil // canceled only while queued: nothing was sent
            default:
                fine = false
            }
            if !fine {
                outcome.append("job \(job.id) \(job.status) \(job.failureReason ?? "") while the provider says \(truth?.state.rawValue ?? "no task")")
            }
        }
        check("every outcome is the provider's (Phim's own time-outs aside)", outcome)

        var privacy: [String] = []
        for (index, user) in users.enumerated() {
            var listed: [String] = []
            var cursor: String?
            repeat {
                let page = send("GET", "/api/v1/videos?limit=100" + (cursor.map { "&cursor=\($0)" } ?? ""), as: user)
                guard page.status == 200, case .array(let items)? = page.bodyJSON?["data"] else {
                    privacy.append("\(user.email): the gallery answered \(page.status)")
                    break
                }
                listed += items.compactMap { $0["id"]?.stringValue }
                cursor = page.bodyJSON?["next_cursor"]?.stringValue
            } while cursor != nil
            let expected = Set(made.filter { $0.owner == index && !deleted.contains($0.id) }.map(\.id))
            let stored = Set(jobs.filter { $0.userID == user.id && !$0.deleted }.map(\.id))
            if listed.count != Set(listed).count { privacy.append("\(user.email) saw a video twice") }
            if Set(listed) != expected || stored != expected {
                privacy.append("\(user.email) saw \(Set(listed).subtracting(expected).count) videos not theirs or deleted, "
                               + "missed \(expected.subtracting(listed).count); \(stored.symmetricDifference(expected).count) differ in the database")
            }
        }
        let phantoms = Set(jobs.map(\.id)).symmetricDifference(made.map(\.id))
        if !phantoms.isEmpty { privacy.append("\(phantoms.count) jobs the run did not make (or made and lost)") }
        check("every user sees exactly their own videos", privacy)

        check("no forged callback changed anything, no request failed unexpectedly", violations)

        var states: [String: Int] = [:], reasons: [String: Int] = [:]
        for job in jobs {
            states[job.status, default: 0] += 1
            if let reason = job.failureReason { reasons[reason, default: 0] += 1 }
        }
        let entries = try db.first("SELECT COUNT(*) FROM credit_entries")?.int(0) ?? 0
        figures.insert(contentsOf: [
            "\(jobs.count) jobs: " + Self.listed(states),
            "failed because: " + Self.listed(reasons),
            "failed by Phim itself: " + (phimFailed.isEmpty ? "none" : Self.listed(phimFailed)),
            "\(granted.reduce(0, +)) credits granted, \(settledTotal) settled, \(entries) ledger entries",
            "provider: \(statistics.tasks) tasks made, \(statistics.calls.createTask) creates, \(statistics.calls.recordInfo) status queries "
                + "(\(provider.queriesFailed) failed), \(statistics.calls.callbacksQueued) callbacks sent",
        ], at: 0)
        return invariants
    }

    private static func listed(_ counts: [String: Int]) -> String {
        counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
    }

    private func summary(_ invariants: [Invariant]) -> String {
        var lines = ["fault run: seed \(options.seed), \(options.operations) operations, \(options.users) users, SQLite"]
        lines.append("  operations:")
        for (name, count) in operations.sorted(by: { $0.key < $1.key }) { lines.append("    \(count)\t\(name)") }
        lines.append("  faults injected (\(faults.values.reduce(0, +)) in all):")
        for (name, count) in faults.sorted(by: { $0.key < $1.key }) { lines.append("    \(count)\t\(name)") }
        if !observed.isEmpty {
            lines.append("  seen along the way:")
            for (name, count) in observed.sorted(by: { $0.key < $1.key }) { lines.append("    \(count)\t\(name)") }
        }
        lines.append("  outcome:")
        for figure in figures { lines.append("    \(figure)") }
        lines.append("  invariants:")
        for invariant in invariants {
            lines.append("    \(invariant.holds ? "ok  " : "FAIL") \(invariant.name)\(invariant.holds ? "" : ": " + invariant.detail)")
        }
        if invariants.contains(where: { !$0.holds }) {
            lines.append("  replay: PHIM_FAULT_SEED=\(options.seed) PHIM_FAULT_OPERATIONS=\(options.operations) Tests/fault-run.sh")
        }
        return lines.joined(separator: "\n")
    }
}

/// SplitMix64, as the simulator uses (its own is internal to PhimProvider): the run's one source of chance.
struct FaultRandom: RandomNumberGenerator {
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
