import Foundation
import PhimCore
import PhimProvider
import PhimSupport

/// Bank notifications (SePay, Casso v2: no session, their own key or signature), the demo's
/// transfer simulator, and the operators' review queue and journal. The rules are `PaymentInbox`'s
/// and `PaymentReviews`'.
public enum PaymentHandlers {
    /// SePay retries anything but a 2xx: a journaled notification, new or repeated, answers this.
    private static let accepted = Response.json(.object([("success", .bool(true))]))

    /// `POST /api/v1/payments/sepay` with `Authorization: Apikey <PHIM_SEPAY_API_KEY>`.
    static func sepay(_ context: Context) throws -> Response {
        let key = context.app.settings.payments.sepayAPIKey
        guard let key, !key.isEmpty, let given = apiKey(context.request.header("authorization")),
              Crypto.constantTimeEqual(given, key) else {
            return refuse(.paymentUnauthorized, provider: .sepay, context)
        }
        return try receive(context, provider: .sepay) { try BankNotification.sepay(context.request.body) }
    }

    /// `POST /api/v1/payments/casso` with `X-Casso-Signature: t=<unix ms>,v1=<HMAC-SHA512 hex>`.
    static func casso(_ context: Context) throws -> Response {
        let key = context.app.settings.payments.cassoChecksumKey ?? ""
        guard BankNotification.cassoSignatureIsValid(header: context.request.header("x-casso-signature"), body: context.request.body,
                                                     key: key, nowMillis: context.app.clock.nowMillis()) else {
            return refuse(.paymentUnauthorized, provider: .casso, context)
        }
        return try receive(context, provider: .casso) { try BankNotification.casso(context.request.body) }
    }

    /// The key of `Apikey <key>` (the scheme in any case), or nil for any other form.
    static func apiKey(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.trimmingSpaces.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "apikey" else { return nil }
        let key = parts[1].trimmingSpaces
        return key.isEmpty ? nil : key
    }

    private static func receive(_ context: Context, provider: BankNotification.Provider,
                                parse: () throws -> BankNotification) throws -> Response {
        let notification: BankNotification
        do {
            notification = try parse()
        } catch let malformed as BankNotification.Malformed {
            return refuse(.invalidPaymentNotification(field: malformed.field), provider: provider, context)
        }
        let outcome = try inbox(context).receive(notification, on: context.db)
        let label: String = switch outcome {
        case .repeat: "repeat"
        case .credited: "credited"
        case .review: "review"
        case .ignored: "ignored"
        }
        Metrics.shared.count("phim_bank_notifications_total", [("provider", provider.rawValue), ("outcome", label)])
        return accepted
    }

    private static func refuse(_ error: AppError, provider: BankNotification.Provider, _ context: Context) -> Response {
        Metrics.shared.count("phim_bank_notifications_total", [("provider", provider.rawValue), ("outcome", error.code)])
        Log.warning("bank notification refused", ["provider": provider.rawValue, "error": error.code, "request_id": context.request.requestID])
        return App.errorResponse(error, language: context.language)
    }

    private static func inbox(_ context: Context) -> PaymentInbox {
        PaymentInbox(settings: context.app.settings.payments, clock: context.app.clock)
    }

    // MARK: - The demo's simulator

    /// `POST /api/v1/topups/{id}/simulate-transfer {"amount_vnd"?, "content"?}`: posts a SePay-shaped
    /// notification for the caller's order to this site's public URL (through nginx, as SePay would),
    /// and answers the status SePay's route gave and the order as it is now.
    static func simulateTransfer(_ context: Context) throws -> Response {
        let payments = context.app.settings.payments
        guard payments.simulatesTransfers, let key = payments.sepayAPIKey, !key.isEmpty else { throw AppError.simulatorOff }
        let orders = TopupOrders(settings: payments, clock: context.app.clock)
        let order = try orders.order(id: context.parameter("id"), userID: try context.user.id, on: context.db)
        let body = try context.jsonBody()
        var amount = order.amountVND
        if let raw = body["amount_vnd"], raw != .null {
            guard let value = raw.intValue, (1...BankNotification.maximumAmountVND).contains(value) else {
                throw AppError.invalidJSON(detail: "amount_vnd must be a whole number of VND from 1")
            }
            amount = value
        }
        var content = "\(order.code) chuyen tien"
        if let raw = body["content"], raw != .null {
            guard let text = raw.stringValue, text.count <= 200 else { throw AppError.invalidJSON(detail: "content must be text of at most 200 characters") }
            content = text
        }
        let transactionID = Int(Crypto.randomBytes(6).reduce(0) { $0 << 8 | Int64($1) })
        let notification = JSON.object([
            ("id", .int(transactionID)), ("gateway", .string("Simulator")),
            ("transactionDate", .string(bankTime(context.app.clock.nowMillis()))), ("accountNumber", .string(order.bank.account)),
            ("code", .null), ("content", .string(content)), ("transferType", .string("in")), ("transferAmount", .int(amount)),
            ("accumulated", .int(0)), ("subAccount", .null), ("referenceCode", .string("SIM.\(transactionID)")), ("description", .string("")),
        ])
        let reply: HTTPReply
        do {
            reply = try HTTPClient.send(method: "POST", url: context.app.settings.publicBaseURL + "/api/v1/payments/sepay",
                                        headers: [("Content-Type", "application/json"), ("Authorization", "Apikey \(key)")],
                                        body: notification.data(), timeoutMilliseconds: 10_000)
        } catch {
            Log.warning("simulated transfer not delivered", ["order_id": order.id, "error": "\(error)"])
            throw AppError.serviceBusy
        }
        let now = try TopupOrder.find(id: order.id, on: context.db) ?? order
        return .json(.object([("status", .int(reply.status)),
                              ("order", try TopupHandlers.orderJSON(now, language: context.language, on: context.db))]))
    }

    /// What SePay's `transactionDate` looks like: the bank's local time (Vietnam, UTC+7), to the second.
    static func bankTime(_ millis: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 7 * 3600)
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date(unixMillis: millis))
    }

    // MARK: - Operators

    /// `GET /api/v1/admin/payments/reviews?status=open|all`.
    static func reviews(_ context: Context) throws -> Response {
        let status = context.request.query["status"] ?? "open"
        guard ["open", "all"].contains(status) else { throw AppError.invalidFilter(name: "status") }
        let list = try reviewsService(context).list(includeResolved: status == "all", limit: try context.limit(default: 500, maximum: 5_000),
                                                    on: context.db)
        return .json(.object([("data", .array(list.map(reviewJSON)))]))
    }

    /// `POST /api/v1/admin/payments/reviews/{id}/resolve {action, email?, credits?, order_code?, reason}`.
    static func resolve(_ context: Context) throws -> Response {
        let body = try context.jsonBody()
        let resolution: PaymentReviews.Resolution
        switch body["action"]?.stringValue {
        case "credit":
            guard let email = body["email"]?.stringValue, !email.isEmpty else { throw AppError.invalidReviewResolution(field: "email") }
            guard let credits = body["credits"]?.intValue else { throw AppError.invalidReviewResolution(field: "credits") }
            resolution = .credit(email: email, credits: credits)
        case "attach":
            guard let code = body["order_code"]?.stringValue, !code.isEmpty else { throw AppError.invalidReviewResolution(field: "order_code") }
            resolution = .attach(orderCode: code)
        case "refunded":
            resolution = .refunded
        default:
            throw AppError.invalidReviewResolution(field: "action")
        }
        let review = try reviewsService(context).resolve(context.parameter("id"), resolution, reason: body["reason"]?.stringValue,
                                                         by: .admin(try context.user), on: context.db)
        return .json(reviewJSON(review))
    }

    /// `GET /api/v1/admin/payments/notifications?limit=`, newest first.
    static func notifications(_ context: Context) throws -> Response {
        let list = try reviewsService(context).notifications(limit: try context.limit(default: 100, maximum: 1_000), on: context.db)
        return .json(.object([("data", .array(list.map(notificationJSON)))]))
    }

    /// A journaled notification as the admin API and `phim payments notifications --json` show it.
    public static func notificationJSON(_ notification: PaymentReviews.Notification) -> JSON {
        .object([("id", .string(notification.id)), ("provider", .string(notification.provider)),
                 ("provider_txn_id", .string(notification.providerTxnID)), ("direction", .string(notification.direction)),
                 ("amount_vnd", .int(notification.amountVND)), ("account", .optional(notification.account)),
                 ("code", .optional(notification.code)), ("content", .optional(notification.content)),
                 ("reference", .optional(notification.reference)), ("transaction_time", .optional(notification.transactionTime)),
                 ("received_at", .string(Timestamps.iso(notification.receivedAt))), ("outcome", .string(notification.outcome)),
                 ("order_code", .optional(notification.orderCode))])
    }

    private static func reviewsService(_ context: Context) -> PaymentReviews { PaymentReviews(clock: context.app.clock) }

    /// A review item as the admin API and `phim payments review --json` show it.
    public static func reviewJSON(_ review: PaymentReviews.Review) -> JSON {
        let notification = review.notification
        return .object([
            ("id", .string(review.id)), ("reason", .string(review.reason)), ("status", .string(review.status)),
            ("amount_vnd", .int(review.amountVND)), ("created_at", .string(Timestamps.iso(review.createdAt))),
            ("notification", .object([
                ("id", .string(notification.id)), ("provider", .string(notification.provider)),
                ("provider_txn_id", .string(notification.providerTxnID)), ("direction", .string(notification.direction)),
                ("account", .optional(notification.account)), ("code", .optional(notification.code)),
                ("content", .optional(notification.content)), ("reference", .optional(notification.reference)),
                ("transaction_time", .optional(notification.transactionTime)), ("received_at", .string(Timestamps.iso(notification.receivedAt))),
            ])),
            ("order", review.order.map { order in
                .object([("id", .string(order.id)), ("code", .string(order.code)), ("user_id", .string(order.userID)),
                         ("user_email", .string(order.userEmail)), ("amount_vnd", .int(order.amountVND)), ("credits", .int(order.credits)),
                         ("status", .string(order.status))])
            } ?? .null),
            ("resolved_by", .optional(review.resolvedBy)), ("resolved_at", Timestamps.isoOrNull(review.resolvedAt)),
            ("resolution_note", .optional(review.resolutionNote)), ("credited_user_id", .optional(review.creditedUserID)),
            ("credits", review.credits.map { .int($0) } ?? .null),
        ])
    }
}
