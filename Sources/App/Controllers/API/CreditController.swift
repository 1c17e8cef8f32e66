import Fluent
import Vapor

/// The caller's ledger, newest first, and the price list.
struct CreditController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("pricing", use: pricing)
        routes.grouped(RequireUser()).get("credits", "transactions", use: transactions)
    }

    @Sendable func transactions(req: Request) async throws -> API.Page<API.Transaction> {
        let page = try await req.owner.ledger().newestFirstPage(req)
        return API.Page(data: try page.items.map(API.Transaction.init), nextCursor: page.nextCursor)
    }

    /// Public: the studio shows prices before sign-in, and programs quote before they create.
    @Sendable func pricing(req: Request) async throws -> API.Pricing {
        API.Pricing(currency: "credits", prices: try await Self.priceRows(on: req.db))
    }

    /// The price table as the API and the studio's live price show it.
    static func priceRows(on db: any Database) async throws -> [API.PriceRow] {
        let rows = try await Price.query(on: db).sort(\.$model).sort(\.$durationSeconds).sort(\.$quality).all()
        return rows.compactMap { row in
            guard let model = VideoModel(rawValue: row.model) else { return nil }
            return API.PriceRow(model: row.model, mode: model.mode, duration: row.durationSeconds, quality: row.quality, credits: row.credits)
        }
    }
}
