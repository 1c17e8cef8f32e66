import Fluent
import Vapor

/// The studio (composer and gallery), the gallery's HTML fragments, and the credits page.
///
/// Cards are rendered here only, from `card.leaf`: the page's script asks for a card's fresh
/// HTML when a live update says its status changed, so there is one card template, translated
/// and escaped on the server, and no second copy in JavaScript.
struct StudioPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let pages = routes.grouped(RedirectToSignIn())
        pages.get("studio", use: studio)
        pages.get("studio", "cards", use: cards)
        pages.get("studio", "cards", ":videoID", use: card)
        pages.get("credits", use: credits)
    }

    struct StudioPage: Encodable {
        var frame: PageFrame
        var videos: [VideoCard]
        var hasVideos: Bool
        var nextCursor: String?
        var tiers: [Choice]
        var aspectRatios: [Choice]
        var durations: [Choice]
        /// The price table and the tiers' models, for the live price (JSON in a data attribute).
        var styles: [StyleChip]
        var hasStyles: Bool
        /// 1 to 4 videos per submit.
        var variantChoices: [Choice]
        var composerData: String
        /// The words the script shows (JSON in a data attribute): the `js.*` keys.
        var scriptText: String
        var maximumPromptLength: Int
    }

    struct Choice: Encodable {
        var value: String
        var label: String
    }

    /// A style preset's chip: its name, and the words it adds to the prompt.
    struct StyleChip: Encodable {
        var key: String
        var name: String
        var text: String
    }

    struct CardsFragment: Encodable {
        var videos: [VideoCard]
    }

    struct CreditsPage: Encodable {
        var frame: PageFrame
        var lines: [LedgerLine]
        var hasLines: Bool
        var nextCursor: String?
        var isFirstPage: Bool
    }

    @Sendable func studio(req: Request) async throws -> View {
        let user = try req.user
        let language = req.pageLanguage
        let page = try await req.owner.videoRecords(PageRequest(req))
        let styles = try await req.stylePresets.enabled().map { StyleChip(key: $0.key, name: $0.name(in: language), text: $0.promptText) }
        let t = { (key: String) in Localizer.shared.text(key, language) }
        return try await req.view.render("studio", StudioPage(
            frame: PageFrame(req, title: t("studio.title"), user: user),
            videos: try page.items.map { try VideoCard($0, language: language, shareBase: req.application.publicBaseURL, expiry: req.videoExpiry) },
            hasVideos: !page.items.isEmpty,
            nextCursor: page.nextCursor,
            tiers: QualityTier.allCases.map { Choice(value: $0.rawValue, label: t($0.labelKey)) },
            aspectRatios: AspectRatio.allCases.map { Choice(value: $0.rawValue, label: t("aspect.\($0.rawValue)")) },
            durations: VideoDurations.allowed.map {
                Choice(value: String($0), label: Localizer.shared.text("duration.seconds", language, ["seconds": String($0)]))
            },
            styles: styles, hasStyles: !styles.isEmpty,
            variantChoices: (1...VideoCreation.variantRange.upperBound).map {
                Choice(value: String($0), label: Localizer.shared.text("composer.variants_option", language, ["count": String($0)]))
            },
            composerData: try await Self.composerData(req),
            scriptText: try Self.json(Localizer.shared.texts(prefix: "js.", language)),
            maximumPromptLength: VideoRequest.maximumPromptLength))
    }

    /// The next page of cards, for "load more"; the cursor after it comes in `X-Next-Cursor`.
    @Sendable func cards(req: Request) async throws -> Response {
        let language = req.pageLanguage
        let page = try await req.owner.videoRecords(PageRequest(req))
        let response = try await req.view.render("cards", CardsFragment(
            videos: try page.items.map { try VideoCard($0, language: language, shareBase: req.application.publicBaseURL, expiry: req.videoExpiry) })).encodeResponse(for: req)
        if let next = page.nextCursor { response.headers.replaceOrAdd(name: "X-Next-Cursor", value: next) }
        return response
    }

    /// One card, fresh, for a live update; another user's video is a 404 like a missing one.
    @Sendable func card(req: Request) async throws -> View {
        let job = try await req.owner.videoRecord(req.parameters.get("videoID", as: UUID.self))
        return try await req.view.render("cards", CardsFragment(videos: [try VideoCard(job, language: req.pageLanguage, shareBase: req.application.publicBaseURL, expiry: req.videoExpiry)]))
    }

    @Sendable func credits(req: Request) async throws -> View {
        let user = try req.user
        let language = req.pageLanguage
        let page = try await req.owner.ledger().newestFirstPage(req)
        return try await req.view.render("credits", CreditsPage(
            frame: PageFrame(req, title: Localizer.shared.text("credits.title", language), user: user),
            lines: page.items.map { LedgerLine($0, language: language) },
            hasLines: !page.items.isEmpty,
            nextCursor: page.nextCursor,
            isFirstPage: req.query[String.self, at: "cursor"] == nil))
    }

    // MARK: - Helpers

    struct ComposerData: Encodable {
        struct Tier: Encodable {
            var textModel: String
            var imageModel: String
            var quality: String
        }
        var tiers: [String: Tier]
        var prices: [API.PriceRow]
    }

    static func composerData(_ req: Request) async throws -> String {
        let tiers = Dictionary(uniqueKeysWithValues: QualityTier.allCases.map {
            ($0.rawValue, ComposerData.Tier(textModel: $0.model(for: .textToVideo).rawValue,
                                            imageModel: $0.model(for: .imageToVideo).rawValue,
                                            quality: $0.quality.rawValue))
        })
        return try json(ComposerData(tiers: tiers, prices: try await CreditController.priceRows(on: req.db)))
    }

    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// Sends a visitor who is not signed in to the sign-in page instead of answering 401.
struct RedirectToSignIn: AsyncMiddleware {
    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard request.auth.has(User.self) else { return request.redirect(to: "/signin") }
        return try await next.respond(to: request)
    }
}
