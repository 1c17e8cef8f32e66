import Fluent
import Vapor

/// `/admin/styles`: the style presets the studio shows as chips; edit one per row, or add one
/// (admins only, 404 to anyone else). Changes show in the studio at once and are audited.
struct AdminStylePages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let admin = routes.grouped(RedirectToSignIn()).grouped(RequireAdmin()).grouped("admin")
        admin.get("styles", use: show)
        admin.post("styles", use: save)
    }

    struct StylesPage: Encodable {
        var frame: PageFrame
        var styles: [StyleForm]
        var notice: String?
        var error: String?
        /// The add form, kept as typed when it was refused.
        var draft: StyleForm
    }

    struct StyleForm: Content {
        var key: String?
        var nameVi: String?
        var nameEn: String?
        var promptText: String?
        var position: String?
        var enabled: String?
        /// Present on the add form: the key must be new.
        var isNew: String?

        enum CodingKeys: String, CodingKey {
            case key, nameVi = "name_vi", nameEn = "name_en", promptText = "prompt_text", position, enabled, isNew = "new"
        }
    }

    @Sendable func show(req: Request) async throws -> Response {
        try await render(req, notice: req.query[String.self, at: "saved"] == nil ? nil
                            : Localizer.shared.text("admin.styles.saved", req.pageLanguage))
    }

    /// One form for both: an edit row posts its key with the fields, the add form posts `new=1`.
    @Sendable func save(req: Request) async throws -> Response {
        let form = try req.content.decode(StyleForm.self)
        do {
            let key = form.key ?? ""
            if form.isNew != nil, try await StylePreset.query(on: req.db).filter(\.$key == key.lowercased()).first() != nil {
                throw AppError.invalidStyle(field: "key")
            }
            var position: Int?
            if let raw = form.position?.trimmingCharacters(in: .whitespaces), !raw.isEmpty {
                guard let number = Int(raw) else { throw AppError.invalidStyle(field: "position") }
                position = number
            }
            // An unticked checkbox sends nothing: on an edit row that means "off".
            let change = StylePresetAdministration.Change(nameVi: form.nameVi, nameEn: form.nameEn, promptText: form.promptText,
                                                         position: position, enabled: form.enabled != nil)
            try await req.stylePresets.save(key: key, change, by: .admin(try req.user))
            return req.redirect(to: "/admin/styles?saved=1", redirectType: .normal)
        } catch let error as AppError {
            return try await render(req, error: error, draft: form.isNew != nil ? form : StyleForm())
        }
    }

    private func render(_ req: Request, notice: String? = nil, error: AppError? = nil, draft: StyleForm = StyleForm()) async throws -> Response {
        let language = req.pageLanguage
        let styles = try await req.stylePresets.all().map {
            StyleForm(key: $0.key, nameVi: $0.nameVi, nameEn: $0.nameEn, promptText: $0.promptText,
                      position: String($0.position), enabled: $0.enabled ? "1" : nil)
        }
        let page = StylesPage(frame: PageFrame(req, title: Localizer.shared.text("admin.styles.title", language), user: try req.user),
                              styles: styles, notice: notice, error: error?.message(in: language), draft: draft)
        let response = try await req.view.render("admin-styles", page).encodeResponse(for: req)
        error?.mark(response)
        return response
    }
}
