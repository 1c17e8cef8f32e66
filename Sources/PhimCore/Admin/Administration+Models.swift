import Foundation
import PhimProvider
import PhimSupport

/// Operators' changes to the model catalog: enable, disable, the default, a price, an import,
/// and "try it again now" for a model the provider refused. Each is written to the audit log in
/// the transaction that makes it, with its reason; videos already made keep their price.
extension Administration {
    /// Offers a model to people, or stops offering it. The default cannot be disabled (choose
    /// another default first), and a retired model cannot be offered again.
    @discardableResult
    public func setModelEnabled(_ id: String, _ enabled: Bool, reason rawReason: String?, by actor: Actor,
                                on db: Database) throws -> CatalogModel {
        let reason = try Self.reason(rawReason)
        return try changeModel(id, by: actor, on: db) { model, now in
            if enabled, model.retired { throw AppError.modelRetiredLocked(model: id) }
            guard model.enabled != enabled else { return nil }
            if !enabled, model.isDefault { throw AppError.modelIsDefault(model: id) }
            try db.run("UPDATE models SET enabled = :enabled, updated_at = :now WHERE id = :id",
                       ["enabled": .bool(enabled), "now": .integer(now), "id": .text(id)])
            return (enabled ? "model.enable" : "model.disable", reason, [("enabled", .bool(model.enabled))], [("enabled", .bool(enabled))])
        }
    }

    /// Makes a model the one a request that names none gets.
    @discardableResult
    public func setDefaultModel(_ id: String, reason rawReason: String?, by actor: Actor, on db: Database) throws -> CatalogModel {
        let reason = try Self.reason(rawReason)
        return try changeModel(id, by: actor, on: db) { model, now in
            guard !model.isDefault else { return nil }
            guard model.isOffered else { throw AppError.modelNotOffered(model: id) }
            let previous = try db.firstRow("SELECT id FROM models WHERE is_default = 1")?.string("id")
            try db.run("UPDATE models SET is_default = 0, updated_at = :now WHERE is_default = 1", ["now": .integer(now)])
            try db.run("UPDATE models SET is_default = 1, updated_at = :now WHERE id = :id", ["now": .integer(now), "id": .text(id)])
            return ("model.set_default", reason, [("default", .optional(previous))], [("default", .string(id))])
        }
    }

    /// Changes one price row. Videos already made keep the price they were held at.
    @discardableResult
    public func setModelPrice(_ id: String, duration: Int, resolution: String, audio: Bool, credits: Int, reason rawReason: String?,
                              by actor: Actor, on db: Database) throws -> CatalogModel {
        guard (1...CatalogModel.maximumCredits).contains(credits) else { throw AppError.invalidAmount(maximum: CatalogModel.maximumCredits) }
        let reason = try Self.reason(rawReason)
        return try changeModel(id, by: actor, on: db) { model, now in
            guard let before = model.price(duration: duration, resolution: resolution, audio: audio) else { throw AppError.priceNotFound }
            guard before.credits != credits else { return nil }
            try db.run("""
                UPDATE model_prices SET credits = :credits, updated_at = :now
                WHERE model_id = :id AND duration_seconds = :duration AND resolution = :resolution AND audio = :audio
                """, ["credits": .int(credits), "now": .integer(now), "id": .text(id), "duration": .int(duration),
                      "resolution": .text(resolution), "audio": .bool(audio)])
            let row: [(String, JSON)] = [("duration", .int(duration)), ("resolution", .string(resolution)), ("audio", .bool(audio))]
            return ("model.set_price", reason, row + [("credits", .int(before.credits))], row + [("credits", .int(credits))])
        }
    }

    /// Forgets that the provider refused a model: the next create tries it again.
    @discardableResult
    public func recheckModel(_ id: String, reason rawReason: String?, by actor: Actor, on db: Database) throws -> CatalogModel {
        let reason = try Self.reason(rawReason)
        return try changeModel(id, by: actor, on: db) { model, now in
            guard model.availability.unavailableSince != nil else { return nil }
            try db.run("UPDATE models SET unavailable_since = NULL, unavailable_reason = NULL, recheck_at = NULL WHERE id = :id",
                       ["id": .text(id)])
            return ("model.recheck", reason, [("unavailable_reason", .optional(model.availability.reason))],
                    [("unavailable_reason", .null)])
        }
    }

    public struct ImportResult: Sendable {
        public var added: [String] = []
        public var updated: [String] = []
        public var unchanged: [String] = []
    }

    /// Adds the file's models that are new and replaces the definition and prices of those that
    /// exist (their availability stays), all in one transaction: a file with one bad entry
    /// changes nothing (it was checked whole by `ModelCatalog.parseFile`).
    public func importModels(_ models: [CatalogModel], reason rawReason: String?, by actor: Actor,
                             on db: Database) throws -> ImportResult {
        let reason = try Self.reason(rawReason)
        let now = clock.nowMillis()
        return try db.write {
            var result = ImportResult()
            var position = try db.firstRow("SELECT COALESCE(MAX(position), -1) + 1 AS next FROM models")?.int("next") ?? 0
            for var model in models {
                if model.isDefault, !model.isOffered { throw AppError.modelNotOffered(model: model.id) }
                if let existing = try ModelCatalog.find(model.id, on: db) {
                    if existing.definitionJSON == model.definitionJSON, existing.prices == model.prices, existing.enabled == model.enabled,
                       existing.retired == model.retired, existing.isDefault || !model.isDefault {
                        result.unchanged.append(model.id)
                        continue
                    }
                    if existing.isDefault, !model.isDefault, !model.isOffered {
                        throw AppError.modelIsDefault(model: model.id)
                    }
                    model.isDefault = model.isDefault || existing.isDefault
                    try ModelCatalog.update(model, at: now, on: db)
                    try record(actor, "model.import", targetUserID: nil, target: "model \(model.id)", reason: reason,
                               before: Self.summary(existing), after: Self.summary(model), at: now, on: db)
                    result.updated.append(model.id)
                } else {
                    model.position = position
                    position += 1
                    try ModelCatalog.insert(model, at: now, on: db)
                    try record(actor, "model.import", targetUserID: nil, target: "model \(model.id)", reason: reason,
                               before: [], after: Self.summary(model), at: now, on: db)
                    result.added.append(model.id)
                }
            }
            guard try db.firstRow("SELECT id FROM models WHERE is_default = 1 AND enabled = 1 AND retired = 0") != nil else {
                throw AppError.catalogNeedsDefault
            }
            Log.info("models imported by an operator", ["added": result.added.joined(separator: ","),
                                                        "updated": result.updated.joined(separator: ","), "actor": actor.label])
            return result
        }
    }

    /// What an audit entry keeps of a model: its provider ids, state and price range.
    static func summary(_ model: CatalogModel) -> [(String, JSON)] {
        [("provider_models", .array(model.modes.map { .string(model.wire.providerModels[$0]!) })),
         ("enabled", .bool(model.enabled)), ("default", .bool(model.isDefault)), ("prices", .int(model.prices.count)),
         ("lowest", model.priceRange.map { .int($0.lowerBound) } ?? .null),
         ("highest", model.priceRange.map { .int($0.upperBound) } ?? .null)]
    }

    /// One audited change of one model in one write transaction; `change` returns nil when the
    /// model already is as asked (nothing written, nothing audited).
    private func changeModel(_ id: String, by actor: Actor, on db: Database,
                             _ change: (CatalogModel, Int64) throws -> (action: String, reason: String, before: [(String, JSON)],
                                                                          after: [(String, JSON)])?) throws -> CatalogModel {
        let now = clock.nowMillis()
        return try db.write {
            guard let model = try ModelCatalog.find(id, on: db) else { throw AppError.modelNotFound }
            guard let done = try change(model, now) else { return model }
            try record(actor, done.action, targetUserID: nil, target: "model \(id)", reason: done.reason,
                       before: done.before, after: done.after, at: now, on: db)
            Log.info("model changed by an operator", ["action": done.action, "model": id])
            return try ModelCatalog.find(id, on: db)!
        }
    }
}
