import Fluent
import Foundation
import Vapor

/// The quality choices the studio offers, each a pair of models (one per mode) and a Kie size.
/// The page sends `model` and `quality` like any API client; prices come from the price table.
enum QualityTier: String, CaseIterable, Codable, Sendable {
    case standard, stable, pro, proHigh = "pro_high"

    func model(for mode: VideoMode) -> VideoModel {
        switch (self, mode) {
        case (.standard, .textToVideo): .sora2TextToVideo
        case (.standard, .imageToVideo): .sora2ImageToVideo
        case (.stable, .textToVideo): .sora2StableTextToVideo
        case (.stable, .imageToVideo): .sora2StableImageToVideo
        case (.pro, .textToVideo), (.proHigh, .textToVideo): .sora2ProTextToVideo
        case (.pro, .imageToVideo), (.proHigh, .imageToVideo): .sora2ProImageToVideo
        }
    }

    var quality: VideoQuality { self == .proHigh ? .high : .standard }

    init(model: VideoModel, quality: VideoQuality) {
        switch model {
        case .sora2TextToVideo, .sora2ImageToVideo: self = .standard
        case .sora2StableTextToVideo, .sora2StableImageToVideo: self = .stable
        case .sora2ProTextToVideo, .sora2ProImageToVideo: self = quality == .high ? .proHigh : .pro
        }
    }

    var labelKey: String { "tier.\(rawValue)" }
}

/// What every page's frame shows: language, the signed-in person, the anti-forgery token.
struct PageFrame: Encodable {
    var lang: String
    var title: String
    var csrfToken: String
    var path: String
    var email: String?
    var credits: String?
    var creditsOnHold: String?
    var isDemo: Bool
    /// Shows the operator's pages in the menu.
    var isAdmin: Bool
    /// On one of the operator's pages (they share the menu entry), and which part of them.
    var inAdmin: Bool
    var adminSection: String?

    /// `startsSession: false` is for error pages, which may be answered before the session
    /// middleware ran; their forms then carry the session's token only if it already has one.
    init(_ req: Request, title: String, user: User?, startsSession: Bool = true) {
        let language = req.pageLanguage
        lang = language.rawValue
        self.title = title
        csrfToken = startsSession ? CSRF.token(for: req) : (req.hasSession ? req.session.data[CSRF.sessionKey] ?? "" : "")
        path = req.url.path
        email = user?.email
        credits = user.map { Formatting.credits($0.creditsAvailable, language) }
        creditsOnHold = user.map { Formatting.credits($0.creditsHeld, language) }
        isDemo = req.application.phimConfig.isDemoMode
        isAdmin = user?.isAdmin ?? false
        inAdmin = path.hasPrefix("/admin/")
        adminSection = inAdmin ? path.split(separator: "/").dropFirst().first.map(String.init) : nil
    }
}

/// One video as its gallery card shows it; every label already in the reader's language.
struct VideoCard: Encodable {
    var id: String
    var status: String
    var statusLabel: String
    var progress: Int
    var prompt: String
    var aspectRatio: String
    var duration: Int
    var tier: String
    var specs: String
    var createdAt: String
    var createdText: String
    var videoURL: String?
    var imageURL: String?
    var uploadID: String?
    var failureMessage: String?
    var refunded: Bool
    var isUnfinished: Bool
    var isCompleted: Bool
    var isFailed: Bool
    var isCanceled: Bool
    /// The provider has not confirmed the create yet (it may have timed out after sending).
    var isSubmitting: Bool
    var canCancel: Bool
    /// Failed or canceled: "try again" refills the composer.
    var canRetry: Bool
    /// Finished videos can be shared; `shareURL` is the public link while shared.
    var canShare: Bool
    var shareURL: String?
    /// The provider deleted the video (its retention passed): no player, a note instead.
    var isExpired: Bool
    var expiryText: String?
    /// Two days or less left: the note stands out.
    var expiresSoon: Bool

    init(_ job: some VideoColumns, language: Language, shareBase: String, expiry: VideoExpiry) throws {
        let t = { (key: String) in Localizer.shared.text(key, language) }
        let tier = QualityTier(model: VideoModel(rawValue: job.model) ?? .sora2TextToVideo, quality: job.quality)
        guard let id = job.id else { throw FluentError.idRequired }
        self.id = id.uuidString
        status = job.status.rawValue
        statusLabel = t("status.\(job.status.rawValue)")
        progress = job.progress
        prompt = job.prompt
        aspectRatio = job.aspectRatio.rawValue
        duration = job.durationSeconds
        self.tier = tier.rawValue
        specs = [t("aspect.\(job.aspectRatio.rawValue)"),
                 Localizer.shared.text("duration.seconds", language, ["seconds": String(job.durationSeconds)]),
                 t(tier.labelKey),
                 Localizer.shared.text("credits.amount", language, ["amount": Formatting.credits(job.priceCredits, language)])]
            .joined(separator: " · ")
        createdAt = Formatting.iso(job.createdAt)
        createdText = Formatting.time(job.createdAt, language)
        isExpired = expiry.isExpired(job)
        // Played and downloaded through Phim's redirect, which keeps the provider link fresh.
        videoURL = job.status == .completed && !isExpired ? "/api/v1/videos/\(id.uuidString.lowercased())/media" : nil
        let daysLeft = isExpired ? nil : expiry.daysLeft(job)
        expiryText = isExpired ? Localizer.shared.text("card.expired", language, ["days": String(expiry.lifetimeDays)])
            : daysLeft.map { Localizer.shared.text("card.expires_in", language, ["days": String(max(1, $0))]) }
        expiresSoon = (daysLeft ?? Int.max) <= 2
        imageURL = job.imageURL
        uploadID = job.uploadID?.uuidString
        failureMessage = job.failureReason.map { t("failure.\($0.rawValue)") }
        refunded = job.holdState == .released
        isUnfinished = !job.status.isTerminal
        isCompleted = job.status == .completed && !isExpired
        isFailed = job.status == .failed
        isCanceled = job.status == .canceled
        isSubmitting = job.status == .submitting
        canCancel = job.status == .pending
        canRetry = job.status == .failed || job.status == .canceled
        canShare = job.status == .completed && job.videoURL != nil && !isExpired
        shareURL = job.shareToken.map { Sharing.url(base: shareBase, token: $0) }
    }
}

/// One line of the credits page.
struct LedgerLine: Encodable {
    var createdAt: String
    var createdText: String
    var kindLabel: String
    var amount: String
    var isCredit: Bool
    var isDebit: Bool
    var heldChange: String
    var videoID: String?
    var reason: String?

    init(_ entry: some LedgerColumns, language: Language) {
        createdAt = Formatting.iso(entry.createdAt)
        createdText = Formatting.time(entry.createdAt, language)
        kindLabel = Localizer.shared.text("ledger.kind.\(entry.kind.rawValue)", language)
        amount = entry.availableDelta == 0 ? "—" : Formatting.signedCredits(entry.availableDelta, language)
        isCredit = entry.availableDelta > 0
        isDebit = entry.availableDelta < 0
        heldChange = entry.heldDelta == 0 ? "—" : Formatting.signedCredits(entry.heldDelta, language)
        videoID = entry.jobID?.uuidString
        reason = entry.reason
    }
}
