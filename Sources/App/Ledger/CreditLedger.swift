import Fluent
import Foundation
import SQLKit

/// The rules by which credits move. Every function here runs inside a transaction the caller
/// opened (`Store.writeTransaction`), writes one ledger entry and moves the user's cached
/// balances by the same amounts, so the two can never disagree after a commit.
enum CreditLedger {
    enum LedgerError: Error, Equatable {
        case insufficientCredits(needed: Int, available: Int)
        case userNotFound
        /// The entry's unique key exists already: the hold, settle or release happened before.
        case alreadyRecorded(uniqueKey: String)
        case invalidAmount
    }

    /// Reserves `amount` of the user's available credits for a job. The balance check and the
    /// deduction are one conditional `UPDATE`, so concurrent holds can never overdraw, on SQLite
    /// and PostgreSQL alike.
    static func hold(userID: UUID, jobID: UUID, amount: Int, at now: Date, on db: any Database) async throws {
        guard amount > 0 else { throw LedgerError.invalidAmount }
        let moved = try await moveBalances(userID: userID, available: -amount, held: amount, on: db)
        guard moved else {
            let available = try await User.find(userID, on: db)?.creditsAvailable ?? 0
            throw LedgerError.insufficientCredits(needed: amount, available: available)
        }
        try await record(.hold, userID: userID, jobID: jobID, available: -amount, held: amount,
                         reason: nil, uniqueKey: "hold:\(jobID)", at: now, on: db)
    }

    /// Spends a job's reservation: the job succeeded.
    static func settle(job: VideoJob, at now: Date, on db: any Database) async throws {
        try await close(job: job, kind: .settle, available: 0, at: now, on: db)
    }

    /// Refunds a job's reservation: the job failed, timed out or was canceled.
    static func release(job: VideoJob, at now: Date, on db: any Database) async throws {
        try await close(job: job, kind: .release, available: job.priceCredits, at: now, on: db)
    }

    /// Gives a user credits (an operator's grant, the demo account's starting balance).
    static func grant(userID: UUID, amount: Int, reason: String, at now: Date, on db: any Database) async throws {
        guard amount > 0 else { throw LedgerError.invalidAmount }
        guard try await moveBalances(userID: userID, available: amount, held: 0, on: db) else {
            throw LedgerError.userNotFound
        }
        try await record(.grant, userID: userID, jobID: nil, available: amount, held: 0,
                         reason: reason, uniqueKey: nil, at: now, on: db)
    }

    /// Takes credits away (an operator's correction); only from the spendable balance, never
    /// below zero, never from credits held for running videos.
    static func deduct(userID: UUID, amount: Int, reason: String, at now: Date, on db: any Database) async throws {
        guard amount > 0 else { throw LedgerError.invalidAmount }
        guard try await moveBalances(userID: userID, available: -amount, held: 0, on: db) else {
            guard let user = try await User.find(userID, on: db) else { throw LedgerError.userNotFound }
            throw LedgerError.insufficientCredits(needed: amount, available: user.creditsAvailable)
        }
        try await record(.deduct, userID: userID, jobID: nil, available: -amount, held: 0,
                         reason: reason, uniqueKey: nil, at: now, on: db)
    }

    // MARK: - Internals

    /// Settle and release share the key `close:<job>`: whichever is first wins, a second of
    /// either kind fails on the unique index and its whole transaction rolls back.
    private static func close(job: VideoJob, kind: CreditEntry.Kind, available: Int, at now: Date, on db: any Database) async throws {
        let jobID = try job.requireID()
        let price = job.priceCredits
        guard try await moveBalances(userID: job.$user.id, available: available, held: -price, on: db) else {
            throw LedgerError.userNotFound
        }
        try await record(kind, userID: job.$user.id, jobID: jobID, available: available, held: -price,
                         reason: nil, uniqueKey: "close:\(jobID)", at: now, on: db)
    }

    /// Adds the deltas to the user's balances. A negative `available` delta applies only if the
    /// balance covers it. Returns whether the row was updated.
    private static func moveBalances(userID: UUID, available: Int, held: Int, on db: any Database) async throws -> Bool {
        let sql = db as! any SQLDatabase // both supported drivers are SQL databases
        var update = sql.update(User.schema)
            .set(SQLIdentifier("credits_available"), to: SQLBinaryExpression(SQLIdentifier("credits_available"), .add, SQLBind(available)))
            .set(SQLIdentifier("credits_held"), to: SQLBinaryExpression(SQLIdentifier("credits_held"), .add, SQLBind(held)))
            .where("id", .equal, userID)
        if available < 0 {
            update = update.where("credits_available", .greaterThanOrEqual, -available)
        }
        return try await update.returning("id").first() != nil
    }

    private static func record(_ kind: CreditEntry.Kind, userID: UUID, jobID: UUID?, available: Int, held: Int,
                               reason: String?, uniqueKey: String?, at now: Date, on db: any Database) async throws {
        let entry = CreditEntry(userID: userID, jobID: jobID, kind: kind, availableDelta: available, heldDelta: held,
                                reason: reason, uniqueKey: uniqueKey, createdAt: now)
        do {
            try await entry.create(on: db)
        } catch let error as any DatabaseError where error.isConstraintFailure {
            throw LedgerError.alreadyRecorded(uniqueKey: uniqueKey ?? "")
        }
    }
}
