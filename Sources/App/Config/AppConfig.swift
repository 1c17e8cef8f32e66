import Foundation

/// Every setting Phim reads from the environment, parsed once at start-up.
///
/// `configure(_:_:)` takes this as a value, so tests build their own instead of touching the
/// process environment. Names and defaults are listed in the README's configuration table.
public struct AppConfig: Sendable {
    /// Where the data lives: `sqlite::memory:`, a SQLite file path, or a `postgres://` URL.
    public enum DatabaseLocation: Sendable, Equatable {
        case sqliteMemory
        case sqliteFile(path: String)
        /// `schema` puts Phim's tables in that schema (PostgreSQL's `search_path`) instead of `public`.
        case postgres(url: String, schema: String? = nil)
    }

    /// Which provider the service talks to.
    public enum ProviderMode: Sendable, Equatable {
        /// The real Kie AI API (or anything speaking its contract) at `baseURL`.
        case kie(baseURL: String, apiKey: String)
        /// The built-in simulator, mounted under `/simulator` on this same server.
        case simulator
    }

    public var database: DatabaseLocation
    public var provider: ProviderMode
    /// The base URL the provider uses to call us back and fetch uploaded images.
    /// `nil` means "this server on loopback", resolved once the port is known.
    public var publicURL: String?
    /// Kie's account-wide webhook HMAC key; when set, every callback must carry a valid signature.
    public var webhookHMACKey: String?
    /// Where uploaded reference images are kept.
    public var dataDirectory: String
    public var simulator: SimulatorSettings
    public var reconciler: ReconcilerSettings
    /// bcrypt cost factor; tests lower it because hashing at cost 12 takes ~250 ms.
    public var passwordHashCost: Int
    /// Demo mode creates this account on first start (simulator mode only).
    public var demoAccount: DemoAccount?
    /// Whether `serve` starts the background workers (reconciler, simulator callbacks).
    public var runsBackgroundWorkers: Bool
    /// How much one account or address may try before being told to wait.
    public var limits: AbuseLimits
    /// Words and phrases a prompt may not contain (checked before any credit is held).
    public var blockedTerms: [String]
    /// Whether `X-Forwarded-For` names the client (only behind a proxy that sets it).
    public var trustsForwardedFor: Bool
    /// How outbound webhooks are sent.
    public var webhooks: WebhookSettings = .init()
    /// The bearer token `GET /metrics` demands; without one, only local scrapers are answered.
    public var metricsToken: String?
    /// Below this many provider credits, the admin page and the logs warn (a Sora 2 video costs
    /// about 30 Kie credits, so the default, 3,000, is about a hundred videos).
    public var providerLowBalance: Int = 3000
    /// How long the provider keeps a finished video (Kie: 14 days, reference §9); after that the
    /// studio shows the video as expired instead of a player that cannot load.
    public var resultLifetimeDays: Int = 14

    public struct WebhookSettings: Sendable {
        /// Whether webhook URLs may lead to loopback, private or link-local addresses (receivers
        /// on the operator's own network). Off by default: users must not reach into it.
        public var allowsPrivateTargets = false
        /// Delays before each retry of a failed attempt. The default follows Standard Webhooks'
        /// advice (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h): 8 attempts over 27.6 hours.
        public var retrySchedule: [Duration] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000].map { .seconds($0) }
        /// How long one attempt waits for an answer.
        public var attemptTimeout: Duration = .seconds(10)
        /// How often the dispatcher looks for due deliveries when it is idle.
        public var pollInterval: Duration = .seconds(1)

        public init() {}
    }

    public struct SimulatorSettings: Sendable {
        /// How long a simulated job takes from creation to its outcome.
        public var jobDuration: Duration
        /// Probability (0...1) that a job without `#fail` fails anyway.
        public var failureRate: Double
        /// Requests allowed per 10 s window on createTask, like Kie's 20; `nil` disables the limit.
        public var createRateLimitPer10s: Int?
        /// The key the simulator expects in `Authorization: Bearer`; `nil` accepts any non-empty key.
        public var expectedAPIKey: String?
        /// Share of callbacks (0...1) the simulator loses, to exercise the reconciler.
        public var callbackDropRate: Double = 0
        /// Seeds the simulator's randomness (task ids, failures, drops) so a run can be repeated.
        public var seed: UInt64?

        public init(jobDuration: Duration = .seconds(20), failureRate: Double = 0,
                    createRateLimitPer10s: Int? = nil, expectedAPIKey: String? = nil) {
            self.jobDuration = jobDuration
            self.failureRate = failureRate
            self.createRateLimitPer10s = createRateLimitPer10s
            self.expectedAPIKey = expectedAPIKey
        }
    }

    public struct ReconcilerSettings: Sendable {
        /// How often a pass runs, and the least time between two provider queries about one job.
        public var interval: Duration
        /// A job that has heard nothing from the provider for this long is queried.
        public var staleAfter: Duration
        /// A job still unfinished this long after creation is failed and refunded.
        public var jobTimeout: Duration
        /// A create whose outcome is unknown (a timeout after sending) keeps its hold this long,
        /// waiting for a callback that names its task. Kie has no way to look a task up without
        /// its id, so only time can tell "never made" from "made but unheard of"; the default
        /// (24 h) is far past the longest a task can run and its callbacks be retried, so the
        /// hold is released only when the provider can no longer bill for it.
        public var unconfirmedSubmissionTimeout: Duration

        public init(interval: Duration = .seconds(15), staleAfter: Duration = .seconds(60),
                    jobTimeout: Duration = .seconds(3600), unconfirmedSubmissionTimeout: Duration = .seconds(86_400)) {
            self.interval = interval
            self.staleAfter = staleAfter
            self.jobTimeout = jobTimeout
            self.unconfirmedSubmissionTimeout = unconfirmedSubmissionTimeout
        }
    }

    /// Per-account and per-address limits. Counters live in the database, so several instances
    /// behind a load balancer share them.
    public struct AbuseLimits: Sendable {
        /// Failed sign-ins allowed per account, and per address, in one `loginWindow`.
        public var loginFailuresPerAccount: Int = 5
        public var loginFailuresPerAddress: Int = 20
        public var loginWindow: Duration = .seconds(15 * 60)
        /// Accounts one address may create per hour.
        public var signupsPerAddressPerHour: Int = 10
        /// Video creations one account may start per minute (replays of an idempotent request are free).
        public var createsPerMinute: Int = 10
        /// Videos one account may have unfinished at once.
        public var maxUnfinishedJobs: Int = 10

        public init() {}
    }

    public struct DemoAccount: Sendable {
        public static let defaultPassword = "phim-demo"
        public var email: String
        public var password: String
        public var credits: Int

        /// The default password is public (the README and the sign-in page show it); one the
        /// operator chose is a secret: never logged, never shown.
        public var hasPublicPassword: Bool { password == Self.defaultPassword }
    }

    public init(
        database: DatabaseLocation = .sqliteMemory,
        provider: ProviderMode = .simulator,
        publicURL: String? = nil,
        webhookHMACKey: String? = nil,
        dataDirectory: String = "data",
        simulator: SimulatorSettings = .init(),
        reconciler: ReconcilerSettings = .init(),
        passwordHashCost: Int = 12,
        demoAccount: DemoAccount? = nil,
        runsBackgroundWorkers: Bool = false,
        limits: AbuseLimits = .init(),
        blockedTerms: [String] = [],
        trustsForwardedFor: Bool = false
    ) {
        self.database = database
        self.provider = provider
        self.publicURL = publicURL
        self.webhookHMACKey = webhookHMACKey
        self.dataDirectory = dataDirectory
        self.simulator = simulator
        self.reconciler = reconciler
        self.passwordHashCost = passwordHashCost
        self.demoAccount = demoAccount
        self.runsBackgroundWorkers = runsBackgroundWorkers
        self.limits = limits
        self.blockedTerms = blockedTerms
        self.trustsForwardedFor = trustsForwardedFor
    }
}

// MARK: - Reading the environment

extension AppConfig {
    /// A setting that was present but could not be understood.
    public struct InvalidSetting: Error, CustomStringConvertible {
        public var problems: [String]
        public var description: String { "Invalid configuration:\n  " + problems.joined(separator: "\n  ") }
    }

    /// Parses the process environment. Collects every problem before failing, and never echoes
    /// a value that could be a secret.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment,
                                       runsBackgroundWorkers: Bool) throws -> AppConfig {
        var problems: [String] = []
        func value(_ name: String) -> String? {
            guard let raw = env[name]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }
        func seconds(_ name: String, default fallback: Double, allowZero: Bool = false) -> Duration {
            guard let raw = value(name) else { return .milliseconds(Int64(fallback * 1000)) }
            guard let number = Double(raw), number.isFinite, allowZero ? number >= 0 : number > 0 else {
                problems.append("\(name) must be a positive number of seconds")
                return .milliseconds(Int64(fallback * 1000))
            }
            return .milliseconds(Int64(number * 1000))
        }

        /// A share from 0 to 1; 0 when unset.
        func fraction(_ name: String) -> Double {
            guard let raw = value(name) else { return 0 }
            guard let number = Double(raw), (0...1).contains(number) else {
                problems.append("\(name) must be a number from 0 to 1")
                return 0
            }
            return number
        }

        var config = AppConfig(runsBackgroundWorkers: runsBackgroundWorkers)

        switch value("DATABASE_URL") {
        case nil: config.database = .sqliteFile(path: "phim.sqlite")
        case "sqlite::memory:", ":memory:": config.database = .sqliteMemory
        case let url? where url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"):
            config.database = .postgres(url: url, schema: value("PHIM_DATABASE_SCHEMA"))
        case let url? where url.hasPrefix("sqlite://"):
            config.database = .sqliteFile(path: String(url.dropFirst("sqlite://".count)))
        case let url? where url.hasPrefix("sqlite:"):
            config.database = .sqliteFile(path: String(url.dropFirst("sqlite:".count)))
        case let url? where !url.contains("://"):
            config.database = .sqliteFile(path: url)
        case .some:
            problems.append("DATABASE_URL must be sqlite::memory:, a SQLite file path, sqlite://PATH or postgres://…")
        }

        if let key = value("KIE_API_KEY") {
            let base = value("KIE_BASE_URL") ?? "https://api.kie.ai"
            if URL(string: base)?.scheme?.hasPrefix("http") != true {
                problems.append("KIE_BASE_URL must be an http(s) URL")
            }
            config.provider = .kie(baseURL: base.trimmingSuffix("/"), apiKey: key)
        } else {
            config.provider = .simulator
            config.demoAccount = .init(
                email: value("PHIM_DEMO_EMAIL") ?? "demo@phim.local",
                password: value("PHIM_DEMO_PASSWORD") ?? DemoAccount.defaultPassword,
                credits: 100_000
            )
        }

        if let url = value("PHIM_PUBLIC_URL") {
            if URL(string: url)?.scheme?.hasPrefix("http") != true {
                problems.append("PHIM_PUBLIC_URL must be an http(s) URL")
            }
            config.publicURL = url.trimmingSuffix("/")
        }
        config.webhookHMACKey = value("KIE_WEBHOOK_HMAC_KEY")
        config.dataDirectory = value("PHIM_DATA_DIR") ?? "data"

        config.simulator.jobDuration = seconds("PHIM_SIMULATOR_DELAY_SECONDS", default: 20, allowZero: true)
        config.simulator.failureRate = fraction("PHIM_SIMULATOR_FAILURE_RATE")
        if let raw = value("PHIM_SIMULATOR_RATE_LIMIT") {
            if let limit = Int(raw), limit >= 0 {
                config.simulator.createRateLimitPer10s = limit == 0 ? nil : limit
            } else {
                problems.append("PHIM_SIMULATOR_RATE_LIMIT must be a whole number (0 turns it off)")
            }
        }
        config.simulator.expectedAPIKey = value("PHIM_SIMULATOR_API_KEY")
        config.simulator.callbackDropRate = fraction("PHIM_SIMULATOR_CALLBACK_DROP_RATE")
        if let raw = value("PHIM_SIMULATOR_SEED") {
            if let seed = UInt64(raw) {
                config.simulator.seed = seed
            } else {
                problems.append("PHIM_SIMULATOR_SEED must be a whole number")
            }
        }

        config.reconciler.interval = seconds("PHIM_RECONCILE_INTERVAL_SECONDS", default: 15)
        config.reconciler.staleAfter = seconds("PHIM_STALE_AFTER_SECONDS", default: 60)
        config.reconciler.jobTimeout = seconds("PHIM_JOB_TIMEOUT_SECONDS", default: 3600)
        config.reconciler.unconfirmedSubmissionTimeout = seconds("PHIM_UNCONFIRMED_HOLD_SECONDS", default: 86_400)

        if let raw = value("PHIM_BCRYPT_COST") {
            if let cost = Int(raw), (4...31).contains(cost) {
                config.passwordHashCost = cost
            } else {
                problems.append("PHIM_BCRYPT_COST must be a whole number from 4 to 31")
            }
        }

        func count(_ name: String, default fallback: Int) -> Int {
            guard let raw = value(name) else { return fallback }
            guard let number = Int(raw), number > 0 else {
                problems.append("\(name) must be a whole number above 0")
                return fallback
            }
            return number
        }
        config.limits.loginFailuresPerAccount = count("PHIM_LOGIN_FAILURES_PER_ACCOUNT", default: config.limits.loginFailuresPerAccount)
        config.limits.loginFailuresPerAddress = count("PHIM_LOGIN_FAILURES_PER_ADDRESS", default: config.limits.loginFailuresPerAddress)
        config.limits.signupsPerAddressPerHour = count("PHIM_SIGNUPS_PER_ADDRESS_PER_HOUR", default: config.limits.signupsPerAddressPerHour)
        config.limits.createsPerMinute = count("PHIM_CREATES_PER_MINUTE", default: config.limits.createsPerMinute)
        config.limits.maxUnfinishedJobs = count("PHIM_MAX_UNFINISHED_VIDEOS", default: config.limits.maxUnfinishedJobs)
        config.trustsForwardedFor = value("PHIM_TRUST_FORWARDED_FOR").map { ["1", "true", "yes"].contains($0.lowercased()) } ?? false

        config.webhooks.allowsPrivateTargets = value("PHIM_WEBHOOK_ALLOW_PRIVATE_TARGETS").map { ["1", "true", "yes"].contains($0.lowercased()) } ?? false
        if let raw = value("PHIM_WEBHOOK_RETRY_SCHEDULE") {
            let delays = raw.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            if !delays.isEmpty, delays.allSatisfy({ $0 != nil && $0! > 0 && $0!.isFinite }) {
                config.webhooks.retrySchedule = delays.map { .milliseconds(Int64($0! * 1000)) }
            } else {
                problems.append("PHIM_WEBHOOK_RETRY_SCHEDULE must be positive numbers of seconds separated by commas")
            }
        }
        config.webhooks.attemptTimeout = seconds("PHIM_WEBHOOK_TIMEOUT_SECONDS", default: 10)
        config.providerLowBalance = count("PHIM_PROVIDER_LOW_BALANCE", default: config.providerLowBalance)
        config.resultLifetimeDays = count("PHIM_RESULT_LIFETIME_DAYS", default: config.resultLifetimeDays)
        if let token = value("PHIM_METRICS_TOKEN") {
            if token.count >= 16 { config.metricsToken = token } else { problems.append("PHIM_METRICS_TOKEN must be at least 16 characters") }
        }

        // Comma- or newline-separated, inline or in a file (one term per line, `#` comments).
        var terms = (value("PHIM_BLOCKED_TERMS") ?? "").split(whereSeparator: { $0 == "," || $0.isNewline }).map(String.init)
        if let path = value("PHIM_BLOCKED_TERMS_FILE") {
            if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                terms += text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.hasPrefix("#") }
            } else {
                problems.append("PHIM_BLOCKED_TERMS_FILE cannot be read")
            }
        }
        config.blockedTerms = terms.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }

        if !problems.isEmpty { throw InvalidSetting(problems: problems) }
        return config
    }

    /// Tells the log which configured values must never appear in it.
    func registerSecretsForRedaction() {
        if case .kie(_, let apiKey) = provider { RedactingLogHandler.registerSecret(apiKey) }
        RedactingLogHandler.registerSecret(simulator.expectedAPIKey)
        RedactingLogHandler.registerSecret(webhookHMACKey)
        RedactingLogHandler.registerSecret(metricsToken)
        if let demo = demoAccount, !demo.hasPublicPassword { RedactingLogHandler.registerSecret(demo.password) }
    }

    /// Whether the built-in simulator stands in for the provider.
    public var isDemoMode: Bool { provider == .simulator }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var result = self
        while result.hasSuffix(suffix) { result.removeLast(suffix.count) }
        return result
    }
}
