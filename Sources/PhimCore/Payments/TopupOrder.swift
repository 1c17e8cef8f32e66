import Foundation

/// One order to top up by bank transfer, as stored: the package as it was when ordered, the
/// payment code the person writes in the transfer, and the account they were told to pay.
/// `TopupOrders` places and lists them; `PaymentInbox` credits them.
public struct TopupOrder: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable {
        case pending, paid, expired, canceled
        /// A payment named this order but could not credit it by itself (short, over, late):
        /// an operator decides (`PaymentReviews`).
        case review
    }

    public var id: String
    public var userID: String
    public var packageID: String
    public var packageNameVI: String
    public var packageNameEN: String
    public var code: String
    public var amountVND: Int
    public var credits: Int
    public var status: Status
    public var bank: PaymentSettings.BankAccount
    public var createdAt: Int64
    public var expiresAt: Int64
    public var paidAt: Int64?
    public var notificationID: String?

    static let columns = """
        id, user_id, package_id, package_name_vi, package_name_en, code, amount_vnd, credits, status,
        bank_bin, bank_account, bank_account_name, created_at, expires_at, paid_at, notification_id
        """

    init(_ row: NamedRow) {
        id = row.string("id"); userID = row.string("user_id"); packageID = row.string("package_id")
        packageNameVI = row.string("package_name_vi"); packageNameEN = row.string("package_name_en")
        code = row.string("code"); amountVND = row.int("amount_vnd"); credits = row.int("credits")
        status = Status(rawValue: row.string("status")) ?? .pending
        bank = .init(bin: row.string("bank_bin"), account: row.string("bank_account"), accountName: row.string("bank_account_name"))
        createdAt = row.int64("created_at"); expiresAt = row.int64("expires_at")
        paidAt = row.optionalInt64("paid_at"); notificationID = row.optionalString("notification_id")
    }

    public static func find(id: String, on db: Database) throws -> TopupOrder? {
        try db.firstRow("SELECT \(columns) FROM topup_orders WHERE id = :id", ["id": .text(id)]).map(TopupOrder.init)
    }

    /// By payment code, already normalized (upper-case `PHIM` + suffix, no spaces or dashes).
    public static func find(code: String, on db: Database) throws -> TopupOrder? {
        try db.firstRow("SELECT \(columns) FROM topup_orders WHERE code = :code", ["code": .text(code)]).map(TopupOrder.init)
    }
}
