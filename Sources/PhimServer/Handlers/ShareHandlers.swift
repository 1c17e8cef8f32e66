import Foundation
import PhimCore
import PhimProvider
import PhimSupport

/// Sharing a finished video at a public link, and playing a video from wherever it lives now.
enum ShareHandlers {
    /// `POST /api/v1/videos/{id}/share`: the public link (the same one when asked again).
    static func share(_ context: Context) throws -> Response {
        let shared = try sharing(context).share(context.parameter("id"), ownerID: try context.user.id, on: context.db)
        return .json(.object([("url", .string(Sharing.url(base: context.app.settings.publicBaseURL, token: shared.token))),
                              ("shared_at", .string(Timestamps.iso(shared.sharedAt)))]))
    }

    /// `DELETE /api/v1/videos/{id}/share`: the link answers 404 from now on.
    static func unshare(_ context: Context) throws -> Response {
        try sharing(context).unshare(context.parameter("id"), ownerID: try context.user.id, on: context.db)
        return .noContent()
    }

    /// `GET /api/v1/videos/{id}/media`: a redirect to where the owner's finished video plays now.
    static func media(_ context: Context) throws -> Response {
        let video = try Gallery(userID: try context.user.id).video(context.parameter("id"), on: context.db)
        guard video.status == .completed else { throw AppError.videoNotFound }
        return try redirect(to: video, context)
    }

    /// `GET /v/{token}/media`: the same for a shared video.
    static func sharedMedia(_ context: Context) throws -> Response {
        guard let video = try sharing(context).sharedVideo(token: context.parameter("token"), on: context.db) else {
            throw AppError.videoNotFound
        }
        return try redirect(to: video, context)
    }

    private static func redirect(to video: VideoRecord, _ context: Context) throws -> Response {
        let location = try sharing(context).mediaLocation(of: video, provider: context.app.provider, on: context.db)
        return Response(status: 307, headers: [("Location", location), ("Cache-Control", "private, max-age=60")])
    }

    /// `GET /v/{token}`: the public page. It plays the video, carries Open Graph tags for link
    /// previews, is kept out of search engines, and never names who made it.
    static func page(_ context: Context) throws -> Response {
        let language = context.language
        guard let video = try sharing(context).sharedVideo(token: context.parameter("token"), on: context.db),
              !sharing(context).isExpired(video)
        else {
            return html(status: 404, language: language, title: Messages.text("error.not_found", language), body: """
                <main class="shared"><p class="shared-missing">\(escape(Messages.text("error.not_found", language)))</p>
                <p class="shared-made">\(escape(Messages.text("shared.made_with", language))) <a href="/">Phim</a></p></main>
                """)
        }
        sharing(context).countView(of: video)
        let base = context.app.settings.publicBaseURL
        let pageURL = Sharing.url(base: base, token: context.parameter("token"))
        let mediaURL = pageURL + "/media"
        let title = String(video.prompt.prefix(90)) + (video.prompt.count > 90 ? "…" : "")
        let description = Messages.text("shared.description", language, ["duration": String(video.durationSeconds)])
        let shape = Self.shape(of: video.aspectRatio)
        let (width, height) = shape.pixels
        let head = """
            <meta name="description" content="\(escape(description))">
            <meta property="og:site_name" content="Phim">
            <meta property="og:type" content="video.other">
            <meta property="og:title" content="\(escape(title))">
            <meta property="og:description" content="\(escape(description))">
            <meta property="og:url" content="\(escape(pageURL))">
            <meta property="og:video" content="\(escape(mediaURL))">
            \(base.hasPrefix("https://") ? "<meta property=\"og:video:secure_url\" content=\"\(escape(mediaURL))\">" : "")
            <meta property="og:video:type" content="video/mp4">
            <meta property="og:video:width" content="\(width)">
            <meta property="og:video:height" content="\(height)">
            <meta name="twitter:card" content="summary">
            <meta name="twitter:title" content="\(escape(title))">
            """
        let body = """
            <main class="shared">
              <div class="shared-media shared-\(shape.name)">
                <video controls playsinline preload="metadata" src="\(escape(mediaURL))"></video>
              </div>
              <p class="shared-prompt">\(escape(video.prompt))</p>
              <p class="shared-specs">\(video.durationSeconds) s · \(escape(Messages.text("shared.aspect.\(shape.name)", language)))</p>
              <p class="shared-made">\(escape(Messages.text("shared.made_with", language))) <a href="/">Phim</a></p>
            </main>
            """
        return html(status: 200, language: language, title: title, head: head, body: body)
    }

    /// `GET /v/{token}/embed`: just the player, the only page other sites may frame (nginx sends
    /// it without the frame-blocking headers every other page has).
    static func embed(_ context: Context) throws -> Response {
        guard let video = try sharing(context).sharedVideo(token: context.parameter("token"), on: context.db),
              !sharing(context).isExpired(video)
        else { throw AppError.videoNotFound }
        sharing(context).countView(of: video)
        let mediaURL = Sharing.url(base: context.app.settings.publicBaseURL, token: context.parameter("token")) + "/media"
        let page = """
            <!doctype html>
            <html lang="\(context.language.rawValue)">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="robots" content="noindex, nofollow">
            <title>\(escape(String(video.prompt.prefix(90)))) · Phim</title>
            <link rel="stylesheet" href="/css/share.css">
            </head>
            <body class="embed">
            <video controls playsinline preload="metadata" src="\(escape(mediaURL))"></video>
            </body>
            </html>
            """
        return Response(status: 200, headers: [("Content-Type", "text/html; charset=utf-8"), ("X-Robots-Tag", "noindex, nofollow"),
                                               ("Cache-Control", "no-store")], body: Array(page.utf8))
    }

    /// The snippet an owner pastes into another site.
    static func embedCode(base: String, token: String, aspect: String) -> String {
        let (width, height) = shape(of: aspect).pixels
        return "<iframe src=\"\(Sharing.url(base: base, token: token))/embed\" width=\"\(width / 2)\" height=\"\(height / 2)\" "
            + "frameborder=\"0\" allow=\"fullscreen\" allowfullscreen title=\"Phim\"></iframe>"
    }

    /// A ratio's shape: its name (the page's class and words) and a frame's size in pixels.
    static func shape(of aspectRatio: String) -> (name: String, pixels: (Int, Int)) {
        switch aspectRatio {
        case "9:16": ("portrait", (720, 1280))
        case "1:1": ("square", (720, 720))
        default: ("landscape", (1280, 720))
        }
    }

    private static func html(status: Int, language: Language, title: String, head: String = "", body: String) -> Response {
        let page = """
            <!doctype html>
            <html lang="\(language.rawValue)">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="robots" content="noindex, nofollow">
            <meta name="referrer" content="no-referrer">
            <title>\(escape(title)) · Phim</title>
            \(head)
            <link rel="icon" href="/favicon.svg" type="image/svg+xml">
            <link rel="stylesheet" href="/css/share.css">
            </head>
            <body>
            <header class="shared-top"><a class="shared-brand" href="/"><img src="/favicon.svg" alt="" width="24" height="24"><span>Phim</span></a></header>
            \(body)
            </body>
            </html>
            """
        return Response(status: status, headers: [("Content-Type", "text/html; charset=utf-8"), ("X-Robots-Tag", "noindex, nofollow"),
                                                  ("Cache-Control", "no-store")], body: Array(page.utf8))
    }

    /// Text made safe for HTML bodies and double-quoted attributes.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    private static func sharing(_ context: Context) -> Sharing { Sharing(clock: context.app.clock, settings: context.app.settings) }
}
