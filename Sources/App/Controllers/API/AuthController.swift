import Fluent
import Vapor

/// Accounts, sessions and API keys.
struct AuthController: RouteCollection {
    static let minimumPasswordLength = 8
    /// bcrypt reads at most 72 bytes and stops at a NUL; a longer password, or one with control
    /// characters, would be stored as less than it looks, so it is refused instead.
    static let maximumPasswordBytes = 72

    func boot(routes: any RoutesBuilder) throws {
        routes.post("auth", "register", use: register)
        routes.post("auth", "login", use: login)
        routes.post("auth", "logout", use: logout)
        let signedIn = routes.grouped(RequireUser())
        signedIn.get("me", use: me)
        signedIn.post("api-keys", use: createAPIKey)
        signedIn.get("api-keys", use: listAPIKeys)
        signedIn.delete("api-keys", ":keyID", use: revokeAPIKey)
    }

    @Sendable func register(req: Request) async throws -> Response {
        let input = try req.decodeJSON(API.Credentials.self)
        let user = try await Self.createAccount(email: input.email, password: input.password, req: req)
        return try await API.Me(user).encodeResponse(status: .created, for: req)
    }

    @Sendable func login(req: Request) async throws -> Response {
        let input = try req.decodeJSON(API.Credentials.self)
        let user = try await Self.verifyCredentials(email: input.email, password: input.password, req: req)
        try await Self.startSession(for: user, req: req)
        let response = try await API.Me(user).encodeResponse(for: req)
        // Programs that keep the cookie send this back with every change (see `CSRF`).
        response.headers.replaceOrAdd(name: CSRF.headerName, value: CSRF.token(for: req))
        return response
    }

    @Sendable func logout(req: Request) async throws -> HTTPStatus {
        if req.hasSession { req.session.destroy() }
        req.auth.logout(User.self)
        return .noContent
    }

    @Sendable func me(req: Request) async throws -> API.Me {
        // `UserAuthenticator` read the user (and so the balance) from the database for this request.
        try API.Me(req.user)
    }

    @Sendable func createAPIKey(req: Request) async throws -> Response {
        let input = (req.body.data?.readableBytes ?? 0) > 0 ? try req.decodeJSON(API.CreateAPIKeyInput.self) : API.CreateAPIKeyInput()
        let (record, key) = try await Self.makeAPIKey(named: input.name, req: req)
        return try await API.CreatedAPIKey(id: record.requireID(), name: record.name, key: key, createdAt: record.createdAt)
            .encodeResponse(status: .created, for: req)
    }

    /// The caller's keys, newest first: name, the first characters, when made and revoked. The
    /// keys themselves are never shown again.
    @Sendable func listAPIKeys(req: Request) async throws -> API.APIKeyList {
        let keys = try await req.owner.apiKeys().sort(\.$createdAt, .descending).sort(\.$id, .descending).all()
        return API.APIKeyList(data: try keys.map(API.APIKeyInfo.init))
    }

    /// Revokes one of the caller's keys at once; revoking it again changes nothing.
    @Sendable func revokeAPIKey(req: Request) async throws -> HTTPStatus {
        try await Self.revokeAPIKey(req.parameters.get("keyID", as: UUID.self), req: req)
        return .noContent
    }

    // MARK: - Shared with the pages

    /// Makes a key for the signed-in user; returns the record and the key, which is shown once.
    static func makeAPIKey(named rawName: String?, req: Request) async throws -> (APIKey, String) {
        let name = (rawName ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.containsControlCharacters(allowingLineBreaks: false) else { throw AppError.invalidName }
        let key = APIKeys.generate()
        let record = APIKey(userID: try req.user.requireID(), name: name.isEmpty ? "API key" : String(name.prefix(100)),
                            keyPrefix: String(key.prefix(12)), keyHash: APIKeys.hash(key), createdAt: req.clock.now())
        try await record.create(on: req.db)
        return (record, key)
    }

    /// Revokes one of the signed-in user's keys; another user's is "not found".
    static func revokeAPIKey(_ id: UUID?, req: Request) async throws {
        guard let id, let key = try await req.owner.apiKeys().filter(\.$id == id).first() else { throw AppError.apiKeyNotFound }
        guard key.revokedAt == nil else { return }
        key.revokedAt = req.clock.now()
        try await key.save(on: req.db)
        req.logger.info("api key revoked", metadata: ["key_id": .string(id.uuidString)])
    }

    static func createAccount(email rawEmail: String?, password rawPassword: String?, req: Request) async throws -> User {
        let email = try validEmail(rawEmail)
        let password = try validPassword(rawPassword)
        let signups = req.application.phimConfig.limits.signupPerAddress
        try await req.rateLimiter.refuseIfSpent(signups, key: req.clientAddress, error: AppError.tooManySignups)
        let hash = try await req.password.async.hash(password)
        let user = User(email: email, passwordHash: hash, isAdmin: false, createdAt: req.clock.now())
        do {
            try await user.create(on: req.db)
        } catch let error as any DatabaseError where error.isConstraintFailure {
            throw AppError.emailTaken
        }
        try await req.rateLimiter.hit(signups, key: req.clientAddress)
        req.logger.info("user registered", metadata: ["user_id": .string(user.id?.uuidString ?? "")])
        return user
    }

    /// Checks an email and password. Failures are counted per account and per address; once
    /// either count reaches its limit, further attempts are refused without looking at the
    /// password until the window ends, so guessing costs the attacker time, not us.
    static func verifyCredentials(email rawEmail: String?, password: String?, req: Request) async throws -> User {
        guard let email = rawEmail?.normalizedEmail, let password, !password.isEmpty,
              password.utf8.count <= maximumPasswordBytes, !password.containsControlCharacters(allowingLineBreaks: false)
        else { throw AppError.invalidCredentials }
        let limits = req.application.phimConfig.limits
        let limiter = req.rateLimiter
        let address = req.clientAddress
        try await limiter.refuseIfSpent(limits.loginPerAccount, key: email, error: AppError.tooManyLoginAttempts)
        try await limiter.refuseIfSpent(limits.loginPerAddress, key: address, error: AppError.tooManyLoginAttempts)

        let user = try await User.query(on: req.db).filter(\.$email == email).first()
        // With no such account, spend the time a check would take, so timing does not reveal accounts.
        let matches: Bool
        if let user {
            matches = try await req.password.async.verify(password, created: user.passwordHash)
        } else {
            _ = try await req.password.async.hash(password)
            matches = false
        }
        guard let user, matches else {
            try await limiter.hit(limits.loginPerAccount, key: email)
            try await limiter.hit(limits.loginPerAddress, key: address)
            throw AppError.invalidCredentials
        }
        // Only after the password matched, so this does not tell strangers the account exists.
        guard user.disabledAt == nil else { throw AppError.accountDisabled }
        return user
    }

    /// Signs the user in on a fresh session id: an id planted before sign-in (session fixation)
    /// is thrown away, and with it the old anti-forgery token.
    static func startSession(for user: User, req: Request) async throws {
        if req.hasSession, let oldID = req.session.id {
            try await req.application.sessions.driver.deleteSession(oldID, for: req).get()
            req.session.id = nil
            req.session.data = SessionData()
        }
        req.session.data[UserAuthenticator.sessionKey] = user.id?.uuidString
        req.auth.login(user)
    }

    static func validEmail(_ raw: String?) throws(AppError) -> String {
        guard let email = raw?.normalizedEmail, email.count <= 254 else { throw .invalidEmail }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              !email.contains(where: { $0.isWhitespace || $0.isNewline }),
              !email.containsControlCharacters(allowingLineBreaks: false)
        else { throw .invalidEmail }
        return email
    }

    static func validPassword(_ raw: String?) throws(AppError) -> String {
        guard let password = raw, password.count >= minimumPasswordLength else {
            throw .passwordTooShort(minimum: minimumPasswordLength)
        }
        guard password.utf8.count <= maximumPasswordBytes, !password.containsControlCharacters(allowingLineBreaks: false) else {
            throw .passwordInvalid(maximumBytes: maximumPasswordBytes)
        }
        return password
    }
}

extension String {
    var normalizedEmail: String { trimmingCharacters(in: .whitespacesAndNewlines).lowercased() }

    /// Whether the text holds characters no person types: C0 and C1 controls and DEL (NUL
    /// among them, which PostgreSQL cannot store and C libraries read as the end). Tab, line
    /// feed and carriage return are allowed where text may span lines.
    func containsControlCharacters(allowingLineBreaks: Bool) -> Bool {
        unicodeScalars.contains { scalar in
            if allowingLineBreaks, scalar == "\t" || scalar == "\n" || scalar == "\r" { return false }
            return scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
        }
    }
}
