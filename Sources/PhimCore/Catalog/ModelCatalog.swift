import Foundation
import PhimProvider
import PhimSupport

/// The models Phim offers, as rows: the one place Phim knows models, their options and prices.
///
/// A `models` row keeps the entry's definition (names, wire spelling) as JSON text, beside the
/// state operators and the provider change (enabled, default, availability); `model_prices`
/// keeps one row per length × resolution × sound. The catalog Phim ships with is a file
/// (`shipped-models.json`, the same format `phim models import` reads): its entries are added
/// to a database that lacks them at every start, and never overwrite what is there.
public enum ModelCatalog {
    public static let fileFormat = "phim-models/1"

    private static let selectColumns = """
        SELECT id, definition, position, enabled, is_default, retired, unavailable_since, unavailable_reason, recheck_at,
          last_accepted_at, last_refused_at, last_refusal FROM models
        """

    /// Every model, in catalog order (retired and disabled ones too).
    public static func all(on db: Database) throws -> [CatalogModel] {
        let prices = try pricesByModel(on: db)
        return try db.rows(selectColumns + " ORDER BY position, id").map { try model($0, prices: prices[$0.string("id")] ?? []) }
    }

    public static func find(_ id: String, on db: Database) throws -> CatalogModel? {
        guard let row = try db.firstRow(selectColumns + " WHERE id = :id", ["id": .text(id)]) else { return nil }
        let prices = try db.rows("""
            SELECT duration_seconds, resolution, audio, credits, provider_millicredits FROM model_prices WHERE model_id = :id
            ORDER BY duration_seconds, resolution, audio
            """, ["id": .text(id)]).map(price)
        return try model(row, prices: prices)
    }

    /// The model a create may use: the one named (nil: the default), enabled, not retired and
    /// not known to be unavailable now; otherwise the reason, before anything is held.
    public static func offered(_ id: String?, at now: Int64, on db: Database) throws -> CatalogModel {
        let found = try id.map { try find($0, on: db) } ?? defaultModel(on: db)
        guard let model = found, model.enabled || model.retired else {
            let offered = try db.rows("SELECT id FROM models WHERE enabled = 1 AND retired = 0 ORDER BY position, id").map { $0.string("id") }
            throw AppError.unknownModel(model: id ?? "", offered: offered)
        }
        if model.retired { throw AppError.modelRetired(model: model.id, replacements: model.replacements) }
        if model.availability.isUnavailable(at: now) {
            let wait = model.availability.recheckAt.map { Int(($0 - now + 999) / 1000) }
            throw AppError.modelUnavailable(model: model.id, reason: model.availability.reason, retryAfter: wait, videoID: nil)
        }
        return model
    }

    /// The model a request that names none gets.
    public static func defaultModel(on db: Database) throws -> CatalogModel? {
        guard let id = try db.firstRow("SELECT id FROM models WHERE is_default = 1")?.string("id") else { return nil }
        return try find(id, on: db)
    }

    private static func pricesByModel(on db: Database) throws -> [String: [CatalogModel.Price]] {
        var prices: [String: [CatalogModel.Price]] = [:]
        for row in try db.rows("""
            SELECT model_id, duration_seconds, resolution, audio, credits, provider_millicredits FROM model_prices
            ORDER BY model_id, duration_seconds, resolution, audio
            """) {
            prices[row.string("model_id"), default: []].append(price(row))
        }
        return prices
    }

    private static func price(_ row: NamedRow) -> CatalogModel.Price {
        CatalogModel.Price(durationSeconds: row.int("duration_seconds"), resolution: row.string("resolution"), audio: row.bool("audio"),
                           credits: row.int("credits"), providerCredits: row.optionalInt64("provider_millicredits").map { Double($0) / 1000 })
    }

    /// Definitions already read, by their text: the same text always reads the same, so an
    /// entry never goes stale, and a changed model simply has new text (and few models exist).
    private static let definitions = Locked<[String: CatalogModel]>([:])

    private static func model(_ row: NamedRow, prices: [CatalogModel.Price]) throws -> CatalogModel {
        let id = row.string("id"), text = row.string("definition")
        var model: CatalogModel
        if let known = definitions.withLock({ $0[text] }) {
            model = known
        } else {
            guard let definition = JSON.parse(Data(text.utf8)) else { throw WireSpec.Problem("models.\(id)", "definition is not JSON") }
            model = try CatalogModel(definition: definition, path: "models.\(id)")
            definitions.withLock { cache in
                if cache.count > 500 { cache.removeAll() } // imports that keep changing text: start again
                cache[text] = model
            }
        }
        // In the model's own order of resolutions (SQL would sort "1080p" before "720p").
        let order = model.wire.resolution.ids
        model.prices = prices.sorted {
            ($0.durationSeconds, order.firstIndex(of: $0.resolution) ?? .max, $0.audio ? 1 : 0)
                < ($1.durationSeconds, order.firstIndex(of: $1.resolution) ?? .max, $1.audio ? 1 : 0)
        }
        model.position = row.int("position")
        model.enabled = row.bool("enabled")
        model.isDefault = row.bool("is_default")
        model.retired = row.bool("retired")
        model.availability.unavailableSince = row.optionalInt64("unavailable_since")
        model.availability.reason = row.optionalString("unavailable_reason")
        model.availability.recheckAt = row.optionalInt64("recheck_at")
        model.availability.lastAcceptedAt = row.optionalInt64("last_accepted_at")
        model.availability.lastRefusedAt = row.optionalInt64("last_refused_at")
        model.availability.lastRefusal = row.optionalString("last_refusal")
        return model
    }

    // MARK: - Files

    /// Reads a catalog file: `{"format": "phim-models/1", "models": [entry, …]}`. Every problem
    /// names its path (`models[2].duration.type: must be integer or string`).
    public static func parseFile(_ data: Data, creditsPerProviderCredit: Double) throws -> [CatalogModel] {
        guard let root = JSON.parse(data), case .object = root else { throw WireSpec.Problem("file", "is not a JSON object") }
        let reader = SpecReader(root, path: "file")
        if let format = try reader.optionalString("format"), format != fileFormat {
            throw WireSpec.Problem("file.format", "must be \(fileFormat)")
        }
        let entries = try reader.array("models")
        guard !entries.isEmpty else { throw WireSpec.Problem("file.models", "must list at least one model") }
        var models: [CatalogModel] = []
        for (index, entry) in entries.enumerated() {
            guard case .object = entry else { throw WireSpec.Problem("models[\(index)]", "must be an object") }
            let model = try CatalogModel(json: entry, path: "models[\(index)]", creditsPerProviderCredit: creditsPerProviderCredit)
            guard !models.contains(where: { $0.id == model.id }) else { throw WireSpec.Problem("models[\(index)].id", "repeats \(model.id)") }
            models.append(model)
        }
        guard models.filter(\.isDefault).count <= 1 else { throw WireSpec.Problem("file.models", "marks more than one model as default") }
        return models
    }

    /// The file's text for `models`, in catalog order.
    public static func fileJSON(_ models: [CatalogModel]) -> JSON {
        .object([("format", .string(fileFormat)), ("models", .array(models.map(\.json)))])
    }

    /// The catalog Phim ships with, priced at the given ratio.
    public static func shipped(creditsPerProviderCredit: Double) throws -> [CatalogModel] {
        guard let url = Bundle.module.url(forResource: "shipped-models", withExtension: "json"),
              let data = try? Data(contentsOf: url)
        else { throw WireSpec.Problem("shipped-models.json", "is missing from the build") }
        return try parseFile(data, creditsPerProviderCredit: creditsPerProviderCredit)
    }

    // MARK: - Writing

    /// Adds the shipped models this database lacks; the first becomes the default if none is.
    /// Returns the ids added. Runs in the migration's transaction.
    @discardableResult
    static func addShipped(creditsPerProviderCredit: Double, at now: Int64, on db: Database) throws -> [String] {
        let known = Set(try db.rows("SELECT id FROM models").map { $0.string("id") })
        var added: [String] = []
        var position = try db.firstRow("SELECT COALESCE(MAX(position), -1) + 1 AS next FROM models")?.int("next") ?? 0
        let hasDefault = try db.firstRow("SELECT 1 AS found FROM models WHERE is_default = 1") != nil
        for var model in try shipped(creditsPerProviderCredit: creditsPerProviderCredit) where !known.contains(model.id) {
            model.position = position
            model.isDefault = model.isDefault && !hasDefault
            try insert(model, at: now, on: db)
            position += 1
            added.append(model.id)
        }
        return added
    }

    /// Writes a new model with its prices; the caller's transaction.
    static func insert(_ model: CatalogModel, at now: Int64, on db: Database) throws {
        if model.isDefault { try db.run("UPDATE models SET is_default = 0 WHERE is_default = 1", [:]) }
        try db.run("""
            INSERT INTO models (id, definition, position, enabled, is_default, retired, updated_at)
            VALUES (:id, :definition, :position, :enabled, :is_default, :retired, :now)
            """, ["id": .text(model.id), "definition": .text(model.definitionJSON.serialized()), "position": .int(model.position),
                  "enabled": .bool(model.enabled), "is_default": .bool(model.isDefault), "retired": .bool(model.retired),
                  "now": .integer(now)])
        try replacePrices(of: model, at: now, on: db)
    }

    /// Replaces a model's definition and prices with a new version of it (an import); its
    /// availability, position and (unless the file says) enabled and default stay.
    static func update(_ model: CatalogModel, at now: Int64, on db: Database) throws {
        if model.isDefault { try db.run("UPDATE models SET is_default = 0 WHERE is_default = 1 AND id <> :id", ["id": .text(model.id)]) }
        try db.run("""
            UPDATE models SET definition = :definition, enabled = :enabled, is_default = :is_default, retired = :retired,
              updated_at = :now WHERE id = :id
            """, ["id": .text(model.id), "definition": .text(model.definitionJSON.serialized()), "enabled": .bool(model.enabled),
                  "is_default": .bool(model.isDefault), "retired": .bool(model.retired), "now": .integer(now)])
        try replacePrices(of: model, at: now, on: db)
    }

    private static func replacePrices(of model: CatalogModel, at now: Int64, on db: Database) throws {
        try db.run("DELETE FROM model_prices WHERE model_id = :id", ["id": .text(model.id)])
        for price in model.prices {
            try db.run("""
                INSERT INTO model_prices (model_id, duration_seconds, resolution, audio, credits, provider_millicredits, updated_at)
                VALUES (:model, :duration, :resolution, :audio, :credits, :provider, :now)
                """, ["model": .text(model.id), "duration": .int(price.durationSeconds), "resolution": .text(price.resolution),
                      "audio": .bool(price.audio), "credits": .int(price.credits),
                      "provider": price.providerCredits.map { .integer(Int64(($0 * 1000).rounded())) } ?? .null, "now": .integer(now)])
        }
    }

    /// The prices of the Sora 2 models as a database from before the catalog held them (the
    /// old `prices` table, which operators may have changed) replace the shipped ones; then the
    /// old table goes. Run once, by the migration that made the catalog.
    static func adoptLegacyPrices(at now: Int64, on db: Database) throws {
        guard try db.firstRow("SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'prices'") != nil else { return }
        try db.run("""
            UPDATE model_prices SET credits = (
              SELECT p.credits FROM prices p WHERE p.model = model_prices.model_id AND p.duration_seconds = model_prices.duration_seconds
                AND p.quality = model_prices.resolution), updated_at = :now
            WHERE EXISTS (SELECT 1 FROM prices p WHERE p.model = model_prices.model_id
                AND p.duration_seconds = model_prices.duration_seconds AND p.quality = model_prices.resolution)
            """, ["now": .integer(now)])
        try db.execute("DROP TABLE prices")
    }

    // MARK: - What the provider says

    /// How long a model refused by the provider stays unavailable before a create tries it again.
    public static let defaultRecheckMinutes = 30

    /// A create the provider refused because the model is paused, removed or unsupported.
    static func markUnavailable(_ id: String, reason: String, at now: Int64, recheckMinutes: Int, on db: Database) throws {
        try db.run("""
            UPDATE models SET unavailable_since = COALESCE(unavailable_since, :now), unavailable_reason = :reason,
              recheck_at = :recheck, last_refused_at = :now, last_refusal = :reason WHERE id = :id
            """, ["id": .text(id), "now": .integer(now), "reason": .text(String(reason.prefix(300))),
                  "recheck": .integer(now + Int64(recheckMinutes) * 60_000)])
    }

    /// A create the provider accepted: the model is live. Writes only when that is news (the
    /// model was unavailable, or its last acceptance is older than `staleAfterMillis`).
    static func markAccepted(_ model: CatalogModel, at now: Int64, staleAfterMillis: Int64 = 300_000, on db: Database) throws {
        guard model.availability.unavailableSince != nil || (model.availability.lastAcceptedAt ?? 0) < now - staleAfterMillis else { return }
        try db.write {
            try db.run("""
                UPDATE models SET unavailable_since = NULL, unavailable_reason = NULL, recheck_at = NULL, last_accepted_at = :now
                WHERE id = :id
                """, ["id": .text(model.id), "now": .integer(now)])
        }
    }

    /// Whether a refused create says the model itself is gone: paused ("This interface is
    /// temporarily paused", seen on every Sora 2 id), removed, or not supported. Anything else
    /// (bad input, rate limits, the account) says nothing about the model.
    public static func isModelRefusal(code: Int, message: String) -> Bool {
        let text = message.lowercased()
        if text.contains("paused") || text.contains("offline") || text.contains("deprecated") || text.contains("discontinued") { return true }
        let aboutModel = text.contains("model") || text.contains("interface")
        let gone = ["not supported", "unsupported", "not exist", "not found", "no longer available", "not available", "removed"]
            .contains { text.contains($0) }
        return aboutModel && gone && [400, 404, 422, 500, 505].contains(code)
    }

    // MARK: - Typical time

    /// Per model, the median time from create to done of its last 50 completions (seconds),
    /// for the studio's "about how long" on a running card. Models without one are absent.
    public static func medianCompletionSeconds(on db: Database) throws -> [String: Int] {
        var medians: [String: Int] = [:]
        for id in try db.rows("SELECT id FROM models WHERE retired = 0").map({ $0.string("id") }) {
            let seconds = try db.rows("""
                SELECT finished_at - created_at AS took FROM video_jobs WHERE model = :id AND status = 'completed'
                ORDER BY finished_at DESC LIMIT 50
                """, ["id": .text(id)]).map { $0.int64("took") }.sorted()
            guard !seconds.isEmpty else { continue }
            medians[id] = Int((seconds[seconds.count / 2] + 999) / 1000)
        }
        return medians
    }
}
