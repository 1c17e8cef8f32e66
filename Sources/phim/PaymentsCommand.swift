import ArgumentParser
import Foundation
import PhimCore
import PhimServer
import PhimSupport

/// `phim payments`: the bank-transfer review queue (list, resolve: the same rules and audit
/// entries as the admin API's), the notifications journal, and `qr` (a VietQR built offline).
struct PaymentsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "payments", abstract: "Bank-transfer payments: the review queue, the notifications journal, VietQR.",
        subcommands: [Review.self, Resolve.self, Notifications.self, QR.self], defaultSubcommand: Review.self)

    struct Review: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The payments the inbox did not credit by itself (short, over, late, unknown or missing code, another account...), oldest first.")
        @Flag(help: "Resolved items too (after the open ones).") var all = false
        @Flag(help: "As GET /api/v1/admin/payments/reviews answers.") var json = false
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, _) = try dataOptions.operatorContext()
            let items = try PaymentReviews(clock: .system).list(includeResolved: all, on: db)
            if json {
                print(ModelsCommand.pretty(.object([("data", .array(items.map(PaymentHandlers.reviewJSON)))])))
                return
            }
            if items.isEmpty { print(all ? "no payments were ever reviewed" : "nothing to review") }
            for item in items {
                let notification = item.notification
                var line = "\(item.id)  \(item.status)  \(item.reason)  \(item.amountVND) VND  \(notification.provider) \(notification.providerTxnID)"
                line += "  received \(ISOTime.string(notification.receivedAt))  content \"\(notification.content ?? "")\""
                if let order = item.order {
                    line += "  order \(order.code) (\(order.status), \(order.amountVND) VND for \(order.credits) credits, \(order.userEmail))"
                }
                if let resolvedAt = item.resolvedAt {
                    line += "  resolved \(ISOTime.string(resolvedAt)) by \(item.resolvedBy ?? "?")"
                    if let credits = item.credits { line += ", \(credits) credits" }
                    line += ": \(item.resolutionNote ?? "")"
                }
                print(line)
            }
        }
    }

    struct Resolve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resolve one item: credit an account, attach the payment to an order, or mark it refunded (audited as payments.review.*).")
        @Argument(help: "The item's id (from `phim payments review`).") var id: String
        @Option(help: "Credit this many credits (with --email).") var credit: Int?
        @Option(help: "The account to credit.") var email: String?
        @Option(help: "Attach the payment to this order (its payment code): the order becomes paid with its credits.") var attach: String?
        @Flag(help: "The money was sent back outside Phim: nothing is credited.") var refunded = false
        @Option var reason: String
        @OptionGroup var dataOptions: DataOptions

        func validate() throws {
            let chosen = [credit != nil, attach != nil, refunded].filter { $0 }.count
            guard chosen == 1 else { throw ValidationError("give exactly one of --credit N --email E, --attach CODE, --refunded") }
            if credit != nil, email == nil { throw ValidationError("--credit needs --email") }
            if credit == nil, email != nil { throw ValidationError("--email goes with --credit") }
        }

        func run() throws {
            let resolution: PaymentReviews.Resolution
            if let credit, let email {
                resolution = .credit(email: email, credits: credit)
            } else if let attach {
                resolution = .attach(orderCode: attach)
            } else {
                resolution = .refunded
            }
            let (_, db, _) = try dataOptions.operatorContext()
            let review = try runOperator {
                try PaymentReviews(clock: .system).resolve(id, resolution, reason: reason, by: .commandLine(), on: db)
            }
            var line = "\(review.id) \(review.status)"
            if let credits = review.credits { line += ": \(credits) credits" }
            if let order = review.order, review.status == "attached" { line += " (order \(order.code), \(order.userEmail))" }
            print(line)
        }
    }

    struct Notifications: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The bank notifications journal, newest first, with what the inbox decided.")
        @Option(help: "How many (1–1000).") var limit = 50
        @Flag(help: "As GET /api/v1/admin/payments/notifications answers.") var json = false
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            guard (1...1_000).contains(limit) else { throw ValidationError("--limit must be 1 to 1000") }
            let (_, db, _) = try dataOptions.operatorContext()
            let list = try PaymentReviews(clock: .system).notifications(limit: limit, on: db)
            if json {
                print(ModelsCommand.pretty(.object([("data", .array(list.map(PaymentHandlers.notificationJSON)))])))
                return
            }
            for notification in list {
                print("\(ISOTime.string(notification.receivedAt))  \(notification.provider) \(notification.providerTxnID)  \(notification.direction)"
                      + "  \(notification.amountVND) VND  \(notification.outcome)  code \(notification.code ?? "-")"
                      + "  order \(notification.orderCode ?? "-")  content \"\(notification.content ?? "")\"")
            }
        }
    }

    struct QR: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the VietQR payload for a transfer and write its QR as SVG.")
        @Option(help: "The bank's 6-digit NAPAS BIN (Vietcombank 970436).") var bin: String
        @Option(help: "The account number, 1–19 digits.") var account: String
        @Option(help: "The amount in VND (omit for a static QR).") var amount: Int64?
        @Option(help: "The transfer content: the payment code, up to 25 of A–Z, a–z, 0–9, space.") var content: String?
        @Option(help: "Where to write the SVG.") var svg: String?

        func run() throws {
            let payload: String
            do {
                payload = try VietQR(bin: bin, account: account, amountVND: amount, content: content).payload()
            } catch let failure as VietQR.Failure {
                throw ValidationError(failure.description)
            }
            if let svg {
                try QRCodeSVG(text: payload).svg.write(toFile: svg, atomically: true, encoding: .utf8)
            }
            print(payload)
        }
    }
}
