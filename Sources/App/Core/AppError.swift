import Vapor

/// Everything a request can do wrong, each with its HTTP status and machine-readable code.
///
/// The message shown to people is looked up in the translation files under `error.<code>`, in the
/// caller's language, with `parameters` filled in. `APIErrorMiddleware` is the one place that
/// turns these into responses.
public enum AppError: Error, Equatable, Sendable {
    // Requests
    case invalidJSON(detail: String)
    /// A request the framework could not take (a malformed URL, header or body framing).
    case badRequest
    case unsupportedMediaType
    case payloadTooLarge(limitBytes: Int)
    case routeNotFound
    case methodNotAllowed

    // Accounts
    case unauthenticated
    case invalidCredentials
    case invalidEmail
    case passwordTooShort(minimum: Int)
    case passwordInvalid(maximumBytes: Int)
    case invalidName
    case emailTaken
    /// A cookie-authenticated change without the session's anti-forgery token.
    case csrfFailed
    case tooManyLoginAttempts(retryAfter: Int)
    case tooManySignups(retryAfter: Int)

    // Creating a video
    case promptRequired
    case promptTooLong(maximum: Int)
    case promptInvalidCharacters
    case invalidDeadline
    case invalidMode
    case unknownModel(String)
    case modelDoesNotMatchMode
    case invalidAspectRatio
    case invalidDuration
    case invalidQuality
    case optionUnavailable(model: String, duration: Int, quality: String)
    case uploadRequired
    case uploadNotAllowed
    case uploadNotFound
    case invalidIdempotencyKey
    case idempotencyKeyReused
    case insufficientCredits(needed: Int, available: Int)
    /// The operator's moderation refused the prompt; nothing was held.
    case promptRejected
    case tooManyCreates(retryAfter: Int)
    case tooManyUnfinishedVideos(limit: Int)

    // Outbound webhooks
    case invalidWebhookURL
    /// The URL leads to loopback, a private or link-local network, or the metadata service.
    case webhookURLNotAllowed(host: String)
    case webhookURLUnresolvable(host: String)
    case invalidWebhookEvents
    case webhookDeliveryNotFound

    // Uploads
    case fileRequired
    case unsupportedImageType
    /// Cut off, damaged, or carrying other data after the image (a polyglot).
    case invalidImage
    case imageTooLarge(limitBytes: Int)

    // Videos
    case videoNotFound
    case apiKeyNotFound
    case notCancelable(status: String)
    case notShareable
    case videoExpired(days: Int)
    case invalidVariants
    case invalidCursor
    /// A list filter (`video_id`, `state`) with a value that cannot match anything.
    case invalidFilter(name: String)
    case invalidLimit

    // Operators
    case accountDisabled
    case userNotFound
    case invalidAmount(maximum: Int)
    case reasonRequired(maximum: Int)
    case cannotDisableSelf
    case priceNotFound
    case invalidStyle(field: String)

    // Provider trouble, surfaced to the user who asked for a video
    case providerUnavailable(videoID: UUID?)
    case providerBusy(videoID: UUID?)
    case providerOutOfCredits(videoID: UUID?)
    case providerMisconfigured(videoID: UUID?)
    case providerRejectedInput(videoID: UUID?, message: String)

    // Provider callbacks
    case callbackNotFound
    case callbackTaskMismatch
    case invalidSignature

    case `internal`

    public var status: HTTPResponseStatus {
        switch self {
        case .invalidJSON, .badRequest, .invalidIdempotencyKey, .invalidCursor, .invalidFilter, .invalidLimit, .fileRequired: .badRequest
        case .unsupportedMediaType, .unsupportedImageType: .unsupportedMediaType
        case .payloadTooLarge, .imageTooLarge: .payloadTooLarge
        case .routeNotFound, .videoNotFound, .apiKeyNotFound, .uploadNotFound, .callbackNotFound, .webhookDeliveryNotFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .unauthenticated, .invalidCredentials, .invalidSignature: .unauthorized
        case .csrfFailed, .accountDisabled: .forbidden
        case .userNotFound, .priceNotFound: .notFound
        case .invalidAmount, .reasonRequired, .cannotDisableSelf, .invalidStyle, .invalidVariants: .unprocessableEntity
        case .emailTaken, .notCancelable, .notShareable: .conflict
        case .videoExpired: .gone
        case .invalidEmail, .passwordTooShort, .passwordInvalid, .invalidName, .promptInvalidCharacters, .invalidDeadline,
             .promptRequired, .promptTooLong, .invalidMode, .unknownModel,
             .modelDoesNotMatchMode, .invalidAspectRatio, .invalidDuration, .invalidQuality, .optionUnavailable,
             .uploadRequired, .uploadNotAllowed, .idempotencyKeyReused, .providerRejectedInput, .callbackTaskMismatch:
            .unprocessableEntity
        case .insufficientCredits: .paymentRequired
        case .invalidImage: .unprocessableEntity
        case .invalidWebhookURL, .webhookURLNotAllowed, .webhookURLUnresolvable, .invalidWebhookEvents: .unprocessableEntity
        case .promptRejected: .unprocessableEntity
        case .tooManyLoginAttempts, .tooManySignups, .tooManyCreates, .tooManyUnfinishedVideos: .tooManyRequests
        case .providerUnavailable, .providerBusy, .providerOutOfCredits: .serviceUnavailable
        case .providerMisconfigured: .badGateway
        case .internal: .internalServerError
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
        case .unauthenticated: "unauthenticated"
        case .invalidCredentials: "invalid_credentials"
        case .invalidEmail: "invalid_email"
        case .passwordTooShort: "password_too_short"
        case .passwordInvalid: "password_invalid"
        case .invalidName: "invalid_name"
        case .emailTaken: "email_taken"
        case .csrfFailed: "csrf_failed"
        case .promptRequired: "prompt_required"
        case .promptTooLong: "prompt_too_long"
        case .promptInvalidCharacters: "prompt_invalid_characters"
        case .invalidDeadline: "invalid_deadline"
        case .invalidMode: "invalid_mode"
        case .unknownModel: "unknown_model"
        case .modelDoesNotMatchMode: "model_mode_mismatch"
        case .invalidAspectRatio: "invalid_aspect_ratio"
        case .invalidDuration: "invalid_duration"
        case .invalidQuality: "invalid_quality"
        case .optionUnavailable: "option_unavailable"
        case .uploadRequired: "upload_required"
        case .uploadNotAllowed: "upload_not_allowed"
        case .uploadNotFound: "upload_not_found"
        case .invalidIdempotencyKey: "invalid_idempotency_key"
        case .idempotencyKeyReused: "idempotency_key_reused"
        case .insufficientCredits: "insufficient_credits"
        case .promptRejected: "prompt_rejected"
        case .tooManyLoginAttempts: "too_many_login_attempts"
        case .tooManySignups: "too_many_signups"
        case .tooManyCreates: "rate_limited"
        case .tooManyUnfinishedVideos: "too_many_unfinished_videos"
        case .fileRequired: "file_required"
        case .unsupportedImageType: "unsupported_image_type"
        case .imageTooLarge: "image_too_large"
        case .invalidImage: "invalid_image"
        case .videoNotFound: "video_not_found"
        case .apiKeyNotFound: "api_key_not_found"
        case .invalidWebhookURL: "invalid_webhook_url"
        case .webhookURLNotAllowed: "webhook_url_not_allowed"
        case .webhookURLUnresolvable: "webhook_url_unresolvable"
        case .invalidWebhookEvents: "invalid_webhook_events"
        case .webhookDeliveryNotFound: "webhook_delivery_not_found"
        case .notCancelable: "not_cancelable"
        case .invalidCursor: "invalid_cursor"
        case .invalidFilter: "invalid_filter"
        case .invalidLimit: "invalid_limit"
        case .accountDisabled: "account_disabled"
        case .userNotFound: "user_not_found"
        case .invalidAmount: "invalid_amount"
        case .reasonRequired: "reason_required"
        case .cannotDisableSelf: "cannot_disable_self"
        case .priceNotFound: "price_not_found"
        case .invalidStyle: "invalid_style"
        case .notShareable: "not_shareable"
        case .videoExpired: "video_expired"
        case .invalidVariants: "invalid_variants"
        case .providerUnavailable: "provider_unavailable"
        case .providerBusy: "provider_busy"
        case .providerOutOfCredits: "provider_out_of_credits"
        case .providerMisconfigured: "provider_misconfigured"
        case .providerRejectedInput: "provider_rejected_input"
        case .callbackNotFound: "not_found"
        case .callbackTaskMismatch: "task_mismatch"
        case .invalidSignature: "invalid_signature"
        case .internal: "internal_error"
        }
    }

    /// The message people read, in their language.
    public func message(in language: Language) -> String {
        var values = parameters
        if case .insufficientCredits(let needed, let available) = self {
            values = ["needed": Formatting.credits(needed, language), "available": Formatting.credits(available, language)]
        }
        return Localizer.shared.text("error.\(code)", language, values)
    }

    /// Values substituted into the translated message (`{name}` placeholders).
    public var parameters: [String: String] {
        switch self {
        case .invalidJSON(let detail): ["detail": detail]
        case .payloadTooLarge(let limit): ["limit_kb": String(limit / 1024)]
        case .imageTooLarge(let limit): ["limit_mb": String(limit / 1_000_000)]
        case .passwordTooShort(let minimum): ["minimum": String(minimum)]
        case .passwordInvalid(let maximum): ["maximum": String(maximum)]
        case .invalidDeadline: ["minimum": String(VideoRequest.deadlineRange.lowerBound), "maximum": String(VideoRequest.deadlineRange.upperBound)]
        case .promptTooLong(let maximum): ["maximum": String(maximum)]
        case .unknownModel(let model): ["model": model]
        case .optionUnavailable(let model, let duration, let quality):
            ["model": model, "duration": String(duration), "quality": quality]
        case .insufficientCredits(let needed, let available): ["needed": String(needed), "available": String(available)]
        case .notCancelable(let status): ["status": status]
        case .tooManyLoginAttempts(let seconds), .tooManySignups(let seconds), .tooManyCreates(let seconds):
            ["minutes": String((seconds + 59) / 60)]
        case .tooManyUnfinishedVideos(let limit): ["limit": String(limit)]
        case .providerRejectedInput(_, let message): ["message": message]
        case .webhookURLNotAllowed(let host), .webhookURLUnresolvable(let host): ["host": String(host.prefix(200))]
        case .invalidFilter(let name): ["name": name]
        case .invalidAmount(let maximum), .reasonRequired(let maximum): ["maximum": String(maximum)]
        case .invalidStyle(let field): ["field": field]
        case .videoExpired(let days): ["days": String(days)]
        case .invalidWebhookEvents: ["events": WebhookEvent.allCases.map(\.rawValue).joined(separator: ", ")]
        default: [:]
        }
    }

    /// Machine-readable fields added to the error object beside `code` and `message`.
    public var details: [String: String] {
        switch self {
        case .insufficientCredits(let needed, let available): ["needed": String(needed), "available": String(available)]
        case .tooManyUnfinishedVideos(let limit): ["limit": String(limit)]
        case .providerUnavailable(let id?), .providerBusy(let id?), .providerOutOfCredits(let id?),
             .providerMisconfigured(let id?), .providerRejectedInput(let id?, _):
            ["video_id": id.uuidString]
        default: [:]
        }
    }

    /// Gives a response (JSON, error page or a form shown again) this error's status and, where
    /// waiting helps, its `Retry-After`.
    public func mark(_ response: Response) {
        response.status = status
        if let seconds = retryAfterSeconds { response.headers.replaceOrAdd(name: .retryAfter, value: String(seconds)) }
    }

    /// Seconds after which retrying makes sense, sent as `Retry-After`.
    public var retryAfterSeconds: Int? {
        switch self {
        case .providerBusy: 10
        case .providerUnavailable: 30
        case .tooManyLoginAttempts(let seconds), .tooManySignups(let seconds), .tooManyCreates(let seconds): seconds
        // A video finishes in minutes; there is no exact moment to name.
        case .tooManyUnfinishedVideos: 60
        default: nil
        }
    }
}
