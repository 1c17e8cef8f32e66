import Fluent
import Foundation

/// One line of the append-only credit ledger.
///
/// Each entry moves credits between a user's two balances: `available` (spendable) and `held`
/// (reserved for unfinished jobs). A user's balances are always the sums of their entries'
/// deltas. Entries are never updated or deleted. See `Ledger/README.md`.
final class CreditEntry: Model, @unchecked Sendable {
    static let schema = "credit_entries"

    enum Kind: String, Codable, Sendable {
        /// Credits given by an operator (or the demo set-up): available += amount.
        case grant
        /// Credits removed by an operator: available -= amount.
        case deduct
        /// A job reserved its price: available -= price, held += price.
        case hold
        /// The job succeeded and the reservation is spent: held -= price.
        case settle
        /// The job failed or was canceled and the reservation is refunded: held -= price, available += price.
        case release
    }

    @ID(key: .id) var id: UUID?
    @Parent(key: "user_id") var user: User
    @OptionalField(key: "job_id") var jobID: UUID?
    @Enum(key: "kind") var kind: Kind
    @Field(key: "available_delta") var availableDelta: Int
    @Field(key: "held_delta") var heldDelta: Int
    @OptionalField(key: "reason") var reason: String?
    /// Makes an entry happen at most once: `hold:<job>` and `close:<job>` (the settle or the
    /// release, never both) are unique in the table, so a second settle or refund of the same job
    /// fails at the database, whichever instance or path attempts it.
    @OptionalField(key: "unique_key") var uniqueKey: String?
    @Field(key: "created_at") var createdAt: Date

    init() {}

    init(userID: UUID, jobID: UUID?, kind: Kind, availableDelta: Int, heldDelta: Int,
         reason: String?, uniqueKey: String?, createdAt: Date) {
        self.$user.id = userID
        self.jobID = jobID
        self.kind = kind
        self.availableDelta = availableDelta
        self.heldDelta = heldDelta
        self.reason = reason
        self.uniqueKey = uniqueKey
        self.createdAt = createdAt
    }
}
