import Foundation
import PhimSupport

/// Everything a request can do wrong, each with its HTTP status and machine-readable code.
///
/// The message people read is looked up by the web side under `error.<code>`, in the caller's
/// language, with `parameters` filled in; `details` are added to the error object as they are.
public enum AppError: Error, Equatable, Sendable {
    // Requests
    case invalidJSON(detail: String)
    case badRequest
    case unsupportedMediaType
    case payloadTooLarge(limitBytes: Int)
    case routeNotFound
    case methodNotAllowed
    case serviceBusy

    // Accounts
    case unauthenticated
    case invalidCredentials
    case invalidEmail
    case passwordTooShort(minimum: Int)
    case passwordInvalid(maximumBytes: Int)
    case invalidName
    case emailTaken
    case csrfFailed
    case accountDisabled
    case tooManyLoginAttempts(retryAfter: Int)
    case tooManySignups(retryAfter: Int)
    /// Every password-hashing slot stayed taken (each hash takes 64 MiB): try again in a moment.
    case signInBusy
    case currentPasswordWrong

    // Creating a video
    case promptRequired
    case promptTooLong(maximum: Int)
    case promptInvalidCharacters
    case invalidMode
    case unknownModel(model: String, offered: [String])
    case modelRetired(model: String, replacements: [String])
    case modelUnavailable(model: String, reason: String?, retryAfter: Int?, videoID: String?)
    case modeNotOffered(model: String, mode: String)
    case invalidAspectRatio(offered: [String])
    case invalidDuration(offered: [Int])
    case invalidResolution(offered: [String])
    case invalidAudio
    case audioNotOffered(model: String, always: Bool)
    case optionUnavailable(model: String, duration: Int, resolution: String, audio: Bool)
    case uploadRequired
    case uploadNotAllowed
    case uploadNotFound
    case invalidIdempotencyKey
    case invalidDeadline
    case invalidVariants
    case idempotencyKeyReused
    case insufficientCredits(needed: Int, available: Int)
    /// The operator's moderation refused the prompt; nothing was held.
    case promptRejected
    case tooManyUnfinishedVideos(limit: Int)
    case tooManyCreates(retryAfter: Int)

    // Uploads
    case fileRequired
    case unsupportedImageType
    case invalidImage
    case imageTooLarge(limitBytes: Int)
    case imageMetadataTooLarge(limitBytes: Int)
    case tooManyUploads(limit: Int, retryAfter: Int)
    case uploadQuotaExceeded(limitBytes: Int, retentionHours: Int)

    // Videos and keys
    case videoNotFound
    case apiKeyNotFound
    case notCancelable(status: String)
    case notShareable
    case videoExpired(days: Int)
    case invalidCursor
    case invalidLimit
    /// A list filter (`video_id`, `state`) with a value that cannot match anything.
    case invalidFilter(name: String)
    /// A queue limit out of 1…maximum, or none given.
    case invalidQueueLimit(maximum: Int)

    // Outbound webhooks
    case invalidWebhookURL
    /// The URL leads to loopback, a private network, link-local (the metadata service) or another special address.
    case webhookURLNotAllowed(host: String)
    case webhookURLUnresolvable(host: String)
    case invalidWebhookEvents
    case webhookDeliveryNotFound
    case tooManyReplays(retryAfter: Int)

    // Redemption codes
    case codeNotFound
    case codeExpired
    case codeDisabled
    case codeUsed
    case codeAlreadyRedeemed
    case tooManyCodeAttempts(retryAfter: Int)
    case invalidCodeBatch(field: String)

    // Operators
    case userNotFound
    case invalidAmount(maximum: Int)
    case reasonRequired(maximum: Int)
    case cannotDisableSelf
    case priceNotFound
    case modelNotFound
    case modelIsDefault(model: String)
    case modelRetiredLocked(model: String)
    case modelNotOffered(model: String)
    case catalogNeedsDefault
    case invalidStyle(field: String)

    // Provider trouble, surfaced to the user who asked for a video
    case providerUnavailable(videoID: String?)
    case providerBusy(videoID: String?)
    case providerOutOfCredits(videoID: String?)
    case providerMisconfigured(videoID: String?)
    case providerRejectedInput(videoID: String?, message: String)
    /// An operator's question to the provider got no answer; nothing changed.
    case providerQueryFailed

    // Provider callbacks
    case callbackNotFound
    case callbackTaskMismatch
    case invalidSignature

    case `internal`

    // Top-ups: bank notifications and the review queue
    /// A bank notification without the right key or signature; nothing was journaled.
    case paymentUnauthorized
    case invalidPaymentNotification(field: String)
    case reviewNotFound
    case reviewAlreadyResolved
    case topupAlreadyPaid
    /// The transfer simulator is a demo's: off unless the demo runs with a SePay key.
    case simulatorOff
    case invalidReviewResolution(field: String)
    // Top-ups: packages and orders
    /// No bank account is set (`PHIM_BANK_*`): nobody can be told where to pay.
    case topupsDisabled
    case packageNotFound
    case invalidPackage(field: String)
    case tooManyPendingOrders(limit: Int)
    case topupNotFound
    /// Only a pending order can be canceled.
    case topupNotPending

    public var status: Int {
        switch self {
        case .invalidJSON, .badRequest, .invalidIdempotencyKey, .invalidCursor, .invalidFilter, .invalidLimit, .fileRequired: 400
        case .unauthenticated, .invalidCredentials, .invalidSignature: 401
        case .insufficientCredits: 402
        case .csrfFailed, .accountDisabled, .currentPasswordWrong: 403
        case .routeNotFound, .videoNotFound, .apiKeyNotFound, .uploadNotFound, .callbackNotFound, .userNotFound, .priceNotFound,
             .webhookDeliveryNotFound, .modelNotFound: 404
        case .methodNotAllowed: 405
        case .emailTaken, .notCancelable, .notShareable: 409
        case .videoExpired, .modelRetired: 410
        case .payloadTooLarge, .imageTooLarge, .uploadQuotaExceeded: 413
        case .unsupportedMediaType, .unsupportedImageType: 415
        case .invalidEmail, .passwordTooShort, .passwordInvalid, .invalidName, .promptRequired, .promptTooLong,
             .promptInvalidCharacters, .invalidMode, .unknownModel, .modeNotOffered, .invalidAspectRatio,
             .invalidDuration, .invalidResolution, .invalidAudio, .audioNotOffered, .optionUnavailable, .uploadRequired, .uploadNotAllowed,
             .modelIsDefault, .modelRetiredLocked, .modelNotOffered, .catalogNeedsDefault,
             .idempotencyKeyReused, .invalidImage, .imageMetadataTooLarge, .invalidDeadline, .invalidVariants, .promptRejected, .providerRejectedInput, .callbackTaskMismatch,
             .invalidAmount, .reasonRequired, .cannotDisableSelf, .invalidStyle,
             .invalidWebhookURL, .webhookURLNotAllowed, .webhookURLUnresolvable, .invalidWebhookEvents, .invalidQueueLimit: 422
        case .tooManyUnfinishedVideos, .tooManyLoginAttempts, .tooManySignups, .tooManyCreates, .tooManyUploads: 429
        case .tooManyReplays: 429
        case .codeNotFound: 404
        case .codeExpired, .codeDisabled: 410
        case .codeUsed, .codeAlreadyRedeemed: 409
        case .tooManyCodeAttempts: 429
        case .invalidCodeBatch: 422
        case .internal: 500
        case .providerMisconfigured: 502
        case .providerUnavailable, .providerBusy, .providerOutOfCredits, .serviceBusy, .providerQueryFailed, .modelUnavailable: 503
        case .signInBusy: 503
        case .paymentUnauthorized: 401
        case .invalidPaymentNotification, .invalidReviewResolution: 400
        case .reviewNotFound, .simulatorOff: 404
        case .reviewAlreadyResolved, .topupAlreadyPaid: 409
        case .topupsDisabled: 503
        case .packageNotFound, .topupNotFound: 404
        case .invalidPackage: 400
        case .tooManyPendingOrders: 429
        case .topupNotPending: 409
        }
    }

    public var code: String {
        switch self {
        case .invalidJSON: "invalid_json"
        case .badRequest: "bad_request"
        case .unsupportedMediaType: "unsupported_media_type"
        case .payloadTooLarge: "payload_too_large"
        case .routeNotFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .serviceBusy: "service_busy"
        case .unauthenticated: "unauthenticated"
        case .invalidCredentials: "invalid_credentials"
        case .invalidEmail: "invalid_email"
        case .passwordTooShort: "password_too_short"
        case .passwordInvalid: "password_invalid"
        case .invalidName: "invalid_name"
        case .emailTaken: "email_taken"
        case .csrfFailed: "csrf_failed"
        case .accountDisabled: "account_disabled"
        case .tooManyLoginAttempts: "too_many_login_attempts"
        case .tooManySignups: "too_many_signups"
        case .signInBusy: "sign_in_busy"
        case .currentPasswordWrong: "current_password_wrong"
        case .tooManyCreates: "rate_limited"
        case .promptRequired: "prompt_required"
        case .promptTooLong: "prompt_too_long"
        case .promptInvalidCharacters: "prompt_invalid_characters"
        case .invalidMode: "invalid_mode"
        case .unknownModel: "unknown_model"
        case .modelRetired: "model_retired"
        case .modelUnavailable: "model_unavailable"
        case .modeNotOffered(_, let mode): mode == "image_to_video" ? "image_not_offered" : "image_required"
        case .invalidAspectRatio: "invalid_aspect_ratio"
        case .invalidDuration: "invalid_duration"
        case .invalidResolution: "invalid_resolution"
        case .invalidAudio: "invalid_audio"
        case .audioNotOffered(_, let always): always ? "audio_always_on" : "audio_not_offered"
        case .optionUnavailable: "option_unavailable"
        case .uploadRequired: "upload_required"
        case .uploadNotAllowed: "upload_not_allowed"
        case .uploadNotFound: "upload_not_found"
        case .invalidIdempotencyKey: "invalid_idempotency_key"
        case .invalidDeadline: "invalid_deadline"
        case .invalidVariants: "invalid_variants"
        case .idempotencyKeyReused: "idempotency_key_reused"
        case .insufficientCredits: "insufficient_credits"
        case .promptRejected: "prompt_rejected"
        case .tooManyUnfinishedVideos: "too_many_unfinished_videos"
        case .fileRequired: "file_required"
        case .unsupportedImageType: "unsupported_image_type"
        case .invalidImage: "invalid_image"
        case .imageTooLarge: "image_too_large"
        case .imageMetadataTooLarge: "image_metadata_too_large"
        case .tooManyUploads: "too_many_uploads"
        case .uploadQuotaExceeded: "upload_quota_exceeded"
        case .videoNotFound: "video_not_found"
        case .apiKeyNotFound: "api_key_not_found"
        case .notCancelable: "not_cancelable"
        case .notShareable: "not_shareable"
        case .videoExpired: "video_expired"
        case .invalidCursor: "invalid_cursor"
        case .invalidLimit: "invalid_limit"
        case .invalidFilter: "invalid_filter"
        case .invalidQueueLimit: "invalid_queue_limit"
        case .invalidWebhookURL: "invalid_webhook_url"
        case .webhookURLNotAllowed: "webhook_url_not_allowed"
        case .webhookURLUnresolvable: "webhook_url_unresolvable"
        case .invalidWebhookEvents: "invalid_webhook_events"
        case .webhookDeliveryNotFound: "webhook_delivery_not_found"
        case .tooManyReplays: "too_many_replays"
        case .codeNotFound: "code_not_found"
        case .codeExpired: "code_expired"
        case .codeDisabled: "code_disabled"
        case .codeUsed: "code_used"
        case .codeAlreadyRedeemed: "code_already_redeemed"
        case .tooManyCodeAttempts: "too_many_code_attempts"
        case .invalidCodeBatch: "invalid_code_batch"
        case .userNotFound: "user_not_found"
        case .invalidAmount: "invalid_amount"
        case .reasonRequired: "reason_required"
        case .cannotDisableSelf: "cannot_disable_self"
        case .priceNotFound: "price_not_found"
        case .modelNotFound: "model_not_found"
        case .modelIsDefault: "model_is_default"
        case .modelRetiredLocked: "model_retired_locked"
        case .modelNotOffered: "model_not_offered"
        case .catalogNeedsDefault: "catalog_needs_default"
        case .invalidStyle: "invalid_style"
        case .providerUnavailable: "provider_unavailable"
        case .providerBusy: "provider_busy"
        case .providerOutOfCredits: "provider_out_of_credits"
        case .providerMisconfigured: "provider_misconfigured"
        case .providerRejectedInput: "provider_rejected_input"
        case .providerQueryFailed: "provider_query_failed"
        case .callbackNotFound: "not_found"
        case .callbackTaskMismatch: "task_mismatch"
        case .invalidSignature: "invalid_signature"
        case .internal: "internal_error"
        case .paymentUnauthorized: "payment_unauthorized"
        case .invalidPaymentNotification: "invalid_payment_notification"
        case .reviewNotFound: "review_not_found"
        case .reviewAlreadyResolved: "review_already_resolved"
        case .topupAlreadyPaid: "topup_already_paid"
        case .simulatorOff: "simulator_off"
        case .invalidReviewResolution: "invalid_review_resolution"
        case .topupsDisabled: "topups_disabled"
        case .packageNotFound: "package_not_found"
        case .invalidPackage: "invalid_package"
        case .tooManyPendingOrders: "too_many_pending_orders"
        case .topupNotFound: "topup_not_found"
        case .topupNotPending: "topup_not_pending"
        }
    }

    /// Values for the translated message's `{name}` placeholders.
    public var parameters: [String: String] {
        switch self {
        case .invalidJSON(let detail): ["detail": detail]
        case .payloadTooLarge(let limit): ["limit_kb": String(limit / 1024)]
        case .imageTooLarge(let limit): ["limit_mb": String(limit / 1_000_000)]
        case .imageMetadataTooLarge(let limit): ["limit_kb": String(limit / 1024)]
        case .tooManyUploads(let limit, let seconds): ["limit": String(limit), "minutes": String((seconds + 59) / 60)]
        case .uploadQuotaExceeded(let limit, let hours): ["limit_mb": String(limit / 1_000_000), "hours": String(hours)]
        case .passwordTooShort(let minimum): ["minimum": String(minimum)]
        case .passwordInvalid(let maximum): ["maximum": String(maximum)]
        case .promptTooLong(let maximum): ["maximum": String(maximum)]
        case .invalidDeadline: ["minimum": String(VideoRequest.deadlineRange.lowerBound), "maximum": String(VideoRequest.deadlineRange.upperBound)]
        case .unknownModel(let model, let offered): ["model": model, "offered": offered.joined(separator: ", ")]
        case .modelRetired(let model, let replacements): ["model": model, "replacements": replacements.joined(separator: ", ")]
        case .modelUnavailable(let model, _, _, _): ["model": model]
        case .modeNotOffered(let model, _), .audioNotOffered(let model, _): ["model": model]
        case .invalidAspectRatio(let offered), .invalidResolution(let offered): ["offered": offered.joined(separator: ", ")]
        case .invalidDuration(let offered): ["offered": offered.map(String.init).joined(separator: ", ")]
        case .optionUnavailable(let model, let duration, let resolution, let audio):
            ["model": model, "duration": String(duration), "resolution": resolution, "audio": audio ? "on" : "off"]
        case .modelIsDefault(let model), .modelRetiredLocked(let model), .modelNotOffered(let model): ["model": model]
        case .insufficientCredits(let needed, let available): ["needed": String(needed), "available": String(available)]
        case .notCancelable(let status): ["status": status]
        case .videoExpired(let days): ["days": String(days)]
        case .tooManyUnfinishedVideos(let limit): ["limit": String(limit)]
        case .tooManyLoginAttempts(let seconds), .tooManySignups(let seconds), .tooManyCreates(let seconds):
            ["minutes": String((seconds + 59) / 60)]
        case .tooManyReplays(let seconds): ["minutes": String((seconds + 59) / 60)]
        case .tooManyCodeAttempts(let seconds): ["minutes": String((seconds + 59) / 60)]
        case .invalidCodeBatch(let field): ["field": field]
        case .providerRejectedInput(_, let message): ["message": message]
        case .invalidAmount(let maximum), .reasonRequired(let maximum): ["maximum": String(maximum)]
        case .invalidStyle(let field): ["field": field]
        case .invalidFilter(let name): ["name": name]
        case .invalidQueueLimit(let maximum): ["maximum": String(maximum)]
        case .invalidPackage(let field): ["field": field]
        case .tooManyPendingOrders(let limit): ["limit": String(limit)]
        case .webhookURLNotAllowed(let host), .webhookURLUnresolvable(let host): ["host": String(host.prefix(200))]
        case .invalidWebhookEvents: ["events": WebhookEvent.allCases.map(\.rawValue).joined(separator: ", ")]
        case .invalidPaymentNotification(let field), .invalidReviewResolution(let field): ["field": field]
        default: [:]
        }
    }

    /// Machine-readable fields added to the error object beside `code` and `message`.
    /// Machine-readable facts an error carries besides its code (a client need not parse the message).
    public var details: [String: JSON] {
        func strings(_ values: [String]) -> JSON { .array(values.map { .string($0) }) }
        switch self {
        case .insufficientCredits(let needed, let available): return ["needed": .int(needed), "available": .int(available)]
        case .tooManyUnfinishedVideos(let limit), .tooManyUploads(let limit, _): return ["limit": .int(limit)]
        case .tooManyPendingOrders(let limit): return ["limit": .int(limit)]
        case .uploadQuotaExceeded(let limit, _): return ["limit_bytes": .int(limit)]
        case .providerUnavailable(let id?), .providerBusy(let id?), .providerOutOfCredits(let id?),
             .providerMisconfigured(let id?), .providerRejectedInput(let id?, _):
            return ["video_id": .string(id)]
        case .webhookURLNotAllowed(let host), .webhookURLUnresolvable(let host): return ["host": .string(String(host.prefix(200)))]
        case .unknownModel(_, let offered): return ["offered": strings(offered)]
        case .modelRetired(let model, let replacements): return ["model": .string(model), "replacements": strings(replacements)]
        // The provider's own words (`reason`) are for operators (the admin Models page), not users.
        case .modelUnavailable(let model, _, _, let videoID):
            return ["model": .string(model), "video_id": .optional(videoID)]
        case .invalidAspectRatio(let offered), .invalidResolution(let offered): return ["offered": strings(offered)]
        case .invalidDuration(let offered): return ["offered": .array(offered.map { .int($0) })]
        default: return [:]
        }
    }

    public var retryAfterSeconds: Int? {
        switch self {
        case .providerBusy: 10
        case .providerUnavailable, .serviceBusy, .providerQueryFailed: 30
        case .signInBusy: 2
        case .modelUnavailable(_, _, let retryAfter, _): retryAfter.map { max(1, $0) } ?? 60
        case .tooManyUnfinishedVideos: 60
        case .tooManyLoginAttempts(let seconds), .tooManySignups(let seconds), .tooManyCreates(let seconds): seconds
        case .tooManyReplays(let seconds): seconds
        case .tooManyCodeAttempts(let seconds): seconds
        case .tooManyUploads(_, let seconds): seconds
        default: nil
        }
    }
}
