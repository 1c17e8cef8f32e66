// The settings of outbound webhooks (environment names in the README's configuration table).
import Foundation
import PhimSupport

/// What a webhook body's `data` is: the video as `GET /api/v1/videos/{id}` shows it. The web side
/// owns that JSON and its texts, so it hands the builder over (`Configuration` does).
public typealias WebhookVideoJSON = @Sendable (_ video: VideoRecord, _ sharing: Sharing) -> JSON

/// Looks a host name up; tests give a table instead of DNS.
public typealias HostResolver = @Sendable (_ host: String) throws -> [IPAddress]

public struct WebhookSettings: Sendable {
    /// Whether webhook URLs may lead to loopback, private or link-local addresses (receivers on
    /// the operator's own network; `PHIM_WEBHOOK_ALLOW_PRIVATE_TARGETS`). Off: users must not
    /// reach into it.
    public var allowsPrivateTargets = false
    /// Seconds before each retry of a failed attempt (`PHIM_WEBHOOK_RETRY_SCHEDULE`). The default
    /// follows Standard Webhooks' advice: 8 attempts over 27.6 hours.
    public var retrySchedule: [Double] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000]
    /// How long one attempt waits for an answer (`PHIM_WEBHOOK_TIMEOUT_SECONDS`).
    public var attemptTimeoutSeconds: Double = 10
    /// Replays one account may ask for per hour (`PHIM_WEBHOOK_REPLAYS_PER_HOUR`): each one
    /// makes a delivery due at once, so unlimited replays could keep the dispatcher busy.
    public var replaysPerHour = 30
    /// Days a delivered or failed delivery stays in the log, its attempts with it
    /// (`PHIM_WEBHOOK_DELIVERY_RETENTION_DAYS`); pending ones stay until they finish.
    public var deliveryRetentionDays = 30
    /// DNS for the check before each attempt (never on a request thread): the C library's
    /// `getaddrinfo` unless a test gives a table.
    public var resolve: HostResolver = WebhookTargetPolicy.systemResolve
    /// The body's `data`; without it (a world that never wired the web side) nothing is queued.
    public var videoJSON: WebhookVideoJSON?

    public init() {}
}
