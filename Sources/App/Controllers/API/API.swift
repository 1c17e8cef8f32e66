import Fluent
import Foundation
import Vapor

/// The JSON shapes of the public API. Responses are encoded with snake_case keys; Fluent
/// models are never encoded as they are.
enum API {
    /// How every JSON answer (and outbound webhook body) is written: snake_case keys, ISO 8601 times.
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    // MARK: - Requests

    struct Credentials: Decodable {
        var email: String?
        var password: String?
    }

    struct CreateAPIKeyInput: Decodable {
        var name: String?
    }

    /// A create body, read leniently so that each field's problem gets its own error code
    /// instead of one generic decoding failure.
    struct CreateVideoInput: Decodable {
        var mode: Lenient<String> = .absent
        var model: Lenient<String> = .absent
        var prompt: Lenient<String> = .absent
        var aspectRatio: Lenient<String> = .absent
        var duration: Lenient<Int> = .absent
        var quality: Lenient<String> = .absent
        var uploadID: Lenient<String> = .absent
        var deadlineSeconds: Lenient<Int> = .absent
        var webhookURL: Lenient<String> = .absent
        var webhookEvents: Lenient<[String]> = .absent

        enum CodingKeys: String, CodingKey {
            case mode, model, prompt, aspectRatio = "aspect_ratio", duration, quality, uploadID = "upload_id"
            case deadlineSeconds = "deadline_seconds", webhookURL = "webhook_url", webhookEvents = "webhook_events"
        }

        init() {}

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            mode = Lenient(container, .mode)
            model = Lenient(container, .model)
            prompt = Lenient(container, .prompt)
            aspectRatio = Lenient(container, .aspectRatio)
            duration = Lenient(container, .duration)
            quality = Lenient(container, .quality)
            uploadID = Lenient(container, .uploadID)
            deadlineSeconds = Lenient(container, .deadlineSeconds)
            webhookURL = Lenient(container, .webhookURL)
            webhookEvents = Lenient(container, .webhookEvents)
        }
    }

    /// `PUT /api/v1/webhook-endpoint`.
    struct WebhookEndpointInput: Decodable {
        var url: Lenient<String> = .absent
        var events: Lenient<[String]> = .absent

        enum CodingKeys: String, CodingKey { case url, events }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            url = Lenient(container, .url)
            events = Lenient(container, .events)
        }
    }

    /// A field that is missing (or null), present with the right type, or present with the wrong one.
    /// The extra field of `POST /api/v1/videos/batch` (the rest is a create body).
    struct BatchInput: Decodable {
        var variants: Lenient<Int> = .absent

        enum CodingKeys: String, CodingKey { case variants }

        init(from decoder: any Decoder) throws {
            variants = Lenient(try decoder.container(keyedBy: CodingKeys.self), .variants)
        }
    }

    struct Batch: Content {
        var videos: [Video]
        /// Present when a later variant could not be made; the videos listed stand.
        var refused: BatchRefusal?
    }

    struct BatchRefusal: Content {
        var code: String
        var message: String
    }

    enum Lenient<Value: Decodable & Sendable>: Sendable {
        case absent
        case value(Value)
        case invalid

        init<Key: CodingKey>(_ container: KeyedDecodingContainer<Key>, _ key: Key) {
            guard container.contains(key), (try? container.decodeNil(forKey: key)) == false else {
                self = .absent
                return
            }
            if let value = try? container.decode(Value.self, forKey: key) {
                self = .value(value)
            } else {
                self = .invalid
            }
        }
    }

    // MARK: - Responses

    struct Me: Content {
        var id: UUID
        var email: String
        var isAdmin: Bool
        /// Spendable credits.
        var credits: Int
        /// Credits reserved by unfinished jobs.
        var creditsOnHold: Int

        init(_ user: User) throws {
            id = try user.requireID()
            email = user.email
            isAdmin = user.isAdmin
            credits = user.creditsAvailable
            creditsOnHold = user.creditsHeld
        }
    }

    struct CreatedAPIKey: Content {
        var id: UUID
        var name: String
        /// Shown once; only its hash is stored.
        var key: String
        var createdAt: Date
    }

    struct APIKeyInfo: Content {
        var id: UUID
        var name: String
        /// The key's first characters, to tell keys apart.
        var keyPrefix: String
        var createdAt: Date
        var revokedAt: Date?

        init(_ key: APIKey) throws {
            id = try key.requireID()
            name = key.name
            keyPrefix = key.keyPrefix
            createdAt = key.createdAt
            revokedAt = key.revokedAt
        }
    }

    struct APIKeyList: Content {
        var data: [APIKeyInfo]
    }

    struct UploadInfo: Content {
        var id: UUID
        var url: String
        var contentType: String
        var byteSize: Int
    }

    struct Failure: Content {
        var code: String
        var message: String
        var providerCode: String?
        var providerMessage: String?
    }

    struct Video: Content {
        var id: UUID
        var status: JobStatus
        var progress: Int
        var mode: VideoMode
        var model: String
        var prompt: String
        var aspectRatio: AspectRatio
        var duration: Int
        var quality: VideoQuality
        var priceCredits: Int
        var imageURL: String?
        var videoURL: String?
        var watermarkVideoURL: String?
        var failure: Failure?
        /// True once the job's held credits went back to the owner (failure or cancel).
        var creditsRefunded: Bool
        var createdAt: Date
        var updatedAt: Date
        var finishedAt: Date?
        /// When the video fails (refunded) if it is not done by then.
        var deadlineAt: Date?
        /// The public share link while the owner shares the video (`POST …/share`).
        var shareURL: String?
        /// A finished video: where to play or download it now (a redirect to the provider, with a
        /// fresh link once the stored one is a day old), and when the provider deletes it.
        var mediaURL: String?
        var expiresAt: Date?
        /// Only on `GET /api/v1/videos/{id}`.
        var receipt: Receipt?

        /// `shareBase` is the service's public URL and `lifetimeDays` the provider's retention;
        /// without them the links and the expiry are left out.
        init(_ job: some VideoColumns, language: Language, shareBase: String? = nil, lifetimeDays: Int? = nil) throws {
            guard let id = job.id else { throw FluentError.idRequired }
            self.id = id
            status = job.status
            progress = job.progress
            mode = job.mode
            model = job.model
            prompt = job.prompt
            aspectRatio = job.aspectRatio
            duration = job.durationSeconds
            quality = job.quality
            priceCredits = job.priceCredits
            imageURL = job.imageURL
            videoURL = job.videoURL
            watermarkVideoURL = job.watermarkVideoURL
            failure = job.failureReason.map { reason in
                Failure(code: reason.rawValue,
                        message: Localizer.shared.text("failure.\(reason.rawValue)", language),
                        providerCode: job.providerFailCode, providerMessage: job.providerFailMessage)
            }
            creditsRefunded = job.holdState == .released
            createdAt = job.createdAt
            updatedAt = job.updatedAt
            finishedAt = job.finishedAt
            deadlineAt = job.deadlineAt
            shareURL = shareBase.flatMap { base in job.shareToken.map { Sharing.url(base: base, token: $0) } }
            if job.status == .completed, let base = shareBase { mediaURL = "\(base)/api/v1/videos/\(id.uuidString.lowercased())/media" }
            expiresAt = lifetimeDays.flatMap { VideoExpiry(lifetimeDays: $0, now: Date()).expiresAt(job) }
        }
    }

    /// What a video cost: the price held when it was created (later price changes do not
    /// touch it) and its ledger entries, hold first, then the settle or release.
    struct Receipt: Content {
        var priceCredits: Int
        /// `open` while the video runs, then `settled` (charged) or `released` (refunded).
        var state: HoldState
        var heldAt: Date
        var closedAt: Date?
        var entries: [Transaction]

        init<Entry: LedgerColumns>(_ job: some VideoColumns, entries: [Entry]) throws {
            priceCredits = job.priceCredits
            state = job.holdState
            heldAt = job.createdAt
            closedAt = job.holdState == .open ? nil : job.finishedAt
            var transactions: [Transaction] = []
            for entry in entries { transactions.append(try Transaction(entry)) }
            self.entries = transactions
        }
    }

    /// The answer to `POST /api/v1/videos/quote`.
    struct Quote: Content {
        var mode: VideoMode
        var model: String
        var aspectRatio: AspectRatio
        var duration: Int
        var quality: VideoQuality
        var priceCredits: Int
        /// Spendable credits now, and after this video's hold.
        var credits: Int
        var creditsAfter: Int
        var affordable: Bool
        var refundPolicy: [RefundRule]

        init(_ request: VideoRequest, priceCredits: Int, available: Int, language: Language) {
            mode = request.mode
            model = request.model.rawValue
            aspectRatio = request.aspectRatio
            duration = request.durationSeconds
            quality = request.quality
            self.priceCredits = priceCredits
            credits = available
            creditsAfter = available - priceCredits
            affordable = available >= priceCredits
            refundPolicy = RefundRule.policy(in: language)
        }
    }

    /// When the held credits come back, in full.
    struct RefundRule: Content {
        /// The failure code a refunded video carries (`failure.code`), or `canceled`.
        var when: String
        var refund: String
        var description: String

        /// Every failure releases the hold (`JobLifecycle.finish`), and so does a cancel.
        static let refundedOutcomes = FailureReason.allCases.map(\.rawValue) + ["canceled"]

        static func policy(in language: Language) -> [RefundRule] {
            refundedOutcomes.map { RefundRule(when: $0, refund: "full", description: Localizer.shared.text("refund.\($0)", language)) }
        }
    }

    struct Page<Item: Content>: Content {
        var data: [Item]
        /// Pass as `cursor` to get the next page; absent on the last page.
        var nextCursor: String?
    }

    struct Transaction: Content {
        var id: UUID
        var kind: String
        /// Change to the spendable balance (negative for a hold).
        var amount: Int
        /// Change to the credits on hold.
        var heldChange: Int
        var videoID: UUID?
        var reason: String?
        var createdAt: Date

        init(_ entry: some LedgerColumns) throws {
            guard let id = entry.id else { throw FluentError.idRequired }
            self.id = id
            kind = entry.kind.rawValue
            amount = entry.availableDelta
            heldChange = entry.heldDelta
            videoID = entry.jobID
            reason = entry.reason
            createdAt = entry.createdAt
        }
    }

    struct WebhookEndpointInfo: Content {
        /// Where every video's events go; absent when there is no account endpoint.
        var url: String?
        var events: [String]
        /// Verifies `webhook-signature` (Standard Webhooks); also signs per-video `webhook_url` deliveries.
        var secret: String
        var createdAt: Date
        var updatedAt: Date

        init(_ endpoint: WebhookEndpoint) {
            url = endpoint.url
            events = WebhookEventFilter(stored: endpoint.events).names
            secret = endpoint.secret
            createdAt = endpoint.createdAt
            updatedAt = endpoint.updatedAt
        }
    }

    struct WebhookAttemptInfo: Content {
        var attemptedAt: Date
        var statusCode: Int?
        var error: String?
        var durationMs: Int
    }

    struct WebhookDeliveryInfo: Content {
        var id: UUID
        /// The `webhook-id` header: the same on every attempt and replay.
        var webhookID: String
        var videoID: UUID
        var event: String
        var url: String
        var state: WebhookDeliveryState
        /// Attempts since it was queued or last replayed.
        var attempts: Int
        var nextAttemptAt: Date?
        var lastAttemptAt: Date?
        var lastStatusCode: Int?
        var lastError: String?
        var createdAt: Date
        var deliveredAt: Date?
        /// Only on `GET /api/v1/webhook-deliveries/{id}`: the exact body that was signed, and every attempt.
        var payload: String?
        var attemptLog: [WebhookAttemptInfo]?

        enum CodingKeys: String, CodingKey {
            case id, webhookID = "webhook_id", videoID = "video_id", event, url, state, attempts
            case nextAttemptAt = "next_attempt_at", lastAttemptAt = "last_attempt_at", lastStatusCode = "last_status_code"
            case lastError = "last_error", createdAt = "created_at", deliveredAt = "delivered_at", payload
            case attemptLog = "attempt_log"
        }

        init(_ delivery: WebhookDelivery, attempts log: [WebhookAttempt]? = nil) throws {
            id = try delivery.requireID()
            webhookID = delivery.messageID
            videoID = delivery.jobID
            event = delivery.eventType
            url = delivery.url
            state = delivery.state
            attempts = delivery.attempts
            nextAttemptAt = delivery.nextAttemptAt
            lastAttemptAt = delivery.lastAttemptAt
            lastStatusCode = delivery.lastStatusCode
            lastError = delivery.lastError
            createdAt = delivery.createdAt
            deliveredAt = delivery.deliveredAt
            if let log {
                payload = delivery.payload
                attemptLog = log.map {
                    WebhookAttemptInfo(attemptedAt: $0.attemptedAt, statusCode: $0.statusCode, error: $0.error,
                                       durationMs: $0.durationMilliseconds)
                }
            }
        }
    }

    struct PriceRow: Content {
        var model: String
        var mode: VideoMode
        var duration: Int
        var quality: String
        var credits: Int
    }

    struct Pricing: Content {
        var currency: String
        var prices: [PriceRow]
    }

    struct ErrorBody: Content {
        struct Detail: Content {
            var code: String
            var message: String
            var needed: Int?
            var available: Int?
            var videoID: String?
            /// The account limit that was reached (`too_many_unfinished_videos`).
            var limit: Int?
            /// Also sent as `Retry-After`, for clients that read only the body.
            var retryAfterSeconds: Int?
        }
        var error: Detail
    }
}
