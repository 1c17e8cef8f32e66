import Foundation
import PhimSupport

/// Orders to top up by bank transfer, from the person's side: place one for a package (the
/// package and the bank account snapshotted, a unique payment code), list and read one's own,
/// cancel a pending one; expiry of the unpaid ones. Crediting is `PaymentInbox`'s.
public struct TopupOrders: Sendable {
    public var settings: PaymentSettings
    public var clock: AppClock

    public init(settings: PaymentSettings, clock: AppClock) {
        self.settings = settings
        self.clock = clock
    }

    /// The bank transfer that paid an order, as journaled when it arrived.
    public struct Receipt: Sendable, Equatable {
        public var paidAt: Int64?
        public var amountVND: Int
        public var reference: String?
        public var transactionTime: String?
        public var provider: String
    }

    /// An order with the email of its account, for operators.
    public struct AccountOrder: Sendable {
        public var order: TopupOrder
        public var userEmail: String
    }

    public static let maximumListLimit = 500

    // MARK: - The person's side

    /// Places an order for `packageID`. Refused, and nothing written, when top-ups are off, the
    /// package is unknown or disabled, or the account already has its limit of pending orders.
    public func place(packageID: String, userID: String, on db: Database) throws -> TopupOrder {
        guard let bank = settings.bank else { throw AppError.topupsDisabled }
        let now = clock.nowMillis()
        return try db.write {
            try expireDue(at: now, on: db)
            guard let package = try TopupPackages.find(id: packageID, on: db), package.isEnabled else { throw AppError.packageNotFound }
            let pending = try db.firstRow("SELECT COUNT(*) AS count FROM topup_orders WHERE user_id = :user AND status = 'pending'",
                                          ["user": .text(userID)])?.int("count") ?? 0
            guard pending < settings.pendingOrdersPerAccount else {
                throw AppError.tooManyPendingOrders(limit: settings.pendingOrdersPerAccount)
            }
            let id = UUID().uuidString.lowercased()
            // 31^6 codes: a collision is rare but possible over years of orders; DO NOTHING plus a new code covers it.
            for _ in 0..<20 {
                let inserted = try db.run("""
                    INSERT INTO topup_orders (id, user_id, package_id, package_name_vi, package_name_en, code, amount_vnd, credits, status,
                      bank_bin, bank_account, bank_account_name, created_at, expires_at)
                    VALUES (:id, :user, :package, :name_vi, :name_en, :code, :amount_vnd, :credits, 'pending',
                      :bin, :account, :account_name, :now, :expires_at)
                    ON CONFLICT (code) DO NOTHING
                    """, ["id": .text(id), "user": .text(userID), "package": .text(package.id), "name_vi": .text(package.nameVI),
                          "name_en": .text(package.nameEN), "code": .text(PaymentCode.generate()), "amount_vnd": .int(package.amountVND),
                          "credits": .int(package.credits), "bin": .text(bank.bin), "account": .text(bank.account),
                          "account_name": .text(bank.accountName), "now": .integer(now),
                          "expires_at": .integer(now + settings.orderLifetimeSeconds * 1000)])
                if inserted == 1 {
                    let order = try TopupOrder.find(id: id, on: db)!
                    Log.info("top-up order placed", ["order_id": id, "user_id": userID, "package": package.id,
                                                     "amount_vnd": String(package.amountVND)])
                    return order
                }
            }
            throw AppError.internal
        }
    }

    /// The account's orders, newest first (those past their time already shown as expired).
    public func list(userID: String, limit: Int, on db: Database) throws -> [TopupOrder] {
        try expireDue(on: db)
        return try db.rows("""
            SELECT \(TopupOrder.columns) FROM topup_orders WHERE user_id = :user
            ORDER BY created_at DESC, rowid DESC LIMIT :limit
            """, ["user": .text(userID), "limit": .int(limit)]).map(TopupOrder.init)
    }

    /// One of the account's orders; another account's is as unknown as one that does not exist.
    public func order(id: String, userID: String, on db: Database) throws -> TopupOrder {
        try expireDue(on: db)
        guard let order = try TopupOrder.find(id: id, on: db), order.userID == userID else { throw AppError.topupNotFound }
        return order
    }

    /// Cancels a pending order of the account (a payment that still comes goes to review).
    public func cancel(id: String, userID: String, on db: Database) throws -> TopupOrder {
        let now = clock.nowMillis()
        return try db.write {
            try expireDue(at: now, on: db)
            guard let order = try TopupOrder.find(id: id, on: db), order.userID == userID else { throw AppError.topupNotFound }
            let changed = try db.run("UPDATE topup_orders SET status = 'canceled' WHERE id = :id AND status = 'pending'", ["id": .text(id)])
            guard changed == 1 else { throw AppError.topupNotPending }
            Log.info("top-up order canceled", ["order_id": id, "user_id": userID])
            return try TopupOrder.find(id: id, on: db)!
        }
    }

    // MARK: - Expiry

    /// Pending orders past their `expires_at` become `expired`. Returns how many.
    @discardableResult
    public func expireDue(on db: Database) throws -> Int {
        let now = clock.nowMillis()
        // The order page polls every second or two: an indexed read first, so a poll takes the write lock only when something is due.
        guard try db.firstRow("SELECT 1 AS due FROM topup_orders WHERE status = 'pending' AND expires_at <= :now LIMIT 1",
                              ["now": .integer(now)]) != nil else { return 0 }
        return try db.write { try expireDue(at: now, on: db) }
    }

    private func expireDue(at now: Int64, on db: Database) throws -> Int {
        let expired = try db.run("UPDATE topup_orders SET status = 'expired' WHERE status = 'pending' AND expires_at <= :now",
                                 ["now": .integer(now)])
        if expired > 0 { Log.info("top-up orders expired", ["count": String(expired)]) }
        return expired
    }

    // MARK: - Operators

    /// Every account's orders, newest first, with the account's email; one status when given.
    public func all(status: TopupOrder.Status?, limit: Int, on db: Database) throws -> [AccountOrder] {
        try expireDue(on: db)
        let columns = TopupOrder.columns.split(separator: ",").map { "o." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        return try db.rows("""
            SELECT \(columns.joined(separator: ", ")), u.email AS user_email
            FROM topup_orders o JOIN users u ON u.id = o.user_id
            WHERE (:status IS NULL OR o.status = :status)
            ORDER BY o.created_at DESC, o.rowid DESC LIMIT :limit
            """, ["status": .optionalText(status?.rawValue), "limit": .int(limit)]).map {
            AccountOrder(order: TopupOrder($0), userEmail: $0.string("user_email"))
        }
    }

    // MARK: - What the person is shown

    /// The VietQR payload a banking app scans: the order's account, its amount, its code as the transfer content.
    public static func vietQRPayload(for order: TopupOrder) throws -> String {
        try VietQR(bin: order.bank.bin, account: order.bank.account, amountVND: Int64(order.amountVND), content: order.code).payload()
    }

    /// The same payload drawn as a QR code, in SVG.
    public static func qrSVG(for order: TopupOrder) throws -> String {
        try QRCodeSVG(text: vietQRPayload(for: order)).svg
    }

    /// The transfer that paid (or was attached to) the order, from the notifications journal.
    public static func receipt(for order: TopupOrder, on db: Database) throws -> Receipt? {
        guard let notificationID = order.notificationID else { return nil }
        return try db.firstRow("""
            SELECT provider, amount_vnd, reference, transaction_time, credited_at FROM bank_notifications WHERE id = :id
            """, ["id": .text(notificationID)]).map {
            Receipt(paidAt: order.paidAt ?? $0.optionalInt64("credited_at"), amountVND: $0.int("amount_vnd"),
                    reference: $0.optionalString("reference"), transactionTime: $0.optionalString("transaction_time"),
                    provider: $0.string("provider"))
        }
    }

    /// Credits a paid order brought its owner: its own under `topup:<order>`, or what operators
    /// credited for its money from the review queue. Nil until it is paid.
    public static func creditsAdded(for order: TopupOrder, on db: Database) throws -> Int? {
        guard order.status == .paid else { return nil }
        return try db.firstRow("""
            SELECT COALESCE((SELECT available_delta FROM credit_entries WHERE unique_key = 'topup:' || :id),
                            (SELECT SUM(credits) FROM payment_reviews WHERE order_id = :id AND status = 'credited' AND credited_user_id = :user))
              AS credits
            """, ["id": .text(order.id), "user": .text(order.userID)])?.optionalInt64("credits").map(Int.init)
    }

    /// Short names of the banks people use most, by NAPAS BIN; any other bank is shown by its BIN.
    public static let bankNames: [String: String] = [
        "970436": "Vietcombank", "970407": "Techcombank", "970422": "MB", "970416": "ACB", "970415": "VietinBank",
        "970418": "BIDV", "970405": "Agribank", "970423": "TPBank", "970403": "Sacombank", "970432": "VPBank",
    ]

    public static func bankName(bin: String) -> String { bankNames[bin] ?? bin }
}
