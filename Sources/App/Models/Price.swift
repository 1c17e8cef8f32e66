import Fluent
import Foundation

/// What one video costs, in credits, for a model, a length and a quality.
///
/// Operators change rows without a rebuild; a job copies its price when it is created, so a
/// change never alters what an existing job is charged.
final class Price: Model, @unchecked Sendable {
    static let schema = "prices"

    @ID(key: .id) var id: UUID?
    @Field(key: "model") var model: String
    @Field(key: "duration_seconds") var durationSeconds: Int
    @Field(key: "quality") var quality: String
    @Field(key: "credits") var credits: Int
    @Field(key: "updated_at") var updatedAt: Date

    init() {}

    init(model: VideoModel, durationSeconds: Int, quality: VideoQuality, credits: Int, updatedAt: Date) {
        self.model = model.rawValue
        self.durationSeconds = durationSeconds
        self.quality = quality.rawValue
        self.credits = credits
        self.updatedAt = updatedAt
    }
}
