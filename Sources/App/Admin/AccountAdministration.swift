import Fluent
import FluentSQL
import Foundation
import Logging
import SQLKit

/// What operators do to accounts: grant or deduct credits, disable or enable an account.
///
/// The admin pages and the `phim` commands both come here, so every action is checked the same
/// way and is written to the audit log (`AdminAction`) in the same transaction as the change:
/// an action without its audit entry cannot exist.
struct AccountAdministration: Sendable {
    let store: Store
    let clock: AppClock
    let logger: Logger

    static let maximumAmount = 100_000_000
    static let maximumReasonLength = 500

    /// Who acts: a signed-in admin, or someone with a shell on the server.
    struct Actor: Sendable {
        var userID: UUID?
        var label: String

        static func admin(_ user: User) throws -> Actor { Actor(userID: try user.requireID(), label: user.email) }

        static func commandLine() -> Actor {
            Actor(userID: nil, label: "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? "operator"))
        }
    }

    // MARK: Credits

    /// Adds credits to the account's spendable balance.
    @discardableResult
    func grant(_ amount: Int, to userID: UUID, reason: String, by actor: Actor) async throws -> User {
        try await moveCredits(.grantCredits, amount: amount, userID: userID, reason: reason, actor: actor)
    }

    /// Takes credits from the spendable balance (never below zero, never from held credits).
    @discardableResult
    func deduct(_ amount: Int, from userID: UUID, reason: String, by actor: Actor) async throws -> User {
        try await moveCredits(.deductCredits, amount: amount, userID: userID, reason: reason, actor: actor)
    }

    private func moveCredits(_ action: AdminAction.Kind, amount: Int, userID: UUID, reason rawReason: String,
                             actor: Actor) async throws -> User {
        guard (1...Self.maximumAmount).contains(amount) else { throw AppError.invalidAmount(maximum: Self.maximumAmount) }
        let reason = try Self.reason(rawReason)
        let now = clock.now()
        do {
            let user = try await store.writeTransaction { db in
                switch action {
                case .grantCredits: try await CreditLedger.grant(userID: userID, amount: amount, reason: reason, at: now, on: db)
                default: try await CreditLedger.deduct(userID: userID, amount: amount, reason: reason, at: now, on: db)
                }
                // Read after the update (which holds the row on PostgreSQL), so `before` is exact.
                guard let user = try await User.find(userID, on: db) else { throw AppError.userNotFound }
                let delta = action == .grantCredits ? amount : -amount
                try await AdminAction(actor: actor, action: action, target: user, reason: reason,
                                      before: ["credits_available": .int(user.creditsAvailable - delta)],
                                      after: ["credits_available": .int(user.creditsAvailable)], at: now).create(on: db)
                return user
            }
            logger.notice("credits moved by an operator", metadata: [
                "action": .string(action.rawValue), "amount": .stringConvertible(amount),
                "user_id": .string(userID.uuidString), "actor": .string(actor.label),
            ])
            return user
        } catch CreditLedger.LedgerError.userNotFound {
            throw AppError.userNotFound
        } catch CreditLedger.LedgerError.insufficientCredits(let needed, let available) {
            throw AppError.insufficientCredits(needed: needed, available: available)
        }
    }

    // MARK: Disabling

    /// Stops the account from signing in and using its API keys. Its running videos still
    /// finish and settle; nothing else about it changes. Disabling twice changes nothing more.
    @discardableResult
    func disable(_ userID: UUID, reason: String, by actor: Actor) async throws -> User {
        try await setDisabled(true, userID: userID, reason: reason, actor: actor)
    }

    @discardableResult
    func enable(_ userID: UUID, reason: String, by actor: Actor) async throws -> User {
        try await setDisabled(false, userID: userID, reason: reason, actor: actor)
    }

    private func setDisabled(_ disabled: Bool, userID: UUID, reason rawReason: String, actor: Actor) async throws -> User {
        let reason = try Self.reason(rawReason)
        let now = clock.now()
        return try await store.writeTransaction { db in
            guard let user = try await User.find(userID, on: db) else { throw AppError.userNotFound }
            let wasDisabled = user.disabledAt != nil
            guard wasDisabled != disabled else { return user }
            user.disabledAt = disabled ? now : nil
            try await user.save(on: db)
            try await AdminAction(actor: actor, action: disabled ? .disableAccount : .enableAccount, target: user,
                                  reason: reason, before: ["disabled": .bool(wasDisabled)],
                                  after: ["disabled": .bool(disabled)], at: now).create(on: db)
            logger.notice("account \(disabled ? "disabled" : "enabled") by an operator",
                          metadata: ["user_id": .string(userID.uuidString), "actor": .string(actor.label)])
            return user
        }
    }

    // MARK: Reading

    /// Accounts whose email contains `query` (all when empty), newest first.
    func search(_ query: String, limit: Int = 50) async throws -> [User] {
        var users = User.query(on: store.db).sort(\.$createdAt, .descending).sort(\.$id, .descending).limit(limit)
        let needle = query.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        if !needle.isEmpty {
            // Emails are stored lower-cased; LIKE's own wildcards in the query are taken literally.
            let escaped = needle.replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
            users = users.filter(.sql(embed: "email LIKE \(bind: "%\(escaped)%") ESCAPE '\\'"))
        }
        return try await users.all()
    }

    func account(email: String) async throws -> User {
        guard let user = try await User.query(on: store.db).filter(\.$email == email.normalizedEmail).first() else {
            throw AppError.userNotFound
        }
        return user
    }

    /// The audit log, newest first; one account's entries when `userID` is given.
    func auditLog(for userID: UUID? = nil, limit: Int = 100) async throws -> [AdminAction] {
        var query = AdminAction.query(on: store.db).sort(\.$createdAt, .descending).limit(limit)
        if let userID { query = query.filter(\.$targetUserID == userID) }
        return try await query.all()
    }

    /// A reason is required and kept as written (trimmed), up to 500 characters.
    static func reason(_ raw: String) throws -> String {
        let reason = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, reason.count <= maximumReasonLength,
              !reason.containsControlCharacters(allowingLineBreaks: true)
        else { throw AppError.reasonRequired(maximum: maximumReasonLength) }
        return reason
    }
}
