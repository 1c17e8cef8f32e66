import Foundation
import Logging
import PostgresKit
import SQLKit

/// Carries job events between Phim instances that share one PostgreSQL database, with
/// LISTEN/NOTIFY: publishing is a `pg_notify`, and a dedicated connection on every instance
/// listens and hands each event to that instance's `JobEventBus` listeners.
///
/// So a browser connected to instance A hears about a callback that landed on instance B.
struct PostgresEventRelay: Sendable {
    let configuration: PostgresConnection.Configuration
    /// One channel per schema, so that databases shared by several Phim set-ups (or test runs) don't mix.
    let channel: String
    let logger: Logger

    init(configuration: SQLPostgresConfiguration, logger: Logger) {
        self.configuration = configuration.coreConfiguration
        let schema = configuration.searchPath?.first ?? "public"
        self.channel = "phim_events_" + String(schema.lowercased().filter { $0.isLetter || $0.isNumber || $0 == "_" }.prefix(40))
        self.logger = logger
    }

    /// Sends the event to every instance (this one included). Returns false if the database
    /// refused, so the caller can at least deliver it locally.
    func publish(_ event: JobEvent, on db: any SQLDatabase) async -> Bool {
        do {
            let payload = String(decoding: try JSONEncoder().encode(event), as: UTF8.self)
            try await db.raw("SELECT pg_notify(\(bind: channel), \(bind: payload))").run()
            return true
        } catch {
            logger.warning("could not relay a job event", metadata: ["error": .string("\(error)")])
            return false
        }
    }

    /// Listens until cancelled, reconnecting after a second when the connection drops.
    /// `onListening` is called each time the listener is (re)established.
    func listen(deliver: @escaping @Sendable (JobEvent) -> Void, onListening: @escaping @Sendable () -> Void = {}) async {
        var connectionID = 0
        while !Task.isCancelled {
            connectionID += 1
            do {
                let connection = try await PostgresConnection.connect(configuration: configuration, id: connectionID, logger: logger)
                defer { Task { try? await connection.close() } }
                try await connection.listen(on: channel) { notifications in
                    onListening()
                    for try await notification in notifications {
                        guard let event = try? JSONDecoder().decode(JobEvent.self, from: Data(notification.payload.utf8)) else { continue }
                        deliver(event)
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("event listener lost its connection; reconnecting", metadata: ["error": .string("\(error)")])
            }
            try? await Task.sleep(for: .seconds(1)) // cancellation ends the loop on the next check
        }
    }
}
