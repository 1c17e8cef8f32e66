// What an outbound webhook can announce about a video, and which of it a target wants.
import Foundation
import PhimSupport

/// What a webhook can tell about a video. The wire `type` is `video.<name>`.
public enum WebhookEvent: String, Sendable, CaseIterable, Comparable {
    /// The provider began generating.
    case started
    /// Generation moved forward (a higher percentage).
    case progress
    case completed
    case failed
    case canceled

    public var type: String { "video.\(rawValue)" }

    /// The event a job's change announces, if any: a first move into processing is `started`, a
    /// later rise in its percentage `progress`; the terminal states are themselves. Moving from
    /// `submitting` to `pending` (the provider accepted the task) announces nothing: the create's
    /// own answer already said so.
    static func announcing(from old: (status: JobStatus, progress: Int), to new: (status: JobStatus, progress: Int)) -> WebhookEvent? {
        switch new.status {
        case .completed: .completed
        case .failed: .failed
        case .canceled: .canceled
        case .processing: old.status != .processing ? .started : (new.progress > old.progress ? .progress : nil)
        case .queued, .submitting, .pending: nil
        }
    }

    public static func < (lhs: WebhookEvent, rhs: WebhookEvent) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Which events a target wants: every one, or a chosen set.
public struct WebhookEventFilter: Sendable, Equatable {
    /// nil: every event.
    public var events: Set<WebhookEvent>?

    public static let all = WebhookEventFilter(events: nil)

    public init(events: Set<WebhookEvent>?) { self.events = events }

    /// Reads a filter as stored in a column: comma-separated names, NULL for all.
    init(stored: String?) {
        events = stored.map { Set($0.split(separator: ",").compactMap { WebhookEvent(rawValue: String($0)) }) }
    }

    /// Reads a request's `events` / `webhook_events` field: absent (or null) means every event; a
    /// list naming an unknown event, an empty list or another type is `invalid_webhook_events`.
    static func requested(_ field: JSON?) throws -> WebhookEventFilter {
        guard let field, !field.isNull else { return .all }
        guard case .array(let items) = field, !items.isEmpty else { throw AppError.invalidWebhookEvents }
        var chosen = Set<WebhookEvent>()
        for item in items {
            guard let event = item.stringValue.flatMap(WebhookEvent.init(rawValue:)) else { throw AppError.invalidWebhookEvents }
            chosen.insert(event)
        }
        return WebhookEventFilter(events: chosen.count == WebhookEvent.allCases.count ? nil : chosen)
    }

    /// As stored: names in the documented order, comma-separated; nil for all.
    var stored: String? { events.map { $0.sorted().map(\.rawValue).joined(separator: ",") } }

    /// The names, in the documented order, for answers.
    public var names: [String] { (events.map { $0.sorted() } ?? WebhookEvent.allCases).map(\.rawValue) }

    public func includes(_ event: WebhookEvent) -> Bool { events?.contains(event) ?? true }
}
