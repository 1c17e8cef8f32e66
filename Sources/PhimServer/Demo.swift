import Foundation
import PhimCore
import PhimProvider
import PhimSupport

/// Demo mode (no `KIE_API_KEY`): the provider simulator stands in for Kie, and a demo account
/// with credits exists. Its password is public, so it is never an administrator, and outside
/// demo mode it is disabled (`DemoAccount`).
public enum Demo {
    public static let startingCredits = 100_000

    /// What every serving process does with the demo account at start: in demo mode it exists
    /// (made, or let in again if the system had shut it out); otherwise it is disabled.
    /// Returns whether it was created.
    @discardableResult
    public static func prepareAccount(_ configuration: Configuration, accounts: Accounts, on db: Database) throws -> Bool {
        guard configuration.isDemo else {
            try DemoAccount.disableOutsideDemoMode(email: configuration.demoEmail, clock: accounts.clock, on: db)
            return false
        }
        let created = try ensureAccount(configuration, accounts: accounts, on: db)
        try DemoAccount.enableInDemoMode(email: configuration.demoEmail, clock: accounts.clock, on: db)
        return created
    }

    /// `phim fcgi` (what the systemd unit runs) serves the simulator and a public demo login only
    /// when asked to: a missing or incomplete environment file must not make a live site a demo.
    public static func refuseUnaskedDemoMode(_ configuration: Configuration) throws {
        guard configuration.isDemo, !configuration.demoRequested else { return }
        throw Configuration.Problems(messages: [
            "KIE_API_KEY is not set: set it (in /etc/phim/phim.env under systemd), or set PHIM_DEMO=1 to run the demo (the provider simulator and the public demo account) on purpose",
        ])
    }

    /// Creates the demo account on first start; returns whether it was created.
    @discardableResult
    public static func ensureAccount(_ configuration: Configuration, accounts: Accounts, on db: Database) throws -> Bool {
        if try accounts.user(email: configuration.demoEmail, on: db) != nil { return false }
        do {
            let user = try accounts.register(email: configuration.demoEmail, password: configuration.demoPassword, isAdmin: false, on: db)
            try CreditLedger.grant(userID: user.id, amount: startingCredits, reason: "demo account", at: accounts.clock.nowMillis(), on: db)
            return true
        } catch AppError.emailTaken {
            return false // another process made it first
        }
    }

    /// A running simulator: its HTTP server and the thread that posts its callbacks.
    public struct RunningSimulator {
        public var simulator: KieSimulator
        public var server: SimulatorServer
        public var dispatcher: SimulatorCallbackDispatcher
        public var baseURL: String
    }

    /// Starts the simulator on 127.0.0.1 (port 0: any free port). `mediaBaseURL` is where its
    /// sample videos are reached from a browser; nil means straight from the simulator's port.
    public static func startSimulator(port: Int, mediaBaseURL: String?,
                                      environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RunningSimulator {
        let simulator = KieSimulator(settings: .fromEnvironment(environment), clock: .system, mediaBaseURL: "")
        let server = SimulatorServer(simulator: simulator, host: "127.0.0.1", port: port)
        let bound = try server.start()
        let base = "http://127.0.0.1:\(bound)"
        simulator.mediaBaseURL = mediaBaseURL ?? environment["PHIM_SIMULATOR_PUBLIC_URL"].map { "\($0)/media" } ?? "\(base)/media"
        // Its file host: reached by Phim's processes and by the simulator itself, never a browser.
        simulator.uploadBaseURL = base
        let dispatcher = SimulatorCallbackDispatcher(simulator: simulator)
        dispatcher.start()
        return RunningSimulator(simulator: simulator, server: server, dispatcher: dispatcher, baseURL: base)
    }

    /// The provider the service talks to: Kie when a key is set, else the simulator (one that
    /// `phim up` runs, or one started inside this process), always over real HTTP.
    public static func provider(for configuration: Configuration,
                                environment: [String: String] = ProcessInfo.processInfo.environment) throws -> (any VideoProvider, RunningSimulator?) {
        if let key = configuration.kieAPIKey {
            return (KieClient(baseURL: configuration.kieBaseURL, apiKey: key, uploadBaseURL: configuration.kieUploadBaseURL), nil)
        }
        let simulatorKey = environment["PHIM_SIMULATOR_API_KEY"].flatMap { $0.isEmpty ? nil : $0 } ?? "demo"
        if let url = configuration.simulatorURL {
            return (KieClient(baseURL: url, apiKey: simulatorKey, uploadBaseURL: url), nil)
        }
        let running = try startSimulator(port: 0, mediaBaseURL: nil, environment: environment)
        Log.warning("demo mode (PHIM_DEMO=1): the provider simulator stands in for Kie, and the demo account's public password signs in",
                    ["url": running.baseURL])
        return (KieClient(baseURL: running.baseURL, apiKey: simulatorKey, uploadBaseURL: running.baseURL), running)
    }
}
