import Fluent
import Foundation

/// The provider account's balance as one reconciliation saw it, so the next one can say how
/// far it moved in between.
final class ProviderBalanceCheck: Model, @unchecked Sendable {
    static let schema = "provider_balance_checks"

    @ID(key: .id) var id: UUID?
    @Field(key: "checked_at") var checkedAt: Date
    @Field(key: "credits") var credits: Int

    init() {}

    init(checkedAt: Date, credits: Int) {
        self.checkedAt = checkedAt
        self.credits = credits
    }
}
