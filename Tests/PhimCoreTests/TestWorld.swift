import Foundation
import PhimCore
import PhimProvider
import PhimServer
import PhimSupport
import XCTest

/// One test's world: a real SQLite file in a fresh directory, the real request handlers, and
/// only the outside replaced: the provider (the simulator, called in-process, or a scripted
/// fake) and the clock (moved by hand).
final class TestWorld {
    let directory: String
    let databasePath: String
    let db: Database
    let clock = ManualClock()
    let simulator: KieSimulator
    let app: App
    var settings: Settings

    init(provider makeProvider: ((KieSimulator) -> any VideoProvider)? = nil, hasher: PasswordHasher = PasswordHasher(cost: .minimum),
         configure: (inout Settings) -> Void = { _ in }) throws {
        Crypto.initialize()
        directory = NSTemporaryDirectory() + "phim-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        databasePath = directory + "/phim.sqlite"
        db = try Database(path: databasePath)
        try Migrations.run(on: db)
        var settings = Settings(publicBaseURL: "http://127.0.0.1:8080", uploadsDirectory: directory + "/uploads")
        settings.reconcileIntervalSeconds = 15
        settings.staleAfterSeconds = 60
        // Worlds make many accounts from one address and many videos a minute; the tests of the
        // limits themselves set them low again.
        settings.signupsPerAddressPerHour = 10_000
        settings.createsPerMinute = 10_000
        // A create sends its job before answering, as if the dispatcher had been waiting for it;
        // the queue's own tests turn this off and run the dispatcher's passes themselves.
        settings.dispatchOnCreate = true
        settings.providerCreatesPer10s = 10_000
        settings.providerMaxRunning = 10_000
        configure(&settings)
        self.settings = settings
        var simulatorSettings = KieSimulator.Settings.fromEnvironment([:])
        simulatorSettings.jobDuration = 20
        simulatorSettings.seed = 42
        simulatorSettings.webhookHMACKey = settings.webhookHMACKey
        // The internet as the simulator sees it: Phim's `/files/` (nginx serves the uploads
        // directory there) and the simulator's own file host; nothing else answers.
        let uploads = settings.uploadsDirectory, publicFiles = settings.publicBaseURL + "/files/"
        let simulatorBox = Locked<KieSimulator?>(nil)
        let simulator = KieSimulator(settings: simulatorSettings, clock: clock.clock, mediaBaseURL: "http://127.0.0.1:8080/simulator/media",
                                     imageFetcher: { url in
            if url.hasPrefix(publicFiles) {
                let key = String(url.dropFirst(publicFiles.count))
                guard !key.contains("/"), let bytes = FileManager.default.contents(atPath: "\(uploads)/\(key)") else { return nil }
                return FetchedImage(contentType: TestWorld.contentType(ofFileNamed: key), bytes: bytes)
            }
            guard let simulator = simulatorBox.current, url.hasPrefix(simulator.uploadBaseURL + "/") else { return nil }
            return simulator.uploadedFile(path: String(url.dropFirst(simulator.uploadBaseURL.count)))
        })
        simulator.uploadBaseURL = "http://127.0.0.1:9999/kie-files"
        simulatorBox.withLock { $0 = simulator }
        self.simulator = simulator
        let provider = makeProvider?(simulator) ?? InProcessSimulatorProvider(simulator: simulator)
        app = App(settings: settings, provider: provider, clock: clock.clock, hasher: hasher)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// What the default model's default video costs (Seedance 2 Mini, 5 s, 480p, silent: 19 Kie
    /// credits at 7,000 credits per 30).
    static let price = 4_500

    /// The type nginx gives a file by its extension.
    static func contentType(ofFileNamed name: String) -> String {
        switch name.split(separator: ".").last?.lowercased() {
        case "png": "image/png"
        case "jpg", "jpeg": "image/jpeg"
        case "webp": "image/webp"
        default: "application/octet-stream"
        }
    }

    /// Another connection to the same file, as another thread or process would have.
    func connection() throws -> Database { try Database(path: databasePath) }

    // MARK: - Requests

    @discardableResult
    func send(_ method: String, _ target: String, json: JSON? = nil, body: [UInt8]? = nil,
              headers: [String: String] = [:], as caller: Caller? = nil, on connection: Database? = nil) -> Response {
        let (path, query) = Request.splitTarget(target)
        var allHeaders = headers
        var bytes = body ?? []
        if let json {
            bytes = Array(json.serialized().utf8)
            allHeaders["content-type"] = allHeaders["content-type"] ?? "application/json"
        }
        if let caller { allHeaders["authorization"] = "Bearer \(caller.key)" }
        return app.handle(Request(method: method, path: path, query: query, headers: allHeaders, body: bytes), db: connection ?? db)
    }

    struct Caller {
        var id: String
        var email: String
        var key: String
    }

    /// A new account with an API key and `credits` granted.
    func user(_ name: String = "user", credits: Int = 0) throws -> Caller {
        let email = "\(name)-\(UUID().uuidString.prefix(8))@example.com".lowercased()
        let registered = send("POST", "/api/v1/auth/register", json: .object([("email", .string(email)), ("password", .string("correct horse"))]))
        XCTAssertEqual(registered.status, 201, registered.bodyText)
        let login = send("POST", "/api/v1/auth/login", json: .object([("email", .string(email)), ("password", .string("correct horse"))]))
        let id = login.bodyJSON!["id"]!.stringValue!
        let cookie = login.headers.filter { $0.0 == "Set-Cookie" }.map { $0.1.components(separatedBy: ";")[0] }.joined(separator: "; ")
        let made = send("POST", "/api/v1/api-keys", json: .object([("name", .string("test"))]),
                        headers: ["cookie": cookie, "x-csrf-token": login.header("X-CSRF-Token") ?? ""])
        XCTAssertEqual(made.status, 201, made.bodyText)
        if credits > 0 { try CreditLedger.grant(userID: id, amount: credits, reason: "test", at: clock.now.unixMillis, on: db) }
        return Caller(id: id, email: email, key: made.bodyJSON!["key"]!.stringValue!)
    }

    func balance(_ caller: Caller) -> (available: Int, held: Int) {
        let me = send("GET", "/api/v1/me", as: caller).bodyJSON!
        return (me["credits"]!.intValue!, me["credits_on_hold"]!.intValue!)
    }

    /// A video of the default model with its default options, unless `options` says otherwise.
    func createVideo(_ caller: Caller, prompt: String = "a paper boat drifts across a puddle", key: String? = nil,
                     options: [(String, JSON)] = [], on connection: Database? = nil) -> Response {
        send("POST", "/api/v1/videos", json: .object([("prompt", .string(prompt))] + options),
             headers: key.map { ["idempotency-key": $0] } ?? [:], as: caller, on: connection)
    }

    /// Holds the dispatch, as while Kie's limits are reached: creates stay `queued` until
    /// `releaseQueue`, which sends what waits.
    func holdQueue() throws {
        try db.write { _ = try db.run("UPDATE provider_dispatch SET paused_until = :forever WHERE id = 1", ["forever": .integer(Int64.max / 4)]) }
    }

    func releaseQueue() throws {
        try db.write { _ = try db.run("UPDATE provider_dispatch SET paused_until = 0 WHERE id = 1") }
        try app.queue.runPass(on: db)
    }

    func video(_ caller: Caller, _ id: String) -> JSON? {
        let response = send("GET", "/api/v1/videos/\(id)", as: caller)
        return response.status == 200 ? response.bodyJSON : nil
    }

    // MARK: - The provider's side

    /// Posts the simulator's due callbacks to their URLs through the real handler.
    @discardableResult
    func deliverCallbacks(_ transform: ([KieSimulator.Callback]) -> [KieSimulator.Callback] = { $0 }) -> [Response] {
        transform(simulator.takeDueCallbacks()).map { callback in
            let path = URL(string: callback.url)!.path
            var headers: [String: String] = [:]
            for (name, value) in callback.headers { headers[name.lowercased()] = value }
            return send("POST", path, body: Array(callback.body), headers: headers)
        }
    }

    func reconcile() throws -> Reconciler.PassReport { try app.reconciler().runPass(on: db) }

    func assertLedgerClean(file: StaticString = #filePath, line: UInt = #line) throws {
        let report = try LedgerVerifier.verify(on: db)
        XCTAssertTrue(report.isClean, report.problems.joined(separator: "\n"), file: file, line: line)
    }
}
