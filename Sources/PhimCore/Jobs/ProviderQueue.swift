import Foundation
import PhimProvider
import PhimSupport

/// The admission queue in front of the provider. A create holds its credits and queues its job
/// at once; the dispatcher sends queued jobs to Kie within Kie's limits: at most
/// `createsPer10s` creates in any 10 seconds and `maxRunning` tasks running there, counted over
/// every process together, since the window (`provider_sends`) and the running jobs live in
/// SQLite and each claim checks them in the write transaction that takes the job.
///
/// Accounts take turns: the next job is the oldest of the account whose last send is oldest,
/// so one account's batch does not make everyone else wait behind it.
///
/// A claim marks its job `submitting` before anything is sent. A process killed after that
/// leaves the job `submitting` (the provider may have it): it is never sent again, as with any
/// create whose outcome is unknown; a callback or the reconciler settles it.
public struct ProviderQueue: Sendable {
    public var provider: any VideoProvider
    public var lifecycle: JobLifecycle
    public var settings: Settings
    public var clock: AppClock

    public init(provider: any VideoProvider, lifecycle: JobLifecycle, settings: Settings, clock: AppClock) {
        self.provider = provider
        self.lifecycle = lifecycle
        self.settings = settings
        self.clock = clock
    }

    /// How long the dispatch pauses after Kie answers 429 (its window is 10 s) or 455 (maintenance).
    static let pauseAfterBusyMillis: Int64 = 5_000
    static let pauseAfterMaintenanceMillis: Int64 = 30_000
    /// How late a send with no answer recorded may still reach Kie (an image upload and the
    /// create, 30 s each at most): it keeps its place in the window that much longer, since its
    /// process may have died mid-send.
    static let unansweredSendMillis: Int64 = 60_000

    // MARK: - Limits

    public struct Limits: Equatable, Sendable {
        public var createsPer10s: Int
        public var maxRunning: Int
        /// Set by an operator (`phim queue limits`, the admin Queue page) rather than the settings.
        public var changedByOperator: Bool

        public init(createsPer10s: Int, maxRunning: Int, changedByOperator: Bool = false) {
            self.createsPer10s = createsPer10s
            self.maxRunning = maxRunning
            self.changedByOperator = changedByOperator
        }
    }

    /// The limits in force: an operator's, else the settings' (`PHIM_PROVIDER_CREATES_PER_10S`,
    /// `PHIM_PROVIDER_MAX_RUNNING`) as the dispatching process recorded them with its lease (so
    /// `phim queue`, run from a shell without the service's environment, shows them too), else
    /// this process's own.
    public func limits(on db: Database) throws -> Limits {
        let row = try db.firstRow("""
            SELECT creates_per_10s, max_running, settings_creates_per_10s, settings_max_running FROM provider_dispatch WHERE id = 1
            """)
        let creates = row?.optionalInt64("creates_per_10s").map(Int.init), running = row?.optionalInt64("max_running").map(Int.init)
        let recordedCreates = row?.optionalInt64("settings_creates_per_10s").map(Int.init)
        let recordedRunning = row?.optionalInt64("settings_max_running").map(Int.init)
        return Limits(createsPer10s: creates ?? recordedCreates ?? settings.providerCreatesPer10s,
                      maxRunning: running ?? recordedRunning ?? settings.providerMaxRunning,
                      changedByOperator: creates != nil || running != nil)
    }

    // MARK: - The dispatcher's lease

    /// Takes or renews the right to dispatch for `seconds`. One process dispatches at a time;
    /// another takes over when its lease runs out (a process killed mid-dispatch).
    public func takeLease(holder: String, seconds: Double, on db: Database) throws -> Bool {
        let now = clock.nowMillis()
        return try db.write {
            try db.run("""
                UPDATE provider_dispatch SET holder = :holder, lease_until = :until,
                  settings_creates_per_10s = :creates, settings_max_running = :running
                WHERE id = 1 AND (holder = :holder OR lease_until < :now)
                """, ["holder": .text(holder), "until": .integer(now + Int64(seconds * 1000)), "now": .integer(now),
                      "creates": .int(settings.providerCreatesPer10s), "running": .int(settings.providerMaxRunning)]) == 1
        }
    }

    /// Gives the lease up (a process stopping), so another takes over at once.
    public func releaseLease(holder: String, on db: Database) throws {
        try db.write {
            _ = try db.run("UPDATE provider_dispatch SET lease_until = 0 WHERE id = 1 AND holder = :holder", ["holder": .text(holder)])
        }
    }

    // MARK: - Claiming

    /// A job taken for sending, with the callback secret made for it (only its hash is stored).
    public struct Claim: Sendable {
        public var job: VideoRecord
        public var secret: String
        public var sendID: Int64
        public var uploadKey: String?
    }

    public enum Next: Equatable, Sendable {
        case claimed(jobID: String)
        /// Nothing may be sent before this time (the window is full, or the dispatch is paused).
        case waitUntil(Int64)
        /// As many tasks run at the provider as the limit allows: one must end first.
        case full
        case empty
    }

    /// Takes the next job if the limits allow a send now, in one write transaction; with `only`,
    /// that job or none.
    public func claimNext(on db: Database, only: String? = nil) throws -> (Next, Claim?) {
        let now = clock.nowMillis()
        return try db.write {
            let limits = try limits(on: db)
            let paused = try db.firstRow("SELECT paused_until FROM provider_dispatch WHERE id = 1")?.int64("paused_until") ?? 0
            if paused > now { return (.waitUntil(paused), nil) }
            // A send holds its place until 10 s after its answer (or, unanswered, after it could last have arrived).
            let window = """
                SELECT CASE WHEN outcome = 'sending' THEN sent_at + :unanswered ELSE sent_at END + 10000 AS leaves_at
                FROM provider_sends WHERE sent_at > :now - 10000 - :unanswered
                """
            let binds: [String: SQLValue] = ["now": .integer(now), "unanswered": .integer(Self.unansweredSendMillis)]
            let sent = try db.firstRow("SELECT COUNT(*) AS sent FROM (\(window)) WHERE leaves_at > :now", binds)?.int("sent") ?? 0
            if sent >= limits.createsPer10s {
                // The window frees a place when the send that filled it leaves.
                let leaves = try db.firstRow("""
                    SELECT leaves_at FROM (\(window)) WHERE leaves_at > :now ORDER BY leaves_at LIMIT 1 OFFSET :skip
                    """, binds.merging(["skip": .int(sent - limits.createsPer10s)]) { $1 })?.int64("leaves_at") ?? now
                return (.waitUntil(leaves + 1), nil)
            }
            if try runningCount(on: db) >= limits.maxRunning { return (.full, nil) }
            guard let picked = try db.firstRow("""
                SELECT j.id FROM video_jobs j LEFT JOIN dispatch_turns t ON t.user_id = j.user_id
                WHERE j.status = 'queued' AND COALESCE(j.dispatch_after, 0) <= :now AND (:only IS NULL OR j.id = :only)
                ORDER BY COALESCE(t.last_sent_at, 0), j.created_at, j.id LIMIT 1
                """, ["now": .integer(now), "only": .optionalText(only)])?.string("id") else {
                let later = try db.firstRow("SELECT MIN(dispatch_after) AS at FROM video_jobs WHERE status = 'queued'")?.optionalInt64("at")
                return (later.map { .waitUntil($0) } ?? .empty, nil)
            }
            let secret = Crypto.randomToken()
            try db.run("""
                UPDATE video_jobs SET status = 'submitting', sent_at = :now, dispatch_attempts = dispatch_attempts + 1,
                  callback_secret_hash = :secret_hash, next_check_at = :next_check, updated_at = :now
                WHERE id = :id AND status = 'queued'
                """, ["id": .text(picked), "now": .integer(now), "secret_hash": .text(Crypto.sha256Hex(secret)),
                      "next_check": .integer(now + Int64(settings.staleAfterSeconds * 1000))])
            let sendID = try db.firstRow("INSERT INTO provider_sends (job_id, sent_at) VALUES (:job, :now) RETURNING id",
                                         ["job": .text(picked), "now": .integer(now)])?.int64("id") ?? 0
            let job = try VideoRecord.find(picked, on: db)!
            try db.run("""
                INSERT INTO dispatch_turns (user_id, last_sent_at) VALUES (:user, :now)
                ON CONFLICT (user_id) DO UPDATE SET last_sent_at = :now
                """, ["user": .text(job.userID), "now": .integer(now)])
            try Feed.bump(userID: job.userID, jobID: job.id, on: db)
            let uploadKey = try db.firstRow("""
                SELECT u.storage_key FROM video_jobs j JOIN uploads u ON u.id = j.upload_id WHERE j.id = :id
                """, ["id": .text(picked)])?.string("storage_key")
            return (.claimed(jobID: picked), Claim(job: job, secret: secret, sendID: sendID, uploadKey: uploadKey))
        }
    }

    func runningCount(on db: Database) throws -> Int {
        try db.firstRow("SELECT COUNT(*) AS running FROM video_jobs WHERE status IN ('submitting', 'pending', 'processing')")?
            .int("running") ?? 0
    }

    // MARK: - Where a queued job stands

    public struct Place: Equatable, Sendable {
        /// 1 for the job sent next.
        public var position: Int
        /// A rough wait: the places ahead at the rate the limit allows, plus a pause in force.
        public var estimatedStartSeconds: Int

        public init(position: Int, estimatedStartSeconds: Int) {
            self.position = position
            self.estimatedStartSeconds = estimatedStartSeconds
        }

        /// A video read as queued that the dispatcher claimed before its place was read: it is being sent.
        public static let beingSent = Place(position: 1, estimatedStartSeconds: 0)
    }

    /// Where each of an account's queued jobs stands, read from the queue as it is: the jobs
    /// ahead of one are the account's own older ones and, from every other account, as many as
    /// the turns before it give them. Nothing is written: positions change as the queue moves,
    /// and the change feed reads them again.
    /// The places of `videos` that were read as queued. One the dispatcher claimed after it was
    /// read is no longer in the queue: it is first in line, being sent (never a queued video without a place).
    public func places(of videos: [VideoRecord], on db: Database) throws -> [String: Place] {
        guard let queued = videos.first(where: { $0.status == .queued }) else { return [:] }
        var places = try places(userID: queued.userID, on: db)
        for video in videos where video.status == .queued && places[video.id] == nil { places[video.id] = .beingSent }
        return places
    }

    public func places(userID: String, on db: Database) throws -> [String: Place] {
        let mine = try db.rows("""
            SELECT id FROM video_jobs WHERE user_id = :user AND status = 'queued' ORDER BY created_at, id
            """, ["user": .text(userID)]).map { $0.string("id") }
        guard !mine.isEmpty else { return [:] }
        struct Account { var queued: Int; var turn: Int64; var oldest: Int64; var id: String }
        let accounts = try db.rows("""
            SELECT j.user_id, COUNT(*) AS queued, COALESCE(MAX(t.last_sent_at), 0) AS turn, MIN(j.created_at) AS oldest
            FROM video_jobs j LEFT JOIN dispatch_turns t ON t.user_id = j.user_id
            WHERE j.status = 'queued' GROUP BY j.user_id
            """).map { Account(queued: $0.int("queued"), turn: $0.int64("turn"), oldest: $0.int64("oldest"), id: $0.string("user_id")) }
        guard let me = accounts.first(where: { $0.id == userID }) else { return [:] }
        let now = clock.nowMillis()
        let limits = try limits(on: db)
        let paused = try db.firstRow("SELECT paused_until FROM provider_dispatch WHERE id = 1")?.int64("paused_until") ?? 0
        let pauseSeconds = Int(max(0, paused - now) / 1000)
        let perSecond = Double(limits.createsPer10s) / 10
        var places: [String: Place] = [:]
        for (index, id) in mine.enumerated() {
            let round = index + 1
            var ahead = index
            for other in accounts where other.id != userID {
                // Each round sends one job per account, in the order of their turns.
                let goesFirst = (other.turn, other.oldest, other.id) < (me.turn, me.oldest, me.id)
                ahead += min(other.queued, round - 1) + (other.queued >= round && goesFirst ? 1 : 0)
            }
            places[id] = Place(position: ahead + 1, estimatedStartSeconds: pauseSeconds + Int((Double(ahead) / perSecond).rounded(.up)))
        }
        return places
    }

    // MARK: - Sending

    /// What became of a send, journaled with it.
    enum SendOutcome: String {
        case accepted, busy, refused, unknown
    }

    /// Sends a claimed job to the provider and records what came of it. A create that certainly
    /// made nothing because the provider was busy goes back to the queue, to be tried again after
    /// a back-off; one whose outcome is unknown stays `submitting`, never sent again.
    public func send(_ claim: Claim, on db: Database) throws {
        let job = claim.job
        var outcome = SendOutcome.unknown
        do {
            guard let model = try ModelCatalog.find(job.model, on: db) else {
                throw ProviderError.rejected(code: 422, message: "the model \(job.model) is no longer in the catalog")
            }
            let request = ProviderTaskRequest(
                wire: model.wire, mode: job.mode, prompt: job.prompt, aspectRatio: job.aspectRatio,
                durationSeconds: job.durationSeconds, resolution: job.resolution, audio: job.audio,
                imageURL: try deliveredImageURL(job, uploadKey: claim.uploadKey),
                callbackURL: "\(settings.publicBaseURL)/api/v1/webhooks/kie/\(job.id)/\(claim.secret)")
            let taskID = try provider.createTask(request)
            outcome = .accepted
            // The create reply is news like any other: if a fast callback already moved the job
            // on, this changes nothing.
            try lifecycle.apply(ProviderTaskStatus(taskID: taskID, state: .waiting), toJob: job.id, source: .createReply, on: db)
            try ModelCatalog.markAccepted(model, at: clock.nowMillis(), on: db)
            Log.info("video sent to the provider", ["job_id": job.id, "task_id": taskID])
        } catch let error as ProviderError {
            outcome = try handleFailedSend(error, job: job, on: db)
        }
        // Kie counts the create when it arrives, after the claim: the send holds its place in
        // the window until 10 s after its answer, so a window never ends early by Kie's count.
        try db.write {
            _ = try db.run("UPDATE provider_sends SET outcome = :outcome, sent_at = MAX(sent_at, :answered) WHERE id = :id",
                           ["outcome": .text(outcome.rawValue), "answered": .integer(clock.nowMillis()), "id": .integer(claim.sendID)])
        }
    }

    /// Claims and sends, on this thread, until nothing more may be sent now (with `only`, that
    /// job alone). For tests, and for a create in `dispatchOnCreate` mode.
    @discardableResult
    public func runPass(on db: Database, only: String? = nil) throws -> Next {
        while true {
            let (next, claim) = try claimNext(on: db, only: only)
            guard let claim else { return next }
            try send(claim, on: db)
        }
    }

    private func handleFailedSend(_ error: ProviderError, job: VideoRecord, on db: Database) throws -> SendOutcome {
        let fields: KeyValuePairs<String, String> = ["job_id": job.id, "model": job.model, "error": "\(error)"]
        if case .rejected(let code, let message) = error, ModelCatalog.isModelRefusal(code: code, message: message) {
            // The model itself is gone at the provider: refund, and refuse its creates up front
            // until it is worth trying again.
            Log.error("provider refused the model; marked unavailable", fields)
            let now = clock.nowMillis()
            try db.write { // the refund and the mark together (the failure's write nests in this one)
                try ModelCatalog.markUnavailable(job.model, reason: message, at: now, recheckMinutes: settings.modelRecheckMinutes, on: db)
                try lifecycle.fail(jobID: job.id, reason: .modelUnavailable, providerCode: String(code), providerMessage: message,
                                   onlyIf: [.submitting], on: db)
            }
            return .refused
        }
        switch error {
        case .ambiguous, .invalidResponse:
            Log.warning("provider create outcome unknown; waiting for a callback", fields)
            return .unknown
        case .unreachable:
            // Nothing reached the provider: the job waits its turn again.
            Log.warning("provider unreachable; the video goes back to the queue", fields)
            try requeue(job, pauseMillis: 0, on: db)
            return .busy
        case .rejected(let code, let message):
            switch code {
            case 429, 455, 500...599:
                // Kie made nothing (429 is "not queued"): back off and send the same job again.
                Log.warning("provider busy; the video goes back to the queue", fields)
                try requeue(job, pauseMillis: code == 429 ? Self.pauseAfterBusyMillis : code == 455 ? Self.pauseAfterMaintenanceMillis : 0,
                            on: db)
                return .busy
            case 401, 403, 505:
                Log.error("provider refused our credentials or the feature", fields)
            case 402:
                Log.error("provider account is out of credits", fields)
            default:
                Log.warning("provider rejected the input", fields)
            }
            try lifecycle.fail(jobID: job.id, reason: .providerError, providerCode: String(code), providerMessage: message,
                               onlyIf: [.submitting], on: db)
            return .refused
        }
    }

    /// Puts a job whose send certainly made nothing back in the queue, not before a back-off
    /// that doubles with each attempt (1 s, 2 s, 4 s … at most 60 s); with `pauseMillis`, no
    /// job is sent before the pause ends.
    private func requeue(_ job: VideoRecord, pauseMillis: Int64, on db: Database) throws {
        let now = clock.nowMillis()
        try db.write {
            let attempts = try db.firstRow("SELECT dispatch_attempts FROM video_jobs WHERE id = :id", ["id": .text(job.id)])?
                .int("dispatch_attempts") ?? 1
            let backoff = Int64(min(60, 1 << min(6, max(0, attempts - 1)))) * 1000
            let moved = try db.run("""
                UPDATE video_jobs SET status = 'queued', sent_at = NULL, dispatch_after = :after, next_check_at = NULL,
                  updated_at = :now
                WHERE id = :id AND status = 'submitting' AND provider_task_id IS NULL
                """, ["id": .text(job.id), "after": .integer(now + backoff), "now": .integer(now)])
            if moved == 1 { try Feed.bump(userID: job.userID, jobID: job.id, on: db) }
            if pauseMillis > 0 {
                _ = try db.run("UPDATE provider_dispatch SET paused_until = MAX(paused_until, :until) WHERE id = 1",
                               ["until": .integer(now + pauseMillis)])
            }
        }
    }

    /// The image URL the provider is given. With a public Phim, its own `/files/` URL; without
    /// one, a copy on Kie's file host, made now (its files live a day at least), named with the
    /// image's real extension, since that host serves a file with the type its name says.
    private func deliveredImageURL(_ job: VideoRecord, uploadKey: String?) throws -> String? {
        guard let imageURL = job.imageURL else { return nil }
        guard settings.imageDelivery == .kieUpload else { return imageURL }
        guard let key = uploadKey, let bytes = FileManager.default.contents(atPath: "\(settings.uploadsDirectory)/\(key)") else {
            Log.error("a reference image is missing from the uploads directory", ["job_id": job.id, "key": uploadKey ?? ""])
            throw ProviderError.rejected(code: 422, message: "the reference image is missing")
        }
        do {
            return try provider.uploadFile(bytes, fileName: key)
        } catch ProviderError.ambiguous, ProviderError.invalidResponse {
            // An upload that may have landed still made no task: the job waits its turn again.
            throw ProviderError.unreachable(detail: "image upload")
        }
    }
}
