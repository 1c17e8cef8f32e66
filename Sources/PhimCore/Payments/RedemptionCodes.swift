import Foundation
import PhimSupport

/// Redemption codes: an operator makes a batch, a person redeems one for credits.
///
/// A redemption is one write transaction: the code's use is counted only while uses remain
/// (a conditional UPDATE, so two racing accounts cannot both take the last use), the account's
/// use is recorded (unique per code and account), and the credit goes through the ledger under
/// the unique key `redeem:<code>:<user>`. Failed tries are counted per account and per address
/// in the same transaction as the check, so guessing runs out of tries.
public struct RedemptionCodes: Sendable {
    public static let maximumBatch = 1000
    public static let maximumUses = 1_000_000
    public static let maximumLabelLength = 100
    /// Without look-alikes: no 0/O, 1/I/L. 31 symbols, 12 per code: about 59 bits.
    static let alphabet = Array("23456789ABCDEFGHJKMNPQRSTUVWXYZ")
    static let prefix = "PHIM"
    static let groups = 3, groupLength = 4

    public static let failuresPerAccount = RateLimiter.Rule(name: "redeem.account", limit: 10, windowSeconds: 3600)
    public static let failuresPerAddress = RateLimiter.Rule(name: "redeem.address", limit: 30, windowSeconds: 3600)

    public var clock: AppClock

    public init(clock: AppClock) { self.clock = clock }

    public struct Code: Sendable {
        public var id: String
        public var code: String
        public var credits: Int
        public var maxUses: Int
        public var usedCount: Int
        public var expiresAt: Int64?
        public var disabledAt: Int64?
        public var batchID: String
        public var label: String?
        public var createdBy: String
        public var createdAt: Int64

        static let columns = "id, code, credits, max_uses, used_count, expires_at, disabled_at, batch_id, label, created_by, created_at"

        init(_ row: NamedRow) {
            id = row.string("id"); code = row.string("code"); credits = row.int("credits")
            maxUses = row.int("max_uses"); usedCount = row.int("used_count")
            expiresAt = row.optionalInt64("expires_at"); disabledAt = row.optionalInt64("disabled_at")
            batchID = row.string("batch_id"); label = row.optionalString("label")
            createdBy = row.string("created_by"); createdAt = row.int64("created_at")
        }
    }

    public struct Redemption: Sendable {
        public var creditsAdded: Int
        public var creditsAvailable: Int
    }

    // MARK: - Operators

    /// Makes `count` codes worth `credits` each, as one batch, audited as `codes.create` in the
    /// same transaction. The codes are returned in full once; listing shows them too (operators only).
    public func create(credits: Int, count: Int, expiresAt: Int64?, maxUses: Int, label rawLabel: String?,
                       reason rawReason: String?, by actor: Administration.Actor, on db: Database) throws -> [Code] {
        guard (1...Administration.maximumAmount).contains(credits) else { throw AppError.invalidAmount(maximum: Administration.maximumAmount) }
        guard (1...Self.maximumBatch).contains(count) else { throw AppError.invalidCodeBatch(field: "count") }
        guard (1...Self.maximumUses).contains(maxUses) else { throw AppError.invalidCodeBatch(field: "max_uses") }
        let reason = try Administration.reason(rawReason)
        let label = rawLabel.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        if let label, label.count > Self.maximumLabelLength || label.containsControlCharacters(allowingLineBreaks: false) {
            throw AppError.invalidCodeBatch(field: "label")
        }
        let now = clock.nowMillis()
        if let expiresAt, expiresAt <= now { throw AppError.invalidCodeBatch(field: "expires_at") }
        let batchID = UUID().uuidString.lowercased()
        return try db.write {
            var made: [Code] = []
            while made.count < count {
                let id = UUID().uuidString.lowercased()
                // A collision of 59 random bits is all but impossible; DO NOTHING plus a retry covers it.
                let inserted = try db.run("""
                    INSERT INTO redeem_codes (id, code, credits, max_uses, expires_at, batch_id, label, created_by, created_at)
                    VALUES (:id, :code, :credits, :max_uses, :expires_at, :batch_id, :label, :created_by, :created_at)
                    ON CONFLICT (code) DO NOTHING
                    """, ["id": .text(id), "code": .text(Self.generate()), "credits": .int(credits), "max_uses": .int(maxUses),
                          "expires_at": expiresAt.map { .integer($0) } ?? .null, "batch_id": .text(batchID),
                          "label": .optionalText(label), "created_by": .text(actor.label), "created_at": .integer(now)])
                if inserted == 1, let code = try Self.code(id: id, on: db) { made.append(code) }
            }
            try Administration(clock: clock).record(actor, "codes.create", targetUserID: nil, target: "batch " + batchID, reason: reason,
                before: [], after: [("count", .int(count)), ("credits", .int(credits)), ("max_uses", .int(maxUses)),
                                    ("expires_at", expiresAt.map { .string(ISOTime.string($0)) } ?? .null), ("label", .optional(label))],
                at: now, on: db)
            Log.info("redemption codes created", ["batch": batchID, "count": String(count), "credits": String(credits), "actor": actor.label])
            return made
        }
    }

    /// Codes, newest first; one batch when `batchID` is given.
    public func list(batchID: String? = nil, limit: Int = 10_000, on db: Database) throws -> [Code] {
        try db.rows("""
            SELECT \(Code.columns) FROM redeem_codes WHERE (:batch IS NULL OR batch_id = :batch)
            ORDER BY created_at DESC, rowid DESC LIMIT :limit
            """, ["batch": .optionalText(batchID), "limit": .int(limit)]).map(Code.init)
    }

    /// Stops a code (named by id or by its text) from being redeemed; audited. Twice changes nothing more.
    @discardableResult
    public func disable(_ idOrCode: String, reason rawReason: String?, by actor: Administration.Actor, on db: Database) throws -> Code {
        let reason = try Administration.reason(rawReason)
        let now = clock.nowMillis()
        return try db.write {
            guard let code = try Self.code(id: idOrCode, on: db) ?? Self.code(text: Self.normalize(idOrCode), on: db) else {
                throw AppError.codeNotFound
            }
            guard code.disabledAt == nil else { return code }
            try db.run("UPDATE redeem_codes SET disabled_at = :now WHERE id = :id", ["now": .integer(now), "id": .text(code.id)])
            try Administration(clock: clock).record(actor, "codes.disable", targetUserID: nil, target: code.code, reason: reason,
                                                    before: [("disabled", .bool(false))], after: [("disabled", .bool(true))], at: now, on: db)
            return try Self.code(id: code.id, on: db)!
        }
    }

    /// The batch as CSV (every text cell guarded against spreadsheet formulas, like the ledger's).
    public func csv(batchID: String?, on db: Database) throws -> String {
        var out = "code,credits,max_uses,used_count,expires_at,disabled_at,batch_id,label,created_by,created_at\r\n"
        for code in try list(batchID: batchID, on: db).reversed() {
            let cells = [LedgerExport.cell(code.code), String(code.credits), String(code.maxUses), String(code.usedCount),
                         code.expiresAt.map(ISOTime.string) ?? "", code.disabledAt.map(ISOTime.string) ?? "",
                         LedgerExport.cell(code.batchID), LedgerExport.cell(code.label ?? ""), LedgerExport.cell(code.createdBy),
                         ISOTime.string(code.createdAt)]
            out += cells.joined(separator: ",") + "\r\n"
        }
        return out
    }

    // MARK: - Redeeming

    /// Redeems `input` for `userID`. Refusals change nothing but the failure counters.
    public func redeem(code input: String, userID: String, address: String?, on db: Database) throws -> Redemption {
        let limiter = RateLimiter(clock: clock)
        let outcome: Result<Redemption, AppError> = try db.write {
            for (rule, key) in keys(userID: userID, address: address) {
                if try limiter.count(rule, key: key, on: db) >= rule.limit {
                    return .failure(.tooManyCodeAttempts(retryAfter: limiter.secondsUntilReset(rule)))
                }
            }
            do {
                // A savepoint: a refusal rolls back the attempt but keeps the counted failure.
                return .success(try db.write { try attempt(Self.normalize(input), userID: userID, on: db) })
            } catch let error as AppError {
                for (rule, key) in keys(userID: userID, address: address) { try limiter.hit(rule, key: key, on: db) }
                return .failure(error)
            }
        }
        switch outcome {
        case .success(let redemption):
            Log.info("code redeemed", ["user_id": userID, "credits": String(redemption.creditsAdded)])
            return redemption
        case .failure(let error): throw error
        }
    }

    private func keys(userID: String, address: String?) -> [(RateLimiter.Rule, String)] {
        [(Self.failuresPerAccount, userID)] + (address.map { [(Self.failuresPerAddress, $0)] } ?? [])
    }

    private func attempt(_ text: String, userID: String, on db: Database) throws -> Redemption {
        let now = clock.nowMillis()
        guard !text.isEmpty, let code = try Self.code(text: text, on: db) else { throw AppError.codeNotFound }
        if try db.firstRow("SELECT 1 FROM redeem_uses WHERE code_id = :code AND user_id = :user",
                           ["code": .text(code.id), "user": .text(userID)]) != nil {
            throw AppError.codeAlreadyRedeemed
        }
        let taken = try db.run("""
            UPDATE redeem_codes SET used_count = used_count + 1
            WHERE id = :id AND used_count < max_uses AND disabled_at IS NULL AND (expires_at IS NULL OR expires_at > :now)
            """, ["id": .text(code.id), "now": .integer(now)])
        guard taken == 1 else {
            if code.disabledAt != nil { throw AppError.codeDisabled }
            if let expiresAt = code.expiresAt, expiresAt <= now { throw AppError.codeExpired }
            throw AppError.codeUsed
        }
        try db.run("INSERT INTO redeem_uses (code_id, user_id, credits, used_at) VALUES (:code, :user, :credits, :now)",
                   ["code": .text(code.id), "user": .text(userID), "credits": .int(code.credits), "now": .integer(now)])
        do {
            try CreditLedger.redeem(userID: userID, codeID: code.id, code: code.code, amount: code.credits, at: now, on: db)
        } catch CreditLedger.LedgerError.alreadyRecorded {
            throw AppError.codeAlreadyRedeemed
        } catch CreditLedger.LedgerError.userNotFound {
            throw AppError.userNotFound
        }
        let balance = try db.firstRow("SELECT credits_available FROM users WHERE id = :id", ["id": .text(userID)])?.int("credits_available") ?? 0
        return Redemption(creditsAdded: code.credits, creditsAvailable: balance)
    }

    // MARK: - Codes

    /// `count` symbols of the alphabet from libsodium's randomness, each uniform (bytes past the
    /// last whole multiple of the alphabet's size are drawn again). Payment codes use them too.
    static func randomSymbols(_ count: Int) -> [Character] {
        let limit = 256 - 256 % alphabet.count
        var symbols: [Character] = []
        while symbols.count < count {
            for byte in Crypto.randomBytes(16) where Int(byte) < limit && symbols.count < count {
                symbols.append(alphabet[Int(byte) % alphabet.count])
            }
        }
        return symbols
    }

    /// `PHIM-XXXX-XXXX-XXXX`.
    static func generate() -> String {
        let symbols = randomSymbols(groups * groupLength)
        let parts = stride(from: 0, to: symbols.count, by: groupLength).map { String(symbols[$0..<$0 + groupLength]) }
        return ([prefix] + parts).joined(separator: "-")
    }

    /// The stored form of what a person typed: upper case, spaces and dashes of any kind
    /// dropped, then grouped as generated. Look-alikes are not mapped: they never occur in a code.
    public static func normalize(_ input: String) -> String {
        let compact = input.uppercased().unicodeScalars.filter {
            !CharacterSet.whitespacesAndNewlines.contains($0) && $0.properties.generalCategory != .dashPunctuation && $0 != "_"
        }
        var body = String(String.UnicodeScalarView(compact))
        guard body.count <= 64 else { return "" }
        if body.hasPrefix(prefix) { body.removeFirst(prefix.count) }
        guard body.count == groups * groupLength else { return body }
        let symbols = Array(body)
        let parts = stride(from: 0, to: symbols.count, by: groupLength).map { String(symbols[$0..<$0 + groupLength]) }
        return ([prefix] + parts).joined(separator: "-")
    }

    static func code(id: String, on db: Database) throws -> Code? {
        try db.firstRow("SELECT \(Code.columns) FROM redeem_codes WHERE id = :id", ["id": .text(id)]).map(Code.init)
    }

    static func code(text: String, on db: Database) throws -> Code? {
        try db.firstRow("SELECT \(Code.columns) FROM redeem_codes WHERE code = :code", ["code": .text(text)]).map(Code.init)
    }
}
