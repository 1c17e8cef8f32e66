import CSQLite
import Foundation
import PhimSupport

/// The database as one thread uses it (each FastCGI worker owns one).
///
/// WAL, `synchronous=NORMAL`, foreign keys on and a busy timeout, so several threads and several
/// processes can share one file. Statements are prepared once per connection and cached by their
/// SQL text; every use resets them, so no read keeps a snapshot open (which would starve WAL
/// checkpoints and make a later `BEGIN IMMEDIATE` fail at once with SQLITE_BUSY_SNAPSHOT).
///
/// Reads use this thread's own connection. Write transactions use one connection per file that
/// the whole process shares, one writer at a time (the process's write lock): SQLite empties a
/// connection's page cache whenever another connection has written since its last transaction,
/// so with a connection per thread every write began by reading its B-tree pages again from the
/// file (profiled: `pread` was an eighth of a create's CPU). The shared writer keeps its cache.
public final class Database {
    public let path: String
    /// This thread's connection, for reads and anything outside `write`.
    private let own: Connection
    /// The process's writer for this file, used only inside `write` and under its lock.
    private let writer: Connection
    /// The connection statements go to now: the writer inside a write transaction.
    private var active: Connection
    private var transactionDepth = 0
    private let busyTimeoutMilliseconds: Int32

    public init(path: String, busyTimeoutMilliseconds: Int32 = 10_000) throws {
        self.path = path
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        own = try Connection(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        writer = try Connection.writer(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        active = own
    }

    // MARK: - Statements

    /// Runs SQL that returns nothing (several statements allowed, no parameters).
    public func execute(_ sql: String) throws { try active.execute(sql) }

    /// Runs one statement and returns every row.
    @discardableResult
    public func query(_ sql: String, _ values: [SQLValue] = []) throws -> [Row] {
        var rows: [Row] = []
        try active.step(sql, values) { rows.append(Row(statement: $0.statement)) }
        return rows
    }

    /// Runs one statement and decodes every row in place, without copying its columns into a
    /// `Row` first: for pages of many wide rows (a gallery page is 25 rows of 35 columns).
    public func query<Item>(_ sql: String, _ values: [SQLValue] = [], decode: (StatementRow) throws -> Item) throws -> [Item] {
        var items: [Item] = []
        try active.step(sql, values) { items.append(try decode($0)) }
        return items
    }

    /// The first row, or nil; the statement is reset at once either way.
    public func first(_ sql: String, _ values: [SQLValue] = []) throws -> Row? {
        var found: Row?
        try active.step(sql, values) { row in
            if found == nil { found = Row(statement: row.statement) }
        }
        return found
    }

    /// Runs a statement that changes rows; returns how many it changed.
    @discardableResult
    public func run(_ sql: String, _ values: [SQLValue] = []) throws -> Int {
        try active.step(sql, values) { _ in }
        return Int(sqlite3_changes(active.handle))
    }

    // MARK: - Statements with named parameters and columns

    /// Runs one statement whose parameters are named (`:id`) and returns its rows, read by
    /// column name: adding a column or a parameter shifts nothing.
    @discardableResult
    public func rows(_ sql: String, _ values: [String: SQLValue] = [:]) throws -> [NamedRow] {
        var rows: [NamedRow] = []
        var columns: [String: Int]?
        try active.step(sql, named: values) { row in
            let names = columns ?? NamedRow.columns(of: row.statement)
            columns = names
            rows.append(NamedRow(row: Row(statement: row.statement), columns: names))
        }
        return rows
    }

    public func firstRow(_ sql: String, _ values: [String: SQLValue] = [:]) throws -> NamedRow? {
        try rows(sql, values).first
    }

    /// Runs a statement with named parameters that changes rows; returns how many it changed.
    @discardableResult
    public func run(_ sql: String, _ values: [String: SQLValue]) throws -> Int {
        try active.step(sql, named: values) { _ in }
        return Int(sqlite3_changes(active.handle))
    }

    // MARK: - Transactions

    /// A write transaction: `BEGIN IMMEDIATE` takes the write lock at the start (a deferred
    /// transaction that later needs it can fail with SQLITE_BUSY instead of waiting), commits when
    /// `body` returns, rolls back when it throws. Nested calls become savepoints.
    public func write<Result>(_ body: () throws -> Result) throws -> Result {
        if transactionDepth > 0 { return try transaction(begin: "BEGIN IMMEDIATE", body) }
        // Writers of this process queue on a lock instead of in SQLite's busy handler, which
        // sleeps with back-off (measured: p99 169 ms → 28 ms with four writing threads). Other
        // processes still wait in the busy timeout.
        //
        // The time in this queue counts against the busy timeout: while another process held
        // the write lock, each writer here waited its whole timeout in turn, so a request
        // waited the timeout times the writers ahead of it (measured: creates answered after
        // 17 s behind a lock held 17 s, instead of 503 after 10 s).
        let started = DispatchTime.now().uptimeNanoseconds
        guard Connection.processWriteLock.lock(before: Date(timeIntervalSinceNow: Double(busyTimeoutMilliseconds) / 1000)) else {
            throw DatabaseError(code: SQLITE_BUSY, message: "database is locked (this process's other writers waited for it)")
        }
        defer { Connection.processWriteLock.unlock() }
        active = writer
        defer { active = own }
        let waited = Int32(clamping: (DispatchTime.now().uptimeNanoseconds - started) / 1_000_000)
        sqlite3_busy_timeout(writer.handle, max(1, busyTimeoutMilliseconds - waited))
        defer { sqlite3_busy_timeout(writer.handle, busyTimeoutMilliseconds) }
        return try transaction(begin: "BEGIN IMMEDIATE", body)
    }

    /// A read transaction: one consistent snapshot for several queries.
    public func read<Result>(_ body: () throws -> Result) throws -> Result {
        try transaction(begin: "BEGIN DEFERRED", body)
    }

    private func transaction<Result>(begin: String, _ body: () throws -> Result) throws -> Result {
        // A read inside a transaction has nothing to roll back: no savepoint.
        if transactionDepth > 0, begin == "BEGIN DEFERRED" {
            transactionDepth += 1
            defer { transactionDepth -= 1 }
            return try body()
        }
        if transactionDepth > 0 {
            let name = "nested\(transactionDepth)"
            try execute("SAVEPOINT \(name)")
            transactionDepth += 1
            defer { transactionDepth -= 1 }
            do {
                let result = try body()
                try execute("RELEASE \(name)")
                return result
            } catch {
                try? execute("ROLLBACK TO \(name)")
                try? execute("RELEASE \(name)")
                throw error
            }
        }
        // Prepared once and kept like any statement: `sqlite3_exec` parsed BEGIN and COMMIT
        // anew for every transaction (profiled: 7% of a video read).
        try active.step(begin, []) { _ in }
        transactionDepth = 1
        defer { transactionDepth = 0 }
        do {
            let result = try body()
            try active.step("COMMIT", []) { _ in }
            return result
        } catch {
            if sqlite3_get_autocommit(active.handle) == 0 { try? execute("ROLLBACK") }
            throw error
        }
    }

    public var isInTransaction: Bool { transactionDepth > 0 }

    /// Copies what the write-ahead log holds into the database file, without waiting for
    /// anyone (`PASSIVE`). The FastCGI process does this on a thread of its own, so no request
    /// pays for it while holding the write lock (see `Connection.deferredCheckpointPages`).
    public func checkpoint() throws { try own.execute("PRAGMA wal_checkpoint(PASSIVE)") }

    /// Leaves checkpoints to `checkpoint()` (called on a timer) except when the log has grown
    /// past `Connection.deferredCheckpointPages` anyway. For the FastCGI process only: tools and
    /// tests keep SQLite's default (a checkpoint every 1,000 pages, by whoever commits).
    public static func deferCheckpoints(path: String) {
        Connection.deferringCheckpoints.withLock { _ = $0.insert(path) }
    }

    /// A consistent copy of the whole database into another file, through SQLite's backup API,
    /// while other connections keep reading and writing.
    public func backup(to destination: String) throws {
        var target: OpaquePointer?
        guard sqlite3_open(destination, &target) == SQLITE_OK, let target else {
            sqlite3_close(target)
            throw DatabaseError(code: SQLITE_CANTOPEN, message: "cannot open \(destination)")
        }
        defer { sqlite3_close(target) }
        guard let backup = sqlite3_backup_init(target, "main", own.handle, "main") else {
            throw DatabaseError(code: sqlite3_errcode(target), message: String(cString: sqlite3_errmsg(target)))
        }
        var result: Int32
        repeat {
            // Every page in one step, under one read transaction: WAL lets writers go on
            // meanwhile, and the copy is the snapshot the step began with. In steps of a few
            // pages, any write by another connection between two steps restarts the copy from
            // the first page, so under a steady load a large database never finished (measured:
            // 30 MB took 0.14 s idle, 24 s with a write every 10 ms).
            result = sqlite3_backup_step(backup, -1)
            if result == SQLITE_BUSY || result == SQLITE_LOCKED { sqlite3_sleep(20) }
        } while result == SQLITE_OK || result == SQLITE_BUSY || result == SQLITE_LOCKED
        sqlite3_backup_finish(backup)
        guard result == SQLITE_DONE else { throw DatabaseError(code: result, message: "backup failed") }
    }
}

/// One SQLite connection and its prepared statements.
final class Connection: @unchecked Sendable {
    let handle: OpaquePointer
    private var statements: [String: OpaquePointer] = [:]

    /// The write lock of this process: whoever holds it uses the file's writer connection.
    static let processWriteLock = NSLock()
    /// When a log this long (pages of 4 KiB: 40 MiB) has not been checkpointed by the timer,
    /// the committing writer does it after all.
    static let deferredCheckpointPages = 10_000
    /// Files whose writer leaves checkpoints to a timer (`Database.deferCheckpoints`).
    static let deferringCheckpoints = Locked<Set<String>>([])
    /// The writer connection of each file, kept while any `Database` of that file lives.
    private static let writers = Locked<[String: WeakConnection]>([:])
    private struct WeakConnection { weak var connection: Connection? }

    static func writer(path: String, busyTimeoutMilliseconds: Int32) throws -> Connection {
        try writers.withLock { writers in
            if let existing = writers[path]?.connection { return existing }
            let made = try Connection(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
            // All of this process's writes go through it: a larger cache than a reader's 2 MiB.
            try made.execute("PRAGMA cache_size = -16384")
            if deferringCheckpoints.current.contains(path) {
                try made.execute("PRAGMA wal_autocheckpoint = \(deferredCheckpointPages)")
            }
            writers[path] = WeakConnection(connection: made)
            return made
        }
    }

    init(path: String, busyTimeoutMilliseconds: Int32) throws {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let result = sqlite3_open_v2(path, &db, flags, nil)
        guard result == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw DatabaseError(code: result, message: "\(message) (\(path))")
        }
        handle = db
        // The busy timeout comes before every PRAGMA: two threads switching a new file to WAL at
        // once would otherwise fail with SQLITE_BUSY straight away.
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        try execute("PRAGMA journal_mode = WAL")
        try execute("PRAGMA synchronous = NORMAL")
        try execute("PRAGMA foreign_keys = ON")
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
    }

    func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let result = sqlite3_exec(handle, sql, nil, nil, &error)
        if result != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? "error \(result)"
            sqlite3_free(error)
            throw DatabaseError(code: result, message: message)
        }
    }

    /// Binds the values and hands over each row in turn, in place.
    func step(_ sql: String, _ values: [SQLValue], _ body: (StatementRow) throws -> Void) throws {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (index, value) in values.enumerated() {
            try bind(value, at: Int32(index + 1), in: statement)
        }
        while true {
            let result = sqlite3_step(statement)
            if result == SQLITE_DONE { return }
            guard result == SQLITE_ROW else { throw currentError(result) }
            try body(StatementRow(statement: statement))
        }
    }

    /// Binds each `:name` parameter of the statement from `values`; a parameter without a value,
    /// or a value without a parameter, is a programmer's error and fails loudly.
    func step(_ sql: String, named values: [String: SQLValue], _ body: (StatementRow) throws -> Void) throws {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        let count = sqlite3_bind_parameter_count(statement)
        guard Int(count) == values.count else {
            throw DatabaseError(code: SQLITE_RANGE, message: "\(count) parameters, \(values.count) values: \(sql)")
        }
        for (name, value) in values {
            let index = sqlite3_bind_parameter_index(statement, name.hasPrefix(":") ? name : ":" + name)
            guard index > 0 else { throw DatabaseError(code: SQLITE_RANGE, message: "no parameter \(name): \(sql)") }
            try bind(value, at: index, in: statement)
        }
        while true {
            let result = sqlite3_step(statement)
            if result == SQLITE_DONE { return }
            guard result == SQLITE_ROW else { throw currentError(result) }
            try body(StatementRow(statement: statement))
        }
    }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        var statement: OpaquePointer?
        let result = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard result == SQLITE_OK, let statement else { throw currentError(result) }
        statements[sql] = statement
        return statement
    }

    private func bind(_ value: SQLValue, at index: Int32, in statement: OpaquePointer) throws {
        let result: Int32
        switch value {
        case .null: result = sqlite3_bind_null(statement, index)
        case .integer(let number): result = sqlite3_bind_int64(statement, index, number)
        case .real(let number): result = sqlite3_bind_double(statement, index, number)
        case .text(let text):
            result = text.utf8CString.withUnsafeBufferPointer { buffer in
                phim_sqlite_bind_text(statement, index, buffer.baseAddress, Int32(buffer.count - 1))
            }
        case .blob(let data):
            result = data.withUnsafeBytes { bytes in
                phim_sqlite_bind_blob(statement, index, bytes.baseAddress, Int32(bytes.count))
            }
        }
        guard result == SQLITE_OK else { throw currentError(result) }
    }

    private func currentError(_ code: Int32) -> DatabaseError {
        DatabaseError(code: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)))
    }
}

/// A value bound to a statement's parameter.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)

    public static func int(_ value: Int) -> SQLValue { .integer(Int64(value)) }
    public static func optionalText(_ value: String?) -> SQLValue { value.map { .text($0) } ?? .null }
    public static func optionalInt(_ value: Int64?) -> SQLValue { value.map { .integer($0) } ?? .null }
    public static func bool(_ value: Bool) -> SQLValue { .integer(value ? 1 : 0) }
}

/// Reading a result row's columns by index (the order of the SELECT list); records decode
/// themselves from either kind of row.
public protocol RowReading {
    func int(_ index: Int) -> Int
    func int64(_ index: Int) -> Int64
    func optionalInt64(_ index: Int) -> Int64?
    func string(_ index: Int) -> String
    func optionalString(_ index: Int) -> String?
}

/// The row a statement stands on, read in place: valid only until the statement steps on, so
/// only inside `Database.query(_:_:decode:)`.
public struct StatementRow: RowReading {
    let statement: OpaquePointer

    public func int(_ index: Int) -> Int { Int(sqlite3_column_int64(statement, Int32(index))) }
    public func int64(_ index: Int) -> Int64 { sqlite3_column_int64(statement, Int32(index)) }

    public func optionalInt64(_ index: Int) -> Int64? {
        isNull(index) ? nil : int64(index)
    }

    public func string(_ index: Int) -> String { Self.text(statement, Int32(index)) }

    public func optionalString(_ index: Int) -> String? {
        isNull(index) ? nil : string(index)
    }

    /// Asked before reading the value: reading converts it, and the type with it.
    private func isNull(_ index: Int) -> Bool { sqlite3_column_type(statement, Int32(index)) == SQLITE_NULL }

    /// A column's text as SQLite holds it, by its length (not up to a NUL, which bound text may contain).
    static func text(_ statement: OpaquePointer, _ index: Int32) -> String {
        guard let bytes = sqlite3_column_text(statement, index) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(statement, index))), as: UTF8.self)
    }
}

/// One result row, read by column index (the order of the SELECT list). Values are copied out,
/// so a row outlives its statement's next step.
public struct Row: Sendable, RowReading {
    private var values: [SQLValue]

    init(statement: OpaquePointer) {
        let count = sqlite3_column_count(statement)
        values = (0..<count).map { index in
            switch sqlite3_column_type(statement, index) {
            case SQLITE_INTEGER: .integer(sqlite3_column_int64(statement, index))
            case SQLITE_FLOAT: .real(sqlite3_column_double(statement, index))
            case SQLITE_TEXT: .text(StatementRow.text(statement, index))
            case SQLITE_BLOB:
                if let bytes = sqlite3_column_blob(statement, index) {
                    .blob(Data(bytes: bytes, count: Int(sqlite3_column_bytes(statement, index))))
                } else { .blob(Data()) }
            default: .null
            }
        }
    }

    public subscript(_ index: Int) -> SQLValue { values[index] }

    public func int(_ index: Int) -> Int {
        switch values[index] {
        case .integer(let value): Int(value)
        case .real(let value): Int(value)
        case .text(let text): Int(text) ?? 0
        default: 0
        }
    }

    public func int64(_ index: Int) -> Int64 { Int64(int(index)) }

    public func optionalInt64(_ index: Int) -> Int64? {
        if case .null = values[index] { return nil }
        return int64(index)
    }

    public func string(_ index: Int) -> String {
        switch values[index] {
        case .text(let text): text
        case .integer(let value): String(value)
        case .real(let value): String(value)
        case .blob(let data): String(decoding: data, as: UTF8.self)
        case .null: ""
        }
    }

    public func optionalString(_ index: Int) -> String? {
        if case .null = values[index] { return nil }
        return string(index)
    }

    public func bool(_ index: Int) -> Bool { int(index) != 0 }
}

/// A result row read by column name (`row.int("credits")`); an unknown name is a programmer's
/// error and stops the process, like a misspelt column in the SQL would.
public struct NamedRow: Sendable {
    let row: Row
    let columns: [String: Int]

    static func columns(of statement: OpaquePointer) -> [String: Int] {
        var names: [String: Int] = [:]
        for index in 0..<sqlite3_column_count(statement) {
            if let name = sqlite3_column_name(statement, index) { names[String(cString: name)] = Int(index) }
        }
        return names
    }

    private func index(_ name: String) -> Int {
        guard let index = columns[name] else { preconditionFailure("no column \(name) in the result") }
        return index
    }

    public func int(_ name: String) -> Int { row.int(index(name)) }
    public func int64(_ name: String) -> Int64 { row.int64(index(name)) }
    public func optionalInt64(_ name: String) -> Int64? { row.optionalInt64(index(name)) }
    public func string(_ name: String) -> String { row.string(index(name)) }
    public func optionalString(_ name: String) -> String? { row.optionalString(index(name)) }
    public func bool(_ name: String) -> Bool { row.bool(index(name)) }
    public func optionalDouble(_ name: String) -> Double? {
        switch row[index(name)] {
        case .integer(let value): Double(value)
        case .real(let value): value
        case .text(let text): Double(text)
        default: nil
        }
    }
}

public struct DatabaseError: Error, CustomStringConvertible, Sendable {
    public var code: Int32
    public var message: String

    public var description: String { "SQLite error \(code): \(message)" }

    /// A UNIQUE, PRIMARY KEY or CHECK constraint refused the change.
    public var isConstraintViolation: Bool { code & 0xFF == SQLITE_CONSTRAINT }
    /// Another connection held the lock past the busy timeout.
    public var isBusy: Bool { code & 0xFF == SQLITE_BUSY || code & 0xFF == SQLITE_LOCKED }
    /// The database cannot be used now for a reason outside the request: locked, the disk full,
    /// the file read-only or failing. Nothing was written (the transaction rolled back), and the
    /// same request succeeds once the cause is gone.
    public var isUnavailable: Bool {
        isBusy || [SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_NOMEM].contains(code & 0xFF)
    }
}
