import Foundation
import PhimSupport

/// The operators' side of the inbox: the review queue (what the inbox would not credit by
/// itself) and the notifications journal. Each resolution is one write transaction with its
/// audit entry (`payments.review.credit|attach|refunded`); a credit goes through the ledger under
/// a unique key, so a double resolve cannot credit twice.
public struct PaymentReviews: Sendable {
    public var clock: AppClock

    public init(clock: AppClock) { self.clock = clock }

    public struct Notification: Sendable {
        public var id: String
        public var provider: String
        public var providerTxnID: String
        public var direction: String
        public var amountVND: Int
        public var account: String?
        public var code: String?
        public var content: String?
        public var reference: String?
        public var transactionTime: String?
        public var receivedAt: Int64
        public var outcome: String
        public var orderCode: String?
        public var creditedAt: Int64?

        static let columns = """
            n.id AS n_id, n.provider AS n_provider, n.provider_txn_id AS n_txn, n.direction AS n_direction, n.amount_vnd AS n_amount,
            n.account AS n_account, n.code AS n_code, n.content AS n_content, n.reference AS n_reference,
            n.transaction_time AS n_time, n.received_at AS n_received_at, n.outcome AS n_outcome, n.credited_at AS n_credited_at
            """

        init(_ row: NamedRow) {
            id = row.string("n_id"); provider = row.string("n_provider"); providerTxnID = row.string("n_txn")
            direction = row.string("n_direction"); amountVND = row.int("n_amount"); account = row.optionalString("n_account")
            code = row.optionalString("n_code"); content = row.optionalString("n_content"); reference = row.optionalString("n_reference")
            transactionTime = row.optionalString("n_time"); receivedAt = row.int64("n_received_at"); outcome = row.string("n_outcome")
            orderCode = row.optionalString("o_code"); creditedAt = row.optionalInt64("n_credited_at")
        }
    }

    public struct OrderSummary: Sendable {
        public var id: String
        public var code: String
        public var userID: String
        public var userEmail: String
        public var amountVND: Int
        public var credits: Int
        public var status: String
    }

    public struct Review: Sendable {
        public var id: String
        public var reason: String
        public var status: String
        public var amountVND: Int
        public var createdAt: Int64
        public var notification: Notification
        public var order: OrderSummary?
        public var resolvedBy: String?
        public var resolvedAt: Int64?
        public var resolutionNote: String?
        public var creditedUserID: String?
        public var credits: Int?

        static let query = """
            SELECT r.id, r.reason, r.status, r.amount_vnd, r.created_at, r.resolved_by, r.resolved_at, r.resolution_note,
                   r.credited_user_id, r.credits, \(Notification.columns),
                   o.id AS o_id, o.code AS o_code, o.user_id AS o_user_id, u.email AS o_email, o.amount_vnd AS o_amount,
                   o.credits AS o_credits, o.status AS o_status
            FROM payment_reviews r JOIN bank_notifications n ON n.id = r.notification_id
            LEFT JOIN topup_orders o ON o.id = r.order_id LEFT JOIN users u ON u.id = o.user_id
            """

        init(_ row: NamedRow) {
            id = row.string("id"); reason = row.string("reason"); status = row.string("status"); amountVND = row.int("amount_vnd")
            createdAt = row.int64("created_at"); notification = Notification(row)
            order = row.optionalString("o_id").map {
                OrderSummary(id: $0, code: row.string("o_code"), userID: row.string("o_user_id"), userEmail: row.optionalString("o_email") ?? "",
                             amountVND: row.int("o_amount"), credits: row.int("o_credits"), status: row.string("o_status"))
            }
            resolvedBy = row.optionalString("resolved_by"); resolvedAt = row.optionalInt64("resolved_at")
            resolutionNote = row.optionalString("resolution_note"); creditedUserID = row.optionalString("credited_user_id")
            credits = row.optionalInt64("credits").map(Int.init)
        }
    }

    public enum Resolution: Sendable, Equatable {
        /// Credit a stated amount to the account with this email (the money is kept).
        case credit(email: String, credits: Int)
        /// The money paid this order after all: it becomes `paid` with its own credits.
        case attach(orderCode: String)
        /// The money went back to the payer outside Phim; nothing is credited.
        case refunded
    }

    // MARK: - Reading

    /// Open items oldest first (the queue's order); with `includeResolved`, the resolved ones after
    /// them, most recently resolved first.
    public func list(includeResolved: Bool, limit: Int = 500, on db: Database) throws -> [Review] {
        try db.rows("""
            \(Review.query) WHERE (:all = 1 OR r.status = 'open')
            ORDER BY CASE r.status WHEN 'open' THEN 0 ELSE 1 END, CASE r.status WHEN 'open' THEN r.created_at ELSE -r.resolved_at END, r.rowid
            LIMIT :limit
            """, ["all": .bool(includeResolved), "limit": .int(limit)]).map(Review.init)
    }

    public func review(id: String, on db: Database) throws -> Review? {
        try db.firstRow("\(Review.query) WHERE r.id = :id", ["id": .text(id)]).map(Review.init)
    }

    /// The journal, newest first.
    public func notifications(limit: Int, on db: Database) throws -> [Notification] {
        try db.rows("""
            SELECT \(Notification.columns), o.code AS o_code FROM bank_notifications n LEFT JOIN topup_orders o ON o.id = n.order_id
            ORDER BY n.received_at DESC, n.rowid DESC LIMIT :limit
            """, ["limit": .int(limit)]).map(Notification.init)
    }

    // MARK: - Resolving

    /// Resolves an open item, audited. A second resolve is refused (`review_already_resolved`).
    @discardableResult
    public func resolve(_ reviewID: String, _ resolution: Resolution, reason rawReason: String?, by actor: Administration.Actor,
                        on db: Database) throws -> Review {
        let reason = try Administration.reason(rawReason)
        if case .credit(_, let credits) = resolution, !(1...Administration.maximumAmount).contains(credits) {
            throw AppError.invalidReviewResolution(field: "credits")
        }
        let now = clock.nowMillis()
        let resolved: Review = try db.write {
            guard let review = try review(id: reviewID, on: db) else { throw AppError.reviewNotFound }
            guard review.status == "open" else { throw AppError.reviewAlreadyResolved }
            let notificationID = review.notification.id
            let action: String, targetUserID: String?, after: [(String, JSON)]
            switch resolution {
            case .credit(let email, let credits):
                let user = try Administration(clock: clock).account(email: email, on: db)
                try CreditLedger.topup(userID: user.id, amount: credits, reason: "review \(reviewID): \(reason)",
                                       uniqueKey: "topup-review:\(reviewID)", at: now, on: db)
                try close(reviewID, status: "credited", userID: user.id, credits: credits, orderID: nil, reason: reason, actor: actor, at: now, on: db)
                try db.run("UPDATE bank_notifications SET credited_at = :now WHERE id = :id AND credited_at IS NULL",
                           ["now": .integer(now), "id": .text(notificationID)])
                action = "payments.review.credit"; targetUserID = user.id
                after = [("status", .string("credited")), ("email", .string(user.email)), ("credits", .int(credits))]
            case .attach(let rawCode):
                guard let code = PaymentCode.normalize(rawCode), let order = try TopupOrder.find(code: code, on: db) else {
                    throw AppError.invalidReviewResolution(field: "order_code")
                }
                guard order.status != .paid else { throw AppError.topupAlreadyPaid }
                let flipped = try db.run("""
                    UPDATE topup_orders SET status = 'paid', paid_at = :now, notification_id = :notification
                    WHERE id = :id AND status <> 'paid'
                    """, ["now": .integer(now), "notification": .text(notificationID), "id": .text(order.id)])
                guard flipped == 1 else { throw AppError.topupAlreadyPaid }
                do {
                    try CreditLedger.topup(userID: order.userID, amount: order.credits, reason: order.code, uniqueKey: "topup:\(order.id)",
                                           at: now, on: db)
                } catch CreditLedger.LedgerError.alreadyRecorded {
                    throw AppError.topupAlreadyPaid
                }
                try close(reviewID, status: "attached", userID: order.userID, credits: order.credits, orderID: order.id, reason: reason,
                          actor: actor, at: now, on: db)
                try db.run("UPDATE bank_notifications SET order_id = :order, credited_at = :now WHERE id = :id",
                           ["order": .text(order.id), "now": .integer(now), "id": .text(notificationID)])
                action = "payments.review.attach"; targetUserID = order.userID
                after = [("status", .string("attached")), ("order_code", .string(order.code)), ("credits", .int(order.credits))]
            case .refunded:
                try close(reviewID, status: "refunded", userID: nil, credits: nil, orderID: nil, reason: reason, actor: actor, at: now, on: db)
                action = "payments.review.refunded"; targetUserID = review.order?.userID
                after = [("status", .string("refunded"))]
            }
            if let order = review.order { try settle(orderID: order.id, at: now, on: db) }
            try Administration(clock: clock).record(actor, action, targetUserID: targetUserID, target: "review \(reviewID)", reason: reason,
                before: [("status", .string("open")), ("reason", .string(review.reason)), ("amount_vnd", .int(review.amountVND))],
                after: after, at: now, on: db)
            return try self.review(id: reviewID, on: db)!
        }
        Log.info("payment review resolved", ["review_id": reviewID, "status": resolved.status, "actor": actor.label])
        return resolved
    }

    /// An order that waited in `review` ends once no item about it is open: `paid` when an operator
    /// credited its owner for its money (the credit is the item's, `topup-review:<item>`), else
    /// `canceled` (the money went back, or paid something else), so the person's page stops waiting.
    private func settle(orderID: String, at now: Int64, on db: Database) throws {
        try db.run("""
            UPDATE topup_orders SET
              status = CASE WHEN credited.notification_id IS NULL THEN 'canceled' ELSE 'paid' END,
              paid_at = CASE WHEN credited.notification_id IS NULL THEN paid_at ELSE :now END,
              notification_id = COALESCE(credited.notification_id, topup_orders.notification_id)
            FROM (SELECT (SELECT r.notification_id FROM payment_reviews r JOIN topup_orders o ON o.id = r.order_id
                          WHERE r.order_id = :id AND r.status = 'credited' AND r.credited_user_id = o.user_id
                          ORDER BY r.resolved_at DESC LIMIT 1) AS notification_id) AS credited
            WHERE topup_orders.id = :id AND topup_orders.status = 'review'
              AND NOT EXISTS (SELECT 1 FROM payment_reviews r WHERE r.order_id = :id AND r.status = 'open')
            """, ["id": .text(orderID), "now": .integer(now)])
    }

    private func close(_ reviewID: String, status: String, userID: String?, credits: Int?, orderID: String?, reason: String,
                       actor: Administration.Actor, at now: Int64, on db: Database) throws {
        let closed = try db.run("""
            UPDATE payment_reviews SET status = :status, credited_user_id = :user, credits = :credits,
                   order_id = COALESCE(:order, order_id), resolved_by = :actor, resolved_at = :now, resolution_note = :note
            WHERE id = :id AND status = 'open'
            """, ["status": .text(status), "user": .optionalText(userID), "credits": credits.map { .int($0) } ?? .null,
                  "order": .optionalText(orderID), "actor": .text(actor.label), "now": .integer(now), "note": .text(reason),
                  "id": .text(reviewID)])
        guard closed == 1 else { throw AppError.reviewAlreadyResolved }
    }
}
