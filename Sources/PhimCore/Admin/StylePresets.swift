import Foundation
import PhimSupport

/// Style presets: words a chip above the prompt adds to it ("cinematic lighting, 35 mm film"),
/// named in both languages. Operators add, rename, reorder and switch them off; each change is
/// in the audit log.
public enum StylePresets {
    public static let maximumNameLength = 40
    public static let maximumTextLength = 300

    public struct Preset: Sendable, Equatable {
        public var key: String
        public var nameVi: String
        public var nameEn: String
        public var promptText: String
        public var position: Int
        public var isEnabled: Bool

        var auditFields: [(String, JSON)] {
            [("name_vi", .string(nameVi)), ("name_en", .string(nameEn)), ("prompt_text", .string(promptText)),
             ("position", .int(position)), ("enabled", .bool(isEnabled))]
        }
    }

    static let defaults: [(key: String, vi: String, en: String, text: String)] = [
        ("cinematic", "Điện ảnh", "Cinematic", "cinematic lighting, shallow depth of field, 35mm film look"),
        ("documentary", "Phóng sự", "Documentary", "handheld documentary footage, natural light, candid moments"),
        ("animated", "Hoạt hình 3D", "3D animation", "stylized 3D animation, soft colors, expressive characters"),
        ("drone", "Flycam", "Drone shot", "aerial drone shot, smooth sweeping camera movement"),
        ("slow-motion", "Quay chậm", "Slow motion", "slow motion, 120 fps, crisp detail"),
        ("vintage", "Cổ điển", "Vintage film", "vintage 1970s film, warm tones, visible film grain"),
    ]

    static func seedDefaults(on db: Database) throws {
        guard try db.first("SELECT COUNT(*) FROM style_presets")?.int(0) == 0 else { return }
        let now = Date().unixMillis
        for (index, preset) in defaults.enumerated() {
            try db.run("INSERT INTO style_presets (key, name_vi, name_en, prompt_text, position, enabled, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?)",
                       [.text(preset.key), .text(preset.vi), .text(preset.en), .text(preset.text), .int((index + 1) * 10), .integer(now)])
        }
    }

    /// Every preset in the studio's order; only the switched-on ones unless `includeDisabled`.
    public static func all(includeDisabled: Bool, on db: Database) throws -> [Preset] {
        try db.query("""
            SELECT key, name_vi, name_en, prompt_text, position, enabled FROM style_presets
            WHERE enabled = 1 OR ? = 1 ORDER BY position, key
            """, [.bool(includeDisabled)]).map(preset)
    }

    public struct Change: Sendable {
        public var nameVi: String?
        public var nameEn: String?
        public var promptText: String?
        public var position: Int?
        public var isEnabled: Bool?

        public init(nameVi: String? = nil, nameEn: String? = nil, promptText: String? = nil, position: Int? = nil, isEnabled: Bool? = nil) {
            self.nameVi = nameVi
            self.nameEn = nameEn
            self.promptText = promptText
            self.position = position
            self.isEnabled = isEnabled
        }
    }

    /// Creates the preset `key` or changes the fields given; a new one needs both names and its words.
    @discardableResult
    public static func save(key rawKey: String, _ change: Change, by actor: Administration.Actor, clock: AppClock,
                            on db: Database) throws -> Preset {
        let key = rawKey.trimmingCharacters(in: .whitespaces).lowercased()
        guard (1...40).contains(key.count), key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw AppError.invalidStyle(field: "key")
        }
        let nameVi = try change.nameVi.map { try text($0, field: "name_vi", maximum: maximumNameLength) }
        let nameEn = try change.nameEn.map { try text($0, field: "name_en", maximum: maximumNameLength) }
        let promptText = try change.promptText.map { try text($0, field: "prompt_text", maximum: maximumTextLength) }
        if let position = change.position, !(0...10_000).contains(position) { throw AppError.invalidStyle(field: "position") }
        let now = clock.nowMillis()
        return try db.write {
            let existing = try db.first("SELECT key, name_vi, name_en, prompt_text, position, enabled FROM style_presets WHERE key = ?",
                                        [.text(key)]).map(preset)
            var saved: Preset
            if let existing {
                saved = existing
                if let nameVi { saved.nameVi = nameVi }
                if let nameEn { saved.nameEn = nameEn }
                if let promptText { saved.promptText = promptText }
                if let position = change.position { saved.position = position }
                if let enabled = change.isEnabled { saved.isEnabled = enabled }
                guard saved != existing else { return saved }
            } else {
                guard let nameVi, let nameEn, let promptText else { throw AppError.invalidStyle(field: "prompt_text") }
                let last = try db.first("SELECT COALESCE(MAX(position), 0) FROM style_presets")?.int(0) ?? 0
                saved = Preset(key: key, nameVi: nameVi, nameEn: nameEn, promptText: promptText,
                               position: change.position ?? last + 10, isEnabled: change.isEnabled ?? true)
            }
            try db.run("""
                INSERT INTO style_presets (key, name_vi, name_en, prompt_text, position, enabled, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (key) DO UPDATE SET name_vi = excluded.name_vi, name_en = excluded.name_en, prompt_text = excluded.prompt_text,
                  position = excluded.position, enabled = excluded.enabled, updated_at = excluded.updated_at
                """, [.text(key), .text(saved.nameVi), .text(saved.nameEn), .text(saved.promptText), .int(saved.position),
                      .bool(saved.isEnabled), .integer(now)])
            try Administration(clock: clock).record(actor, existing == nil ? "style.create" : "style.update", targetUserID: nil,
                                                    target: "style \(key)", reason: nil, before: existing?.auditFields ?? [],
                                                    after: saved.auditFields, at: now, on: db)
            return saved
        }
    }

    private static func preset(_ row: Row) -> Preset {
        Preset(key: row.string(0), nameVi: row.string(1), nameEn: row.string(2), promptText: row.string(3),
               position: row.int(4), isEnabled: row.bool(5))
    }

    private static func text(_ raw: String, field: String, maximum: Int) throws -> String {
        let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, text.count <= maximum, !text.containsControlCharacters(allowingLineBreaks: false) else {
            throw AppError.invalidStyle(field: field)
        }
        return text
    }
}
