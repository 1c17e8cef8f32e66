import Fluent
import Foundation

/// A reference image a user uploaded for image-to-video. The bytes live in `FileStorage`;
/// this row says whose it is and where to find it.
final class Upload: Model, @unchecked Sendable {
    static let schema = "uploads"

    @ID(key: .id) var id: UUID?
    @Parent(key: "user_id") var user: User
    @Field(key: "content_type") var contentType: String
    @Field(key: "byte_size") var byteSize: Int
    /// The name under which `FileStorage` keeps the bytes, e.g. `uploads/<id>.png`.
    @Field(key: "storage_key") var storageKey: String
    @Field(key: "created_at") var createdAt: Date

    init() {}

    init(id: UUID, userID: UUID, contentType: String, byteSize: Int, storageKey: String, createdAt: Date) {
        self.id = id
        self.$user.id = userID
        self.contentType = contentType
        self.byteSize = byteSize
        self.storageKey = storageKey
        self.createdAt = createdAt
    }
}
