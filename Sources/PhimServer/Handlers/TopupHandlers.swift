import Foundation
import PhimCore
import PhimSupport

/// Top-ups by bank transfer: a person lists the packages, places an order, reads it (with its
/// VietQR) and cancels it; operators set and disable packages and see every order. The rules are
/// `TopupPackages`' and `TopupOrders`'.
enum TopupHandlers {
    /// `GET /api/v1/topups/packages`: the enabled packages, and whether top-ups are on at all.
    static func packages(_ context: Context) throws -> Response {
        let payments = context.app.settings.payments
        let list = try TopupPackages.list(includeDisabled: false, on: context.db)
        let english = context.language == .en
        return .json(.object([
            ("enabled", .bool(payments.topupsEnabled)),
            ("disabled_reason", payments.topupsEnabled ? .null : .string("bank_not_configured")),
            ("simulate_transfer", .bool(payments.simulatesTransfers)),
            ("data", .array(list.map { package in
                .object([("id", .string(package.id)), ("name", .string(package.name(english: english))),
                         ("name_vi", .string(package.nameVI)), ("name_en", .string(package.nameEN)),
                         ("amount_vnd", .int(package.amountVND)), ("credits", .int(package.credits))])
            })),
        ]))
    }

    /// `POST /api/v1/topups {"package_id"}` → 201 the order.
    static func create(_ context: Context) throws -> Response {
        let body = try context.jsonBody()
        guard let packageID = body["package_id"]?.stringValue else { throw AppError.invalidJSON(detail: "package_id must be a string") }
        let order = try orders(context).place(packageID: packageID, userID: try context.user.id, on: context.db)
        return .json(try orderJSON(order, language: context.language, on: context.db), status: 201)
    }

    /// `GET /api/v1/topups?limit=`: the caller's orders, newest first.
    static func list(_ context: Context) throws -> Response {
        let limit = try context.limit(default: 50, maximum: TopupOrders.maximumListLimit)
        let list = try orders(context).list(userID: try context.user.id, limit: limit, on: context.db)
        return .json(.object([("data", .array(try list.map { try orderJSON($0, language: context.language, on: context.db) }))]))
    }

    static func show(_ context: Context) throws -> Response {
        let order = try orders(context).order(id: context.parameter("id"), userID: try context.user.id, on: context.db)
        return .json(try orderJSON(order, language: context.language, on: context.db))
    }

    /// The order's VietQR, drawn here (no image service sees the payment); it never changes, so the browser may keep it.
    static func qrSVG(_ context: Context) throws -> Response {
        let order = try orders(context).order(id: context.parameter("id"), userID: try context.user.id, on: context.db)
        return Response(status: 200, headers: [("Content-Type", "image/svg+xml"), ("Cache-Control", "private, max-age=3600")],
                        body: Array(try TopupOrders.qrSVG(for: order).utf8))
    }

    static func cancel(_ context: Context) throws -> Response {
        let order = try orders(context).cancel(id: context.parameter("id"), userID: try context.user.id, on: context.db)
        return .json(try orderJSON(order, language: context.language, on: context.db))
    }

    // MARK: - Operators

    /// `GET /api/v1/admin/packages`: every package, disabled ones too.
    static func adminPackages(_ context: Context) throws -> Response {
        .json(.object([("data", .array(try TopupPackages.list(includeDisabled: true, on: context.db).map(packageJSON)))]))
    }

    /// `PUT /api/v1/admin/packages/{id} {name_vi, name_en, amount_vnd, credits, enabled?, sort_order?, reason}`: create or replace.
    static func setPackage(_ context: Context) throws -> Response {
        let body = try context.jsonBody()
        func text(_ name: String) throws -> String {
            guard let text = body[name]?.stringValue else { throw AppError.invalidPackage(field: name) }
            return text
        }
        func integer(_ name: String) throws -> Int {
            guard let value = body[name]?.intValue else { throw AppError.invalidPackage(field: name) }
            return value
        }
        var definition = TopupPackages.Definition(nameVI: try text("name_vi"), nameEN: try text("name_en"),
                                                  amountVND: try integer("amount_vnd"), credits: try integer("credits"))
        if let enabled = body["enabled"], !enabled.isNull {
            guard case .bool(let value) = enabled else { throw AppError.invalidPackage(field: "enabled") }
            definition.isEnabled = value
        }
        if let sortOrder = body["sort_order"], !sortOrder.isNull {
            guard let value = sortOrder.intValue else { throw AppError.invalidPackage(field: "sort_order") }
            definition.sortOrder = value
        }
        let saved = try TopupPackages.set(id: context.parameter("id"), definition, reason: body["reason"]?.stringValue,
                                          by: .admin(try context.user), clock: context.app.clock, on: context.db)
        return .json(packageJSON(saved))
    }

    /// `POST /api/v1/admin/packages/{id}/disable {reason}`.
    static func disablePackage(_ context: Context) throws -> Response {
        let body = try context.jsonBody()
        let package = try TopupPackages.disable(id: context.parameter("id"), reason: body["reason"]?.stringValue,
                                                by: .admin(try context.user), clock: context.app.clock, on: context.db)
        return .json(packageJSON(package))
    }

    /// `GET /api/v1/admin/topups?status=&limit=`: every account's orders, newest first, with the account's email.
    static func adminOrders(_ context: Context) throws -> Response {
        var status: TopupOrder.Status?
        if let raw = context.request.query["status"], !raw.isEmpty {
            guard let value = TopupOrder.Status(rawValue: raw) else { throw AppError.invalidFilter(name: "status") }
            status = value
        }
        let limit = try context.limit(default: 100, maximum: TopupOrders.maximumListLimit)
        let list = try orders(context).all(status: status, limit: limit, on: context.db)
        return .json(.object([("data", .array(try list.map { item in
            guard case .object(var fields) = try orderJSON(item.order, language: context.language, on: context.db) else { return .null }
            fields.insert(("user_email", .string(item.userEmail)), at: 1)
            fields.insert(("user_id", .string(item.order.userID)), at: 1)
            return .object(fields)
        }))]))
    }

    // MARK: - JSON

    private static func orders(_ context: Context) -> TopupOrders {
        TopupOrders(settings: context.app.settings.payments, clock: context.app.clock)
    }

    /// An order as the API shows it (the inbox's simulator answers with it too).
    static func orderJSON(_ order: TopupOrder, language: Language, on db: Database) throws -> JSON {
        let receipt = try TopupOrders.receipt(for: order, on: db)
        return .object([
            ("id", .string(order.id)), ("code", .string(order.code)), ("package_id", .string(order.packageID)),
            ("package_name", .string(language == .en ? order.packageNameEN : order.packageNameVI)),
            ("amount_vnd", .int(order.amountVND)), ("credits", .int(order.credits)), ("status", .string(order.status.rawValue)),
            ("created_at", .string(Timestamps.iso(order.createdAt))), ("expires_at", .string(Timestamps.iso(order.expiresAt))),
            ("paid_at", Timestamps.isoOrNull(order.paidAt)),
            ("credits_added", try TopupOrders.creditsAdded(for: order, on: db).map { .int($0) } ?? .null),
            ("vietqr_payload", .string(try TopupOrders.vietQRPayload(for: order))),
            ("qr_svg_url", .string("/api/v1/topups/\(order.id)/qr.svg")),
            ("bank", .object([("bin", .string(order.bank.bin)), ("account", .string(order.bank.account)),
                              ("account_name", .string(order.bank.accountName)),
                              ("bank_name", .string(TopupOrders.bankName(bin: order.bank.bin)))])),
            ("receipt", receipt.map { receipt in
                .object([("paid_at", Timestamps.isoOrNull(receipt.paidAt)), ("amount_vnd", .int(receipt.amountVND)),
                         ("reference", .optional(receipt.reference)), ("transaction_time", .optional(receipt.transactionTime)),
                         ("provider", .string(receipt.provider))])
            } ?? .null),
        ])
    }

    static func packageJSON(_ package: TopupPackages.Package) -> JSON {
        .object([("id", .string(package.id)), ("name_vi", .string(package.nameVI)), ("name_en", .string(package.nameEN)),
                 ("amount_vnd", .int(package.amountVND)), ("credits", .int(package.credits)), ("enabled", .bool(package.isEnabled)),
                 ("sort_order", .int(package.sortOrder)), ("created_at", .string(Timestamps.iso(package.createdAt))),
                 ("updated_at", .string(Timestamps.iso(package.updatedAt)))])
    }
}
