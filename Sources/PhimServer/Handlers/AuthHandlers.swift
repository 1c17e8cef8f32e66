import Foundation
import PhimCore
import PhimSupport

/// Accounts, sessions and API keys.
enum AuthHandlers {
    /// Answers the same for a new and a taken email (201, the same body, the same hashing work),
    /// so sign-up does not tell strangers who has an account; it does not sign in.
    static func register(_ context: Context) throws -> Response {
        try requireJSONContentType(context)
        let body = try context.jsonBody()
        let limits = AbuseLimits(settings: context.app.settings, clock: context.app.clock)
        let address = context.request.remoteAddress
        // The form's own mistakes are answered first; only a real attempt counts against the address.
        _ = try Accounts.validEmail(body["email"]?.stringValue)
        _ = try Accounts.validPassword(body["password"]?.stringValue)
        try limits.countSignUp(address: address, on: context.db)
        do {
            _ = try context.app.accounts.register(email: body["email"]?.stringValue, password: body["password"]?.stringValue,
                                                  on: context.db)
        } catch AppError.emailTaken {
            // Said to no one: the owner signs in as usual, anyone else learns nothing.
        } catch AppError.signInBusy {
            try limits.forgiveSignUp(address: address, on: context.db)
            throw AppError.signInBusy
        }
        return .json(.object([("status", .string("created"))]), status: 201)
    }

    /// Signs in on a fresh session: the cookie (HttpOnly) and the anti-forgery token, which the
    /// page reads from its own cookie and programs from the `X-CSRF-Token` header.
    static func login(_ context: Context) throws -> Response {
        try requireJSONContentType(context)
        let body = try context.jsonBody()
        let email = body["email"]?.stringValue ?? ""
        let limits = AbuseLimits(settings: context.app.settings, clock: context.app.clock)
        let address = context.request.remoteAddress
        try limits.countPasswordAttempt(email: email, address: address, on: context.db)
        let user: User
        do {
            user = try context.app.accounts.verifyCredentials(email: email, password: body["password"]?.stringValue, on: context.db)
        } catch AppError.invalidCredentials {
            throw AppError.invalidCredentials
        } catch {
            // The password matched (a disabled account) or was never checked (hashing busy).
            try limits.forgivePasswordAttempt(email: email, address: address, on: context.db)
            throw error
        }
        try limits.forgivePasswordAttempt(email: email, address: address, on: context.db)
        let session = try context.app.accounts.startSession(for: user, on: context.db)
        var response = Response.json(me(user))
        let secure = context.app.secureCookies ? "; Secure" : ""
        let maxAge = Accounts.sessionLifetimeMillis / 1000
        response.addHeader("Set-Cookie", "\(Cookies.session)=\(session.token); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Lax\(secure)")
        response.addHeader("Set-Cookie", "\(Cookies.csrf)=\(session.csrfToken); Path=/; Max-Age=\(maxAge); SameSite=Strict\(secure)")
        response.addHeader("X-CSRF-Token", session.csrfToken)
        Log.info("signed in", ["user_id": user.id, "request_id": context.request.requestID])
        return response
    }

    static func logout(_ context: Context) throws -> Response {
        if let token = context.request.cookies[Cookies.session], !token.isEmpty {
            try context.app.accounts.endSession(token: token, on: context.db)
        }
        return clearingCookies(Response.noContent())
    }

    /// Checks the current password (counted like a sign-in attempt), then ends every other session.
    static func changePassword(_ context: Context) throws -> Response {
        let body = try context.jsonBody()
        let user = try context.user
        for field in ["current_password", "new_password"] where body[field].map({ !$0.isNull && $0.stringValue == nil }) == true {
            throw AppError.invalidJSON(detail: "\(field) must be a string")
        }
        _ = try Accounts.validPassword(body["new_password"]?.stringValue)
        let limits = AbuseLimits(settings: context.app.settings, clock: context.app.clock)
        let address = context.request.remoteAddress
        try limits.countPasswordAttempt(email: user.email, address: address, on: context.db)
        let ended: Int
        do {
            ended = try context.app.accounts.changePassword(of: user, current: body["current_password"]?.stringValue,
                                                            new: body["new_password"]?.stringValue,
                                                            keepingSession: context.sessionToken, on: context.db)
        } catch AppError.currentPasswordWrong {
            throw AppError.currentPasswordWrong
        } catch {
            try limits.forgivePasswordAttempt(email: user.email, address: address, on: context.db)
            throw error
        }
        try limits.forgivePasswordAttempt(email: user.email, address: address, on: context.db)
        return .json(.object([("status", .string("changed")), ("other_sessions_ended", .int(ended))]))
    }

    /// Ends every session of the caller, this one included; API keys stay.
    static func logoutAll(_ context: Context) throws -> Response {
        let ended = try context.app.accounts.endAllSessions(of: try context.user, on: context.db)
        return clearingCookies(.json(.object([("status", .string("signed_out")), ("sessions_ended", .int(ended))])))
    }

    private static func clearingCookies(_ response: Response) -> Response {
        var response = response
        response.addHeader("Set-Cookie", "\(Cookies.session)=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")
        response.addHeader("Set-Cookie", "\(Cookies.csrf)=; Path=/; Max-Age=0; SameSite=Strict")
        return response
    }

    /// Sign-in and sign-up take JSON only: a cross-site form or `no-cors` fetch can send only
    /// "simple" types (text/plain, form encodings), so these cannot be posted from another site.
    private static func requireJSONContentType(_ context: Context) throws {
        let type = context.request.header("content-type") ?? ""
        let mediaType = type.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard mediaType.trimmingCharacters(in: .whitespaces).lowercased() == "application/json" else {
            throw AppError.unsupportedMediaType
        }
    }

    static func me(_ context: Context) throws -> Response {
        .json(me(try context.user))
    }

    static func createKey(_ context: Context) throws -> Response {
        let body = try context.jsonBody()
        if let name = body["name"], !name.isNull, name.stringValue == nil { throw AppError.invalidName }
        let (info, key) = try context.app.accounts.makeAPIKey(for: try context.user, name: body["name"]?.stringValue, on: context.db)
        return .json(.object([("id", .string(info.id)), ("name", .string(info.name)), ("key", .string(key)),
                              ("key_prefix", .string(info.keyPrefix)), ("created_at", .string(Timestamps.iso(info.createdAt)))]),
                     status: 201)
    }

    static func listKeys(_ context: Context) throws -> Response {
        let keys = try context.app.accounts.apiKeys(of: try context.user, on: context.db)
        return .json(.object([("data", .array(keys.map { key in
            .object([("id", .string(key.id)), ("name", .string(key.name)), ("key_prefix", .string(key.keyPrefix)),
                     ("created_at", .string(Timestamps.iso(key.createdAt))), ("revoked_at", Timestamps.isoOrNull(key.revokedAt))])
        }))]))
    }

    static func revokeKey(_ context: Context) throws -> Response {
        let id = context.parameter("id").lowercased()
        guard UUID(uuidString: id) != nil else { throw AppError.apiKeyNotFound }
        try context.app.accounts.revokeAPIKey(id: id, of: try context.user, on: context.db)
        return .noContent()
    }

    static func me(_ user: User) -> JSON {
        .object([("id", .string(user.id)), ("email", .string(user.email)), ("is_admin", .bool(user.isAdmin)),
                 ("credits", .int(user.creditsAvailable)), ("credits_on_hold", .int(user.creditsHeld))])
    }
}

/// Times in answers: ISO 8601 in UTC with milliseconds.
enum Timestamps {
    static func iso(_ millis: Int64) -> String { ISOTime.string(millis) }
    static func isoOrNull(_ millis: Int64?) -> JSON { millis.map { .string(iso($0)) } ?? .null }
}
