import Fluent
import Foundation

/// One entry of the audit log: an operator's action, who took it and when, and the account's
/// state before and after. Written in the same transaction as the change it records.
final class AdminAction: Model, @unchecked Sendable {
    static let schema = "admin_actions"

    enum Kind: String, Codable, Sendable, CaseIterable {
        case grantCredits = "credits.grant"
        case deductCredits = "credits.deduct"
        case disableAccount = "account.disable"
        case enableAccount = "account.enable"
        case setPrice = "price.set"
        case reconcileJob = "job.reconcile"
        case createStyle = "style.create"
        case updateStyle = "style.update"
    }

    @ID(key: .id) var id: UUID?
    /// The operator's account; `nil` for a `phim` command run on the server.
    @OptionalField(key: "actor_id") var actorID: UUID?
    /// How the operator is shown: an email, or `cli:<system user>`.
    @Field(key: "actor") var actor: String
    @Enum(key: "action") var action: Kind
    /// The account acted on, if the action was on an account.
    @OptionalField(key: "target_user_id") var targetUserID: UUID?
    /// What was acted on, as shown: the account's email when the action was taken, or the
    /// price row (`sora-2-text-to-video 10s standard`).
    @OptionalField(key: "target") var target: String?
    @OptionalField(key: "reason") var reason: String?
    /// JSON objects of the fields the action changed.
    @Field(key: "before") var before: String
    @Field(key: "after") var after: String
    @Field(key: "created_at") var createdAt: Date

    init() {}

    convenience init(actor: AccountAdministration.Actor, action: Kind, target: User, reason: String?,
                     before: [String: AuditValue], after: [String: AuditValue], at now: Date) throws {
        try self.init(actor: actor, action: action, targetUserID: try target.requireID(), target: target.email,
                      reason: reason, before: before, after: after, at: now)
    }

    init(actor: AccountAdministration.Actor, action: Kind, targetUserID: UUID?, target: String, reason: String?,
         before: [String: AuditValue], after: [String: AuditValue], at now: Date) throws {
        actorID = actor.userID
        self.actor = actor.label
        self.action = action
        self.targetUserID = targetUserID
        self.target = target
        self.reason = reason
        self.before = try AuditValue.json(before)
        self.after = try AuditValue.json(after)
        createdAt = now
    }
}

/// A value recorded in an audit entry's before or after.
enum AuditValue: Encodable, Equatable, Sendable {
    case int(Int)
    case bool(Bool)
    case text(String)

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .text(let value): try container.encode(value)
        }
    }

    static func json(_ fields: [String: AuditValue]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(fields), as: UTF8.self)
    }
}
