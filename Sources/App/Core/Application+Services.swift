import Fluent
import SQLKit
import Vapor

/// Phim's services, stored on the application (Vapor's storage), set in `configure` and
/// replaceable by tests. Domain code receives them as arguments, never reads them globally.
extension Application {
    private struct ConfigKey: StorageKey { typealias Value = AppConfig }
    private struct ClockKey: StorageKey { typealias Value = AppClock }
    private struct ProviderKey: StorageKey { typealias Value = any VideoProvider }
    private struct SimulatorKey: StorageKey { typealias Value = KieSimulator }
    private struct EventsKey: StorageKey { typealias Value = JobEventBus }
    private struct GateKey: StorageKey { typealias Value = WriteGate }
    private struct FileStorageKey: StorageKey { typealias Value = any FileStorage }
    private struct RelayKey: StorageKey { typealias Value = PostgresEventRelay }
    private struct ModeratorKey: StorageKey { typealias Value = any PromptModerator }
    private struct WebhookPolicyKey: StorageKey { typealias Value = WebhookTargetPolicy }
    private struct WebhookSenderKey: StorageKey { typealias Value = any WebhookSender }
    private struct MetricsKey: StorageKey { typealias Value = PhimMetrics }
    private struct ProviderCallLogKey: StorageKey { typealias Value = ProviderCallLog }

    public var phimConfig: AppConfig {
        get { storage[ConfigKey.self] ?? AppConfig() }
        set { storage[ConfigKey.self] = newValue }
    }

    /// The clock every time-driven rule reads.
    public var clock: AppClock {
        get { storage[ClockKey.self] ?? .system }
        set { storage[ClockKey.self] = newValue }
    }

    /// The video provider: the live Kie client, or the simulator in demo mode.
    public var provider: any VideoProvider {
        get {
            guard let provider = storage[ProviderKey.self] else { fatalError("configure(_:_:) sets the provider") }
            return provider
        }
        set { storage[ProviderKey.self] = newValue }
    }

    /// The built-in simulator, when this process runs one.
    public var simulator: KieSimulator? {
        get { storage[SimulatorKey.self] }
        set { storage[SimulatorKey.self] = newValue }
    }

    public var jobEvents: JobEventBus {
        get {
            if let bus = storage[EventsKey.self] { return bus }
            let bus = JobEventBus()
            storage[EventsKey.self] = bus
            return bus
        }
        set { storage[EventsKey.self] = newValue }
    }

    /// Serialises write transactions on SQLite; `nil` on PostgreSQL.
    var writeGate: WriteGate? {
        get { storage[GateKey.self] }
        set { storage[GateKey.self] = newValue }
    }

    var fileStorage: any FileStorage {
        get {
            guard let files = storage[FileStorageKey.self] else { fatalError("configure(_:_:) sets the file storage") }
            return files
        }
        set { storage[FileStorageKey.self] = newValue }
    }

    /// Reviews every prompt before credits are held: the operator's blocked terms unless a real
    /// moderation service is plugged in here.
    public var moderator: any PromptModerator {
        get { storage[ModeratorKey.self] ?? BlockedTermsModerator(terms: []) }
        set { storage[ModeratorKey.self] = newValue }
    }

    /// Where webhooks may be sent (the operator's setting; tests replace its resolver).
    var webhookTargetPolicy: WebhookTargetPolicy {
        get { storage[WebhookPolicyKey.self] ?? WebhookTargetPolicy(allowsPrivateTargets: phimConfig.webhooks.allowsPrivateTargets) }
        set { storage[WebhookPolicyKey.self] = newValue }
    }

    /// Sends webhook attempts: an HTTP client of its own (no redirects) unless a test swaps it.
    var webhookSender: any WebhookSender {
        get {
            guard let sender = storage[WebhookSenderKey.self] else { fatalError("configure(_:_:) sets the webhook sender") }
            return sender
        }
        set { storage[WebhookSenderKey.self] = newValue }
    }

    func webhookDispatcher(logger: Logger) -> WebhookDispatcher {
        WebhookDispatcher(store: store, sender: webhookSender, policy: webhookTargetPolicy, clock: clock,
                          logger: logger, settings: phimConfig.webhooks, metrics: metrics)
    }

    /// This application's Prometheus registry (`GET /metrics`).
    var metrics: PhimMetrics {
        if let metrics = storage[MetricsKey.self] { return metrics }
        let metrics = PhimMetrics()
        storage[MetricsKey.self] = metrics
        return metrics
    }

    /// Provider calls per minute, for the admin page's provider health.
    var providerCallLog: ProviderCallLog {
        if let log = storage[ProviderCallLogKey.self] { return log }
        let log = ProviderCallLog()
        storage[ProviderCallLogKey.self] = log
        return log
    }

    /// Carries job events between instances; set on PostgreSQL.
    var eventRelay: PostgresEventRelay? {
        get { storage[RelayKey.self] }
        set { storage[RelayKey.self] = newValue }
    }

    /// Starts relaying job events through PostgreSQL (when the database is PostgreSQL) and
    /// returns the listening task; until it runs, events are delivered in this process only.
    /// `onListening` is called once the listener is in place.
    func startEventRelay(onListening: @escaping @Sendable () -> Void = {}) -> Task<Void, Never>? {
        guard let relay = eventRelay, let sql = db as? any SQLDatabase else { return nil }
        let bus = jobEvents
        bus.useRelay { event in await relay.publish(event, on: sql) }
        return Task { await relay.listen(deliver: { bus.deliverLocally($0) }, onListening: onListening) }
    }

    /// The database with its write rule.
    public var store: Store { Store(db: db, gate: writeGate) }

    /// This server's own address on loopback, once `serve` has bound (or will bind) its port.
    var loopbackBaseURL: String {
        let port = http.server.shared.localAddress?.port ?? http.server.configuration.port
        return "http://127.0.0.1:\(port)"
    }

    /// The base URL the provider calls back and fetches uploads from (`PHIM_PUBLIC_URL`,
    /// else this server on loopback, which suits demo mode on one machine).
    public var publicBaseURL: String { phimConfig.publicURL ?? loopbackBaseURL }

    func jobLifecycle(logger: Logger) -> JobLifecycle {
        JobLifecycle(store: store, clock: clock, logger: logger, events: jobEvents, settings: phimConfig.reconciler)
    }
}

extension Request {
    var store: Store { Store(db: db, gate: application.writeGate) }
    var clock: AppClock { application.clock }
    var jobLifecycle: JobLifecycle {
        JobLifecycle(store: store, clock: clock, logger: logger, events: application.jobEvents,
                     settings: application.phimConfig.reconciler)
    }
}
