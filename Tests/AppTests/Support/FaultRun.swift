@testable import App
import Fluent
import Foundation
import NIOConcurrencyHelpers
import Testing
import Vapor
import VaporTesting

/// The provider as a fault run sees it: the simulator, plus the faults only a process or a
/// network can have (a crash mid-create, a refused connection, failing status queries).
final class FaultyProvider: VideoProvider, Sendable {
    enum CreateFault: String, Sendable {
        case crashBeforeSend = "service killed between the hold and the provider call"
        case crashAfterSend = "service killed after the provider accepted the create"
        case unreachable = "provider unreachable on create"
    }

    /// The service process dying mid-request: the request never answers, nothing after this runs.
    struct SimulatedCrash: Error {}

    let inner: SimulatorProvider
    private let createFaults = NIOLockedValueBox<[CreateFault]>([])
    private let failingQueries = NIOLockedValueBox(0)

    init(_ inner: SimulatorProvider) { self.inner = inner }

    func queue(_ fault: CreateFault) { createFaults.withLockedValue { $0.append(fault) } }
    func clearQueued() { createFaults.withLockedValue { $0.removeAll() } }
    var queued: Int { createFaults.withLockedValue { $0.count } }
    func failNextQueries(_ count: Int) { failingQueries.withLockedValue { $0 += count } }

    func createTask(_ request: ProviderTaskRequest) async throws -> ProviderTaskID {
        switch createFaults.withLockedValue({ $0.isEmpty ? nil : $0.removeFirst() }) {
        case .crashBeforeSend?: throw SimulatedCrash()
        case .crashAfterSend?:
            _ = try await inner.createTask(request)
            throw SimulatedCrash()
        case .unreachable?: throw ProviderError.unreachable(detail: "simulated connection refused")
        case nil: return try await inner.createTask(request)
        }
    }

    func taskStatus(_ id: ProviderTaskID) async throws -> ProviderTaskStatus {
        let fails = failingQueries.withLockedValue { count in
            guard count > 0 else { return false }
            count -= 1
            return true
        }
        if fails { throw ProviderError.unreachable(detail: "simulated query failure") }
        return try await inner.taskStatus(id)
    }
}

/// A seeded, repeatable simulation that drives the real service (its HTTP handlers, its
/// database, its reconciler) through random operations from many users while the provider, the
/// network and the process misbehave, then checks that money and privacy survived.
///
/// Everything random comes from one seed, so a failing run is replayed with the same seed
/// (`PHIM_FAULT_SEED`). Operations run one at a time, except double submissions, which race.
final class FaultRun {
    struct Settings {
        var seed: UInt64
        var operations: Int
        var users = 12
    }

    struct Invariant {
        var name: String
        var holds: Bool
        var detail: String
    }

    let settings: Settings
    let config: AppConfig
    let clock: ManualClock
    let simulator: KieSimulator
    let provider: FaultyProvider
    private(set) var app: Application
    private var random: SplitMix64

    private(set) var operations: [String: Int] = [:]
    private(set) var faults: [String: Int] = [:]
    private var violations: [String] = []

    private var users: [TestUser] = []
    private var granted: [UUID: Int] = [:]
    /// Creates the service answered 2xx, with who made them.
    private var acknowledged: [(id: UUID, owner: Int)] = []
    private var usedKeys: [(owner: Int, key: String, prompt: String)] = []
    private var heldBack: [KieSimulator.Callback] = []
    /// Real completion callbacks seen, to forge from.
    private var seenCallbacks: [KieSimulator.Callback] = []
    private var keyCounter = 0
    /// Jobs by final state and money moved, for the summary.
    private var figures: [String] = []

    init(settings: Settings, config: AppConfig, clock: ManualClock, app: Application) throws {
        self.settings = settings
        self.config = config
        self.clock = clock
        self.app = app
        // The provider outlives every restart of the service, so it is made here, not by `configure`.
        let simulator = KieSimulator(settings: .init(config.simulator, webhookHMACKey: config.webhookHMACKey), clock: clock.appClock,
                                     mediaBaseURL: { "https://cdn.simulator.test" })
        self.simulator = simulator
        provider = FaultyProvider(SimulatorProvider(simulator: simulator))
        app.provider = provider
        random = SplitMix64(seed: settings.seed ^ 0xFA17)
    }

    private var context: TestContext { TestContext(app: app, clock: clock, simulator: simulator) }

    // MARK: - Randomness

    private func roll(_ bound: Int) -> Int { Int(random.next() % UInt64(bound)) }
    private func chance(_ percent: Int) -> Bool { roll(100) < percent }
    private func pick<T>(_ items: [T]) -> T? { items.isEmpty ? nil : items[roll(items.count)] }

    private func count(_ operation: String) { operations[operation, default: 0] += 1 }
    private func inject(_ fault: String) { faults[fault, default: 0] += 1 }
    private func violation(_ text: String) { violations.append(text) }

    // MARK: - The run

    func run() async throws -> [Invariant] {
        for index in 0..<settings.users {
            let credits = 7_000 * (1 + roll(20))
            let user = try await context.makeUser("fault-\(index)@phim.test", credits: credits)
            users.append(user)
            granted[user.id] = credits
        }
        for _ in 0..<settings.operations {
            switch roll(100) {
            case 0..<30: try await create()
            case 30..<36: try await doubleSubmit()
            case 36..<40: try await reuseKey()
            case 40..<46: try await cancel()
            case 46..<50: try await delete()
            case 50..<54: try await probeAnotherUsersVideo()
            case 54..<57: try await grant()
            case 57..<85: try await passTime(seconds: 1 + roll(30))
            case 85..<90: try await reconcile()
            case 90..<94: try await releaseHeldBack()
            case 94..<99: try await forgeCallback()
            default: try await restart(reason: "service killed between requests")
            }
        }
        try await settle()
        return try await checkInvariants()
    }

    // MARK: - Operations

    private func create() async throws {
        count("create")
        let owner = roll(users.count)
        var prompt = "Fault run clip \(operations["create", default: 0])"
        if chance(12) { prompt += " #fail" }
        if chance(5) { prompt += " #reject" }
        if chance(5) { prompt += " #slow" }
        var key: String?
        if chance(60) {
            keyCounter += 1
            key = "fault-key-\(keyCounter)"
        }
        // Some with a deadline, a few of them shorter than a #slow job takes.
        let deadline = chance(10) ? #", "deadline_seconds": \#(60 + roll(540))"# : ""
        let fault = await injectCreateFault()
        let response = try await context.createVideo(#"{"prompt": "\#(prompt)", "duration": \#(chance(30) ? 15 : 10)\#(deadline)}"#,
                                                     as: users[owner], idempotencyKey: key)
        // A fault counts only if the create got as far as the provider and used it.
        if let fault, await simulator.pendingFaults == 0, provider.queued == 0 { inject(fault) }
        await simulator.clearFaults()
        provider.clearQueued()
        try await record(response, owner: owner, key: key, prompt: prompt)
    }

    /// Queues one fault for the next provider create, and returns its name.
    private func injectCreateFault() async -> String? {
        let fault: FaultyProvider.CreateFault
        switch roll(100) {
        case 0..<5: fault = .crashBeforeSend
        case 5..<8: fault = .crashAfterSend
        case 8..<11: fault = .unreachable
        case 11..<14:
            await simulator.inject(.reply(code: 500, message: "simulated server error"))
            return "provider answered 5xx on create"
        case 14..<17:
            await simulator.inject(.reply(code: 429, message: "simulated rate limit"))
            return "provider answered 429 on create"
        case 17..<19:
            await simulator.inject(.reply(code: 402, message: "simulated: out of credits"))
            return "provider answered 402 on create"
        case 19..<23:
            await simulator.inject(.acceptThenHang)
            return "provider timed out after accepting the create"
        default: return nil
        }
        provider.queue(fault)
        return fault.rawValue
    }

    private func record(_ response: TestingHTTPResponse, owner: Int, key: String?, prompt: String) async throws {
        switch response.status.code {
        case 200, 202:
            guard let id = response.json["id"].uuid else { return violation("a 2xx create without an id") }
            if response.status.code == 202 { acknowledged.append((id, owner)) }
            if let key { usedKeys.append((owner, key, prompt)) }
        case 500:
            // The simulated crash: the client never heard back; the process is gone.
            try await restart(reason: nil)
        case 402, 422, 429, 502, 503:
            break // refused with its reason (and refunded at once if the provider refused)
        default:
            violation("create answered \(response.status.code) \(response.errorCode ?? "")")
        }
    }

    private func doubleSubmit() async throws {
        count("double submit (two racing creates, one key)")
        let owner = roll(users.count)
        keyCounter += 1
        let key = "fault-double-\(keyCounter)"
        let body = #"{"prompt": "Double submitted \#(keyCounter)"}"#
        let ctx = context
        let user = users[owner]
        async let first = ctx.createVideo(body, as: user, idempotencyKey: key)
        async let second = ctx.createVideo(body, as: user, idempotencyKey: key)
        let answers = try await [first, second]
        let ids = Set(answers.compactMap { $0.json["id"].uuid })
        let made = try await VideoJob.query(on: app.db).filter(\.$user.$id == user.id).filter(\.$idempotencyKey == key).count()
        if ids.count > 1 || made > 1 { violation("a double submission made \(made) jobs (\(ids.count) ids)") }
        if let id = ids.first, answers.contains(where: { $0.status == .accepted }) {
            acknowledged.append((id, owner))
            usedKeys.append((owner, key, "Double submitted \(keyCounter)"))
        }
    }

    private func reuseKey() async throws {
        guard let used = pick(usedKeys) else { return }
        count("key reused with another body")
        let before = try await VideoJob.query(on: app.db).count()
        let response = try await context.createVideo(#"{"prompt": "\#(used.prompt) but different"}"#, as: users[used.owner],
                                                      idempotencyKey: used.key)
        if response.errorCode != "idempotency_key_reused" { violation("a reused key answered \(response.status.code)") }
        if try await VideoJob.query(on: app.db).count() != before { violation("a reused key made a job") }
    }

    private func cancel() async throws {
        guard let video = pick(acknowledged) else { return }
        count("cancel")
        let response = try await context.request(.POST, "/api/v1/videos/\(video.id)/cancel", as: users[video.owner])
        if ![200, 404, 409].contains(response.status.code) { violation("cancel answered \(response.status.code)") }
    }

    private func delete() async throws {
        guard let video = pick(acknowledged) else { return }
        count("delete")
        let response = try await context.request(.DELETE, "/api/v1/videos/\(video.id)", as: users[video.owner])
        if ![204, 404].contains(response.status.code) { violation("delete answered \(response.status.code)") }
    }

    private func probeAnotherUsersVideo() async throws {
        guard let video = pick(acknowledged), users.count > 1 else { return }
        count("another user's video probed")
        let stranger = (video.owner + 1 + roll(users.count - 1)) % users.count
        let before = try await context.job(video.id)
        for (method, suffix) in [(HTTPMethod.GET, ""), (.DELETE, ""), (.POST, "/cancel")] {
            let response = try await context.request(method, "/api/v1/videos/\(video.id)\(suffix)", as: users[stranger])
            if response.status != .notFound { violation("a stranger's \(method) on a video answered \(response.status.code)") }
        }
        let after = try await context.job(video.id)
        if after.deletedAt != before.deletedAt || (before.status == .pending && after.status == .canceled) {
            violation("a stranger changed a video")
        }
    }

    private func grant() async throws {
        count("grant")
        let user = users[roll(users.count)]
        let amount = 1_000 * (1 + roll(50))
        let now = clock.now
        try await app.store.writeTransaction { db in
            try await CreditLedger.grant(userID: user.id, amount: amount, reason: "fault run", at: now, on: db)
        }
        granted[user.id, default: 0] += amount
    }

    private func reconcile() async throws {
        count("reconciler pass")
        if chance(30) {
            let failing = 1 + roll(5)
            provider.failNextQueries(failing)
            faults["provider status query failed", default: 0] += failing
        }
        _ = try await context.reconcilePass()
    }

    // MARK: - Time and callbacks

    private func passTime(seconds: Int) async throws {
        count("time passes")
        clock.advance(by: TimeInterval(seconds))
        var due = await simulator.takeDueCallbacks()
        if due.count > 1, chance(30) {
            due.reverse()
            inject("callbacks reordered")
        }
        for callback in due {
            if callback.kind == .completion {
                seenCallbacks.append(callback)
                if seenCallbacks.count > 200 { seenCallbacks.removeFirst() }
            }
            switch roll(100) {
            case 0..<12: inject("callback dropped")
            case 12..<22:
                heldBack.append(callback)
                inject("callback delayed")
            case 22..<30:
                inject("callback duplicated")
                try await deliver(callback)
                try await deliver(callback)
            default: try await deliver(callback)
            }
        }
    }

    private func releaseHeldBack() async throws {
        guard !heldBack.isEmpty else { return }
        count("delayed callbacks arrive")
        heldBack.shuffle(using: &random)
        let arriving = heldBack.prefix(1 + roll(heldBack.count))
        heldBack.removeFirst(arriving.count)
        for callback in arriving { try await deliver(callback) }
    }

    private func deliver(_ callback: KieSimulator.Callback) async throws {
        let status = try await context.deliver([callback]).first?.status.code ?? 0
        // 401: signed too long ago (a delayed callback outside the replay window).
        if ![200, 401].contains(status) { violation("a genuine callback answered \(status)") }
    }

    /// Sends a callback no provider sent, and checks it changed nothing it should not have.
    private func forgeCallback() async throws {
        guard let genuine = pick(seenCallbacks), var path = URLComponents(string: genuine.url)?.path,
              let jobID = UUID(uuidString: String(path.split(separator: "/")[4]))
        else { return }
        path = path.replacingOccurrences(of: "/progress", with: "")
        var forged = genuine
        var target = jobID
        let kind: String
        switch roll(4) {
        case 0:
            kind = "forged callback: wrong secret"
            forged.url = "https://phim.test/" + path.split(separator: "/").dropLast().joined(separator: "/") + "/" + VideoCreation.randomToken()
        case 1:
            guard let other = pick(acknowledged)?.id, other != jobID else { return }
            kind = "forged callback: another job's id"
            target = other
            forged.url = "https://phim.test" + path.replacingOccurrences(of: jobID.uuidString.lowercased(), with: other.uuidString.lowercased())
        case 2:
            kind = "forged callback: tampered body (outcome flipped)"
            var text = String(decoding: genuine.body, as: UTF8.self)
            text = text.contains(#""state":"success""#)
                ? text.replacingOccurrences(of: #""state":"success""#, with: #""state":"fail""#)
                : text.replacingOccurrences(of: #""state":"fail""#, with: #""state":"success""#)
                    .replacingOccurrences(of: #""resultJson":null"#, with: #""resultJson":"{\"resultUrls\":[\"https://evil.test/x.mp4\"]}""#)
            forged.body = Data(text.utf8)
        default:
            kind = "forged callback: tampered body (another task id)"
            forged.body = Data(String(decoding: genuine.body, as: UTF8.self)
                .replacingOccurrences(of: genuine.taskID, with: String(genuine.taskID.reversed())).utf8)
        }
        inject(kind)
        let before = try await context.job(target)
        let status = try await context.deliver([forged]).first?.status.code ?? 0
        let after = try await context.job(target)
        if kind.hasPrefix("forged callback: tampered body (outcome") {
            // The URL and signature are genuine; only the provider's confirmation may move money.
            if status >= 500 { violation("\(kind) answered \(status)") }
            try await expectAgreesWithProvider(after, what: kind)
        } else {
            if status < 400 || status >= 500 { violation("\(kind) answered \(status)") }
            if after.status != before.status || after.holdState != before.holdState || after.updatedAt != before.updatedAt
                || after.videoURL != before.videoURL {
                violation("\(kind) changed job \(target)")
            }
        }
    }

    /// A finished job's outcome must be what the provider says, unless Phim ended it for a reason of its own.
    private func expectAgreesWithProvider(_ job: VideoJob, what: String) async throws {
        guard let taskID = job.providerTaskID, job.status.isTerminal else { return }
        let truth = try await provider.inner.taskStatus(taskID)
        switch job.status {
        case .completed where truth.state != .success:
            violation("\(what): job completed while the provider says \(truth.state)")
        case .failed where [.providerFailed, .contentRejected].contains(job.failureReason) && truth.state != .fail:
            violation("\(what): job failed while the provider says \(truth.state)")
        default: break
        }
    }

    // MARK: - Restarts

    private func restart(reason: String?) async throws {
        if let reason { inject(reason) }
        count("service restarted")
        try await app.asyncShutdown()
        app = try await startTestApp(config, clock: clock, createSchema: false)
        app.provider = provider
    }

    // MARK: - The end

    /// Lets time run out with a well-behaved network: every callback arrives, the reconciler
    /// runs, until every job has ended (the longest wait is the job time limit).
    private func settle() async throws {
        provider.clearQueued()
        let limit = Int(config.reconciler.jobTimeout.timeInterval + config.reconciler.unconfirmedSubmissionTimeout.timeInterval)
        var waited = 0
        while waited <= limit + 120 {
            clock.advance(by: 30)
            waited += 30
            for callback in heldBack + (await simulator.takeDueCallbacks()) { try await deliver(callback) }
            heldBack = []
            _ = try await context.reconcilePass()
            if try await VideoJob.query(on: app.db).filter(\.$status ~~ JobStatus.unfinished).count() == 0 { break }
        }
    }

    func checkInvariants() async throws -> [Invariant] {
        var invariants: [Invariant] = []
        func check(_ name: String, _ holds: Bool, _ detail: @autoclosure () -> String = "") {
            invariants.append(Invariant(name: name, holds: holds, detail: holds ? "" : detail()))
        }
        let jobs = try await VideoJob.query(on: app.db).all()
        let unfinished = jobs.filter { !$0.status.isTerminal }
        check("every job is terminal", unfinished.isEmpty, "\(unfinished.count) unfinished")
        let openHolds = jobs.filter { $0.status.isTerminal && $0.holdState == .open }
        check("no hold is open on a terminal job", openHolds.isEmpty, "\(openHolds.count) open")

        let report = try await LedgerVerifier(db: app.db).verify()
        check("every balance equals its ledger (phim ledger verify)", report.isConsistent, report.problems.prefix(3).joined(separator: "; "))

        var mismatches: [String] = []
        for user in users {
            let settled = jobs.filter { $0.$user.id == user.id && $0.status == .completed }.reduce(0) { $0 + $1.priceCredits }
            let balances = try await context.balances(user)
            if balances.available != granted[user.id, default: 0] - settled || balances.held != 0 {
                mismatches.append("\(user.email): \(balances) vs granted \(granted[user.id, default: 0]) - settled \(settled)")
            }
        }
        check("every balance equals grants minus settled jobs, nothing held", mismatches.isEmpty, mismatches.prefix(3).joined(separator: "; "))

        var missing = 0
        for video in acknowledged {
            guard let job = jobs.first(where: { $0.id == video.id }), job.$user.id == users[video.owner].id else {
                missing += 1
                continue
            }
        }
        check("every acknowledged create exists, owned by its creator", missing == 0, "\(missing) missing")

        let before = violations.count
        for job in jobs { try await expectAgreesWithProvider(job, what: "final state") }
        check("every outcome is the provider's (no forged success or failure stuck)", violations.count == before,
              violations.suffix(violations.count - before).prefix(3).joined(separator: "; "))

        var leaks: [String] = []
        for user in users {
            var seen: Set<UUID> = []
            var cursor: String?
            repeat {
                let page = try await context.request(.GET, "/api/v1/videos?limit=100" + (cursor.map { "&cursor=\($0)" } ?? ""), as: user)
                for item in page.json["data"].array { if let id = item["id"].uuid { seen.insert(id) } }
                cursor = page.json["next_cursor"].string
            } while cursor != nil
            let own = Set(jobs.filter { $0.$user.id == user.id && $0.deletedAt == nil }.compactMap(\.id))
            if seen != own { leaks.append("\(user.email) saw \(seen.subtracting(own).count) foreign, missed \(own.subtracting(seen).count)") }
        }
        check("every user saw exactly their own videos", leaks.isEmpty, leaks.prefix(3).joined(separator: "; "))

        check("no forged callback changed anything, no request failed unexpectedly", violations.isEmpty,
              violations.prefix(5).joined(separator: "; "))

        var states: [String: Int] = [:]
        for job in jobs { states[job.status.rawValue, default: 0] += 1 }
        var reasons: [String: Int] = [:]
        for job in jobs { if let reason = job.failureReason { reasons[reason.rawValue, default: 0] += 1 } }
        let settled = jobs.filter { $0.status == .completed }.reduce(0) { $0 + $1.priceCredits }
        figures = ["\(jobs.count) jobs: " + states.sorted(by: { $0.key < $1.key }).map { "\($0.value) \($0.key)" }.joined(separator: ", "),
                   "failed because: " + reasons.sorted(by: { $0.key < $1.key }).map { "\($0.value) \($0.key)" }.joined(separator: ", "),
                   "\(granted.values.reduce(0, +)) credits granted, \(settled) settled, \(report.entriesChecked) ledger entries",
                   "\(await simulator.callCounts.createTask) provider creates, \(await simulator.callCounts.recordInfo) status queries"]
        return invariants
    }

    /// The figures, as the closing note and RELIABILITY.md quote them.
    func summary(_ invariants: [Invariant], database: String) -> String {
        var lines = ["fault run: seed \(settings.seed), \(settings.operations) operations, \(settings.users) users, \(database)"]
        lines.append("  operations:")
        for (name, count) in operations.sorted(by: { $0.key < $1.key }) { lines.append("    \(count)\t\(name)") }
        lines.append("  faults injected (\(faults.values.reduce(0, +)) in all):")
        for (name, count) in faults.sorted(by: { $0.key < $1.key }) { lines.append("    \(count)\t\(name)") }
        lines.append("  outcome:")
        for figure in figures { lines.append("    \(figure)") }
        lines.append("  invariants:")
        for invariant in invariants {
            lines.append("    \(invariant.holds ? "ok  " : "FAIL") \(invariant.name)\(invariant.holds ? "" : ": " + invariant.detail)")
        }
        if invariants.contains(where: { !$0.holds }) {
            lines.append("  replay: PHIM_FAULT_SEED=\(settings.seed) PHIM_FAULT_OPERATIONS=\(settings.operations) scripts/fault_run.sh")
        }
        return lines.joined(separator: "\n")
    }
}
