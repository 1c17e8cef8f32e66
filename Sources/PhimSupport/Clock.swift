import Foundation

/// Time as the domain sees it: `now` and `sleep` are values, so tests can move time by hand.
public struct AppClock: Sendable {
    public var now: @Sendable () -> Date
    public var sleep: @Sendable (TimeInterval) -> Void

    public init(now: @escaping @Sendable () -> Date, sleep: @escaping @Sendable (TimeInterval) -> Void) {
        self.now = now
        self.sleep = sleep
    }

    public static let system = AppClock(now: { Date() }, sleep: { seconds in
        if seconds > 0 { Thread.sleep(forTimeInterval: seconds) }
    })

    /// Unix milliseconds, the form every time is stored in.
    public func nowMillis() -> Int64 { now().unixMillis }
}

/// A clock that moves only when a test says so.
public final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = start }

    public var now: Date { lock.withLock { current } }

    public func advance(_ seconds: TimeInterval) { lock.withLock { current = current.addingTimeInterval(seconds) } }

    public var clock: AppClock {
        AppClock(now: { [self] in self.now }, sleep: { [self] seconds in self.advance(seconds) })
    }
}

extension Date {
    public var unixMillis: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
    public init(unixMillis: Int64) { self.init(timeIntervalSince1970: TimeInterval(unixMillis) / 1000) }
}
