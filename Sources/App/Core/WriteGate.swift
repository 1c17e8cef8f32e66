import Fluent
import SQLKit

/// Serialises this process's write transactions when the database is SQLite.
///
/// SQLite allows one writer at a time. Fluent opens one connection per event loop, and two
/// connections that both start a transaction can make SQLite answer `SQLITE_BUSY` straight away
/// (its deadlock rule) instead of waiting. Queuing writers here costs no throughput, because
/// SQLite would run them one at a time anyway. PostgreSQL needs no gate: its row locks and the
/// conditional updates in `CreditLedger` do the work, across processes too.
///
/// The gate orders this process's transactions; `Store.writeTransaction` also begins them with
/// `BEGIN IMMEDIATE`, so a transaction takes the write lock before its first read and never has
/// to upgrade a read snapshot that a single-statement write elsewhere (a session update, a
/// `phim` command in another process) has made stale, which SQLite refuses with
/// `SQLITE_BUSY_SNAPSHOT` instead of waiting.
public actor WriteGate {
    private var isHeld = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init() {}

    func acquire() async {
        if !isHeld {
            isHeld = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            isHeld = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}

/// A database plus the rule for running write transactions on it; domain code receives this
/// instead of a bare `Database` so that every multi-step write goes through `writeTransaction`.
public struct Store: Sendable {
    public let db: any Database
    let gate: WriteGate?

    public init(db: any Database, gate: WriteGate?) {
        self.db = db
        self.gate = gate
    }

    /// Runs `body` in one database transaction; on SQLite, after the transactions this process
    /// started before it have finished. Throws whatever `body` throws, after rolling back.
    public func writeTransaction<T: Sendable>(_ body: @escaping @Sendable (any Database) async throws -> T) async throws -> T {
        guard let gate else { return try await db.transaction(body) }
        await gate.acquire()
        do {
            let result = try await Self.immediateTransaction(on: db, body)
            await gate.release()
            return result
        } catch {
            await gate.release()
            throw error
        }
    }

    /// Runs one statement that writes, on its own (SQLite makes a lone statement atomic): no
    /// BEGIN and COMMIT round trips, but still after this process's earlier transactions, so
    /// it never waits in SQLite's busy handler behind them.
    public func write<T: Sendable>(_ statement: @escaping @Sendable (any Database) async throws -> T) async throws -> T {
        guard let gate else { return try await statement(db) }
        await gate.acquire()
        do {
            let result = try await statement(db)
            await gate.release()
            return result
        } catch {
            await gate.release()
            throw error
        }
    }

    /// A SQLite transaction that holds the write lock from its start (SQLite's busy handler,
    /// which sqlite-nio sets to retry, makes it wait for another writer instead of failing).
    private static func immediateTransaction<T: Sendable>(on db: any Database,
                                                          _ body: @escaping @Sendable (any Database) async throws -> T) async throws -> T {
        try await db.withConnection { connection in
            let sql = connection as! any SQLDatabase // SQLite's connections are SQL databases
            try await sql.raw("BEGIN IMMEDIATE").run()
            do {
                let result = try await body(connection)
                try await sql.raw("COMMIT").run()
                return result
            } catch {
                try? await sql.raw("ROLLBACK").run()
                throw error
            }
        }
    }
}
