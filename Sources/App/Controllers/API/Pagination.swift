import Fluent
import Vapor

/// A model listed newest first, by creation time then id (both tables that are paged have
/// these columns).
protocol NewestFirst: Model where IDValue == UUID {
    var createdAt: Date { get }
}

extension VideoJob: NewestFirst {}
extension CreditEntry: NewestFirst {}
extension WebhookDelivery: NewestFirst {}

extension QueryBuilder where Model: NewestFirst {
    /// One page of the query's rows, newest first, after the request's `cursor` and at most its
    /// `limit` (1...100, default 20). Throws `invalidCursor` or `invalidLimit` for bad values.
    func newestFirstPage(_ req: Request) async throws -> (items: [Model], nextCursor: String?) {
        let page = try PageRequest(req)
        var query = self
        if let cursor = page.cursor {
            let window = cursor.window
            query = query.group(.or) { older in
                older.filter("created_at", .lessThan, window.before)
                older.group(.and) { $0.filter("created_at", .lessThan, window.after).filter("id", .lessThan, cursor.id) }
            }
        }
        let rows = try await query.sort("created_at", .descending).sort("id", .descending).limit(page.limit + 1).all()
        return page.cut(rows) { row in row.id.map { Cursor(createdAt: row.createdAt, id: $0) } }
    }
}

/// The request's `limit` (1...100, default 20) and `cursor`, read once for any newest-first list.
struct PageRequest {
    var limit: Int
    var cursor: Cursor?

    init(_ req: Request) throws {
        if let raw = req.query[String.self, at: "limit"] {
            guard let limit = Int(raw), (1...100).contains(limit) else { throw AppError.invalidLimit }
            self.limit = limit
        } else {
            limit = 20
        }
        if let raw = req.query[String.self, at: "cursor"] {
            guard let cursor = Cursor(raw) else { throw AppError.invalidCursor }
            self.cursor = cursor
        }
    }

    /// The page from rows read with a limit of `limit + 1`: the extra row only tells that
    /// there is a next page, which starts after the last row shown.
    func cut<Row>(_ rows: [Row], position: (Row) -> Cursor?) -> (items: [Row], nextCursor: String?) {
        let items = Array(rows.prefix(limit))
        let next = rows.count > limit ? items.last.flatMap(position)?.encoded : nil
        return (items, next)
    }
}

/// A position in a newest-first list: the creation time (whole milliseconds, as `AppClock`
/// makes them) and id of the last item seen.
///
/// Times make a round trip through each driver's own encoding, which can be off by a
/// microsecond, so "same time" is matched as "within half a millisecond". That is exact because
/// stored times are whole milliseconds apart.
struct Cursor: Equatable {
    var milliseconds: Int64
    var id: UUID

    init(createdAt: Date, id: UUID) {
        self.milliseconds = Int64((createdAt.timeIntervalSince1970 * 1000).rounded())
        self.id = id
    }

    init?(_ encoded: String) {
        var base64 = encoded.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard encoded.count < 200, let data = Data(base64Encoded: base64),
              let text = String(data: data, encoding: .utf8) else { return nil }
        let parts = text.split(separator: "|")
        guard parts.count == 2, let milliseconds = Int64(parts[0]), let id = UUID(uuidString: String(parts[1])) else { return nil }
        self.milliseconds = milliseconds
        self.id = id
    }

    var encoded: String {
        Data("\(milliseconds)|\(id.uuidString)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Just before and just after the cursor's millisecond.
    var window: (before: Date, after: Date) {
        (Date(timeIntervalSince1970: (Double(milliseconds) - 0.5) / 1000),
         Date(timeIntervalSince1970: (Double(milliseconds) + 0.5) / 1000))
    }
}
