import Fluent
import Vapor

/// A person (or program, through API keys) who owns videos and credits.
///
/// `creditsAvailable` and `creditsHeld` are a cache of the ledger's sums, updated in the same
/// transaction as every ledger entry; `phim ledger verify` recomputes them from the ledger.
public final class User: Model, Authenticatable, @unchecked Sendable {
    public static let schema = "users"

    @ID(key: .id) public var id: UUID?
    /// Lower-cased and trimmed, unique.
    @Field(key: "email") public var email: String
    @Field(key: "password_hash") var passwordHash: String
    @Field(key: "is_admin") public var isAdmin: Bool
    @Field(key: "credits_available") public var creditsAvailable: Int
    @Field(key: "credits_held") public var creditsHeld: Int
    @Field(key: "created_at") public var createdAt: Date
    /// Set by an operator: the account cannot sign in or use its API keys; its running videos
    /// still finish and settle.
    @OptionalField(key: "disabled_at") public var disabledAt: Date?

    public init() {}

    init(id: UUID? = nil, email: String, passwordHash: String, isAdmin: Bool, createdAt: Date) {
        self.id = id
        self.email = email
        self.passwordHash = passwordHash
        self.isAdmin = isAdmin
        self.creditsAvailable = 0
        self.creditsHeld = 0
        self.createdAt = createdAt
    }
}
