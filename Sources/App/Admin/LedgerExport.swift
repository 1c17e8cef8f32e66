import Fluent
import Foundation
import SQLKit

/// The credit ledger as CSV for accounting: one line per entry, oldest first, with the
/// account's email. Read in pages and handed out line by line, so a long ledger is never held
/// in memory whole (the admin page streams it, `phim ledger export` writes it to a file).
struct LedgerExport: Sendable {
    let db: any Database
    /// Entries read per query.
    var pageSize = 1000

    static let header = "entry_id,created_at,user_id,email,kind,available_delta,held_delta,video_id,reason"

    struct Row: Decodable {
        var id: UUID
        var createdAt: Date
        var userID: UUID
        var email: String
        var kind: String
        var availableDelta: Int
        var heldDelta: Int
        var jobID: UUID?
        var reason: String?

        enum CodingKeys: String, CodingKey {
            case id, createdAt = "created_at", userID = "user_id", email, kind
            case availableDelta = "available_delta", heldDelta = "held_delta", jobID = "job_id", reason
        }

        var csvLine: String {
            [id.uuidString.lowercased(), Formatting.iso(createdAt), userID.uuidString.lowercased(), LedgerExport.cell(email),
             kind, String(availableDelta), String(heldDelta), jobID?.uuidString.lowercased() ?? "", LedgerExport.cell(reason ?? "")]
                .joined(separator: ",")
        }
    }

    /// Calls `emit` with the header and then each entry created in `since..<until`, one CSV
    /// line each (without the line break). Returns the number of entries.
    @discardableResult
    func write(since: Date, until: Date, _ emit: (String) async throws -> Void) async throws -> Int {
        try await emit(Self.header)
        let sql = db as! any SQLDatabase // both supported drivers are SQL databases
        var last: (cursor: Cursor, id: UUID)?
        var count = 0
        while true {
            var query: SQLQueryString = """
                SELECT e.id, e.created_at, e.user_id, u.email, e.kind, e.available_delta, e.held_delta, e.job_id, e.reason
                FROM credit_entries e JOIN users u ON u.id = e.user_id
                WHERE e.created_at >= \(bind: since) AND e.created_at < \(bind: until)
                """
            if let last {
                // Stored times are whole milliseconds; "same time" is matched within half of one (see `Cursor`).
                let window = last.cursor.window
                query += " AND (e.created_at > \(bind: window.after) OR (e.created_at > \(bind: window.before) AND e.id > \(bind: last.id)))"
            }
            query += " ORDER BY e.created_at, e.id LIMIT \(literal: pageSize)"
            let rows = try await sql.raw(query).all(decoding: Row.self)
            for row in rows { try await emit(row.csvLine) }
            count += rows.count
            guard rows.count == pageSize, let final = rows.last else { return count }
            last = (Cursor(createdAt: final.createdAt, id: final.id), final.id)
        }
    }

    /// A text cell: quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-`
    /// or `@` is prefixed with `'` so a spreadsheet shows it instead of running it as a formula.
    static func cell(_ text: String) -> String {
        var value = text
        if let first = value.first, "=+-@\t\r".contains(first) { value = "'" + value }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
