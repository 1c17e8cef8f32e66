import Fluent
import Vapor

/// `/admin/prices`: the price table, one form per row (admins only, 404 to anyone else).
/// A change applies to videos created after it; each is in the audit log.
struct AdminPricePages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let admin = routes.grouped(RedirectToSignIn()).grouped(RequireAdmin()).grouped("admin")
        admin.get("prices", use: show)
        admin.post("prices", ":priceID", use: update)
    }

    struct PricesPage: Encodable {
        var frame: PageFrame
        var rows: [PriceRow]
        var notice: String?
        var error: String?
    }

    struct PriceRow: Encodable {
        var id: String
        var model: String
        var mode: String
        var tier: String
        var duration: String
        var credits: Int
        var creditsText: String
        var updatedAt: String
        var updatedText: String
        /// The row the last change was refused for, shown with the value as typed.
        var refused: Bool
        var typed: String?
    }

    struct PriceForm: Content {
        var credits: String?
        var reason: String?
    }

    @Sendable func show(req: Request) async throws -> Response {
        let changed = req.query[String.self, at: "changed"]
        return try await render(req, notice: changed == nil ? nil : Localizer.shared.text("admin.prices.changed", req.pageLanguage))
    }

    @Sendable func update(req: Request) async throws -> Response {
        guard let id = req.parameters.get("priceID", as: UUID.self) else { throw AppError.priceNotFound }
        let form = try req.content.decode(PriceForm.self)
        do {
            guard let raw = form.credits?.trimmingCharacters(in: .whitespaces), let credits = Int(raw) else {
                throw AppError.invalidAmount(maximum: PriceAdministration.maximumCredits)
            }
            try await req.prices.set(id, credits: credits, reason: form.reason, by: .admin(try req.user))
            return req.redirect(to: "/admin/prices?changed=\(id.uuidString.lowercased())#price-\(id.uuidString.lowercased())",
                                redirectType: .normal)
        } catch let error as AppError {
            return try await render(req, error: error, refused: (id, form.credits))
        }
    }

    private func render(_ req: Request, notice: String? = nil, error: AppError? = nil,
                        refused: (id: UUID, typed: String?)? = nil) async throws -> Response {
        let language = req.pageLanguage
        let t = { (key: String) in Localizer.shared.text(key, language) }
        let rows = try await req.prices.all().map { price -> PriceRow in
            let id = try price.requireID()
            let model = VideoModel(rawValue: price.model)
            let quality = VideoQuality(rawValue: price.quality) ?? .standard
            let isRefused = refused?.id == id
            return PriceRow(
                id: id.uuidString.lowercased(), model: price.model,
                mode: t("mode.\((model?.mode ?? .textToVideo).rawValue)"),
                tier: model.map { t(QualityTier(model: $0, quality: quality).labelKey) } ?? price.quality,
                duration: Localizer.shared.text("duration.seconds", language, ["seconds": String(price.durationSeconds)]),
                credits: price.credits, creditsText: Formatting.credits(price.credits, language),
                updatedAt: Formatting.iso(price.updatedAt), updatedText: Formatting.time(price.updatedAt, language),
                refused: isRefused, typed: isRefused ? refused?.typed : nil)
        }
        let page = PricesPage(frame: PageFrame(req, title: t("admin.prices.title"), user: try req.user),
                              rows: rows, notice: notice, error: error?.message(in: language))
        let response = try await req.view.render("admin-prices", page).encodeResponse(for: req)
        error?.mark(response)
        return response
    }
}

extension Request {
    var prices: PriceAdministration { PriceAdministration(store: store, clock: clock, logger: logger) }
}
