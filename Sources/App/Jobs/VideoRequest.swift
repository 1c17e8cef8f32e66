import Crypto
import Foundation

/// A create request after validation: every option known, every rule checked.
struct VideoRequest: Sendable, Equatable {
    static let maximumPromptLength = 5_000
    /// A deadline is checked by the reconciler, so one shorter than a few of its intervals means little.
    static let deadlineRange = 60...86_400

    var model: VideoModel
    var prompt: String
    var aspectRatio: AspectRatio
    var durationSeconds: Int
    var quality: VideoQuality
    var uploadID: UUID?
    /// Seconds after creation by which the video must be done, or it fails (refunded).
    var deadlineSeconds: Int? = nil
    /// Where this video's events are posted (Standard Webhooks), and which ones.
    var webhookURL: String? = nil
    var webhookEvents: WebhookEventFilter = .all

    var mode: VideoMode { model.mode }

    /// A digest of everything that makes two requests the same, to tell a retry with an
    /// `Idempotency-Key` from a different request that reuses the key.
    var fingerprint: String {
        let canonical = [model.rawValue, prompt, aspectRatio.rawValue, String(durationSeconds), quality.rawValue,
                         uploadID?.uuidString ?? "", deadlineSeconds.map(String.init) ?? "",
                         webhookURL ?? "", webhookEvents.stored ?? ""].joined(separator: "\u{1F}")
        return SHA256.hash(data: Data(canonical.utf8)).hexString
    }

    /// Checks a create body, field by field, in the order a person reads the form. Defaults:
    /// text-to-video, the standard model of the mode, landscape, 10 s, standard quality.
    static func validate(_ input: API.CreateVideoInput) throws(AppError) -> VideoRequest {
        var mode: VideoMode?
        switch input.mode {
        case .absent: mode = nil
        case .value(let raw): guard let parsed = VideoMode(rawValue: raw) else { throw .invalidMode }; mode = parsed
        case .invalid: throw .invalidMode
        }

        let model: VideoModel
        switch input.model {
        case .absent: model = .standard(for: mode ?? .textToVideo)
        case .value(let raw):
            guard let parsed = VideoModel(rawValue: raw) else { throw .unknownModel(String(raw.prefix(100))) }
            if let mode, parsed.mode != mode { throw .modelDoesNotMatchMode }
            model = parsed
        case .invalid: throw .unknownModel("")
        }

        guard case .value(let rawPrompt) = input.prompt else { throw .promptRequired }
        let prompt = rawPrompt.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !prompt.isEmpty else { throw .promptRequired }
        guard prompt.count <= maximumPromptLength else { throw .promptTooLong(maximum: maximumPromptLength) }
        guard !prompt.containsControlCharacters(allowingLineBreaks: true) else { throw .promptInvalidCharacters }

        let aspectRatio: AspectRatio
        switch input.aspectRatio {
        case .absent: aspectRatio = .landscape
        case .value(let raw): guard let parsed = AspectRatio(rawValue: raw) else { throw .invalidAspectRatio }; aspectRatio = parsed
        case .invalid: throw .invalidAspectRatio
        }

        let duration: Int
        switch input.duration {
        case .absent: duration = 10
        case .value(let seconds): guard VideoDurations.allowed.contains(seconds) else { throw .invalidDuration }; duration = seconds
        case .invalid: throw .invalidDuration
        }

        let quality: VideoQuality
        switch input.quality {
        case .absent: quality = .standard
        case .value(let raw): guard let parsed = VideoQuality(rawValue: raw) else { throw .invalidQuality }; quality = parsed
        case .invalid: throw .invalidQuality
        }
        guard model.qualities.contains(quality) else {
            throw .optionUnavailable(model: model.rawValue, duration: duration, quality: quality.rawValue)
        }

        var uploadID: UUID?
        switch input.uploadID {
        case .absent: uploadID = nil
        case .value(let raw): guard let parsed = UUID(uuidString: raw) else { throw .uploadNotFound }; uploadID = parsed
        case .invalid: throw .uploadNotFound
        }
        if model.mode == .imageToVideo, uploadID == nil { throw .uploadRequired }
        if model.mode == .textToVideo, uploadID != nil { throw .uploadNotAllowed }

        var deadline: Int?
        switch input.deadlineSeconds {
        case .absent: deadline = nil
        case .value(let seconds): guard deadlineRange.contains(seconds) else { throw .invalidDeadline }; deadline = seconds
        case .invalid: throw .invalidDeadline
        }

        // Only the URL's form here; where it leads is checked by `VideoCreation` (it needs DNS).
        var webhookURL: String?
        switch input.webhookURL {
        case .absent: webhookURL = nil
        case .value(let raw):
            do { _ = try WebhookTargetPolicy.host(of: raw) } catch { throw .invalidWebhookURL }
            webhookURL = raw
        case .invalid: throw .invalidWebhookURL
        }
        let webhookEvents = try WebhookEventFilter.requested(input.webhookEvents)
        // A filter says which events go to `webhook_url`, so it needs one.
        if webhookURL == nil, case .value = input.webhookEvents { throw .invalidWebhookEvents }

        return VideoRequest(model: model, prompt: prompt, aspectRatio: aspectRatio, durationSeconds: duration,
                            quality: quality, uploadID: uploadID, deadlineSeconds: deadline,
                            webhookURL: webhookURL, webhookEvents: webhookEvents)
    }
}

extension Digest {
    /// Lower-case hex. Every API call hashes its key, so this avoids `String(format:)` per byte.
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.byteCount * 2)
        for byte in self {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
