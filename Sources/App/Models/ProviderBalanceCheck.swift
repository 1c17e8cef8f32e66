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

    /// Asks the provider for its balance and keeps the answer, so the next look can say how far it moved.
    static func take(from provider: any VideoProvider, at now: Date, on db: any Database) async throws -> Int {
        let credits = try await provider.remainingCredits()
        try await ProviderBalanceCheck(checkedAt: now, credits: credits).create(on: db)
        return credits
    }
}
