import Fluent
import Foundation

/// A bearer key a program uses instead of a session. Only the SHA-256 of the key is stored;
/// the key itself is shown once, when it is made.
final class APIKey: Model, @unchecked Sendable {
    static let schema = "api_keys"

    @ID(key: .id) var id: UUID?
    @Parent(key: "user_id") var user: User
    @Field(key: "name") var name: String
    /// The first characters of the key, so a person can tell keys apart in a list.
    @Field(key: "key_prefix") var keyPrefix: String
    @Field(key: "key_hash") var keyHash: String
    @Field(key: "created_at") var createdAt: Date
    @OptionalField(key: "revoked_at") var revokedAt: Date?

    init() {}

    init(userID: UUID, name: String, keyPrefix: String, keyHash: String, createdAt: Date) {
        self.$user.id = userID
        self.name = name
        self.keyPrefix = keyPrefix
        self.keyHash = keyHash
        self.createdAt = createdAt
    }
}
