import Foundation

/// What a webhook can tell about a video. The wire `type` is `video.<name>`.
enum WebhookEvent: String, Codable, Sendable, CaseIterable, Comparable {
    /// The provider began generating.
    case started
    /// Generation moved forward (a higher percentage).
    case progress
    case completed
    case failed
    case canceled

    var type: String { "video.\(rawValue)" }

    /// The event a job's state change announces, if any: a first move into processing is
    /// `started`, a later rise in its percentage `progress`; the terminal states are themselves.
    /// Moving from `submitting` to `pending` (the provider accepted the task) announces nothing:
    /// the create's own answer already said so.
    static func announcing(from old: (status: JobStatus, progress: Int), to job: VideoJob) -> WebhookEvent? {
        switch job.status {
        case .completed: return .completed
        case .failed: return .failed
        case .canceled: return .canceled
        case .processing:
            if old.status != .processing { return .started }
            return job.progress > old.progress ? .progress : nil
        case .submitting, .pending: return nil
        }
    }

    static func < (lhs: WebhookEvent, rhs: WebhookEvent) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Which events a target wants: every one, or a chosen set.
struct WebhookEventFilter: Sendable, Equatable {
    var events: Set<WebhookEvent>?

    static let all = WebhookEventFilter(events: nil)

    /// Reads a filter as stored in a column: comma-separated names, `nil` for all.
    init(stored: String?) {
        events = stored.map { Set($0.split(separator: ",").compactMap { WebhookEvent(rawValue: String($0)) }) }
    }

    init(events: Set<WebhookEvent>?) { self.events = events }

    /// Reads the names a request gave; `nil` for an unknown name or an empty list.
    init?(names: [String]) {
        var chosen = Set<WebhookEvent>()
        for name in names {
            guard let event = WebhookEvent(rawValue: name) else { return nil }
            chosen.insert(event)
        }
        guard !chosen.isEmpty else { return nil }
        events = chosen.count == WebhookEvent.allCases.count ? nil : chosen
    }

    /// Reads a request's `events` / `webhook_events` field: absent means every event; a list of
    /// unknown names, an empty list or another type is `invalid_webhook_events`.
    static func requested(_ field: API.Lenient<[String]>) throws(AppError) -> WebhookEventFilter {
        switch field {
        case .absent: return .all
        case .value(let names):
            guard let filter = WebhookEventFilter(names: names) else { throw .invalidWebhookEvents }
            return filter
        case .invalid: throw .invalidWebhookEvents
        }
    }

    var stored: String? { events.map { $0.sorted().map(\.rawValue).joined(separator: ",") } }

    /// The names, in the documented order, for responses.
    var names: [String] { (events.map { $0.sorted() } ?? WebhookEvent.allCases).map(\.rawValue) }

    func includes(_ event: WebhookEvent) -> Bool { events?.contains(event) ?? true }
}
