import AsyncHTTPClient
import Fluent
import FluentPostgresDriver
import FluentSQLiteDriver
import SQLKit
import Vapor

/// Wires the application from its settings, in order: database, migrations, encoding,
/// services, sessions, middleware, routes, background work, commands.
public func configure(_ app: Application, _ config: AppConfig) async throws {
    app.phimConfig = config
    config.registerSecretsForRedaction()

    // MARK: - Database
    switch config.database {
    case .sqliteMemory:
        app.databases.use(.sqlite(.memory), as: .sqlite)
        app.writeGate = WriteGate()
    case .sqliteFile(let path):
        app.databases.use(.sqlite(.file(path)), as: .sqlite)
        app.writeGate = WriteGate()
    case .postgres(let url, let schema):
        var postgres = try SQLPostgresConfiguration(url: url)
        if let schema { postgres.searchPath = [schema] }
        app.databases.use(.postgres(configuration: postgres), as: .psql)
        app.eventRelay = PostgresEventRelay(configuration: postgres, logger: Logger(label: "phim.events"))
    }
    if case .sqliteFile = config.database, let sql = app.db as? any SQLDatabase {
        // Write-ahead logging: readers never wait for the writer, and a crash mid-write leaves
        // the last committed state. It is a property of the file, so setting it once persists.
        try await sql.raw("PRAGMA journal_mode=WAL").run()
    }

    // MARK: - Migrations
    app.registerMigrations()

    // MARK: - Encoding
    // The API speaks snake_case with ISO 8601 times. Request bodies are decoded with explicit
    // keys (`Request.decodeJSON`), and the provider's camelCase never passes through these.
    ContentConfiguration.global.use(encoder: API.encoder, for: .json)
    app.routes.defaultMaxBodySize = .init(value: BodyLimits.json)
    // No route reads multipart through Vapor: multipart-kit's parser traps (ending the process)
    // on a non-ASCII byte in a part's header name, so any body sent as multipart to a form
    // route is refused instead. Uploads parse their multipart body themselves (`MultipartForm`).
    ContentConfiguration.global.use(decoder: RefusedContent(), for: .formData)

    // MARK: - Services
    app.passwords.use(.bcrypt(cost: config.passwordHashCost))
    app.fileStorage = LocalDiskStorage(directory: config.dataDirectory)
    app.moderator = BlockedTermsModerator(terms: config.blockedTerms)
    switch config.provider {
    case .kie(let baseURL, let apiKey):
        app.provider = KieClient(http: app.http.client.shared, baseURL: { baseURL }, apiKey: apiKey,
                                 clock: app.clock, logger: Logger(label: "phim.provider"))
    case .simulator:
        let simulator = KieSimulator(settings: .init(config.simulator, webhookHMACKey: config.webhookHMACKey),
                                     clock: app.clock,
                                     mediaBaseURL: { [weak app] in (app?.publicBaseURL ?? "") + "/simulator/media" })
        app.simulator = simulator
        // Demo mode goes through real HTTP to the simulator mounted on this same server, so it
        // exercises exactly the client that talks to Kie.
        app.provider = KieClient(http: app.http.client.shared,
                                 baseURL: { [weak app] in (app?.loopbackBaseURL ?? "") + "/simulator" },
                                 apiKey: config.simulator.expectedAPIKey ?? "demo",
                                 clock: app.clock, logger: Logger(label: "phim.provider"))
    }

    // Webhooks get a client of their own: it never follows redirects (a receiver could
    // redirect into the private network) and gives up on slow receivers.
    let webhookClient = HTTPClient(
        eventLoopGroup: app.eventLoopGroup,
        configuration: .init(redirectConfiguration: .disallow,
                             timeout: .init(connect: .seconds(5), read: .milliseconds(Int64(config.webhooks.attemptTimeout / .milliseconds(1))))),
        backgroundActivityLogger: Logger(label: "phim.webhooks"))
    app.webhookSender = HTTPWebhookSender(client: webhookClient)
    app.lifecycle.use(HTTPClientShutdown(client: webhookClient))

    app.provider = MeasuredProvider(inner: app.provider, metrics: app.metrics, log: app.providerCallLog, clock: app.clock)

    // MARK: - Sessions
    let secureCookies = config.publicURL?.hasPrefix("https://") ?? false
    app.sessions.use(.fluent)
    app.sessions.configuration = .init(cookieName: "phim_session") { sessionID in
        HTTPCookies.Value(string: sessionID.string, expires: Date().addingTimeInterval(14 * 24 * 3600),
                          maxAge: nil, domain: nil, path: "/", isSecure: secureCookies, isHTTPOnly: true, sameSite: .lax)
    }

    // MARK: - Views
    WebResources.configureLeaf(app)

    // MARK: - Middleware
    app.middleware = .init()
    // Outermost of all, so every answer is counted with its final status.
    app.middleware.use(RequestMetrics(metrics: app.metrics))
    // Outermost, so error pages carry the headers too.
    app.middleware.use(SecurityHeaders(publicURL: config.publicURL))
    app.middleware.use(APIErrorMiddleware())
    // Before sessions, so CSS and scripts cost no session lookup. Files live under Public/static/.
    app.middleware.use(StaticFiles(publicDirectory: WebResources.publicDirectory))
    app.middleware.use(app.sessions.middleware)
    app.middleware.use(CSRFGuard())

    // MARK: - Routes
    try routes(app)

    // MARK: - Background work (only for `serve`)
    if config.runsBackgroundWorkers {
        app.lifecycle.use(BackgroundWorkers())
    }

    // MARK: - Commands
    app.registerCommands()
}

/// Wires a process that is only the provider simulator (`phim simulator --port P`), serving
/// Kie's paths at its root so that `KIE_BASE_URL=http://127.0.0.1:P` points a service at it.
public func configureStandaloneSimulator(_ app: Application, _ config: AppConfig, publicURL: String?) async throws {
    app.phimConfig = config
    config.registerSecretsForRedaction()
    let simulator = KieSimulator(settings: .init(config.simulator, webhookHMACKey: config.webhookHMACKey),
                                 clock: app.clock,
                                 mediaBaseURL: { [weak app] in (publicURL ?? app?.loopbackBaseURL ?? "") + "/media" })
    app.simulator = simulator
    app.middleware = .init()
    app.middleware.use(APIErrorMiddleware())
    app.get("healthz") { _ in ["status": "ok", "provider": "simulator"] }
    try app.register(collection: SimulatorRoutes(simulator: simulator, prefix: [],
                                                 sampleVideoDirectory: SimulatorResources.sampleVideoDirectory))
    app.lifecycle.use(BackgroundWorkers())
}

extension KieSimulator.Settings {
    init(_ settings: AppConfig.SimulatorSettings, webhookHMACKey: String?) {
        self.init(jobDuration: settings.jobDuration, failureRate: settings.failureRate,
                  createRateLimitPer10s: settings.createRateLimitPer10s, expectedAPIKey: settings.expectedAPIKey,
                  webhookHMACKey: webhookHMACKey, seed: settings.seed, callbackDropRate: settings.callbackDropRate)
    }
}
