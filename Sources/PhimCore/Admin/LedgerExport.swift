import Foundation
import PhimSupport

/// The ledger as CSV for accounting, oldest first, streamed a batch at a time so a large
/// ledger never sits in memory whole.
public enum LedgerExport {
    public static let header = "entry_id,created_at,user_id,email,kind,available_delta,held_delta,video_id,reason"

    /// Calls `write` with the header, then one line per entry created in [since, until).
    public static func export(since: Int64?, until: Int64?, on db: Database, write: (String) throws -> Void) throws {
        try write(header + "\r\n")
        var afterRowID: Int64 = 0
        while true {
            let rows = try db.query("""
                SELECT e.rowid, e.id, e.created_at, e.user_id, u.email, e.kind, e.available_delta, e.held_delta, e.job_id, e.reason
                FROM credit_entries e JOIN users u ON u.id = e.user_id
                WHERE e.rowid > ? AND e.created_at >= ? AND e.created_at < ? ORDER BY e.rowid LIMIT 1000
                """, [.integer(afterRowID), .integer(since ?? 0), .integer(until ?? Int64.max)])
            guard let last = rows.last else { return }
            afterRowID = last.int64(0)
            var chunk = ""
            for row in rows {
                let cells = [cell(row.string(1)), ISOTime.string(row.int64(2)), cell(row.string(3)), cell(row.string(4)), cell(row.string(5)),
                             String(row.int(6)), String(row.int(7)), cell(row.optionalString(8) ?? ""), cell(row.optionalString(9) ?? "")]
                chunk += cells.joined(separator: ",") + "\r\n"
            }
            try write(chunk)
        }
    }

    /// A text cell: quoted when it holds a separator, quote or line break; and when a spreadsheet
    /// would run it as a formula (it starts with = + - @ or a control character), prefixed with '.
    static func cell(_ text: String) -> String {
        var value = text
        if let first = value.unicodeScalars.first, "=+-@\t\r\n".unicodeScalars.contains(first) { value = "'" + value }
        if value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            value = "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return value
    }
}
