import Foundation
import PhimSupport

/// Where bank notifications land: each is journaled once per (provider, transaction id), then
/// decided in the same write transaction: credited to its order, ignored (money going out), or
/// put in the review queue for an operator. Nothing is silently credited or dropped.
///
/// An order is credited exactly once whatever the redeliveries, races or kills: the journal's
/// unique key makes a redelivery a no-op, the order's status moves `pending → paid` only once
/// (a conditional UPDATE), and the ledger entry's unique key `topup:<order>` backs both.
public struct PaymentInbox: Sendable {
    public enum ReviewReason: String, Sendable, CaseIterable {
        case otherAccount = "other_account"
        case missingCode = "missing_code"
        case unknownCode = "unknown_code"
        case alreadyPaid = "already_paid"
        case canceledOrder = "canceled_order"
        case latePayment = "late_payment"
        case orderInReview = "order_in_review"
        case shortPayment = "short_payment"
        case overPayment = "over_payment"
    }

    public enum Outcome: Sendable, Equatable {
        /// The same notification was journaled before: nothing else happened.
        case `repeat`
        case credited(orderID: String, credits: Int)
        case review(reason: ReviewReason, reviewID: String)
        /// Money going out of the account: journaled, nothing to decide.
        case ignored
    }

    public var settings: PaymentSettings
    public var clock: AppClock

    public init(settings: PaymentSettings, clock: AppClock) {
        self.settings = settings
        self.clock = clock
    }

    @discardableResult
    public func receive(_ notification: BankNotification, on db: Database) throws -> Outcome {
        let now = clock.nowMillis()
        let notificationID = UUID().uuidString.lowercased()
        let outcome: Outcome = try db.write {
            let journaled = try db.run("""
                INSERT INTO bank_notifications (id, provider, provider_txn_id, direction, amount_vnd, account, code, content,
                                                reference, transaction_time, raw, received_at, outcome)
                VALUES (:id, :provider, :txn, :direction, :amount, :account, :code, :content, :reference, :time, :raw, :now, 'review')
                ON CONFLICT (provider, provider_txn_id) DO NOTHING
                """, ["id": .text(notificationID), "provider": .text(notification.provider.rawValue),
                      "txn": .text(notification.providerTxnID), "direction": .text(notification.direction.rawValue),
                      "amount": .int(notification.amountVND), "account": .optionalText(notification.account),
                      "code": .optionalText(notification.code), "content": .text(notification.content),
                      "reference": .optionalText(notification.reference), "time": .optionalText(notification.transactionTime),
                      "raw": .text(notification.raw), "now": .integer(now)])
            guard journaled == 1 else { return .repeat }
            return try decide(notification, id: notificationID, at: now, on: db)
        }
        switch outcome {
        case .repeat: Log.info("bank notification repeated", ["provider": notification.provider.rawValue, "txn": notification.providerTxnID])
        case .credited(let orderID, let credits):
            Log.info("top-up credited", ["order_id": orderID, "credits": String(credits), "notification_id": notificationID])
        case .review(let reason, let reviewID):
            Log.info("bank notification sent to review", ["reason": reason.rawValue, "review_id": reviewID, "notification_id": notificationID])
        case .ignored: break
        }
        return outcome
    }

    private func decide(_ notification: BankNotification, id notificationID: String, at now: Int64, on db: Database) throws -> Outcome {
        guard notification.direction == .incoming else {
            try db.run("UPDATE bank_notifications SET outcome = 'ignored' WHERE id = :id", ["id": .text(notificationID)])
            return .ignored
        }
        func review(_ reason: ReviewReason, order: TopupOrder? = nil) throws -> Outcome {
            let reviewID = try Self.openReview(reason, notificationID: notificationID, order: order, amountVND: notification.amountVND,
                                               at: now, on: db)
            return .review(reason: reason, reviewID: reviewID)
        }
        let ours = settings.bank?.account
        guard let ours, [notification.account, notification.subAccount].contains(ours) else { return try review(.otherAccount) }
        let candidates = [notification.code, notification.content, notification.description]
            .compactMap { $0 }.flatMap(PaymentCode.candidates(in:))
        guard !candidates.isEmpty else { return try review(.missingCode) }
        var matched: TopupOrder?
        for code in candidates {
            if let order = try TopupOrder.find(code: code, on: db) { matched = order; break }
        }
        guard let order = matched else {
            try db.run("UPDATE bank_notifications SET code = :code WHERE id = :id", ["code": .text(candidates[0]), "id": .text(notificationID)])
            return try review(.unknownCode)
        }
        try db.run("UPDATE bank_notifications SET code = :code, order_id = :order WHERE id = :id",
                   ["code": .text(order.code), "order": .text(order.id), "id": .text(notificationID)])
        switch order.status {
        case .paid: return try review(.alreadyPaid, order: order)
        case .canceled: return try review(.canceledOrder, order: order)
        case .review: return try review(.orderInReview, order: order)
        case .expired: return try review(.latePayment, order: order)
        case .pending where order.expiresAt <= now: return try review(.latePayment, order: order)
        case .pending: break
        }
        if notification.amountVND < order.amountVND { return try review(.shortPayment, order: order) }
        if notification.amountVND > order.amountVND { return try review(.overPayment, order: order) }
        let flipped = try db.run("""
            UPDATE topup_orders SET status = 'paid', paid_at = :now, notification_id = :notification
            WHERE id = :id AND status = 'pending'
            """, ["now": .integer(now), "notification": .text(notificationID), "id": .text(order.id)])
        guard flipped == 1 else { return try review(.alreadyPaid, order: order) }
        try CreditLedger.topup(userID: order.userID, amount: order.credits, reason: order.code, uniqueKey: "topup:\(order.id)",
                               at: now, on: db)
        try db.run("UPDATE bank_notifications SET outcome = 'credited', credited_at = :now WHERE id = :id",
                   ["now": .integer(now), "id": .text(notificationID)])
        return .credited(orderID: order.id, credits: order.credits)
    }

    /// Opens a review for a journaled notification; one naming an order that was waiting for its
    /// money (pending or expired) puts the order in `review`, so the person sees an operator decides.
    static func openReview(_ reason: ReviewReason, notificationID: String, order: TopupOrder?, amountVND: Int,
                           at now: Int64, on db: Database) throws -> String {
        let reviewID = UUID().uuidString.lowercased()
        try db.run("""
            INSERT INTO payment_reviews (id, notification_id, reason, order_id, amount_vnd, status, created_at)
            VALUES (:id, :notification, :reason, :order, :amount, 'open', :now)
            """, ["id": .text(reviewID), "notification": .text(notificationID), "reason": .text(reason.rawValue),
                  "order": .optionalText(order?.id), "amount": .int(amountVND), "now": .integer(now)])
        try db.run("UPDATE bank_notifications SET outcome = 'review' WHERE id = :id", ["id": .text(notificationID)])
        if let order, [.shortPayment, .overPayment, .latePayment, .orderInReview].contains(reason) {
            try db.run("UPDATE topup_orders SET status = 'review' WHERE id = :id AND status IN ('pending', 'expired')",
                       ["id": .text(order.id)])
        }
        return reviewID
    }
}
