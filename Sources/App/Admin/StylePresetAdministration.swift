import Fluent
import Foundation
import Logging

/// The style presets operators curate: add one, change its names, words, order, or switch it
/// off. Each change is in the audit log.
struct StylePresetAdministration: Sendable {
    let store: Store
    let clock: AppClock
    let logger: Logger

    static let maximumNameLength = 40
    static let maximumTextLength = 300

    /// Every preset, in the studio's order (switched-off ones too).
    func all() async throws -> [StylePreset] {
        try await StylePreset.query(on: store.db).sort(\.$position).sort(\.$key).all()
    }

    /// What the studio and `GET /api/v1/styles` offer.
    func enabled() async throws -> [StylePreset] {
        try await StylePreset.query(on: store.db).filter(\.$enabled == true).sort(\.$position).sort(\.$key).all()
    }

    struct Change: Sendable {
        var nameVi: String?
        var nameEn: String?
        var promptText: String?
        var position: Int?
        var enabled: Bool?
    }

    /// Creates the preset `key` or changes the fields given. A new one needs both names and its words.
    @discardableResult
    func save(key rawKey: String, _ change: Change, by actor: AccountAdministration.Actor) async throws -> StylePreset {
        let key = rawKey.trimmingCharacters(in: .whitespaces).lowercased()
        guard (1...40).contains(key.count), key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw AppError.invalidStyle(field: "key")
        }
        let nameVi = try change.nameVi.map { try Self.text($0, field: "name_vi", maximum: Self.maximumNameLength) }
        let nameEn = try change.nameEn.map { try Self.text($0, field: "name_en", maximum: Self.maximumNameLength) }
        let promptText = try change.promptText.map { try Self.text($0, field: "prompt_text", maximum: Self.maximumTextLength) }
        if let position = change.position, !(0...10_000).contains(position) { throw AppError.invalidStyle(field: "position") }
        let now = clock.now()
        return try await store.writeTransaction { db in
            let existing = try await StylePreset.query(on: db).filter(\.$key == key).first()
            let before: [String: AuditValue] = existing.map(Self.fields) ?? [:]
            let preset: StylePreset
            if let existing {
                preset = existing
                if let nameVi { preset.nameVi = nameVi }
                if let nameEn { preset.nameEn = nameEn }
                if let promptText { preset.promptText = promptText }
                if let position = change.position { preset.position = position }
                if let enabled = change.enabled { preset.enabled = enabled }
            } else {
                guard let nameVi, let nameEn, let promptText else { throw AppError.invalidStyle(field: "prompt_text") }
                let last = try await StylePreset.query(on: db).max(\.$position) ?? 0
                preset = StylePreset(key: key, nameVi: nameVi, nameEn: nameEn, promptText: promptText,
                                     position: change.position ?? last + 10, enabled: change.enabled ?? true, updatedAt: now)
            }
            let after = Self.fields(preset)
            guard after != before else { return preset }
            preset.updatedAt = now
            try await preset.save(on: db)
            try await AdminAction(actor: actor, action: existing == nil ? .createStyle : .updateStyle, targetUserID: nil,
                                  target: "style \(key)", reason: nil, before: before, after: after, at: now).create(on: db)
            logger.notice("style preset saved by an operator", metadata: ["key": .string(key), "actor": .string(actor.label)])
            return preset
        }
    }

    private static func fields(_ preset: StylePreset) -> [String: AuditValue] {
        ["name_vi": .text(preset.nameVi), "name_en": .text(preset.nameEn), "prompt_text": .text(preset.promptText),
         "position": .int(preset.position), "enabled": .bool(preset.enabled)]
    }

    private static func text(_ raw: String, field: String, maximum: Int) throws -> String {
        let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, text.count <= maximum, !text.containsControlCharacters(allowingLineBreaks: false) else {
            throw AppError.invalidStyle(field: field)
        }
        return text
    }
}
