import Fluent
import Foundation
import Vapor

/// `phim bench seed`: fills an empty database with the benchmark's data set, as the service
/// itself would have left it: accounts with API keys, finished videos with their ledger entries
/// (hold, then settle), and a first account that also has videos waiting for callbacks.
///
/// Writes what the benchmark's clients need into `--out`: the first account's API key, its
/// video ids, and the callback paths (with secrets) of its waiting videos.
struct BenchSeedCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "users", help: "Accounts to make (default 10000).") var users: Int?
        @Option(name: "videos", help: "Finished videos, spread evenly over the accounts (default 200000).") var videos: Int?
        @Option(name: "waiting", help: "Videos of the first account waiting for callbacks (default 2000).") var waiting: Int?
        @Option(name: "out", help: "Folder for the benchmark's client files.") var out: String?
    }
    var help: String { "Fills an empty database with benchmark data (accounts, videos, ledger)." }

    static let batch = 500

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        try await app.migrateSafely()
        guard try await User.query(on: app.db).count() == 0 else { throw CommandFailure("The database is not empty.") }
        let userCount = signature.users ?? 10_000, videoCount = signature.videos ?? 200_000, waiting = signature.waiting ?? 2_000
        guard userCount > 0, videoCount >= 0, waiting >= 0, let out = signature.out else {
            throw CommandFailure("--users must be above 0, --videos and --waiting not below 0, and --out is required.")
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let started = ContinuousClock.now
        let passwordHash = try await app.password.async.hash("bench-password")
        let now = app.clock.now()
        let price = 7_000
        let grant = 1_000_000_000

        // Accounts, each with an API key and a grant.
        var userIDs: [UUID] = []
        var firstKey = ""
        for start in stride(from: 0, to: userCount, by: Self.batch) {
            var users: [User] = [], keys: [APIKey] = [], grants: [CreditEntry] = []
            for index in start..<min(start + Self.batch, userCount) {
                let user = User(id: UUID(), email: "bench\(index)@phim.test", passwordHash: passwordHash, isAdmin: false,
                                createdAt: now.addingTimeInterval(-86_400 * 30))
                user.creditsAvailable = grant
                users.append(user)
                userIDs.append(user.id!)
                let key = APIKeys.generate()
                if index == 0 { firstKey = key }
                keys.append(APIKey(userID: user.id!, name: "bench", keyPrefix: String(key.prefix(12)), keyHash: APIKeys.hash(key), createdAt: now))
                grants.append(CreditEntry(userID: user.id!, jobID: nil, kind: .grant, availableDelta: grant, heldDelta: 0,
                                          reason: "benchmark", uniqueKey: nil, createdAt: user.createdAt))
            }
            try await app.db.transaction { [users, keys, grants] db in
                try await users.create(on: db)
                try await keys.create(on: db)
                try await grants.create(on: db)
            }
        }

        // Finished videos, newest last, round-robin over the accounts.
        var spent = [UUID: Int]()
        var firstUsersVideos: [UUID] = []
        for start in stride(from: 0, to: videoCount, by: Self.batch) {
            var jobs: [VideoJob] = [], entries: [CreditEntry] = []
            for index in start..<min(start + Self.batch, videoCount) {
                let userID = userIDs[index % userIDs.count]
                let created = now.addingTimeInterval(-Double(videoCount - index) * 10)
                let job = Self.job(userID: userID, index: index, createdAt: created, price: price)
                job.status = .completed
                job.progress = 100
                job.holdState = .settled
                job.providerState = "success"
                job.videoURL = "https://cdn.bench.test/\(index).mp4"
                job.finishedAt = created.addingTimeInterval(60)
                jobs.append(job)
                entries.append(CreditEntry(userID: userID, jobID: job.id, kind: .hold, availableDelta: -price, heldDelta: price,
                                           reason: nil, uniqueKey: "hold:\(job.id!)", createdAt: created))
                entries.append(CreditEntry(userID: userID, jobID: job.id, kind: .settle, availableDelta: 0, heldDelta: -price,
                                           reason: nil, uniqueKey: "close:\(job.id!)", createdAt: created.addingTimeInterval(60)))
                spent[userID, default: 0] += price
                if userID == userIDs[0] { firstUsersVideos.append(job.id!) }
            }
            try await app.db.transaction { [jobs, entries] db in
                try await jobs.create(on: db)
                try await entries.create(on: db)
            }
        }

        // The first account's videos that wait for callbacks (processing, far from their check time).
        var callbackPaths: [String] = []
        for start in stride(from: 0, to: waiting, by: Self.batch) {
            var jobs: [VideoJob] = [], entries: [CreditEntry] = []
            for index in start..<min(start + Self.batch, waiting) {
                let secret = "bench-secret-\(index)"
                let job = Self.job(userID: userIDs[0], index: videoCount + index, createdAt: now, price: price)
                job.status = .processing
                job.progress = 50
                job.holdState = .open
                job.providerState = "generating"
                job.callbackSecretHash = VideoCreation.hash(secret)
                job.nextCheckAt = now.addingTimeInterval(86_400 * 365)
                jobs.append(job)
                entries.append(CreditEntry(userID: userIDs[0], jobID: job.id, kind: .hold, availableDelta: -price, heldDelta: price,
                                           reason: nil, uniqueKey: "hold:\(job.id!)", createdAt: now))
                spent[userIDs[0], default: 0] += price
                callbackPaths.append("/api/v1/webhooks/kie/\(job.id!.uuidString.lowercased())/\(secret)/progress \(job.providerTaskID!)")
            }
            try await app.db.transaction { [jobs, entries] db in
                try await jobs.create(on: db)
                try await entries.create(on: db)
            }
        }

        // The balances the ledger now implies.
        for (userID, amount) in spent {
            let held = userID == userIDs[0] ? waiting * price : 0
            try await User.query(on: app.db).filter(\.$id == userID)
                .set(\.$creditsAvailable, to: grant - amount).set(\.$creditsHeld, to: held).update()
        }

        try firstKey.write(toFile: out + "/api-key.txt", atomically: true, encoding: .utf8)
        try firstUsersVideos.map { $0.uuidString.lowercased() }.joined(separator: "\n")
            .write(toFile: out + "/video-ids.txt", atomically: true, encoding: .utf8)
        try callbackPaths.joined(separator: "\n").write(toFile: out + "/callbacks.txt", atomically: true, encoding: .utf8)
        context.console.success("Seeded \(userCount) accounts, \(videoCount) finished and \(waiting) waiting videos in \(started.duration(to: .now)).")
    }

    private static func job(userID: UUID, index: Int, createdAt: Date, price: Int) -> VideoJob {
        let job = VideoJob()
        job.id = UUID()
        job.$user.id = userID
        job.mode = .textToVideo
        job.model = VideoModel.sora2TextToVideo.rawValue
        job.prompt = "Benchmark video \(index): a paper boat drifts across a puddle at dusk"
        job.aspectRatio = index % 3 == 0 ? .portrait : .landscape
        job.durationSeconds = 10
        job.quality = .standard
        job.priceCredits = price
        job.providerTaskID = String(format: "bench%027d", index)
        job.callbackSecretHash = VideoCreation.hash("unused-\(index)")
        job.createdAt = createdAt
        job.updatedAt = createdAt
        return job
    }
}
