import Foundation
import NIOConcurrencyHelpers

/// Something changed about a user's job or balance.
public struct JobEvent: Sendable, Equatable {
    public var userID: UUID
    public var jobID: UUID
    public var status: JobStatus
    public var progress: Int
}

/// Fans job changes out to whoever listens for a user (the studio's live updates).
///
/// `JobLifecycle` publishes after each commit, whether the change came from a callback, a
/// poll, a create or a cancel: there is one path, so every listener sees every change.
public final class JobEventBus: Sendable {
    private let subscribers = NIOLockedValueBox<[UUID: [UUID: AsyncStream<JobEvent>.Continuation]]>([:])

    public init() {}

    public func publish(_ event: JobEvent) {
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
