import Foundation
import PhimProvider
import PhimSupport

/// A create request after validation: every option known, every rule checked.
public struct VideoRequest: Sendable, Equatable {
    public static let maximumPromptLength = 5_000
    /// A deadline is checked by the reconciler, so one shorter than a few of its passes means little.
    public static let deadlineRange = 60...86_400

    public var model: VideoModel
    public var prompt: String
    public var aspectRatio: AspectRatio
    public var durationSeconds: Int
    public var quality: VideoQuality
    public var uploadID: String?
    /// Seconds after creation by which the video must be done, or it fails (refunded).
    public var deadlineSeconds: Int?
    /// Where this video's events are posted (Standard Webhooks), and which ones.
    public var webhookURL: String? = nil
    public var webhookEvents: WebhookEventFilter = .all

    public var mode: VideoMode { model.mode }

    /// A digest of everything that makes two requests the same, to tell a retry with an
    /// `Idempotency-Key` from a different request that reuses the key.
    var fingerprint: String {
        var parts = [model.rawValue, prompt, aspectRatio.rawValue, String(durationSeconds), quality.rawValue,
                     uploadID ?? "", deadlineSeconds.map(String.init) ?? ""]
        // Only when given, so a request without a webhook keeps the fingerprint it always had.
        if let webhookURL { parts += [webhookURL, webhookEvents.stored ?? ""] }
        return Crypto.sha256Hex(parts.joined(separator: "\u{1F}"))
    }

    /// Checks a create body field by field, in the order a person reads the form. Defaults:
    /// text-to-video, the standard model of the mode, landscape, 10 s, standard quality.
    public static func validate(_ body: JSON) throws -> VideoRequest {
        guard case .object = body else { throw AppError.invalidJSON(detail: "expected an object") }
        func field(_ name: String) -> JSON? {
            guard let value = body[name], !value.isNull else { return nil }
            return value
        }

        var mode: VideoMode?
        if let value = field("mode") {
            guard let parsed = value.stringValue.flatMap(VideoMode.init(rawValue:)) else { throw AppError.invalidMode }
            mode = parsed
        }

        let model: VideoModel
        if let value = field("model") {
            guard let raw = value.stringValue else { throw AppError.unknownModel("") }
            guard let parsed = VideoModel(rawValue: raw) else { throw AppError.unknownModel(String(raw.prefix(100))) }
            if let mode, parsed.mode != mode { throw AppError.modelDoesNotMatchMode }
            model = parsed
        } else {
            model = .standard(for: mode ?? (field("upload_id") == nil ? .textToVideo : .imageToVideo))
        }

        guard let rawPrompt = field("prompt")?.stringValue else { throw AppError.promptRequired }
        let prompt = rawPrompt.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !prompt.isEmpty else { throw AppError.promptRequired }
        guard prompt.count <= maximumPromptLength else { throw AppError.promptTooLong(maximum: maximumPromptLength) }
        guard !prompt.containsControlCharacters(allowingLineBreaks: true) else { throw AppError.promptInvalidCharacters }

        var aspectRatio = AspectRatio.landscape
        if let value = field("aspect_ratio") {
            guard let parsed = value.stringValue.flatMap(AspectRatio.init(rawValue:)) else { throw AppError.invalidAspectRatio }
            aspectRatio = parsed
        }

        var duration = 10
        if let value = field("duration") {
            guard let seconds = value.intValue, VideoDurations.allowed.contains(seconds) else { throw AppError.invalidDuration }
            duration = seconds
        }

        var quality = VideoQuality.standard
        if let value = field("quality") {
            guard let parsed = value.stringValue.flatMap(VideoQuality.init(rawValue:)) else { throw AppError.invalidQuality }
            quality = parsed
        }
        guard model.qualities.contains(quality) else {
            throw AppError.optionUnavailable(model: model.rawValue, duration: duration, quality: quality.rawValue)
        }

        var uploadID: String?
        if let value = field("upload_id") {
            guard let raw = value.stringValue, UUID(uuidString: raw) != nil else { throw AppError.uploadNotFound }
            uploadID = raw.lowercased()
        }
        if model.mode == .imageToVideo, uploadID == nil { throw AppError.uploadRequired }
        if model.mode == .textToVideo, uploadID != nil { throw AppError.uploadNotAllowed }

        var deadline: Int?
        if let value = field("deadline_seconds") {
            guard let seconds = value.intValue, deadlineRange.contains(seconds) else { throw AppError.invalidDeadline }
            deadline = seconds
        }

        // Only the URL's form here; where it leads is checked by `VideoCreation.quote` (it needs DNS).
        var webhookURL: String?
        if let value = field("webhook_url") {
            guard let raw = value.stringValue, (try? WebhookTargetPolicy.host(of: raw)) != nil else { throw AppError.invalidWebhookURL }
            webhookURL = raw
        }
        let webhookEvents = try WebhookEventFilter.requested(field("webhook_events"))
        // A filter says which events go to `webhook_url`, so it needs one.
        if webhookURL == nil, field("webhook_events") != nil { throw AppError.invalidWebhookEvents }

        return VideoRequest(model: model, prompt: prompt, aspectRatio: aspectRatio, durationSeconds: duration,
                            quality: quality, uploadID: uploadID, deadlineSeconds: deadline,
                            webhookURL: webhookURL, webhookEvents: webhookEvents)
    }
}
