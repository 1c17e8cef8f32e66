import AsyncHTTPClient
import Fluent
import NIOConcurrencyHelpers
import PostgresKit
import SQLKit
import Vapor

/// What `serve` does besides answering requests: brings the database up to date, makes the
/// demo account in demo mode, and runs the reconciler, the webhook dispatcher and the
/// simulator's callback sender until shutdown.
final class BackgroundWorkers: LifecycleHandler, Sendable {
    private let tasks = NIOLockedValueBox<[Task<Void, Never>]>([])
    private let simulatorClient = NIOLockedValueBox<HTTPClient?>(nil)

    func didBootAsync(_ app: Application) async throws {
        let logger = Logger(label: "phim.workers")
        if app.databases.ids().isEmpty == false {
            try await app.migrateSafely()
            if let demo = app.phimConfig.demoAccount {
                try await DemoAccount.ensure(demo, app: app, logger: logger)
            }
            let reconcilerLogger = Logger(label: "phim.reconciler")
            let settings = app.phimConfig.reconciler
            let loop = ReconcilerLoop(
                makeReconciler: { [weak app] in
                    // Read the services on every pass, so a provider swapped in later is used.
                    guard let app else { fatalError("the application outlives its workers") }
                    return Reconciler(store: app.store, provider: app.provider, clock: app.clock, logger: reconcilerLogger,
                                      lifecycle: app.jobLifecycle(logger: reconcilerLogger), settings: settings)
                },
                interval: settings.interval, clock: app.clock, logger: reconcilerLogger, metrics: app.metrics)
            start(Task { await loop.run() })
            let webhookLogger = Logger(label: "phim.webhooks")
            let webhooks = WebhookDispatcherLoop(
                makeDispatcher: { [weak app] in
                    guard let app else { fatalError("the application outlives its workers") }
                    return app.webhookDispatcher(logger: webhookLogger)
                },
                pollInterval: app.phimConfig.webhooks.pollInterval, clock: app.clock, logger: webhookLogger)
            start(Task { await webhooks.run() })
            let limiter = RateLimiter(store: app.store, clock: app.clock)
            let clock = app.clock
            let store = app.store
            let callLog = app.providerCallLog
            start(Task {
                // Old rate-limit windows and provider-call minutes are dead weight; an hourly
                // sweep keeps the tables small.
                while !Task.isCancelled {
                    do { try await limiter.prune() } catch { logger.warning("rate-limit prune failed", metadata: ["error": .string("\(error)")]) }
                    do {
                        try await callLog.prune(before: clock.now().addingTimeInterval(-ProviderCallLog.retention), on: store.db)
                    } catch { logger.warning("provider call log prune failed", metadata: ["error": .string("\(error)")]) }
                    do { try await clock.sleep(.seconds(3600)) } catch { return }
                }
            })
            start(Task {
                // Cancellation ends the sleep; the last tallies are written on shutdown.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(10))
                    do { try await callLog.flush(to: store) } catch {
                        logger.warning("provider call log flush failed", metadata: ["error": .string("\(error)")])
                    }
                }
            })
            let health = ProviderBalanceWatch(app: app, logger: Logger(label: "phim.provider"))
            start(Task { await health.run() })
            if let relay = app.startEventRelay() { start(relay) }
        }
        if let simulator = app.simulator {
            // The simulator stands for another system, so it gets a connection pool of its own.
            // Sharing the service's would deadlock under load: each callback it posts holds a
            // pooled connection to this server while the handler confirms the outcome with the
            // simulator through the same pool (same host), and once the pool's few connections
            // are all held by callbacks, every confirmation waits until the callbacks time out.
            let client = HTTPClient(eventLoopGroup: app.eventLoopGroup, configuration: .init(),
                                    backgroundActivityLogger: Logger(label: "phim.simulator"))
            simulatorClient.withLockedValue { $0 = client }
            let dispatcher = SimulatorCallbackDispatcher(simulator: simulator, http: client,
                                                         logger: Logger(label: "phim.simulator"))
            start(Task { await dispatcher.run() })
            logger.info("provider simulator running (demo mode); prompts with #fail fail, #slow take 10x longer")
        }
    }

    func shutdownAsync(_ app: Application) async {
        let running = tasks.withLockedValue { tasks in
            defer { tasks = [] }
            return tasks
        }
        for task in running { task.cancel() }
        for task in running { await task.value }
        try? await simulatorClient.withLockedValue { $0 }?.shutdown()
    }

    private func start(_ task: Task<Void, Never>) {
        tasks.withLockedValue { $0.append(task) }
    }
}

extension Application {
    /// Creates the schema if it is missing and runs pending migrations. On PostgreSQL, several
    /// instances may start at once: an advisory lock, held on a connection of its own, lets one
    /// migrate while the others wait.
    func migrateSafely() async throws {
        guard case .postgres(_, let schema) = phimConfig.database, let relay = eventRelay else {
            try await autoMigrate()
            return
        }
        // Any fixed number will do, as long as only Phim's migrations take this lock.
        let lockID = 0x5048_494D // "PHIM"
        let connection = try await PostgresConnection.connect(configuration: relay.configuration, id: 0, logger: logger)
        do {
            try await connection.query("SELECT pg_advisory_lock(\(lockID))", logger: logger)
            if let schema, let sql = db as? any SQLDatabase {
                try await sql.raw("CREATE SCHEMA IF NOT EXISTS \(ident: schema)").run()
            }
            try await autoMigrate()
            try await connection.query("SELECT pg_advisory_unlock(\(lockID))", logger: logger)
            try await connection.close()
        } catch {
            // Closing the session releases the lock too.
            try? await connection.close()
            throw error
        }
    }
}

/// The account demo mode makes on first start, so a newcomer can sign in at once.
enum DemoAccount {
    static func ensure(_ demo: AppConfig.DemoAccount, app: Application, logger: Logger) async throws {
        if try await User.query(on: app.db).filter(\.$email == demo.email).first() == nil {
            let hash = try await app.password.async.hash(demo.password)
            let now = app.clock.now()
            let user = User(email: demo.email, passwordHash: hash, isAdmin: true, createdAt: now)
            try await app.store.writeTransaction { db in
                try await user.create(on: db)
                try await CreditLedger.grant(userID: user.requireID(), amount: demo.credits, reason: "demo account",
                                             at: now, on: db)
            }
            logger.notice("created the demo account with \(demo.credits) credits")
        }
        let password = demo.hasPublicPassword ? demo.password : "(PHIM_DEMO_PASSWORD)"
        logger.notice("demo account: email \(demo.email) password \(password)")
    }
}
