import Foundation
import PhimCore
import PhimProvider
import PhimSupport

/// The model catalog: `GET /api/v1/models` for everyone (the studio builds its picker from it),
/// and the operators' Models page and its changes, each audited (`Administration+Models`).
enum ModelHandlers {
    /// `GET /api/v1/models`: the models offered, in the caller's language, with their options,
    /// prices, availability and typical time; and the names of those no longer offered (retired
    /// or disabled), which older videos still carry.
    static func list(_ context: Context) throws -> Response {
        let db = try context.db
        let all = try ModelCatalog.all(on: db)
        let medians = try ModelCatalog.medianCompletionSeconds(on: db)
        let now = context.app.clock.nowMillis()
        return .json(.object([
            ("models", .array(all.filter(\.isOffered).map { publicJSON($0, language: context.language, typicalSeconds: medians[$0.id], now: now) })),
            ("withdrawn", .array(all.filter { !$0.isOffered }.map { model in
                .object([("id", .string(model.id)), ("name", .string(model.name.in(context.language))), ("retired", .bool(model.retired)),
                         ("replacements", .array(model.replacements.map { .string($0) }))])
            })),
            ("demo", .bool(context.app.settings.isDemo)),
        ]))
    }

    static func publicJSON(_ model: CatalogModel, language: Language, typicalSeconds: Int?, now: Int64) -> JSON {
        let unavailable = model.availability.isUnavailable(at: now)
        return .object([
            ("id", .string(model.id)), ("name", .string(model.name.in(language))),
            ("description", .string(model.description.in(language))),
        ] + options(model) + [
            ("defaults", .object([("duration", .int(model.defaults.duration)), ("aspect_ratio", .string(model.defaults.aspectRatio)),
                                  ("resolution", .string(model.defaults.resolution)), ("audio", .bool(model.defaults.audio))])),
            ("prompt_max_length", .int(VideoRequest.promptLimit(of: model))),
            ("available", .bool(!unavailable)),
            ("default", .bool(model.isDefault)),
            ("typical_seconds", .int(typicalSeconds ?? model.typicalSeconds)),
            ("prices", .array(model.prices.map { price in
                .object([("duration", .int(price.durationSeconds)), ("resolution", .string(price.resolution)),
                         ("audio", .bool(price.audio)), ("credits", .int(price.credits))])
            })),
        ])
    }

    /// What a create may choose: the provider's id per mode, and each option's values.
    private static func options(_ model: CatalogModel) -> [(String, JSON)] {
        [("provider_models", .object(model.modes.map { ($0.rawValue, .string(model.wire.providerModels[$0]!)) })),
         ("modes", .array(model.modes.map { .string($0.rawValue) })),
         ("durations", .array(model.wire.duration.values.map { .int($0) })),
         ("aspect_ratios", .array(model.wire.aspectRatio.values.map { .string($0) })),
         ("resolutions", .array(model.wire.resolution.ids.map { .string($0) })),
         ("audio", .string(model.wire.audio.policy.rawValue))]
    }

    // MARK: - Operators

    /// `GET /api/v1/admin/models`: every model (disabled and retired too) with both languages,
    /// its state, what the provider last said, Kie's list price per row, and creates per model.
    static func adminList(_ context: Context) throws -> Response {
        let db = try context.db
        let models = try ModelCatalog.all(on: db)
        let medians = try ModelCatalog.medianCompletionSeconds(on: db)
        return .json(.object([
            ("models", .array(models.map { adminJSON($0, typicalSeconds: medians[$0.id], now: context.app.clock.nowMillis()) })),
            ("credits_per_provider_credit", .number((context.app.settings.creditsPerProviderCredit * 1000).rounded() / 1000)),
            ("recheck_minutes", .int(context.app.settings.modelRecheckMinutes)),
        ]))
    }

    static func adminJSON(_ model: CatalogModel, typicalSeconds: Int?, now: Int64) -> JSON {
        let availability = model.availability
        return .object([
            ("id", .string(model.id)),
            ("name", .object([("vi", .string(model.name.vi)), ("en", .string(model.name.en))])),
            ("description", .object([("vi", .string(model.description.vi)), ("en", .string(model.description.en))])),
            ("family", .string(model.wire.family.rawValue)),
        ] + options(model) + [
            ("enabled", .bool(model.enabled)), ("default", .bool(model.isDefault)), ("retired", .bool(model.retired)),
            ("replacements", .array(model.replacements.map { .string($0) })),
            ("available", .bool(!availability.isUnavailable(at: now))),
            ("unavailable_since", Timestamps.isoOrNull(availability.unavailableSince)),
            ("unavailable_reason", .optional(availability.reason)),
            ("recheck_at", Timestamps.isoOrNull(availability.recheckAt)),
            ("last_accepted_at", Timestamps.isoOrNull(availability.lastAcceptedAt)),
            ("last_refused_at", Timestamps.isoOrNull(availability.lastRefusedAt)),
            ("last_refusal", .optional(availability.lastRefusal)),
            ("typical_seconds", .int(typicalSeconds ?? model.typicalSeconds)),
            ("prices", .array(model.prices.map { price in
                .object([("duration", .int(price.durationSeconds)), ("resolution", .string(price.resolution)),
                         ("audio", .bool(price.audio)), ("credits", .int(price.credits)),
                         ("provider_credits", price.providerCredits.map { .number($0) } ?? .null)])
            })),
        ])
    }

    /// `PUT /api/v1/admin/models/{id}` `{enabled?, default?: true, reason}`.
    static func adminUpdate(_ context: Context) throws -> Response {
        let body = try context.jsonBody()
        let administration = Administration(clock: context.app.clock)
        let actor = Administration.Actor.admin(try context.user)
        let id = context.parameter("id"), reason = body["reason"]?.stringValue
        var model: CatalogModel?
        if let value = body["enabled"], !value.isNull {
            guard case .bool(let enabled) = value else { throw AppError.invalidJSON(detail: "enabled must be true or false") }
            model = try administration.setModelEnabled(id, enabled, reason: reason, by: actor, on: context.db)
        }
        if let value = body["default"], !value.isNull {
            guard value == .bool(true) else { throw AppError.invalidJSON(detail: "default can only be set to true") }
            model = try administration.setDefaultModel(id, reason: reason, by: actor, on: context.db)
        }
        guard let model else { throw AppError.invalidJSON(detail: "say enabled or default") }
        return .json(adminJSON(model, typicalSeconds: nil, now: context.app.clock.nowMillis()))
    }

    /// `PUT /api/v1/admin/models/{id}/prices` `{duration, resolution, audio, credits, reason}`:
    /// applies to videos created from now on.
    static func adminSetPrice(_ context: Context) throws -> Response {
        let body = try context.jsonBody()
        guard let duration = body["duration"]?.intValue, let resolution = body["resolution"]?.stringValue,
              case .bool(let audio) = body["audio"] ?? .null
        else { throw AppError.priceNotFound }
        guard let credits = body["credits"]?.intValue else { throw AppError.invalidAmount(maximum: CatalogModel.maximumCredits) }
        let model = try Administration(clock: context.app.clock).setModelPrice(
            context.parameter("id"), duration: duration, resolution: resolution, audio: audio, credits: credits,
            reason: body["reason"]?.stringValue, by: .admin(try context.user), on: context.db)
        return .json(adminJSON(model, typicalSeconds: nil, now: context.app.clock.nowMillis()))
    }

    /// `POST /api/v1/admin/models/{id}/recheck` `{reason}`: the next create tries the model again.
    static func adminRecheck(_ context: Context) throws -> Response {
        let body = try context.jsonBody()
        let model = try Administration(clock: context.app.clock).recheckModel(
            context.parameter("id"), reason: body["reason"]?.stringValue, by: .admin(try context.user), on: context.db)
        return .json(adminJSON(model, typicalSeconds: nil, now: context.app.clock.nowMillis()))
    }
}

extension CatalogModel.LocalizedText {
    func `in`(_ language: Language) -> String { language == .vi ? vi : en }
}
