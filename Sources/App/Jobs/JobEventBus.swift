import Foundation
import NIOConcurrencyHelpers

/// Something changed about a user's job (and so maybe their balance).
public struct JobEvent: Sendable, Equatable, Codable {
    public var userID: UUID
    public var jobID: UUID
    public var status: JobStatus
    public var progress: Int
}

/// Fans job changes out to whoever listens for a user (the live updates stream).
///
/// `JobLifecycle` publishes after each commit, whether the change came from a callback, a poll,
/// a create or a cancel: there is one path, so every listener sees every change. With several
/// instances on PostgreSQL, a `relay` carries each event through the database
/// (`PostgresEventRelay`), and every instance, this one included, delivers it to its own
/// listeners when it comes back; without one, events are delivered here directly.
public final class JobEventBus: Sendable {
    /// Sends an event to every instance; returns false when it could not.
    public typealias Relay = @Sendable (JobEvent) async -> Bool

    private let subscribers = NIOLockedValueBox<[UUID: [UUID: AsyncStream<JobEvent>.Continuation]]>([:])
    private let relay = NIOLockedValueBox<Relay?>(nil)

    public init() {}

    func useRelay(_ relay: Relay?) { self.relay.withLockedValue { $0 = relay } }

    public func publish(_ event: JobEvent) async {
        if let relay = relay.withLockedValue({ $0 }), await relay(event) { return }
        deliverLocally(event)
    }

    /// Hands an event to this instance's listeners for its user.
    func deliverLocally(_ event: JobEvent) {
        let listeners = subscribers.withLockedValue { $0[event.userID].map { Array($0.values) } ?? [] }
        for listener in listeners { listener.yield(event) }
    }

    /// A stream of the user's events, ending when the consumer stops iterating.
    public func subscribe(userID: UUID) -> AsyncStream<JobEvent> {
        let token = UUID()
        let (stream, continuation) = AsyncStream.makeStream(of: JobEvent.self, bufferingPolicy: .bufferingNewest(100))
        subscribers.withLockedValue { $0[userID, default: [:]][token] = continuation }
        continuation.onTermination = { [weak self] _ in
            self?.subscribers.withLockedValue { $0[userID]?[token] = nil }
        }
        return stream
    }
}
