import Foundation

/// The domain's settings, read from the environment once by the command that starts it.
public struct Settings: Sendable {
    /// Base URL the provider calls back and fetches uploaded images from.
    public var publicBaseURL: String
    /// Where uploaded reference images are written (nginx serves them at `/files/`).
    public var uploadsDirectory: String
    /// How often the reconciler runs, and the least time between two provider queries about one job.
    public var reconcileIntervalSeconds: Double = 15
    /// A job that heard nothing from the provider for this long is queried.
    public var staleAfterSeconds: Double = 60
    /// An unfinished job older than this is failed and refunded.
    public var jobTimeoutSeconds: Double = 3_600
    /// How long a create whose outcome is unknown keeps its hold, waiting for the provider.
    public var unconfirmedHoldSeconds: Double = 86_400
    /// Kie's limits, which the queue keeps to across every process: creates in any 10 seconds,
    /// and tasks running at once (operators may change both without a restart: `ProviderQueue.Limits`).
    public var providerCreatesPer10s = 20
    public var providerMaxRunning = 100
    /// A job not sent within this long is failed and refunded (`queue_timeout`).
    public var queueTimeoutSeconds: Double = 900
    /// Tests: a create sends its own job on its own thread before answering, as if the
    /// dispatcher had been waiting for it. Production answers at once and leaves the send to
    /// the dispatcher's threads.
    public var dispatchOnCreate = false
    /// Videos one account may have unfinished at once.
    public var maxUnfinishedVideos = 10
    /// Videos one account may start per minute (an idempotent retry is free).
    public var createsPerMinute = 10
    /// Wrong passwords per account, and per client address, in 15 minutes before sign-in
    /// answers 429 for the rest of the window.
    public var loginFailuresPerAccount = 5
    public var loginFailuresPerAddress = 20
    /// Accounts one address may create per hour.
    public var signupsPerAddressPerHour = 10
    /// Kie's webhook HMAC key; when set, callbacks must carry a valid, fresh signature.
    public var webhookHMACKey: String?
    /// How long the provider keeps a finished video (Kie: 14 days); after it the video is expired.
    public var resultLifetimeDays = 14
    /// When set (16 characters or more), `/api/metrics` answers it as a bearer token from
    /// anywhere; with or without it, scrapers on this machine with no proxy between are answered.
    public var metricsToken: String?
    /// Uploads one account may store per hour, the bytes its uploads may take together, and the
    /// hours an upload no unfinished video uses is kept (`PHIM_UPLOADS_PER_HOUR`,
    /// `PHIM_UPLOAD_BYTES_PER_ACCOUNT`, `PHIM_UPLOAD_RETENTION_HOURS`).
    public var uploads = Uploads.Limits()
    /// Words or phrases a prompt may not contain (`PHIM_BLOCKED_TERMS`, `PHIM_BLOCKED_TERMS_FILE`).
    public var blockedTerms: [String] = []
    /// Provider credits below which provider health warns (a 10 s Kling 3.0 clip with sound costs 200).
    public var providerLowBalance = 3_000
    /// Phim credits per Kie credit, for prices made from Kie's list price: 7,000 for a 30-credit clip.
    public var creditsPerProviderCredit = Settings.defaultCreditsPerProviderCredit
    public static let defaultCreditsPerProviderCredit = 7_000.0 / 30.0
    /// How long a model the provider refused stays unavailable before a create tries it again.
    public var modelRecheckMinutes = ModelCatalog.defaultRecheckMinutes
    /// How a reference image reaches the provider: Phim's own `/files/` URL (which must be
    /// public), or a copy on Kie's file host made at create time.
    public var imageDelivery = ImageDelivery.publicURL

    public enum ImageDelivery: String, Sendable {
        case publicURL = "public-url"
        case kieUpload = "kie-upload"
    }
    /// The provider is the simulator (no `KIE_API_KEY`); the studio then shows its prompt tags.
    public var isDemo = false
    /// Outbound webhooks: target policy, retry schedule, attempt timeout.
    public var webhooks = WebhookSettings()
    /// Top-ups by bank transfer: the account, the notification services' keys, order lifetime.
    public var payments = PaymentSettings()

    public init(publicBaseURL: String, uploadsDirectory: String) {
        self.publicBaseURL = publicBaseURL
        self.uploadsDirectory = uploadsDirectory
    }

    var reconcileIntervalMillis: Int64 { Int64(reconcileIntervalSeconds * 1000) }
}
