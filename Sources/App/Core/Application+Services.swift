import Fluent
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
