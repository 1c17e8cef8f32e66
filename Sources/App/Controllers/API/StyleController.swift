import Fluent
import Vapor

/// `GET /api/v1/styles`: the style presets the studio offers as chips, in the caller's
/// language. Public, like the price list; a program adds a preset's `prompt_text` to its prompt.
struct StyleController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("styles", use: list)
    }

    @Sendable func list(req: Request) async throws -> API.Styles {
        let language = req.language
        return API.Styles(styles: try await req.stylePresets.enabled().map {
            API.Style(key: $0.key, name: $0.name(in: language), promptText: $0.promptText)
        })
    }
}

extension API {
    struct Style: Content {
        var key: String
        var name: String
        var promptText: String
    }

    struct Styles: Content {
        var styles: [Style]
    }
}

extension Request {
    var stylePresets: StylePresetAdministration { StylePresetAdministration(store: store, clock: clock, logger: logger) }
}
