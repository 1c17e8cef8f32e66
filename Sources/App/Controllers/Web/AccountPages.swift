import Vapor

/// Sign in, sign up, sign out and the language switch: plain HTML forms, each carrying the
/// session's anti-forgery token, answered with a redirect (or the form again, with the error).
struct AccountPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get { req async throws -> Response in
            req.redirect(to: req.auth.has(User.self) ? "/studio" : "/signin")
        }
        routes.get("signin") { req async throws -> Response in
            if req.auth.has(User.self) { return req.redirect(to: "/studio") }
            return try await Self.renderForm("signin", req: req)
        }
        routes.post("signin", use: signIn)
        routes.get("signup") { req async throws -> Response in
            if req.auth.has(User.self) { return req.redirect(to: "/studio") }
            return try await Self.renderForm("signup", req: req)
        }
        routes.post("signup", use: signUp)
        routes.post("signout", use: signOut)
        routes.post("language", use: chooseLanguage)
    }

    struct AccountForm: Content {
        var email: String?
        var password: String?
    }

    struct FormPage: Encodable {
        var frame: PageFrame
        var email: String
        var error: String?
        var demoEmail: String?
        var demoPassword: String?
        var minimumPasswordLength: Int
    }

    @Sendable func signIn(req: Request) async throws -> Response {
        try await Self.handleAccountForm("signin", req: req) { form in
            try await AuthController.verifyCredentials(email: form.email, password: form.password, req: req)
        }
    }

    @Sendable func signUp(req: Request) async throws -> Response {
        try await Self.handleAccountForm("signup", req: req) { form in
            try await AuthController.createAccount(email: form.email, password: form.password, req: req)
        }
    }

    /// Checks the form's token, finds the account, starts the session and goes to the studio;
    /// any refusal shows the same form again with its message and the email kept.
    static func handleAccountForm(_ template: String, req: Request,
                                  account: (AccountForm) async throws -> User) async throws -> Response {
        let form = try req.content.decode(AccountForm.self)
        do {
            try await CSRF.require(req)
            try await AuthController.startSession(for: try await account(form), req: req)
            return req.redirect(to: "/studio", redirectType: .normal)
        } catch let error as AppError {
            return try await renderForm(template, req: req, email: form.email, error: error)
        }
    }

    @Sendable func signOut(req: Request) async throws -> Response {
        try await CSRF.require(req)
        if req.hasSession { req.session.destroy() }
        req.auth.logout(User.self)
        return req.redirect(to: "/signin", redirectType: .normal)
    }

    struct LanguageForm: Content {
        var lang: String
        var next: String?
    }

    /// Remembers the choice for a year and returns to the page it was made on.
    @Sendable func chooseLanguage(req: Request) async throws -> Response {
        try await CSRF.require(req)
        let form = try req.content.decode(LanguageForm.self)
        let language = Language(rawValue: form.lang) ?? .vi
        let response = req.redirect(to: Self.localPath(form.next) ?? "/", redirectType: .normal)
        response.cookies[Language.cookieName] = HTTPCookies.Value(
            string: language.rawValue, maxAge: 365 * 24 * 3600, path: "/", isHTTPOnly: true, sameSite: .lax)
        return response
    }

    /// Only a path on this site: never `//host` or `https://host`, which would make the form an open redirect.
    static func localPath(_ raw: String?) -> String? {
        guard let raw, raw.hasPrefix("/"), !raw.hasPrefix("//"), !raw.contains("\\"), raw.count < 500 else { return nil }
        return raw
    }

    static func renderForm(_ template: String, req: Request, email: String? = nil, error: AppError? = nil) async throws -> Response {
        let language = req.pageLanguage
        let demo = req.application.phimConfig.demoAccount
        let page = FormPage(
            frame: PageFrame(req, title: Localizer.shared.text("\(template).title", language), user: nil),
            email: email ?? "",
            error: error?.message(in: language),
            demoEmail: demo?.email,
            demoPassword: demo?.hasPublicPassword == true ? demo?.password : nil,
            minimumPasswordLength: AuthController.minimumPasswordLength)
        let response = try await req.view.render(template, page).encodeResponse(for: req)
        error?.mark(response)
        return response
    }
}
