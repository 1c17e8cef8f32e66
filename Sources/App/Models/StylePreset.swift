import Fluent
import Foundation

/// A style the studio offers as a chip: words added to a prompt ("cinematic lighting, 35 mm
/// film"). Operators edit, reorder and switch them off; the seeded ones are only a start.
final class StylePreset: Model, @unchecked Sendable {
    static let schema = "style_presets"

    @ID(key: .id) var id: UUID?
    /// A stable name for programs (`cinematic`); lower-case letters, digits and dashes.
    @Field(key: "key") var key: String
    @Field(key: "name_vi") var nameVi: String
    @Field(key: "name_en") var nameEn: String
    /// What the chip adds to the prompt.
    @Field(key: "prompt_text") var promptText: String
    @Field(key: "position") var position: Int
    @Field(key: "enabled") var enabled: Bool
    @Field(key: "updated_at") var updatedAt: Date

    init() {}

    init(key: String, nameVi: String, nameEn: String, promptText: String, position: Int, enabled: Bool = true, updatedAt: Date) {
        self.key = key
        self.nameVi = nameVi
        self.nameEn = nameEn
        self.promptText = promptText
        self.position = position
        self.enabled = enabled
        self.updatedAt = updatedAt
    }

    func name(in language: Language) -> String { language == .vi ? nameVi : nameEn }
}

/// The style presets table, with a few useful defaults.
struct CreateStylePresets: AsyncMigration {
    static let defaults: [(key: String, vi: String, en: String, text: String)] = [
        ("cinematic", "Điện ảnh", "Cinematic", "cinematic lighting, shallow depth of field, 35mm film look"),
        ("documentary", "Phóng sự", "Documentary", "handheld documentary footage, natural light, candid moments"),
        ("animated", "Hoạt hình 3D", "3D animation", "stylized 3D animation, soft colors, expressive characters"),
        ("drone", "Flycam", "Drone shot", "aerial drone shot, smooth sweeping camera movement"),
        ("slow-motion", "Quay chậm", "Slow motion", "slow motion, 120 fps, crisp detail"),
        ("vintage", "Cổ điển", "Vintage film", "vintage 1970s film, warm tones, visible film grain"),
    ]

    func prepare(on database: any Database) async throws {
        try await database.schema(StylePreset.schema)
            .id()
            .field("key", .string, .required)
            .field("name_vi", .string, .required)
            .field("name_en", .string, .required)
            .field("prompt_text", .string, .required)
            .field("position", .int, .required)
            .field("enabled", .bool, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "key")
            .create()
        let now = Date()
        for (index, preset) in Self.defaults.enumerated() {
            try await StylePreset(key: preset.key, nameVi: preset.vi, nameEn: preset.en, promptText: preset.text,
                                  position: (index + 1) * 10, updatedAt: now).create(on: database)
        }
    }

    func revert(on database: any Database) async throws {
        try await database.schema(StylePreset.schema).delete()
    }
}
