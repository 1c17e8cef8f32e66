import Foundation
import PhimProvider
import PhimSupport

/// A create request after validation: the model found in the catalog, every option one it
/// offers, the price row known.
public struct VideoRequest: Sendable {
    /// Phim's own cap; a model with a lower one (Veo: 2,000) lowers it.
    public static let maximumPromptLength = 5_000
    /// A deadline is checked by the reconciler, so one shorter than a few of its passes means little.
    public static let deadlineRange = 60...86_400

    public var model: CatalogModel
    public var mode: VideoMode
    public var prompt: String
    /// "16:9", "9:16" or "1:1", one the model offers.
    public var aspectRatio: String
    public var durationSeconds: Int
    public var resolution: String
    public var audio: Bool
    public var price: CatalogModel.Price
    public var uploadID: String?
    /// Seconds after creation by which the video must be done, or it fails (refunded).
    public var deadlineSeconds: Int?
    /// Where this video's events are posted (Standard Webhooks), and which ones.
    public var webhookURL: String? = nil
    public var webhookEvents: WebhookEventFilter = .all

    /// A digest of everything that makes two requests the same, to tell a retry with an
    /// `Idempotency-Key` from a different request that reuses the key.
    var fingerprint: String {
        var parts = [model.id, mode.rawValue, prompt, aspectRatio, String(durationSeconds), resolution, audio ? "audio" : "silent",
                     uploadID ?? "", deadlineSeconds.map(String.init) ?? ""]
        if let webhookURL { parts += [webhookURL, webhookEvents.stored ?? ""] }
        return Crypto.sha256Hex(parts.joined(separator: "\u{1F}"))
    }

    /// The prompt limit for a model: Phim's, or the provider's if lower.
    public static func promptLimit(of model: CatalogModel) -> Int { min(maximumPromptLength, model.wire.prompt.maxLength) }

    /// Checks a create body field by field, in the order a person reads the form. `findModel`
    /// gives the catalog model a request names (nil: none named, the default) or throws why it
    /// cannot be used. Options left out take the model's `defaults`.
    public static func validate(_ body: JSON, findModel: (String?) throws -> CatalogModel) throws -> VideoRequest {
        guard case .object = body else { throw AppError.invalidJSON(detail: "expected an object") }
        func field(_ name: String) -> JSON? {
            guard let value = body[name], !value.isNull else { return nil }
            return value
        }

        var requestedID: String?
        if let value = field("model") {
            guard let raw = value.stringValue, !raw.isEmpty else { throw AppError.unknownModel(model: "", offered: []) }
            requestedID = String(raw.prefix(100))
        }
        let model = try findModel(requestedID)

        var mode = field("upload_id") == nil ? VideoMode.textToVideo : .imageToVideo
        if let value = field("mode") {
            guard let parsed = value.stringValue.flatMap(VideoMode.init(rawValue:)) else { throw AppError.invalidMode }
            mode = parsed
        }
        guard model.modes.contains(mode) else { throw AppError.modeNotOffered(model: model.id, mode: mode.rawValue) }

        guard let rawPrompt = field("prompt")?.stringValue else { throw AppError.promptRequired }
        let prompt = rawPrompt.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !prompt.isEmpty else { throw AppError.promptRequired }
        let limit = promptLimit(of: model)
        guard prompt.count <= limit else { throw AppError.promptTooLong(maximum: limit) }
        guard !prompt.containsControlCharacters(allowingLineBreaks: true) else { throw AppError.promptInvalidCharacters }

        let defaults = model.defaults
        let ratios = model.wire.aspectRatio.values
        var aspectRatio = defaults.aspectRatio
        if let value = field("aspect_ratio") {
            let named = value.stringValue.map { raw in ["landscape": "16:9", "portrait": "9:16"][raw] ?? raw }
            guard let named, ratios.contains(named) else { throw AppError.invalidAspectRatio(offered: ratios) }
            aspectRatio = named
        }

        let durations = model.wire.duration.values
        var duration = defaults.duration
        if let value = field("duration") {
            guard let seconds = value.intValue, durations.contains(seconds) else { throw AppError.invalidDuration(offered: durations) }
            duration = seconds
        }

        let resolutions = model.wire.resolution.ids
        var resolution = defaults.resolution
        if let value = field("resolution") {
            guard let named = value.stringValue?.lowercased(), resolutions.contains(named) else {
                throw AppError.invalidResolution(offered: resolutions)
            }
            resolution = named
        }

        var audio = defaults.audio
        if let value = field("audio") {
            guard case .bool(let wanted) = value else { throw AppError.invalidAudio }
            guard model.audioChoices.contains(wanted) else {
                throw AppError.audioNotOffered(model: model.id, always: model.wire.audio.policy == .always)
            }
            audio = wanted
        }
        guard let price = model.price(duration: duration, resolution: resolution, audio: audio) else {
            throw AppError.optionUnavailable(model: model.id, duration: duration, resolution: resolution, audio: audio)
        }

        var uploadID: String?
        if let value = field("upload_id") {
            guard let raw = value.stringValue, UUID(uuidString: raw) != nil else { throw AppError.uploadNotFound }
            uploadID = raw.lowercased()
        }
        if mode == .imageToVideo, uploadID == nil { throw AppError.uploadRequired }
        if mode == .textToVideo, uploadID != nil { throw AppError.uploadNotAllowed }

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

        return VideoRequest(model: model, mode: mode, prompt: prompt, aspectRatio: aspectRatio, durationSeconds: duration,
                            resolution: resolution, audio: audio, price: price, uploadID: uploadID, deadlineSeconds: deadline,
                            webhookURL: webhookURL, webhookEvents: webhookEvents)
    }
}
