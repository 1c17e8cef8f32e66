import Foundation
import PhimProvider
import PhimSupport

/// What operators do: grant or deduct credits, disable or enable an account; the model catalog
/// (`Administration+Models.swift`).
///
/// The admin API and the `phim` commands both come here, so every action is checked the same
/// way and written to the audit log in the same transaction as the change: an action without
/// its audit entry cannot exist.
public struct Administration: Sendable {
    public static let maximumAmount = 100_000_000
    public static let maximumReasonLength = 500

    public var clock: AppClock

    public init(clock: AppClock) { self.clock = clock }

    /// Who acts: a signed-in administrator, or someone with a shell on the server.
    public struct Actor: Sendable {
        public var userID: String?
        public var label: String

        public static func admin(_ user: User) -> Actor { Actor(userID: user.id, label: user.email) }

        /// The account's own holder, for what they change about their own access (password, sessions).
        public static func accountHolder(_ user: User) -> Actor { Actor(userID: user.id, label: user.email) }

        public static func commandLine() -> Actor {
            Actor(userID: nil, label: "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? "operator"))
        }
    }

    // MARK: - Credits

    public enum CreditMove: String, Sendable {
        case grant = "credits.grant"
        case deduct = "credits.deduct"
    }

    /// Grants credits, or deducts them from the spendable balance (never below zero, never from
    /// credits held for running videos). Returns the account after the move.
    @discardableResult
    public func move(_ move: CreditMove, amount: Int, userID: String, reason rawReason: String?, by actor: Actor,
                     on db: Database) throws -> User {
        guard (1...Self.maximumAmount).contains(amount) else { throw AppError.invalidAmount(maximum: Self.maximumAmount) }
        let reason = try Self.reason(rawReason)
        let now = clock.nowMillis()
        let user: User
        do {
            user = try db.write {
                guard let before = try Self.user(userID, on: db) else { throw AppError.userNotFound }
                switch move {
                case .grant: try CreditLedger.grant(userID: userID, amount: amount, reason: reason, at: now, on: db)
                case .deduct: try CreditLedger.deduct(userID: userID, amount: amount, reason: reason, at: now, on: db)
                }
                let after = try Self.user(userID, on: db)!
                try audit(actor, move.rawValue, target: after, reason: reason,
                          before: [("credits_available", .int(before.creditsAvailable))],
                          after: [("credits_available", .int(after.creditsAvailable))], at: now, on: db)
                return after
            }
        } catch CreditLedger.LedgerError.insufficientCredits(let needed, let available) {
            throw AppError.insufficientCredits(needed: needed, available: available)
        } catch CreditLedger.LedgerError.userNotFound {
            throw AppError.userNotFound
        }
        Log.info("credits moved by an operator", ["action": move.rawValue, "amount": String(amount), "user_id": userID, "actor": actor.label])
        return user
    }

    /// The same move for an account named by its email (the operators' commands), looked up in
    /// the move's own transaction: the change and its audit entry are written together or not at all.
    @discardableResult
    public func move(_ move: CreditMove, amount: Int, email: String, reason: String?, by actor: Actor, on db: Database) throws -> User {
        try db.write { try self.move(move, amount: amount, userID: try account(email: email, on: db).id, reason: reason, by: actor, on: db) }
    }

    // MARK: - Access

    /// Disabling stops the account from signing in (its sessions end at once) and from using its
    /// API keys. Its running videos still finish and settle. Doing it twice changes nothing more.
    @discardableResult
    public func setDisabled(_ disabled: Bool, userID: String, reason rawReason: String?, by actor: Actor, on db: Database) throws -> User {
        let reason = try Self.reason(rawReason)
        if disabled, actor.userID == userID { throw AppError.cannotDisableSelf }
        let now = clock.nowMillis()
        return try db.write {
            guard let user = try Self.user(userID, on: db) else { throw AppError.userNotFound }
            guard user.isDisabled != disabled else { return user }
            try db.run("UPDATE users SET disabled_at = ? WHERE id = ?", [disabled ? .integer(now) : .null, .text(userID)])
            if disabled { try db.run("DELETE FROM sessions WHERE user_id = ?", [.text(userID)]) }
            let after = try Self.user(userID, on: db)!
            try audit(actor, disabled ? "account.disable" : "account.enable", target: after, reason: reason,
                      before: [("disabled", .bool(!disabled))], after: [("disabled", .bool(disabled))], at: now, on: db)
            Log.info("account \(disabled ? "disabled" : "enabled") by an operator", ["user_id": userID, "actor": actor.label])
            return after
        }
    }

    // MARK: - Reading

    public struct Account: Sendable {
        public var user: User
        public var createdAt: Int64
    }

    /// Accounts whose email contains `query` (all when empty), newest first.
    public func search(_ query: String, limit: Int, on db: Database) throws -> [Account] {
        let needle = query.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        // Emails are stored lower-cased; LIKE's own wildcards in the query are taken literally.
        let escaped = needle.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
        return try db.query("""
            SELECT \(User.columns), created_at FROM users WHERE email LIKE ? ESCAPE '\\' ORDER BY created_at DESC, id DESC LIMIT ?
            """, [.text("%\(escaped)%"), .int(limit)]).map { Account(user: User($0), createdAt: $0.int64(6)) }
    }

    public func account(email: String, on db: Database) throws -> User {
        guard let row = try db.first("SELECT \(User.columns) FROM users WHERE email = ?", [.text(email.normalizedEmail)]) else {
            throw AppError.userNotFound
        }
        return User(row)
    }

    public struct AuditEntry: Sendable {
        public var id: String
        public var actor: String
        public var action: String
        public var target: String?
        public var targetUserID: String?
        public var reason: String?
        public var before: String
        public var after: String
        public var createdAt: Int64
    }

    /// The audit log, newest first; one account's entries when `userID` is given.
    public func auditLog(userID: String?, limit: Int, on db: Database) throws -> [AuditEntry] {
        try db.query("""
            SELECT id, actor, action, target, target_user_id, reason, before, after, created_at FROM admin_actions
            WHERE (? IS NULL OR target_user_id = ?) ORDER BY created_at DESC, rowid DESC LIMIT ?
            """, [.optionalText(userID), .optionalText(userID), .int(limit)]).map {
            AuditEntry(id: $0.string(0), actor: $0.string(1), action: $0.string(2), target: $0.optionalString(3),
                       targetUserID: $0.optionalString(4), reason: $0.optionalString(5), before: $0.string(6),
                       after: $0.string(7), createdAt: $0.int64(8))
        }
    }

    /// A reason is required and kept as written (trimmed), up to 500 characters.
    public static func reason(_ raw: String?) throws -> String {
        let reason = (raw ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, reason.count <= maximumReasonLength,
              !reason.containsControlCharacters(allowingLineBreaks: true)
        else { throw AppError.reasonRequired(maximum: maximumReasonLength) }
        return reason
    }

    // MARK: - Internals

    static func user(_ id: String, on db: Database) throws -> User? {
        try db.first("SELECT \(User.columns) FROM users WHERE id = ?", [.text(id)]).map(User.init)
    }

    private func audit(_ actor: Actor, _ action: String, target: User, reason: String, before: [(String, JSON)],
                       after: [(String, JSON)], at now: Int64, on db: Database) throws {
        try audit(actor, action, targetUserID: target.id, target: target.email, reason: reason, before: before, after: after,
                  at: now, on: db)
    }

    func audit(_ actor: Actor, _ action: String, targetUserID: String?, target: String, reason: String,
                       before: [(String, JSON)], after: [(String, JSON)], at now: Int64, on db: Database) throws {
        try record(actor, action, targetUserID: targetUserID, target: target, reason: reason, before: before, after: after, at: now, on: db)
    }

    /// Writes one audit entry in the caller's transaction.
    func record(_ actor: Actor, _ action: String, targetUserID: String?, target: String, reason: String?,
                before: [(String, JSON)], after: [(String, JSON)], at now: Int64, on db: Database) throws {
        try db.run("""
            INSERT INTO admin_actions (id, actor_id, actor, action, target_user_id, target, reason, before, after, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(UUID().uuidString.lowercased()), .optionalText(actor.userID), .text(actor.label), .text(action),
                  .optionalText(targetUserID), .text(target), .optionalText(reason), .text(JSON.object(before).serialized()),
                  .text(JSON.object(after).serialized()), .integer(now)])
    }
}
