import Fluent
import Vapor

/// The caller's ledger, newest first, and the price list.
struct CreditController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("pricing", use: pricing)
        routes.grouped(RequireUser()).get("credits", "transactions", use: transactions)
    }

    @Sendable func transactions(req: Request) async throws -> API.Page<API.Transaction> {
        let limit = try VideoController.limit(req)
        let userID = try req.user.requireID()
        var query = CreditEntry.query(on: req.db).filter(\.$user.$id == userID)
        if let raw = req.query[String.self, at: "cursor"] {
            guard let cursor = Cursor(raw) else { throw AppError.invalidCursor }
            let window = cursor.window
            query = query.group(.or) { older in
                older.filter(\.$createdAt < window.before)
                older.group(.and) { $0.filter(\.$createdAt < window.after).filter(\.$id < cursor.id) }
            }
        }
        let entries = try await query.sort(\.$createdAt, .descending).sort(\.$id, .descending).limit(limit + 1).all()
        let page = Array(entries.prefix(limit))
        return API.Page(
            data: try page.map(API.Transaction.init),
            nextCursor: entries.count > limit ? page.last.flatMap { entry in entry.id.map { Cursor(createdAt: entry.createdAt, id: $0).encoded } } : nil)
    }

    /// Public: the studio shows prices before sign-in, and programs quote before they create.
    @Sendable func pricing(req: Request) async throws -> API.Pricing {
        let rows = try await Price.query(on: req.db).sort(\.$model).sort(\.$durationSeconds).sort(\.$quality).all()
        return API.Pricing(currency: "credits", prices: rows.compactMap { row in
            guard let model = VideoModel(rawValue: row.model) else { return nil }
            return API.PriceRow(model: row.model, mode: model.mode, duration: row.durationSeconds, quality: row.quality, credits: row.credits)
        })
    }
}
