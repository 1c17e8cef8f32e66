import Foundation
import PhimCore
import PhimSupport

/// Style presets: the public list the studio shows as chips, and the operators' editing.
enum StyleHandlers {
    /// `GET /api/v1/styles`: the switched-on presets, named in the caller's language.
    static func list(_ context: Context) throws -> Response {
        let presets = try StylePresets.all(includeDisabled: false, on: context.db)
        return .json(.object([("data", .array(presets.map { preset in
            .object([("key", .string(preset.key)), ("name", .string(context.language == .vi ? preset.nameVi : preset.nameEn)),
                     ("prompt_text", .string(preset.promptText))])
        }))]))
    }

    /// `GET /api/v1/admin/styles`: every preset, switched off or not, with both names.
    static func adminList(_ context: Context) throws -> Response {
        .json(.object([("data", .array(try StylePresets.all(includeDisabled: true, on: context.db).map(json)))]))
    }

    /// `PUT /api/v1/admin/styles {key, name_vi?, name_en?, prompt_text?, position?, enabled?}`.
    static func save(_ context: Context) throws -> Response {
        let body = try context.jsonBody()
        func text(_ name: String) throws -> String? {
            guard let value = body[name], !value.isNull else { return nil }
            guard let text = value.stringValue else { throw AppError.invalidStyle(field: name) }
            return text
        }
        var change = StylePresets.Change(nameVi: try text("name_vi"), nameEn: try text("name_en"), promptText: try text("prompt_text"))
        if let position = body["position"], !position.isNull {
            guard let value = position.intValue else { throw AppError.invalidStyle(field: "position") }
            change.position = value
        }
        if let enabled = body["enabled"], !enabled.isNull {
            guard case .bool(let value) = enabled else { throw AppError.invalidStyle(field: "enabled") }
            change.isEnabled = value
        }
        let saved = try StylePresets.save(key: try text("key") ?? "", change, by: .admin(try context.user), clock: context.app.clock,
                                          on: context.db)
        return .json(json(saved))
    }

    static func json(_ preset: StylePresets.Preset) -> JSON {
        .object([("key", .string(preset.key)), ("name_vi", .string(preset.nameVi)), ("name_en", .string(preset.nameEn)),
                 ("prompt_text", .string(preset.promptText)), ("position", .int(preset.position)), ("enabled", .bool(preset.isEnabled))])
    }
}
