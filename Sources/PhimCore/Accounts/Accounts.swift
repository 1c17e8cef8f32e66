import Foundation
import PhimSupport

/// A signed-in person (or a program with their key), as every request sees them.
public struct User: Sendable, Equatable {
    public var id: String
    public var email: String
    public var isAdmin: Bool
    public var creditsAvailable: Int
    public var creditsHeld: Int
    public var isDisabled: Bool

    static let columns = "id, email, is_admin, credits_available, credits_held, disabled_at"

    init(_ row: Row) {
        id = row.string(0)
        email = row.string(1)
        isAdmin = row.bool(2)
        creditsAvailable = row.int(3)
        creditsHeld = row.int(4)
        isDisabled = row.optionalInt64(5) != nil
    }
}

/// Accounts, sessions and API keys.
public struct Accounts: Sendable {
    public static let minimumPasswordLength = 8
    /// Longer passwords are refused rather than silently cut (Argon2 takes any length, but a
    /// megabyte password is a way to make the server work for nothing).
    public static let maximumPasswordBytes = 256
    public static let sessionLifetimeMillis: Int64 = 30 * 24 * 3600 * 1000

    public var hasher: PasswordHasher
    public var clock: AppClock

    public init(hasher: PasswordHasher, clock: AppClock) {
        self.hasher = hasher
        self.clock = clock
    }

    // MARK: - Accounts

    /// Makes an account. The password is hashed before the email is looked at, so a taken
    /// email costs the same work as a new one. An operator's creation (`auditedBy`) is written to
    /// the audit log in the same transaction.
    public func register(email rawEmail: String?, password rawPassword: String?, isAdmin: Bool = false,
                         auditedBy actor: Administration.Actor? = nil, on db: Database) throws -> User {
        let email = try Self.validEmail(rawEmail)
        let password = try Self.validPassword(rawPassword)
        let hash = try newHash(password)
        let id = UUID().uuidString.lowercased()
        let now = clock.nowMillis()
        let created: User? = try db.write {
            let inserted = try db.run("""
                INSERT INTO users (id, email, password_hash, is_admin, created_at) VALUES (:id, :email, :password_hash, :is_admin, :created_at)
                ON CONFLICT (email) DO NOTHING
                """, ["id": .text(id), "email": .text(email), "password_hash": .text(hash), "is_admin": .bool(isAdmin),
                      "created_at": .integer(now)])
            guard inserted == 1, let created = try user(id: id, on: db) else { return nil }
            if let actor {
                try Administration(clock: clock).record(actor, "account.create", targetUserID: id, target: email, reason: nil,
                                                        before: [], after: [("is_admin", .bool(isAdmin))], at: now, on: db)
            }
            return created
        }
        guard let created else { throw AppError.emailTaken }
        Log.info("user registered", ["user_id": id])
        return created
    }

    public func user(id: String, on db: Database) throws -> User? {
        try db.first("SELECT \(User.columns) FROM users WHERE id = ?", [.text(id)]).map(User.init)
    }

    public func user(email: String, on db: Database) throws -> User? {
        try db.first("SELECT \(User.columns) FROM users WHERE email = ?", [.text(email.normalizedEmail)]).map(User.init)
    }

    /// Checks an email and password. With no such account the same hashing work is done, so
    /// timing does not tell strangers which accounts exist.
    public func verifyCredentials(email rawEmail: String?, password: String?, on db: Database) throws -> User {
        guard let email = rawEmail?.normalizedEmail, let password, !password.isEmpty,
              password.utf8.count <= Self.maximumPasswordBytes, !password.containsControlCharacters(allowingLineBreaks: false)
        else { throw AppError.invalidCredentials }
        let row = try db.first("SELECT \(User.columns), password_hash FROM users WHERE email = ?", [.text(email)])
        guard let row else {
            _ = try newHash(password)
            throw AppError.invalidCredentials
        }
        guard try matches(password, hash: row.string(6)) else { throw AppError.invalidCredentials }
        let user = User(row)
        // Only after the password matched, so this does not tell strangers the account exists.
        guard !user.isDisabled else { throw AppError.accountDisabled }
        return user
    }

    /// Changes the password after checking the current one, and ends every session but
    /// `keepingSession` (the one making the change; nil from an API key: all of them) in the same
    /// transaction, audited. API keys stay. Returns how many sessions ended.
    public func changePassword(of user: User, current: String?, new rawNew: String?, keepingSession token: String?,
                               on db: Database) throws -> Int {
        let newPassword = try Self.validPassword(rawNew)
        guard let current, !current.isEmpty, current.utf8.count <= Self.maximumPasswordBytes,
              let stored = try db.firstRow("SELECT password_hash FROM users WHERE id = :id", ["id": .text(user.id)]),
              try matches(current, hash: stored.string("password_hash"))
        else { throw AppError.currentPasswordWrong }
        let hash = try newHash(newPassword)
        let ended = try db.write {
            try db.run("UPDATE users SET password_hash = :password_hash WHERE id = :id", ["password_hash": .text(hash), "id": .text(user.id)])
            return try endSessions(of: user, keeping: token, audited: "account.password_change", on: db)
        }
        Log.info("password changed", ["user_id": user.id, "sessions_ended": String(ended)])
        return ended
    }

    /// "Sign out everywhere": ends every session of the user, the caller's own included, audited.
    /// API keys stay (they are revoked one by one on the keys page). Returns how many ended.
    public func endAllSessions(of user: User, on db: Database) throws -> Int {
        let ended = try db.write { try endSessions(of: user, keeping: nil, audited: "account.sign_out_everywhere", on: db) }
        Log.info("signed out everywhere", ["user_id": user.id, "sessions_ended": String(ended)])
        return ended
    }

    /// Ends the user's sessions but the one of `token` (nil: all), with the holder's audit entry, in the caller's transaction.
    private func endSessions(of user: User, keeping token: String?, audited action: String, on db: Database) throws -> Int {
        let ended = try db.run("DELETE FROM sessions WHERE user_id = :user_id AND token_hash <> :kept",
                               ["user_id": .text(user.id), "kept": .text(token.map(Crypto.sha256Hex) ?? "")])
        try Administration(clock: clock).record(.accountHolder(user), action, targetUserID: user.id, target: user.email, reason: nil,
                                                before: [], after: [("sessions_ended", .int(ended))], at: clock.nowMillis(), on: db)
        return ended
    }

    // MARK: - Password hashing

    /// At most the process's hashing slots at once (64 MiB each); busy when none comes free soon.
    private func newHash(_ password: String) throws -> String {
        guard let hash = try inHashingSlot({ hasher.hash(password) }) else { throw AppError.internal }
        return hash
    }

    private func matches(_ password: String, hash: String) throws -> Bool {
        try inHashingSlot { hasher.verify(password, hash: hash) }
    }

    private func inHashingSlot<Result>(_ body: () -> Result) throws -> Result {
        do {
            return try hasher.slots.run(body)
        } catch is HashingSlots.Busy {
            Log.warning("password hashing busy: every slot stayed taken", ["slots": String(hasher.slots.count)])
            throw AppError.signInBusy
        }
    }

    // MARK: - Sessions

    public struct Session: Sendable {
        /// The cookie's value; only its hash is stored.
        public var token: String
        /// Sent back by the page with every change (`X-CSRF-Token`), readable from its own cookie.
        public var csrfToken: String
        public var expiresAt: Int64
    }

    /// A fresh session: the id is new at every sign-in, so one planted before it is worthless.
    public func startSession(for user: User, on db: Database) throws -> Session {
        let token = Crypto.randomToken()
        let csrf = Crypto.randomToken()
        let now = clock.nowMillis()
        let session = Session(token: token, csrfToken: csrf, expiresAt: now + Self.sessionLifetimeMillis)
        try db.write {
            try db.run("DELETE FROM sessions WHERE user_id = ? AND expires_at < ?", [.text(user.id), .integer(now)])
            try db.run("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                       [.text(Crypto.sha256Hex(token)), .text(user.id), .text(csrf), .integer(now), .integer(session.expiresAt)])
        }
        return session
    }

    /// The user a session cookie belongs to and the session's anti-forgery token.
    public func sessionUser(token: String, on db: Database) throws -> (User, csrfToken: String)? {
        let row = try db.first("""
            SELECT u.id, u.email, u.is_admin, u.credits_available, u.credits_held, u.disabled_at, s.csrf_token
            FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ?
            """, [.text(Crypto.sha256Hex(token)), .integer(clock.nowMillis())])
        guard let row else { return nil }
        return (User(row), row.string(6))
    }

    public func endSession(token: String, on db: Database) throws {
        try db.write { try db.run("DELETE FROM sessions WHERE token_hash = ?", [.text(Crypto.sha256Hex(token))]) }
    }

    // MARK: - API keys

    public struct APIKeyInfo: Sendable {
        public var id: String
        public var name: String
        public var keyPrefix: String
        public var createdAt: Int64
        public var revokedAt: Int64?
    }

    /// Makes a key; returns its record and the key itself, which is shown once (only its hash is kept).
    public func makeAPIKey(for user: User, name rawName: String?, on db: Database) throws -> (APIKeyInfo, String) {
        let name = (rawName ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.containsControlCharacters(allowingLineBreaks: false), name.count <= 100 else { throw AppError.invalidName }
        let key = "phim_" + Crypto.randomToken()
        let info = APIKeyInfo(id: UUID().uuidString.lowercased(), name: name.isEmpty ? "API key" : name,
                              keyPrefix: String(key.prefix(12)), createdAt: clock.nowMillis(), revokedAt: nil)
        try db.write {
            try db.run("INSERT INTO api_keys (id, user_id, name, key_prefix, key_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                       [.text(info.id), .text(user.id), .text(info.name), .text(info.keyPrefix),
                        .text(Crypto.sha256Hex(key)), .integer(info.createdAt)])
        }
        return (info, key)
    }

    /// The user a bearer key belongs to, in one query; revoked keys find no one.
    public func keyUser(key: String, on db: Database) throws -> User? {
        try db.first("""
            SELECT u.id, u.email, u.is_admin, u.credits_available, u.credits_held, u.disabled_at
            FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = ? AND k.revoked_at IS NULL
            """, [.text(Crypto.sha256Hex(key))]).map(User.init)
    }

    public func apiKeys(of user: User, on db: Database) throws -> [APIKeyInfo] {
        try db.query("""
            SELECT id, name, key_prefix, created_at, revoked_at FROM api_keys WHERE user_id = ?
            ORDER BY created_at DESC, rowid DESC
            """, [.text(user.id)]).map {
            APIKeyInfo(id: $0.string(0), name: $0.string(1), keyPrefix: $0.string(2), createdAt: $0.int64(3), revokedAt: $0.optionalInt64(4))
        }
    }

    /// Revokes one of the user's keys at once; again changes nothing; another user's is "not found".
    public func revokeAPIKey(id: String, of user: User, on db: Database) throws {
        try db.write {
            guard try db.first("SELECT 1 FROM api_keys WHERE id = ? AND user_id = ?", [.text(id), .text(user.id)]) != nil else {
                throw AppError.apiKeyNotFound
            }
            try db.run("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [.integer(clock.nowMillis()), .text(id)])
        }
    }

    // MARK: - Rules

    public static func validEmail(_ raw: String?) throws -> String {
        guard let email = raw?.normalizedEmail, email.count <= 254 else { throw AppError.invalidEmail }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              !email.contains(where: { $0.isWhitespace || $0.isNewline }),
              !email.containsControlCharacters(allowingLineBreaks: false)
        else { throw AppError.invalidEmail }
        return email
    }

    public static func validPassword(_ raw: String?) throws -> String {
        guard let password = raw, password.count >= minimumPasswordLength else {
            throw AppError.passwordTooShort(minimum: minimumPasswordLength)
        }
        guard password.utf8.count <= maximumPasswordBytes, !password.containsControlCharacters(allowingLineBreaks: false) else {
            throw AppError.passwordInvalid(maximumBytes: maximumPasswordBytes)
        }
        return password
    }
}

extension String {
    public var normalizedEmail: String { trimmingCharacters(in: .whitespacesAndNewlines).lowercased() }

    /// Whether the text holds characters no person types: C0 and C1 controls and DEL (NUL among
    /// them, which C libraries read as the end). Tab and line breaks pass where text may span lines.
    public func containsControlCharacters(allowingLineBreaks: Bool) -> Bool {
        unicodeScalars.contains { scalar in
            if allowingLineBreaks, scalar == "\t" || scalar == "\n" || scalar == "\r" { return false }
            return scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
        }
    }
}
