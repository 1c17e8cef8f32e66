import Foundation
import PhimCore
import PhimProvider
import PhimSupport

/// Every setting, read from the environment once at start-up. A bad value stops the start,
/// naming every problem (never printing a value). The names are those of the Vapor version's
/// README, so deployments keep working.
public struct Configuration: Sendable {
    public var dataDirectory: String
    public var databasePath: String
    public var kieAPIKey: String?
    public var kieBaseURL: String
    /// Kie's file host, where reference images go when Phim has no public address.
    public var kieUploadBaseURL: String
    /// Set by `phim up` for its FastCGI processes: the simulator it runs for them (demo mode).
    public var simulatorURL: String?
    public var settings: Settings
    public var demoEmail: String
    public var demoPassword: String
    public var passwordCost: PasswordHasher.Cost
    /// `PHIM_DEMO=1`: demo mode asked for on purpose (`phim fcgi` will not fall into it silently).
    public var demoRequested = false
    /// Password hashes one process runs at once (`PHIM_PASSWORD_HASHES_AT_ONCE`): 64 MiB each at the interactive cost.
    public var passwordHashesAtOnce = HashingSlots.defaultCount

    /// The process's hasher: one per process, so its slots bound every thread's hashes together.
    public func passwordHasher() -> PasswordHasher {
        PasswordHasher(cost: passwordCost, slots: HashingSlots(count: passwordHashesAtOnce))
    }

    public var isDemo: Bool { kieAPIKey == nil }

    public struct Problems: Error, CustomStringConvertible {
        public var messages: [String]
        public var description: String { "configuration problems:\n" + messages.map { "  - \($0)" }.joined(separator: "\n") }
    }

    public static func load(dataDirectory rawData: String?, port: Int = 8080,
                            environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> Configuration {
        var problems: [String] = []
        let data = absolute(rawData ?? env["PHIM_DATA_DIR"] ?? "data")
        var databasePath = "\(data)/phim.sqlite"
        if let url = env["DATABASE_URL"], !url.isEmpty {
            if url.hasPrefix("postgres") {
                problems.append("DATABASE_URL: this version stores data in SQLite only (a file path or sqlite://PATH)")
            } else {
                databasePath = absolute(url.hasPrefix("sqlite://") ? String(url.dropFirst("sqlite://".count)) : url)
            }
        }
        let publicURL = (env["PHIM_PUBLIC_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://127.0.0.1:\(port)")
        if !(publicURL.hasPrefix("http://") || publicURL.hasPrefix("https://")) {
            problems.append("PHIM_PUBLIC_URL must start with http:// or https://")
        }
        var settings = Settings(publicBaseURL: publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL,
                                uploadsDirectory: "\(data)/uploads")
        func seconds(_ name: String, _ current: Double, minimum: Double) -> Double {
            guard let raw = env[name], !raw.isEmpty else { return current }
            guard let value = Double(raw), value >= minimum else {
                problems.append("\(name) must be a number of seconds of at least \(minimum)")
                return current
            }
            return value
        }
        settings.reconcileIntervalSeconds = seconds("PHIM_RECONCILE_INTERVAL_SECONDS", settings.reconcileIntervalSeconds, minimum: 0.1)
        settings.staleAfterSeconds = seconds("PHIM_STALE_AFTER_SECONDS", settings.staleAfterSeconds, minimum: 0)
        settings.jobTimeoutSeconds = seconds("PHIM_JOB_TIMEOUT_SECONDS", settings.jobTimeoutSeconds, minimum: 1)
        settings.unconfirmedHoldSeconds = seconds("PHIM_UNCONFIRMED_HOLD_SECONDS", settings.unconfirmedHoldSeconds, minimum: 1)
        settings.queueTimeoutSeconds = seconds("PHIM_QUEUE_TIMEOUT_SECONDS", settings.queueTimeoutSeconds, minimum: 1)
        if let raw = env["PHIM_RESULT_LIFETIME_DAYS"], !raw.isEmpty {
            if let value = Int(raw), (1...3650).contains(value) { settings.resultLifetimeDays = value } else {
                problems.append("PHIM_RESULT_LIFETIME_DAYS must be a whole number of days from 1 to 3650")
            }
        }
        func count(_ name: String, _ current: Int) -> Int {
            guard let raw = env[name], !raw.isEmpty else { return current }
            guard let value = Int(raw), value > 0 else {
                problems.append("\(name) must be a positive whole number")
                return current
            }
            return value
        }
        settings.maxUnfinishedVideos = count("PHIM_MAX_UNFINISHED_VIDEOS", settings.maxUnfinishedVideos)
        settings.createsPerMinute = count("PHIM_CREATES_PER_MINUTE", settings.createsPerMinute)
        settings.loginFailuresPerAccount = count("PHIM_LOGIN_FAILURES_PER_ACCOUNT", settings.loginFailuresPerAccount)
        settings.loginFailuresPerAddress = count("PHIM_LOGIN_FAILURES_PER_ADDRESS", settings.loginFailuresPerAddress)
        settings.signupsPerAddressPerHour = count("PHIM_SIGNUPS_PER_ADDRESS_PER_HOUR", settings.signupsPerAddressPerHour)
        settings.providerLowBalance = count("PHIM_PROVIDER_LOW_BALANCE", settings.providerLowBalance)
        settings.providerCreatesPer10s = count("PHIM_PROVIDER_CREATES_PER_10S", settings.providerCreatesPer10s)
        settings.providerMaxRunning = count("PHIM_PROVIDER_MAX_RUNNING", settings.providerMaxRunning)
        settings.uploads.perHour = count("PHIM_UPLOADS_PER_HOUR", settings.uploads.perHour)
        settings.uploads.bytesPerAccount = count("PHIM_UPLOAD_BYTES_PER_ACCOUNT", settings.uploads.bytesPerAccount)
        settings.uploads.retentionHours = count("PHIM_UPLOAD_RETENTION_HOURS", settings.uploads.retentionHours)
        settings.webhookHMACKey = env["KIE_WEBHOOK_HMAC_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        if let raw = env["PHIM_CREDITS_PER_PROVIDER_CREDIT"], !raw.isEmpty {
            if let ratio = Double(raw), ratio.isFinite, ratio > 0, ratio <= 1_000_000 { settings.creditsPerProviderCredit = ratio } else {
                problems.append("PHIM_CREDITS_PER_PROVIDER_CREDIT must be a positive number (Phim credits per Kie credit)")
            }
        }
        settings.modelRecheckMinutes = count("PHIM_MODEL_RECHECK_MINUTES", settings.modelRecheckMinutes)
        // Without a public address the provider cannot fetch `/files/`: images go through Kie's file host.
        let publicHost = URLComponents(string: settings.publicBaseURL)?.host ?? ""
        let hasPublicAddress = Self.isPublicHost(publicHost)
        settings.imageDelivery = hasPublicAddress ? .publicURL : .kieUpload
        if let raw = env["PHIM_IMAGE_DELIVERY"], !raw.isEmpty {
            if let delivery = Settings.ImageDelivery(rawValue: raw) { settings.imageDelivery = delivery } else {
                problems.append("PHIM_IMAGE_DELIVERY must be public-url or kie-upload")
            }
        }
        do {
            settings.blockedTerms = try BlockedTermsModerator.terms(list: env["PHIM_BLOCKED_TERMS"],
                                                                    file: env["PHIM_BLOCKED_TERMS_FILE"].flatMap { $0.isEmpty ? nil : $0 })
        } catch {
            problems.append("PHIM_BLOCKED_TERMS_FILE cannot be read")
        }
        if let token = env["PHIM_METRICS_TOKEN"], !token.isEmpty {
            if token.count >= 16 { settings.metricsToken = token } else { problems.append("PHIM_METRICS_TOKEN must be at least 16 characters") }
        }
        if let raw = env["PHIM_TRUST_FORWARDED_FOR"], !raw.isEmpty, raw != "0" {
            problems.append("PHIM_TRUST_FORWARDED_FOR is no longer read: behind a proxy, list its addresses with set_real_ip_from in the nginx site (README, Deployment) and remove this variable")
        }
        let apiKey = env["KIE_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        settings.isDemo = apiKey == nil
        var demoRequested = false
        switch env["PHIM_DEMO"] ?? "" {
        case "", "0": break
        case "1": demoRequested = true
        default: problems.append("PHIM_DEMO must be 1 or 0")
        }
        if demoRequested, apiKey != nil { problems.append("PHIM_DEMO=1 asks for demo mode, but KIE_API_KEY is set: remove one of them") }

        if let raw = env["PHIM_WEBHOOK_ALLOW_PRIVATE_TARGETS"], !raw.isEmpty {
            switch raw.lowercased() {
            case "1", "true", "yes": settings.webhooks.allowsPrivateTargets = true
            case "0", "false", "no": settings.webhooks.allowsPrivateTargets = false
            default: problems.append("PHIM_WEBHOOK_ALLOW_PRIVATE_TARGETS must be 1 or 0")
            }
        }
        if let raw = env["PHIM_WEBHOOK_RETRY_SCHEDULE"], !raw.isEmpty {
            let delays = raw.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
            if delays.count <= 50, delays.allSatisfy({ $0 != nil && $0! > 0 && $0! <= 604_800 }) {
                settings.webhooks.retrySchedule = delays.map { $0! }
            } else {
                problems.append("PHIM_WEBHOOK_RETRY_SCHEDULE must be up to 50 positive numbers of seconds (at most a week each) separated by commas")
            }
        }
        settings.webhooks.attemptTimeoutSeconds = seconds("PHIM_WEBHOOK_TIMEOUT_SECONDS", settings.webhooks.attemptTimeoutSeconds, minimum: 1)
        settings.webhooks.replaysPerHour = count("PHIM_WEBHOOK_REPLAYS_PER_HOUR", settings.webhooks.replaysPerHour)
        if let raw = env["PHIM_WEBHOOK_DELIVERY_RETENTION_DAYS"], !raw.isEmpty {
            if let value = Int(raw), (1...3650).contains(value) { settings.webhooks.deliveryRetentionDays = value } else {
                problems.append("PHIM_WEBHOOK_DELIVERY_RETENTION_DAYS must be a whole number of days from 1 to 3650")
            }
        }
        let bankFields = ["PHIM_BANK_BIN", "PHIM_BANK_ACCOUNT", "PHIM_BANK_ACCOUNT_NAME"].map { env[$0].flatMap { $0.isEmpty ? nil : $0 } }
        if let bin = bankFields[0], let account = bankFields[1], let name = bankFields[2] {
            let bank = PaymentSettings.BankAccount(bin: bin, account: account, accountName: name.uppercased())
            if let problem = PaymentSettings.problem(with: bank) { problems.append(problem) } else { settings.payments.bank = bank }
        } else if bankFields.contains(where: { $0 != nil }) {
            problems.append("PHIM_BANK_BIN, PHIM_BANK_ACCOUNT and PHIM_BANK_ACCOUNT_NAME go together: set all three, or none to keep top-ups off")
        } else if demoRequested {
            settings.payments.bank = PaymentSettings.demoBank
        }
        for (name, minimum) in [("PHIM_SEPAY_API_KEY", 16), ("PHIM_CASSO_CHECKSUM_KEY", 16)] {
            guard let key = env[name], !key.isEmpty else { continue }
            guard key.count >= minimum else { problems.append("\(name) must be at least \(minimum) characters"); continue }
            if name == "PHIM_SEPAY_API_KEY" { settings.payments.sepayAPIKey = key } else { settings.payments.cassoChecksumKey = key }
        }
        if let raw = env["PHIM_TOPUP_ORDER_MINUTES"], !raw.isEmpty {
            if let minutes = Int64(raw), (1...1440).contains(minutes) { settings.payments.orderLifetimeSeconds = minutes * 60 } else {
                problems.append("PHIM_TOPUP_ORDER_MINUTES must be a whole number of minutes from 1 to 1440")
            }
        }
        settings.payments.simulatesTransfers = demoRequested && settings.payments.sepayAPIKey != nil
        // The web side's video JSON is what a webhook body carries (the domain cannot write it).
        settings.webhooks.videoJSON = WebhookHandlers.videoJSON

        var cost = PasswordHasher.Cost.interactive
        if let raw = env["PHIM_PASSWORD_HASH_COST"], !raw.isEmpty {
            if let parsed = PasswordHasher.Cost(rawValue: raw) { cost = parsed } else {
                problems.append("PHIM_PASSWORD_HASH_COST must be interactive or minimum")
            }
        }
        let hashesAtOnce = count("PHIM_PASSWORD_HASHES_AT_ONCE", HashingSlots.defaultCount)
        let baseURL = env["KIE_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://api.kie.ai"
        let uploadBaseURL = env["KIE_UPLOAD_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? KieClient.defaultUploadBaseURL
        for (name, url) in [("KIE_BASE_URL", baseURL), ("KIE_UPLOAD_BASE_URL", uploadBaseURL)]
        where !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            problems.append("\(name) must start with http:// or https://")
        }
        guard problems.isEmpty else { throw Problems(messages: problems) }
        if apiKey != nil, !hasPublicAddress {
            Log.warning("PHIM_PUBLIC_URL is not a public address: Kie's callbacks cannot arrive, so the reconciler polls every video (slower), and reference images go through Kie's file host",
                        ["public_host": publicHost, "image_delivery": settings.imageDelivery.rawValue])
        }
        var configuration = Configuration(
            dataDirectory: data, databasePath: databasePath,
            kieAPIKey: apiKey, kieBaseURL: baseURL, kieUploadBaseURL: uploadBaseURL,
            simulatorURL: env["PHIM_SIMULATOR_URL"].flatMap { $0.isEmpty ? nil : $0 },
            settings: settings,
            demoEmail: env["PHIM_DEMO_EMAIL"] ?? "demo@phim.local", demoPassword: env["PHIM_DEMO_PASSWORD"] ?? "phim-demo",
            passwordCost: cost)
        configuration.demoRequested = demoRequested
        configuration.passwordHashesAtOnce = hashesAtOnce
        return configuration
    }

    /// Whether a host name or address can be reached from the internet: not localhost, not a
    /// loopback, private or link-local address, not a name that only a LAN knows (`.local`,
    /// `.lan`, `.internal`, or no dot at all). A public name is taken at its word (no DNS here).
    static func isPublicHost(_ host: String) -> Bool {
        let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if let address = IPAddress(name) { return address.isPublic }
        guard name.contains("."), name != "localhost" else { return false }
        return ![".localhost", ".local", ".lan", ".internal", ".home.arpa", ".test"].contains { name.hasSuffix($0) }
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
