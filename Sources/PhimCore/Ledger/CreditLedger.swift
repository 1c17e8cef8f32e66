import Foundation
import PhimSupport

/// The append-only credit ledger and the two balances it keeps.
///
/// Every movement is one entry and one update of the user's row, in the caller's transaction.
/// `available` is spendable; `held` is reserved for unfinished jobs. A user's balances always
/// equal the sums of their entries. A job's hold is closed exactly once: its settle and its
/// release share the unique key `close:<job>`, so the second attempt, from any path or process,
/// fails at the database and its whole transaction rolls back.
public enum CreditLedger {
    public enum Kind: String, Sendable, CaseIterable {
        /// Credits given by an operator (or the demo set-up): available += amount.
        case grant
        /// Credits removed by an operator: available -= amount.
        case deduct
        /// A job reserved its price: available -= price, held += price.
        case hold
        /// The job succeeded and the reservation is spent: held -= price.
        case settle
        /// The job failed or was canceled and the reservation is refunded: held -= price, available += price.
        case release
        /// A redemption code was redeemed: available += the code's credits, once per code and account.
        case redeem
        /// Money arrived by bank transfer: available += credits, once per order (`topup:<order>`)
        /// or once per reviewed notification an operator credited (`topup-review:<review>`).
        case topup
    }

    public enum LedgerError: Error, Equatable {
        case insufficientCredits(needed: Int, available: Int)
        case alreadyRecorded(uniqueKey: String)
        case userNotFound
        case invalidAmount
    }

    /// Reserves a job's price. Fails without a trace when the balance does not cover it.
    static func hold(userID: String, jobID: String, amount: Int, at now: Int64, on db: Database) throws {
        guard try moveBalances(userID: userID, available: -amount, held: amount, on: db) else {
            let available = try db.first("SELECT credits_available FROM users WHERE id = ?", [.text(userID)])?.int(0)
            guard let available else { throw LedgerError.userNotFound }
            throw LedgerError.insufficientCredits(needed: amount, available: available)
        }
        try record(.hold, userID: userID, jobID: jobID, available: -amount, held: amount,
                   reason: nil, uniqueKey: "hold:\(jobID)", at: now, on: db)
    }

    /// Spends a finished job's reservation.
    static func settle(userID: String, jobID: String, price: Int, at now: Int64, on db: Database) throws {
        try close(.settle, userID: userID, jobID: jobID, available: 0, price: price, at: now, on: db)
    }

    /// Refunds a job's reservation: the job failed or was canceled.
    static func release(userID: String, jobID: String, price: Int, at now: Int64, on db: Database) throws {
        try close(.release, userID: userID, jobID: jobID, available: price, price: price, at: now, on: db)
    }

    /// Gives a user credits (an operator's grant, the demo account's starting balance).
    public static func grant(userID: String, amount: Int, reason: String, at now: Int64, on db: Database) throws {
        guard amount > 0 else { throw LedgerError.invalidAmount }
        try db.write {
            guard try moveBalances(userID: userID, available: amount, held: 0, on: db) else { throw LedgerError.userNotFound }
            try record(.grant, userID: userID, jobID: nil, available: amount, held: 0, reason: reason, uniqueKey: nil, at: now, on: db)
        }
    }

    /// Credits a redeemed code, in the caller's transaction; the unique key `redeem:<code>:<user>`
    /// makes a second credit of the same code to the same account fail at the database.
    static func redeem(userID: String, codeID: String, code: String, amount: Int, at now: Int64, on db: Database) throws {
        guard amount > 0 else { throw LedgerError.invalidAmount }
        guard try moveBalances(userID: userID, available: amount, held: 0, on: db) else { throw LedgerError.userNotFound }
        try record(.redeem, userID: userID, jobID: nil, available: amount, held: 0, reason: code,
                   uniqueKey: "redeem:\(codeID):\(userID)", at: now, on: db)
    }

    /// Credits a bank transfer, in the caller's transaction. `uniqueKey` is `topup:<order>` for an
    /// order's payment and `topup-review:<review>` for an operator's credit from the review queue,
    /// so neither can credit twice, whatever the redeliveries or races.
    static func topup(userID: String, amount: Int, reason: String, uniqueKey: String, at now: Int64, on db: Database) throws {
        guard amount > 0 else { throw LedgerError.invalidAmount }
        guard try moveBalances(userID: userID, available: amount, held: 0, on: db) else { throw LedgerError.userNotFound }
        try record(.topup, userID: userID, jobID: nil, available: amount, held: 0, reason: reason, uniqueKey: uniqueKey, at: now, on: db)
    }

    /// Takes credits away (an operator's correction): only from the spendable balance, never
    /// below zero, never from credits held for running videos. Runs in the caller's transaction.
    static func deduct(userID: String, amount: Int, reason: String, at now: Int64, on db: Database) throws {
        guard amount > 0 else { throw LedgerError.invalidAmount }
        guard try moveBalances(userID: userID, available: -amount, held: 0, on: db) else {
            guard let available = try db.first("SELECT credits_available FROM users WHERE id = ?", [.text(userID)])?.int(0) else {
                throw LedgerError.userNotFound
            }
            throw LedgerError.insufficientCredits(needed: amount, available: available)
        }
        try record(.deduct, userID: userID, jobID: nil, available: -amount, held: 0, reason: reason, uniqueKey: nil, at: now, on: db)
    }

    // MARK: - Internals

    private static func close(_ kind: Kind, userID: String, jobID: String, available: Int, price: Int,
                              at now: Int64, on db: Database) throws {
        guard try moveBalances(userID: userID, available: available, held: -price, on: db) else {
            throw LedgerError.userNotFound
        }
        try record(kind, userID: userID, jobID: jobID, available: available, held: -price,
                   reason: nil, uniqueKey: "close:\(jobID)", at: now, on: db)
    }

    /// Adds the deltas to the user's balances; a negative `available` delta applies only if the
    /// balance covers it. Returns whether the row was updated.
    private static func moveBalances(userID: String, available: Int, held: Int, on db: Database) throws -> Bool {
        try db.run("""
            UPDATE users SET credits_available = credits_available + ?, credits_held = credits_held + ?
            WHERE id = ? AND credits_available + ? >= 0 AND credits_held + ? >= 0
            """, [.int(available), .int(held), .text(userID), .int(available), .int(held)]) == 1
    }

    private static func record(_ kind: Kind, userID: String, jobID: String?, available: Int, held: Int,
                               reason: String?, uniqueKey: String?, at now: Int64, on db: Database) throws {
        // ON CONFLICT DO NOTHING and a count, not a caught constraint error: the same SQL then
        // works on an engine where any error aborts the whole transaction.
        let inserted = try db.run("""
            INSERT INTO credit_entries (id, user_id, job_id, kind, available_delta, held_delta, reason, unique_key, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (unique_key) DO NOTHING
            """, [.text(UUID().uuidString.lowercased()), .text(userID), .optionalText(jobID), .text(kind.rawValue),
                  .int(available), .int(held), .optionalText(reason), .optionalText(uniqueKey), .integer(now)])
        if inserted == 0 { throw LedgerError.alreadyRecorded(uniqueKey: uniqueKey ?? "") }
    }

    // MARK: - Reading

    public struct Entry: Sendable {
        public var id: String
        public var kind: String
        public var availableDelta: Int
        public var heldDelta: Int
        public var jobID: String?
        public var reason: String?
        public var createdAt: Int64
    }

    static let entryColumns = "id, kind, available_delta, held_delta, job_id, reason, created_at, rowid"

    static func entry(_ row: Row) -> Entry {
        Entry(id: row.string(0), kind: row.string(1), availableDelta: row.int(2), heldDelta: row.int(3),
              jobID: row.optionalString(4), reason: row.optionalString(5), createdAt: row.int64(6))
    }

    /// The user's entries, newest first, a page at a time (the cursor is the last entry's rowid).
    public static func entries(userID: String, limit: Int, beforeRowID: Int64?, on db: Database) throws -> (entries: [Entry], nextCursor: Int64?) {
        let rows = try db.query("""
            SELECT \(entryColumns) FROM credit_entries
            WHERE user_id = ? AND rowid < ? ORDER BY rowid DESC LIMIT ?
            """, [.text(userID), .integer(beforeRowID ?? Int64.max), .int(limit + 1)])
        let page = rows.prefix(limit)
        return (page.map(entry), rows.count > limit ? page.last?.int64(7) : nil)
    }

    public static func entries(jobID: String, on db: Database) throws -> [Entry] {
        try db.query("SELECT \(entryColumns) FROM credit_entries WHERE job_id = ? ORDER BY rowid", [.text(jobID)]).map(entry)
    }
}
