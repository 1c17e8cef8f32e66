import Fluent
import Foundation
import Logging

/// The operator's price table: what a video costs for each model, length and quality.
///
/// A job copies its price when it is created, so a change applies to new videos only; one
/// already held, running or finished keeps the price it was held at. Each change is written to
/// the audit log in the same transaction.
struct PriceAdministration: Sendable {
    let store: Store
    let clock: AppClock
    let logger: Logger

    static let maximumCredits = 10_000_000

    /// Every row, in the order the studio offers them.
    func all() async throws -> [Price] {
        try await Price.query(on: store.db).sort(\.$model).sort(\.$durationSeconds).sort(\.$quality).all()
    }

    /// Sets one row's price. The reason is optional here (a price list needs none), kept when given.
    @discardableResult
    func set(_ priceID: UUID, credits: Int, reason rawReason: String?, by actor: AccountAdministration.Actor) async throws -> Price {
        guard (1...Self.maximumCredits).contains(credits) else { throw AppError.invalidAmount(maximum: Self.maximumCredits) }
        let reason = try rawReason.flatMap { raw in
            raw.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : try AccountAdministration.reason(raw)
        }
        let now = clock.now()
        return try await store.writeTransaction { db in
            guard let price = try await Price.find(priceID, on: db) else { throw AppError.priceNotFound }
            let before = price.credits
            guard before != credits else { return price }
            price.credits = credits
            price.updatedAt = now
            try await price.save(on: db)
            try await AdminAction(actor: actor, action: .setPrice, targetUserID: nil, target: Self.label(price), reason: reason,
                                  before: ["credits": .int(before)], after: ["credits": .int(credits)], at: now).create(on: db)
            logger.notice("price changed by an operator", metadata: [
                "price": .string(Self.label(price)), "before": .stringConvertible(before), "after": .stringConvertible(credits),
                "actor": .string(actor.label),
            ])
            return price
        }
    }

    /// The row for a model, length and quality, as the command line names it.
    func find(model: String, durationSeconds: Int, quality: String) async throws -> Price {
        guard let price = try await Price.query(on: store.db).filter(\.$model == model)
            .filter(\.$durationSeconds == durationSeconds).filter(\.$quality == quality).first()
        else { throw AppError.priceNotFound }
        return price
    }

    static func label(_ price: Price) -> String { "\(price.model) \(price.durationSeconds)s \(price.quality)" }
}
