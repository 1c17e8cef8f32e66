import Fluent
import Vapor

/// `/v/<token>`: a shared video's public page. No sign-in; it shows only the video, its prompt
/// and its specs (never the owner), with Open Graph tags so a pasted link previews well. A
/// withdrawn, deleted or unknown link is a plain 404.
struct SharePages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("v", ":token", use: show)
        routes.get("v", ":token", "media", use: media)
    }

    struct SharedPage: Encodable {
        var lang: String
        var title: String
        var description: String
        var pageURL: String
        var videoURL: String
        var isSecure: Bool
        var width: Int
        var height: Int
        var aspectRatio: String
        var prompt: String
        var specs: String
    }

    @Sendable func show(req: Request) async throws -> Response {
        let token = req.parameters.get("token") ?? ""
        let video = try await Sharing.video(token: token, on: req.db)
        if req.videoExpiry.isExpired(video) { throw AppError.videoExpired(days: req.videoExpiry.lifetimeDays) }
        let language = req.pageLanguage
        let t = { (key: String) in Localizer.shared.text(key, language) }
        // Through Phim's redirect, which swaps in a fresh provider link once the stored one is old.
        let videoURL = Sharing.url(base: req.application.publicBaseURL, token: token) + "/media"
        // Sora 2 renders 1280 × 720 (or 720 × 1280); 1080p for Pro High.
        let long = video.quality == .high ? 1920 : 1280, short = video.quality == .high ? 1080 : 720
        let landscape = video.aspectRatio == .landscape
        let page = SharedPage(
            lang: language.rawValue,
            title: Self.shortened(video.prompt, to: 70),
            description: Self.shortened(video.prompt, to: 200),
            pageURL: Sharing.url(base: req.application.publicBaseURL, token: token),
            videoURL: videoURL, isSecure: videoURL.hasPrefix("https://"),
            width: landscape ? long : short, height: landscape ? short : long,
            aspectRatio: video.aspectRatio.rawValue, prompt: video.prompt,
            specs: [t("aspect.\(video.aspectRatio.rawValue)"),
                    Localizer.shared.text("duration.seconds", language, ["seconds": String(video.durationSeconds)])]
                .joined(separator: " · "))
        let response = try await req.view.render("shared", page).encodeResponse(for: req)
        // Withdrawing must work at once: no shared cache may keep the page.
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-cache")
        response.headers.replaceOrAdd(name: "X-Robots-Tag", value: "noindex")
        return response
    }

    /// Where the shared video plays now (a redirect, like the owner's `…/media`).
    @Sendable func media(req: Request) async throws -> Response {
        try await req.redirectToMedia(of: try await Sharing.video(token: req.parameters.get("token") ?? "", on: req.db))
    }

    static func shortened(_ text: String, to length: Int) -> String {
        text.count <= length ? text : String(text.prefix(length - 1)).trimmingCharacters(in: .whitespaces) + "…"
    }
}
