import Foundation

/// The current time and a way to wait, injected so tests can fix or advance time by hand.
///
/// Every time that drives behaviour (when a job is due for a provider query, when a simulated
/// job finishes) comes from here, never from `Date()` directly.
public struct AppClock: Sendable {
    public var now: @Sendable () -> Date
    public var sleep: @Sendable (Duration) async throws -> Void

    public init(now: @escaping @Sendable () -> Date, sleep: @escaping @Sendable (Duration) async throws -> Void) {
        self.now = now
        self.sleep = sleep
    }

    /// Wall-clock time, in whole milliseconds, and real sleeping.
    ///
    /// Whole milliseconds survive the round trip through both databases' date encodings, which
    /// keeps pagination cursors exact (see `Cursor`).
    public static let system = AppClock(
        now: { Date(timeIntervalSince1970: (Date().timeIntervalSince1970 * 1000).rounded() / 1000) },
        sleep: { try await Task.sleep(for: $0) })
}

extension Date {
    func adding(_ duration: Duration) -> Date {
        addingTimeInterval(duration.timeInterval)
    }
}

extension Duration {
    /// The duration in (fractional) seconds, for `Date` arithmetic.
    var timeInterval: TimeInterval {
        let parts = components
        return TimeInterval(parts.seconds) + TimeInterval(parts.attoseconds) / 1e18
    }
}
