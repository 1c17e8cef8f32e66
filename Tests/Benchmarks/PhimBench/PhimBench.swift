import ArgumentParser
import Foundation
import PhimCore
import PhimSupport

/// `phim-bench`: the benchmark's own tools, beside the product (never shipped in `phim`).
///   - `seed`: fills an empty database as the service would have left it after months of use;
///   - `commit-rate`: the raw rate of small write transactions on the same file, through the same
///     connection settings and write rule the service uses, to hold creates against.
@main
struct PhimBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "phim-bench", abstract: "Benchmark data and the raw commit rate.",
                                                    subcommands: [Seed.self, CommitRate.self])
}

/// Accounts with API keys and sessions, finished videos with their hold and settle entries, and
/// videos still waiting for the provider. `phim ledger verify` passes on the result.
///
/// Writes the clients' files into `--out`: `api-key.txt` and `session.txt` (the first account's),
/// `video-ids.txt` (its videos), `keys.txt` (an API key of each account with waiting videos), `callbacks.txt` (callback path and task of every waiting video,
/// with the owner's index) and `tabs.txt` (a session cookie per account that has waiting videos).
struct Seed: ParsableCommand {
    @Option(help: "The SQLite file (created; must hold no accounts).") var database: String
    @Option(help: "Accounts.") var users = 10_000
    @Option(help: "Finished videos, spread round-robin over the accounts.") var videos = 200_000
    @Option(help: "Accounts (the first ones) that have videos waiting for the provider.") var waitingUsers = 100
    @Option(help: "Waiting videos per such account.") var waitingPerUser = 20
    @Option(help: "Folder for the clients' files.") var out: String

    static let price = 4_500
    static let grant = 1_000_000_000

    func run() throws {
        Crypto.initialize()
        guard users > 0, videos >= 0, (0...users).contains(waitingUsers), waitingPerUser >= 0 else {
            throw ValidationError("--users above 0; --videos, --waiting-per-user not below 0; --waiting-users at most --users")
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let db = try Database(path: database)
        try Migrations.run(on: db)
        // A file nobody else uses yet: no syncs and a large cache while it is filled.
        try db.execute("PRAGMA synchronous = OFF; PRAGMA cache_size = -262144")
        guard try db.first("SELECT COUNT(*) FROM users")?.int(0) == 0 else { throw ValidationError("\(database) already has accounts") }
        // One real Argon2id hash shared by every account: hashing 10,000 passwords would take
        // minutes and measure nothing the benchmark reads.
        guard let passwordHash = PasswordHasher(cost: .minimum).hash("bench-password") else { throw ValidationError("hashing failed") }
        let now = Date().unixMillis
        let started = Date()

        var userIDs: [String] = []
        var firstKey = "", tabs: [String] = [], keys: [String] = []
        var firstSession = ""
        for start in stride(from: 0, to: users, by: 2_000) {
            try db.write {
                for index in start..<min(start + 2_000, users) {
                    let id = UUID().uuidString.lowercased()
                    userIDs.append(id)
                    let created = now - 86_400_000 * 60
                    // The balance the entries below leave, so the ledger adds up.
                    let finished = videos / users + (index < videos % users ? 1 : 0)
                    let waiting = index < waitingUsers ? waitingPerUser : 0
                    try db.run("""
                        INSERT INTO users (id, email, password_hash, credits_available, credits_held, created_at)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """, [.text(id), .text("bench\(index)@phim.test"), .text(passwordHash),
                              .int(Self.grant - (finished + waiting) * Self.price), .int(waiting * Self.price), .integer(created)])
                    try entry(db, user: id, job: nil, kind: "grant", available: Self.grant, held: 0, reason: "benchmark", key: nil, at: created)
                    let key = "phim_" + Crypto.randomToken()
                    try db.run("INSERT INTO api_keys (id, user_id, name, key_prefix, key_hash, created_at) VALUES (?, ?, 'bench', ?, ?, ?)",
                               [.text(UUID().uuidString.lowercased()), .text(id), .text(String(key.prefix(12))),
                                .text(Crypto.sha256Hex(key)), .integer(created)])
                    if index == 0 { firstKey = key }
                    if index < max(1, waitingUsers) { keys.append(key) }
                    if index < max(1, waitingUsers) {
                        let token = Crypto.randomToken(), csrf = Crypto.randomToken()
                        try db.run("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                                   [.text(Crypto.sha256Hex(token)), .text(id), .text(csrf), .integer(now), .integer(now + 86_400_000 * 7)])
                        tabs.append("\(index) \(token)")
                        if index == 0 { firstSession = "\(token) \(csrf)" }
                    }
                }
            }
        }

        // Finished videos, oldest first, ten seconds apart.
        var firstUsersVideos: [String] = []
        for start in stride(from: 0, to: videos, by: 5_000) {
            try db.write {
                for index in start..<min(start + 5_000, videos) {
                    let owner = index % users
                    let created = now - Int64(videos - index) * 10_000
                    let id = try job(db, user: userIDs[owner], index: index, created: created, finished: true)
                    try entry(db, user: userIDs[owner], job: id, kind: "hold", available: -Self.price, held: Self.price, reason: nil, key: "hold:\(id)", at: created)
                    try entry(db, user: userIDs[owner], job: id, kind: "settle", available: 0, held: -Self.price, reason: nil, key: "close:\(id)", at: created + 60_000)
                    if owner == 0 { firstUsersVideos.append(id) }
                }
            }
        }

        // Videos the provider is still making, checked far in the future (the benchmark's
        // callbacks move them, not the reconciler).
        var callbacks: [String] = []
        try db.write {
            for owner in 0..<waitingUsers {
                for n in 0..<waitingPerUser {
                    let index = videos + owner * waitingPerUser + n
                    let secret = "bench-secret-\(index)"
                    let id = try job(db, user: userIDs[owner], index: index, created: now - 1_000, finished: false, secret: secret)
                    try entry(db, user: userIDs[owner], job: id, kind: "hold", available: -Self.price, held: Self.price, reason: nil, key: "hold:\(id)", at: now - 1_000)
                    callbacks.append("/api/v1/webhooks/kie/\(id)/\(secret)/progress \(Self.taskID(index)) \(owner) \(id)")
                    if owner == 0 { firstUsersVideos.append(id) }
                }
            }
            // The users' own change feeds, as the service keeps them.
            try db.run("UPDATE users SET feed_version = (SELECT COALESCE(MAX(feed_version), 0) FROM video_jobs WHERE video_jobs.user_id = users.id)")
        }
        try db.execute("ANALYZE")

        try firstKey.write(toFile: out + "/api-key.txt", atomically: true, encoding: .utf8)
        try firstSession.write(toFile: out + "/session.txt", atomically: true, encoding: .utf8)
        try firstUsersVideos.joined(separator: "\n").write(toFile: out + "/video-ids.txt", atomically: true, encoding: .utf8)
        try callbacks.joined(separator: "\n").write(toFile: out + "/callbacks.txt", atomically: true, encoding: .utf8)
        try tabs.joined(separator: "\n").write(toFile: out + "/tabs.txt", atomically: true, encoding: .utf8)
        try keys.joined(separator: "\n").write(toFile: out + "/keys.txt", atomically: true, encoding: .utf8)
        print("seeded \(users) accounts, \(videos) finished and \(callbacks.count) waiting videos in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    static func taskID(_ index: Int) -> String { "bench" + String(repeating: "0", count: max(0, 12 - String(index).count)) + String(index) }

    private func job(_ db: Database, user: String, index: Int, created: Int64, finished: Bool, secret: String? = nil) throws -> String {
        let id = UUID().uuidString.lowercased()
        let landscape = index % 3 != 0
        try db.run("""
            INSERT INTO video_jobs (id, user_id, mode, model, prompt, aspect_ratio, duration_seconds, resolution, audio, provider_model,
              provider_list_millicredits, price_credits, request_fingerprint, status, progress, hold_state, callback_secret_hash,
              provider_task_id, provider_state, video_url, created_at, updated_at, finished_at, last_heard_at, next_check_at, feed_version)
            VALUES (?, ?, 'text_to_video', 'seedance-2-mini', ?, ?, 5, '480p', 0, 'bytedance/seedance-2-mini', 19000,
              ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(id), .text(user), .text("Benchmark video \(index): a paper boat drifts across a puddle at dusk, lanterns reflected in the water"),
                  .text(landscape ? "16:9" : "9:16"), .int(Self.price), .text(Crypto.sha256Hex("bench-\(index)")),
                  .text(finished ? "completed" : "processing"), .int(finished ? 100 : 50), .text(finished ? "settled" : "open"),
                  .text(Crypto.sha256Hex(secret ?? "unused-\(index)")), .text(Self.taskID(index)), .text(finished ? "success" : "generating"),
                  finished ? .text("https://cdn.bench.test/\(index).mp4") : .null,
                  .integer(created), .integer(created), finished ? .integer(created + 60_000) : .null, .integer(created),
                  finished ? .null : .integer(created + 86_400_000 * 365), .int(index + 1)])
        return id
    }

    private func entry(_ db: Database, user: String, job: String?, kind: String, available: Int, held: Int,
                       reason: String?, key: String?, at time: Int64) throws {
        try db.run("""
            INSERT INTO credit_entries (id, user_id, job_id, kind, available_delta, held_delta, reason, unique_key, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(UUID().uuidString.lowercased()), .text(user), .optionalText(job), .text(kind), .int(available), .int(held),
                  .optionalText(reason), .optionalText(key), .integer(time)])
    }
}

/// Committed one-row write transactions per second on a scratch table of the given file, from
/// several threads at once, each with its own connection, through `Database.write` (the
/// service's `BEGIN IMMEDIATE` behind the in-process writer lock, WAL, synchronous=NORMAL).
struct CommitRate: ParsableCommand {
    @Option(help: "The SQLite file (the benchmark's own).") var database: String
    @Option(help: "How long to write.") var seconds = 5.0
    @Option(help: "Writing threads, as the FastCGI process's worker threads.") var threads = 8

    func run() throws {
        let setup = try Database(path: database)
        try setup.execute("DROP TABLE IF EXISTS bench_commits")
        try setup.execute("CREATE TABLE bench_commits (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, amount INTEGER NOT NULL, created_at INTEGER NOT NULL)")
        let committed = Locked(0)
        let finished = DispatchGroup()
        let deadline = Date().addingTimeInterval(seconds)
        for index in 0..<threads {
            finished.enter()
            startThread(name: "writer-\(index)") {
                defer { finished.leave() }
                do {
                    let db = try Database(path: database)
                    while Date() < deadline {
                        let id = UUID().uuidString.lowercased()
                        try db.write { _ = try db.run("INSERT INTO bench_commits VALUES (?, ?, 4500, ?)", [.text(id), .text(id), .integer(Date().unixMillis)]) }
                        committed.withLock { $0 += 1 }
                    }
                } catch {
                    FileHandle.standardError.write("writer failed: \(error)\n".data(using: .utf8)!)
                }
            }
        }
        finished.wait()
        try setup.execute("DROP TABLE bench_commits")
        print(String(format: "commits_per_second %.1f", Double(committed.current) / seconds))
    }
}
