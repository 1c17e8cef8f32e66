import Foundation
import PhimSupport

/// The credit packages people buy by bank transfer: a price in VND, the credits it gives, a name
/// in both languages. Operators set and disable them (admin API, `phim packages`); every change
/// is audited in the same transaction. An order snapshots its package, so a later change never
/// alters what someone already ordered.
public enum TopupPackages {
    public static let amountRange = 10_000...100_000_000
    public static let maximumNameLength = 60
    public static let sortOrderRange = 0...1_000_000

    public struct Package: Sendable, Equatable {
        public var id: String
        public var nameVI: String
        public var nameEN: String
        public var amountVND: Int
        public var credits: Int
        public var isEnabled: Bool
        public var sortOrder: Int
        public var createdAt: Int64
        public var updatedAt: Int64

        public func name(english: Bool) -> String { english ? nameEN : nameVI }

        static let columns = "id, name_vi, name_en, amount_vnd, credits, enabled, sort_order, created_at, updated_at"

        init(_ row: NamedRow) {
            id = row.string("id"); nameVI = row.string("name_vi"); nameEN = row.string("name_en")
            amountVND = row.int("amount_vnd"); credits = row.int("credits"); isEnabled = row.bool("enabled")
            sortOrder = row.int("sort_order"); createdAt = row.int64("created_at"); updatedAt = row.int64("updated_at")
        }

        var auditFields: [(String, JSON)] {
            [("name_vi", .string(nameVI)), ("name_en", .string(nameEN)), ("amount_vnd", .int(amountVND)),
             ("credits", .int(credits)), ("enabled", .bool(isEnabled)), ("sort_order", .int(sortOrder))]
        }
    }

    /// What a new studio sells until its operator says otherwise; bigger packages give a bonus.
    static let defaults: [(id: String, vi: String, en: String, amountVND: Int, credits: Int)] = [
        ("starter", "Gói Khởi đầu", "Starter", 50_000, 50_000),
        ("standard", "Gói Tiêu chuẩn", "Standard", 100_000, 105_000),
        ("pro", "Gói Chuyên nghiệp", "Pro", 200_000, 220_000),
        ("studio", "Gói Studio", "Studio", 500_000, 575_000),
    ]

    /// Adds the defaults when there is no package at all (a new database); never again after.
    static func seedDefaults(at now: Int64, on db: Database) throws {
        guard try db.firstRow("SELECT COUNT(*) AS count FROM topup_packages")?.int("count") == 0 else { return }
        for (index, package) in defaults.enumerated() {
            try db.run("""
                INSERT INTO topup_packages (id, name_vi, name_en, amount_vnd, credits, enabled, sort_order, created_at, updated_at)
                VALUES (:id, :name_vi, :name_en, :amount_vnd, :credits, 1, :sort_order, :now, :now)
                ON CONFLICT (id) DO NOTHING
                """, ["id": .text(package.id), "name_vi": .text(package.vi), "name_en": .text(package.en),
                      "amount_vnd": .int(package.amountVND), "credits": .int(package.credits),
                      "sort_order": .int((index + 1) * 10), "now": .integer(now)])
        }
    }

    /// Packages in the order people see them (`sort_order`, then price); only enabled ones unless `includeDisabled`.
    public static func list(includeDisabled: Bool, on db: Database) throws -> [Package] {
        try db.rows("""
            SELECT \(Package.columns) FROM topup_packages WHERE enabled = 1 OR :all = 1
            ORDER BY sort_order, amount_vnd, id
            """, ["all": .bool(includeDisabled)]).map(Package.init)
    }

    public static func find(id: String, on db: Database) throws -> Package? {
        try db.firstRow("SELECT \(Package.columns) FROM topup_packages WHERE id = :id", ["id": .text(id)]).map(Package.init)
    }

    /// What an operator gives to create or replace a package.
    public struct Definition: Sendable {
        public var nameVI: String
        public var nameEN: String
        public var amountVND: Int
        public var credits: Int
        /// Absent: enabled (a replace sets the whole package).
        public var isEnabled: Bool?
        /// Absent: the current position, or after the last package for a new one.
        public var sortOrder: Int?

        public init(nameVI: String, nameEN: String, amountVND: Int, credits: Int, isEnabled: Bool? = nil, sortOrder: Int? = nil) {
            self.nameVI = nameVI; self.nameEN = nameEN; self.amountVND = amountVND; self.credits = credits
            self.isEnabled = isEnabled; self.sortOrder = sortOrder
        }
    }

    /// Creates or replaces the package `id`, audited as `packages.set` with before and after.
    /// A refused definition changes nothing; one equal to what is stored writes nothing.
    @discardableResult
    public static func set(id rawID: String, _ definition: Definition, reason rawReason: String?, by actor: Administration.Actor,
                           clock: AppClock, on db: Database) throws -> Package {
        let id = try validID(rawID)
        let nameVI = try name(definition.nameVI, field: "name_vi")
        let nameEN = try name(definition.nameEN, field: "name_en")
        guard amountRange.contains(definition.amountVND) else { throw AppError.invalidPackage(field: "amount_vnd") }
        guard (1...Administration.maximumAmount).contains(definition.credits) else { throw AppError.invalidPackage(field: "credits") }
        if let sortOrder = definition.sortOrder, !sortOrderRange.contains(sortOrder) { throw AppError.invalidPackage(field: "sort_order") }
        let reason = try Administration.reason(rawReason)
        let now = clock.nowMillis()
        return try db.write {
            let existing = try find(id: id, on: db)
            let last = try db.firstRow("SELECT COALESCE(MAX(sort_order), 0) AS last FROM topup_packages")?.int("last") ?? 0
            let sortOrder = definition.sortOrder ?? existing?.sortOrder ?? min(last + 10, sortOrderRange.upperBound)
            let isEnabled = definition.isEnabled ?? true
            if let existing, existing.nameVI == nameVI, existing.nameEN == nameEN, existing.amountVND == definition.amountVND,
               existing.credits == definition.credits, existing.isEnabled == isEnabled, existing.sortOrder == sortOrder {
                return existing
            }
            try db.run("""
                INSERT INTO topup_packages (id, name_vi, name_en, amount_vnd, credits, enabled, sort_order, created_at, updated_at)
                VALUES (:id, :name_vi, :name_en, :amount_vnd, :credits, :enabled, :sort_order, :now, :now)
                ON CONFLICT (id) DO UPDATE SET name_vi = excluded.name_vi, name_en = excluded.name_en, amount_vnd = excluded.amount_vnd,
                  credits = excluded.credits, enabled = excluded.enabled, sort_order = excluded.sort_order, updated_at = excluded.updated_at
                """, ["id": .text(id), "name_vi": .text(nameVI), "name_en": .text(nameEN), "amount_vnd": .int(definition.amountVND),
                      "credits": .int(definition.credits), "enabled": .bool(isEnabled), "sort_order": .int(sortOrder), "now": .integer(now)])
            let saved = try find(id: id, on: db)!
            try Administration(clock: clock).record(actor, "packages.set", targetUserID: nil, target: "package \(id)", reason: reason,
                                                    before: existing?.auditFields ?? [], after: saved.auditFields, at: now, on: db)
            Log.info("top-up package set", ["package": id, "amount_vnd": String(saved.amountVND), "credits": String(saved.credits),
                                            "actor": actor.label])
            return saved
        }
    }

    /// Stops selling a package (orders already placed keep their snapshot), audited as
    /// `packages.disable`. Disabling a disabled package changes nothing more.
    @discardableResult
    public static func disable(id rawID: String, reason rawReason: String?, by actor: Administration.Actor,
                               clock: AppClock, on db: Database) throws -> Package {
        let id = rawID.trimmingCharacters(in: .whitespaces).lowercased()
        let reason = try Administration.reason(rawReason)
        let now = clock.nowMillis()
        return try db.write {
            guard let package = try find(id: id, on: db) else { throw AppError.packageNotFound }
            guard package.isEnabled else { return package }
            try db.run("UPDATE topup_packages SET enabled = 0, updated_at = :now WHERE id = :id", ["now": .integer(now), "id": .text(id)])
            try Administration(clock: clock).record(actor, "packages.disable", targetUserID: nil, target: "package \(id)", reason: reason,
                                                    before: [("enabled", .bool(true))], after: [("enabled", .bool(false))], at: now, on: db)
            return try find(id: id, on: db)!
        }
    }

    /// Lower-case ASCII letters, digits and dashes, 1 to 32 of them.
    static func validID(_ raw: String) throws -> String {
        let id = raw.trimmingCharacters(in: .whitespaces)
        guard (1...32).contains(id.utf8.count),
              id.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D })
        else { throw AppError.invalidPackage(field: "id") }
        return id
    }

    private static func name(_ raw: String, field: String) throws -> String {
        let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, text.count <= maximumNameLength, !text.containsControlCharacters(allowingLineBreaks: false) else {
            throw AppError.invalidPackage(field: field)
        }
        return text
    }
}
