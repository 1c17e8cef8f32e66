import Fluent
import Foundation

/// Fills the price table with `DefaultPrices` once; operators edit the rows afterwards.
struct SeedDefaultPrices: AsyncMigration {
    func prepare(on database: any Database) async throws {
        let now = Date()
        for model in VideoModel.allCases {
            for duration in VideoDurations.allowed {
                for quality in model.qualities {
                    guard let credits = DefaultPrices.credits(model: model, durationSeconds: duration, quality: quality) else { continue }
                    try await Price(model: model, durationSeconds: duration, quality: quality, credits: credits, updatedAt: now)
                        .create(on: database)
                }
            }
        }
    }

    func revert(on database: any Database) async throws {
        try await Price.query(on: database).delete()
    }
}
