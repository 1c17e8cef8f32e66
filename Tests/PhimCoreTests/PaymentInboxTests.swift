import Foundation
import PhimCore
@testable import PhimServer
import PhimSupport
import XCTest

/// Bank notifications: each is journaled once, an exact payment credits its order exactly once
/// whatever the redeliveries or races, everything else waits in the review queue (changing no
/// balance) until an operator resolves it, audited; forged notifications change nothing.
final class PaymentInboxTests: XCTestCase {
    static let sepayKey = "sepay-test-key-0123456789"
    static let cassoKey = "mgExMrjj4i7a1p8Cs6LmFbpCd8lbw4sSX4LZXPag7TKazeIogtR90tvWYTkwQbvs"
    static let ourAccount = PaymentSettings.demoBank.account

    private func world(_ configure: (inout Settings) -> Void = { _ in }) throws -> TestWorld {
        try TestWorld { settings in
            settings.payments.bank = PaymentSettings.demoBank
            settings.payments.sepayAPIKey = Self.sepayKey
            settings.payments.cassoChecksumKey = Self.cassoKey
            configure(&settings)
        }
    }

    /// An order as the orders' code stores one (placed here with SQL: placing is not this file's subject).
    @discardableResult
    private func order(_ world: TestWorld, for caller: TestWorld.Caller, code: String = PaymentCode.generate(), amount: Int = 100_000,
                       credits: Int = 105_000, status: String = "pending", lifetime: Int64 = 1_800) throws -> (id: String, code: String) {
        let now = world.clock.now.unixMillis
        let id = UUID().uuidString.lowercased()
        try world.db.write {
            _ = try world.db.run("""
                INSERT INTO topup_packages (id, name_vi, name_en, amount_vnd, credits, enabled, sort_order, created_at, updated_at)
                VALUES ('standard', 'Gói Tiêu chuẩn', 'Standard', 100000, 105000, 1, 0, :now, :now) ON CONFLICT (id) DO NOTHING
                """, ["now": .integer(now)])
            _ = try world.db.run("""
                INSERT INTO topup_orders (id, user_id, package_id, package_name_vi, package_name_en, code, amount_vnd, credits, status,
                                          bank_bin, bank_account, bank_account_name, created_at, expires_at)
                VALUES (:id, :user, 'standard', 'Gói Tiêu chuẩn', 'Standard', :code, :amount, :credits, :status,
                        '970436', :account, 'PHIM DEMO', :now, :expires)
                """, ["id": .text(id), "user": .text(caller.id), "code": .text(code), "amount": .int(amount), "credits": .int(credits),
                      "status": .text(status), "account": .text(Self.ourAccount), "now": .integer(now), "expires": .integer(now + lifetime * 1000)])
        }
        return (id, code)
    }

    private var nextTransaction = 92_704

    /// SePay's body as its docs show it, with what a test changes.
    private func sepayBody(id: Int? = nil, amount: Int = 100_000, content: String, code: String? = nil, type: String = "in",
                           account: String = PaymentInboxTests.ourAccount, subAccount: String? = nil) -> JSON {
        let transaction = id ?? { nextTransaction += 1; return nextTransaction }()
        return .object([("id", .int(transaction)), ("gateway", .string("Vietcombank")), ("transactionDate", .string("2023-03-25 14:02:37")),
                        ("accountNumber", .string(account)), ("code", .optional(code)), ("content", .string(content)),
                        ("transferType", .string(type)), ("transferAmount", .int(amount)), ("accumulated", .int(19_077_000)),
                        ("subAccount", .optional(subAccount)), ("referenceCode", .string("MBVCB.3278907687")), ("description", .string(""))])
    }

    @discardableResult
    private func post(_ world: TestWorld, _ body: JSON, authorization: String? = "Apikey \(PaymentInboxTests.sepayKey)",
                      on connection: Database? = nil) -> Response {
        world.send("POST", "/api/v1/payments/sepay", json: body, headers: authorization.map { ["authorization": $0] } ?? [:], on: connection)
    }

    private func count(_ world: TestWorld, _ table: String) throws -> Int {
        try world.db.firstRow("SELECT COUNT(*) AS n FROM \(table)")?.int("n") ?? -1
    }

    private func orderStatus(_ world: TestWorld, _ id: String) throws -> String? {
        try world.db.firstRow("SELECT status FROM topup_orders WHERE id = :id", ["id": .text(id)])?.string("status")
    }

    private func reviews(_ world: TestWorld) throws -> [String] {
        try world.db.rows("SELECT reason FROM payment_reviews ORDER BY created_at, rowid").map { $0.string("reason") }
    }

    private func errorCode(_ response: Response) -> String? { response.bodyJSON?["error"]?["code"]?.stringValue }

    private func array(_ json: JSON?) -> [JSON] { if case .array(let items)? = json { items } else { [] } }

    // MARK: - Crediting

    func testAnExactPaymentCreditsItsOrderOnce() throws {
        let world = try world()
        let ana = try world.user("ana", credits: 1_000)
        let placed = try order(world, for: ana)
        let response = post(world, sepayBody(content: "MBVCB.3278907687.\(placed.code).CT tu 0123 NGUYEN VAN A"))
        XCTAssertEqual(response.status, 200, response.bodyText)
        XCTAssertEqual(response.bodyJSON, .object([("success", .bool(true))]))
        XCTAssertEqual(world.balance(ana).available, 106_000)
        XCTAssertEqual(try orderStatus(world, placed.id), "paid")
        let journal = try XCTUnwrap(try world.db.firstRow("SELECT outcome, order_id, credited_at, code FROM bank_notifications"))
        XCTAssertEqual(journal.string("outcome"), "credited")
        XCTAssertEqual(journal.optionalString("order_id"), placed.id)
        XCTAssertEqual(journal.optionalInt64("credited_at"), world.clock.now.unixMillis)
        XCTAssertEqual(journal.optionalString("code"), placed.code)
        let entry = try XCTUnwrap(try world.db.firstRow("SELECT kind, unique_key, available_delta FROM credit_entries WHERE kind = 'topup'"))
        XCTAssertEqual(entry.optionalString("unique_key"), "topup:\(placed.id)")
        XCTAssertEqual(entry.int("available_delta"), 105_000)
        XCTAssertEqual(try reviews(world), [])
        try world.assertLedgerClean()
    }

    func testTheSameNotificationThreeTimesCreditsOnce() throws {
        let world = try world()
        let ana = try world.user("ana")
        let placed = try order(world, for: ana)
        let body = sepayBody(id: 5_001, content: "\(placed.code) chuyen tien")
        for _ in 0..<3 {
            let response = post(world, body)
            XCTAssertEqual(response.status, 200, response.bodyText)
            XCTAssertEqual(response.bodyJSON?["success"], .bool(true))
        }
        XCTAssertEqual(world.balance(ana).available, 105_000)
        XCTAssertEqual(try count(world, "bank_notifications"), 1)
        XCTAssertEqual(try count(world, "payment_reviews"), 0)
        XCTAssertEqual(try PaymentInbox(settings: world.settings.payments, clock: world.clock.clock)
            .receive(try BankNotification.sepay(Array(body.serialized().utf8)), on: world.db), .repeat)
        try world.assertLedgerClean()
    }

    func testTheSameNotificationFromThreeThreadsAtOnceCreditsOnce() throws {
        for _ in 0..<5 {
            let world = try world()
            let ana = try world.user("ana")
            let placed = try order(world, for: ana)
            let body = sepayBody(id: 7_007, content: placed.code)
            let statuses = Locked<[Int]>([])
            let group = DispatchGroup()
            let start = DispatchSemaphore(value: 0)
            for _ in 0..<3 {
                group.enter()
                let connection = try world.connection()
                DispatchQueue.global().async {
                    start.wait()
                    let response = self.post(world, body, on: connection)
                    statuses.withLock { $0.append(response.status) }
                    group.leave()
                }
            }
            for _ in 0..<3 { start.signal() }
            group.wait()
            XCTAssertEqual(statuses.current, [200, 200, 200])
            XCTAssertEqual(world.balance(ana).available, 105_000)
            XCTAssertEqual(try count(world, "bank_notifications"), 1)
            XCTAssertEqual(try count(world, "payment_reviews"), 0)
            try world.assertLedgerClean()
        }
    }

    /// A delivery that fails half-way (here the ledger's write) leaves no trace, not even in the
    /// journal, and answers 5xx: SePay's retry is then decided afresh and credits, once.
    func testAFailedFirstDeliveryIsNotTakenForARepeat() throws {
        let world = try world()
        let ana = try world.user("ana")
        let placed = try order(world, for: ana)
        let body = sepayBody(id: 8_008, content: placed.code)
        // On the writer connection (a temporary trigger is the connection's own).
        try world.db.write { _ = try world.db.run("CREATE TEMP TRIGGER ledger_fails BEFORE INSERT ON credit_entries BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END", [:]) }
        let failed = post(world, body)
        XCTAssertGreaterThanOrEqual(failed.status, 500, failed.bodyText)
        XCTAssertEqual(try count(world, "bank_notifications"), 0)
        XCTAssertEqual(try orderStatus(world, placed.id), "pending")
        try world.db.write { _ = try world.db.run("DROP TRIGGER temp.ledger_fails", [:]) }
        XCTAssertEqual(post(world, body).status, 200)
        XCTAssertEqual(post(world, body).status, 200)
        XCTAssertEqual(world.balance(ana).available, 105_000)
        XCTAssertEqual(try orderStatus(world, placed.id), "paid")
        try world.assertLedgerClean()
    }

    func testASecondPaymentForAPaidOrderGoesToReview() throws {
        let world = try world()
        let ana = try world.user("ana")
        let placed = try order(world, for: ana)
        XCTAssertEqual(post(world, sepayBody(content: placed.code)).status, 200)
        XCTAssertEqual(post(world, sepayBody(content: "chuyen lan 2 \(placed.code)")).status, 200)
        XCTAssertEqual(world.balance(ana).available, 105_000)
        XCTAssertEqual(try reviews(world), ["already_paid"])
        XCTAssertEqual(try orderStatus(world, placed.id), "paid")
        try world.assertLedgerClean()
    }

    // MARK: - The review queue

    func testEveryOtherPaymentLandsInReviewAndChangesNoBalance() throws {
        let world = try world()
        let ana = try world.user("ana", credits: 10)
        let short = try order(world, for: ana), over = try order(world, for: ana), late = try order(world, for: ana, lifetime: 60)
        let canceled = try order(world, for: ana, status: "canceled"), expired = try order(world, for: ana, status: "expired")
        let wrongAccount = try order(world, for: ana)
        world.clock.advance(120)
        let cases: [(JSON, String)] = [
            (sepayBody(amount: 99_000, content: short.code), "short_payment"),
            (sepayBody(amount: 100_001, content: over.code), "over_payment"),
            (sepayBody(content: late.code), "late_payment"),
            (sepayBody(content: expired.code), "late_payment"),
            (sepayBody(content: "PHIM22222Z chuyen tien"), "unknown_code"),
            (sepayBody(content: "chuyen tien mua iphone"), "missing_code"),
            (sepayBody(content: canceled.code), "canceled_order"),
            (sepayBody(content: wrongAccount.code, account: "0123499999"), "other_account"),
            (sepayBody(amount: 100_000, content: short.code), "order_in_review"),
        ]
        for (body, _) in cases { XCTAssertEqual(post(world, body).status, 200) }
        XCTAssertEqual(try reviews(world), cases.map(\.1))
        XCTAssertEqual(world.balance(ana).available, 10)
        XCTAssertEqual(try count(world, "credit_entries WHERE kind = 'topup'"), 0)
        XCTAssertEqual(try orderStatus(world, short.id), "review")
        XCTAssertEqual(try orderStatus(world, over.id), "review")
        XCTAssertEqual(try orderStatus(world, late.id), "review")
        XCTAssertEqual(try orderStatus(world, expired.id), "review")
        XCTAssertEqual(try orderStatus(world, canceled.id), "canceled")
        XCTAssertEqual(try orderStatus(world, wrongAccount.id), "pending")
        XCTAssertEqual(try count(world, "bank_notifications WHERE outcome = 'review'"), cases.count)

        // Money going out is journaled and ignored: no review, no credit.
        let paidOut = try order(world, for: ana)
        XCTAssertEqual(post(world, sepayBody(content: paidOut.code, type: "out")).status, 200)
        XCTAssertEqual(try world.db.firstRow("SELECT outcome FROM bank_notifications ORDER BY received_at DESC, rowid DESC")?.string("outcome"), "ignored")
        XCTAssertEqual(try count(world, "payment_reviews"), cases.count)
        XCTAssertEqual(try orderStatus(world, paidOut.id), "pending")
        XCTAssertEqual(world.balance(ana).available, 10)
        try world.assertLedgerClean()
    }

    func testCodesAreFoundTolerantly() throws {
        XCTAssertEqual(PaymentCode.find(in: "phim-8f3k 2q"), "PHIM8F3K2Q")
        XCTAssertEqual(PaymentCode.find(in: "MBVCB.3278907687.PHIM8F3K2Q.CT tu 0123 NGUYEN VAN A"), "PHIM8F3K2Q")
        XCTAssertEqual(PaymentCode.find(in: "IBFT Phim 8F3K-2Q chuyen tien"), "PHIM8F3K2Q")
        XCTAssertEqual(PaymentCode.find(in: "PHIM_8F3K_2Q"), "PHIM8F3K2Q")
        XCTAssertEqual(PaymentCode.find(in: "PHIMPHIM8F3K2Q"), "PHIM8F3K2Q")
        XCTAssertNil(PaymentCode.find(in: "PHIM8F3K"), "too short")
        XCTAssertNil(PaymentCode.find(in: "PHIM 0O1IL8"), "look-alikes are never in a code")
        XCTAssertNil(PaymentCode.find(in: "chuyen tien phim hay"))
        XCTAssertEqual(PaymentCode.normalize(" phim-8f3k 2q "), "PHIM8F3K2Q")
        XCTAssertNil(PaymentCode.normalize("tien PHIM8F3K2Q"))
        for _ in 0..<200 {
            let code = PaymentCode.generate()
            XCTAssertNotNil(code.range(of: "^PHIM[2-9A-HJKMNP-Z]{6}$", options: .regularExpression), code)
            XCTAssertEqual(PaymentCode.find(in: code.lowercased()), code)
        }

        let world = try world()
        let ana = try world.user("ana")
        let contents = ["phim-8f3k 2q", "IBFT PHIM 22ZZ-33 tu NGUYEN VAN A", "mbvcb.123.phim.a7b7c7.ct", "PHIMQQ RR SS"]
        let codes = ["PHIM8F3K2Q", "PHIM22ZZ33", "PHIMA7B7C7", "PHIMQQRRSS"]
        for (content, code) in zip(contents, codes) {
            try order(world, for: ana, code: code)
            XCTAssertEqual(post(world, sepayBody(content: content)).status, 200)
        }
        // SePay's own `code` is used first; the description last.
        try order(world, for: ana, code: "PHIMXYZ234")
        XCTAssertEqual(post(world, sepayBody(content: "unrelated", code: "PHIMXYZ234")).status, 200)
        XCTAssertEqual(try count(world, "topup_orders WHERE status = 'paid'"), 5)
        XCTAssertEqual(world.balance(ana).available, 5 * 105_000)
        XCTAssertEqual(try reviews(world), [])
        try world.assertLedgerClean()
    }

    func testOperatorsResolveReviewsOnceAndEachResolutionIsAudited() throws {
        let world = try world()
        let root = try world.admin()
        let ana = try world.user("ana"), bao = try world.user("bao")
        let short = try order(world, for: ana), paid = try order(world, for: ana), lost = try order(world, for: bao)
        XCTAssertEqual(post(world, sepayBody(content: paid.code)).status, 200)
        XCTAssertEqual(post(world, sepayBody(amount: 50_000, content: short.code)).status, 200)       // short → credit 52 500
        XCTAssertEqual(post(world, sepayBody(content: "chuyen tien khong ghi ma")).status, 200)       // missing → attach to `lost`
        XCTAssertEqual(post(world, sepayBody(amount: 5_000, content: "nham tai khoan")).status, 200)  // missing → refunded
        XCTAssertEqual(post(world, sepayBody(content: "nua \(paid.code)")).status, 200)               // already paid → attach refused
        let list = world.send("GET", "/api/v1/admin/payments/reviews", as: root)
        XCTAssertEqual(list.status, 200, list.bodyText)
        let items = array(list.bodyJSON?["data"])
        XCTAssertEqual(items.compactMap { $0["reason"]?.stringValue }, ["short_payment", "missing_code", "missing_code", "already_paid"])
        XCTAssertEqual(items[0]["order"]?["user_email"]?.stringValue, ana.email)
        XCTAssertEqual(items[0]["order"]?["code"]?.stringValue, short.code)
        XCTAssertEqual(items[0]["notification"]?["provider"]?.stringValue, "sepay")
        XCTAssertEqual(items[1]["order"], .null)
        let ids = items.compactMap { $0["id"]?.stringValue }
        guard ids.count == 4 else { return XCTFail("expected 4 open reviews, got \(ids.count)") }

        func resolve(_ id: String, _ fields: [(String, JSON)]) -> Response {
            world.send("POST", "/api/v1/admin/payments/reviews/\(id)/resolve", json: .object(fields + [("reason", .string("checked the bank"))]), as: root)
        }
        let credited = resolve(ids[0], [("action", .string("credit")), ("email", .string(ana.email)), ("credits", .int(52_500))])
        XCTAssertEqual(credited.status, 200, credited.bodyText)
        XCTAssertEqual(credited.bodyJSON?["status"]?.stringValue, "credited")
        XCTAssertEqual(credited.bodyJSON?["credits"]?.intValue, 52_500)
        XCTAssertEqual(credited.bodyJSON?["resolved_by"]?.stringValue, root.email)
        XCTAssertEqual(world.balance(ana).available, 105_000 + 52_500)

        let attached = resolve(ids[1], [("action", .string("attach")), ("order_code", .string(lost.code.lowercased()))])
        XCTAssertEqual(attached.status, 200, attached.bodyText)
        XCTAssertEqual(attached.bodyJSON?["status"]?.stringValue, "attached")
        XCTAssertEqual(try orderStatus(world, lost.id), "paid")
        XCTAssertEqual(world.balance(bao).available, 105_000)

        let refunded = resolve(ids[2], [("action", .string("refunded"))])
        XCTAssertEqual(refunded.status, 200, refunded.bodyText)
        XCTAssertEqual(refunded.bodyJSON?["status"]?.stringValue, "refunded")

        // Attaching to a paid order, resolving twice, unknown items and bad resolutions are refused and change nothing.
        let toPaid = resolve(ids[3], [("action", .string("attach")), ("order_code", .string(paid.code))])
        XCTAssertEqual(toPaid.status, 409)
        XCTAssertEqual(errorCode(toPaid), "topup_already_paid")
        let twice = resolve(ids[0], [("action", .string("credit")), ("email", .string(ana.email)), ("credits", .int(52_500))])
        XCTAssertEqual(twice.status, 409)
        XCTAssertEqual(errorCode(twice), "review_already_resolved")
        XCTAssertEqual(resolve(ids[1], [("action", .string("refunded"))]).status, 409)
        let unknown = resolve(UUID().uuidString.lowercased(), [("action", .string("refunded"))])
        XCTAssertEqual(unknown.status, 404)
        XCTAssertEqual(errorCode(unknown), "review_not_found")
        for (fields, field) in [([("action", JSON.string("give"))], "action"), ([("action", .string("credit")), ("credits", .int(5))], "email"),
                                ([("action", .string("credit")), ("email", .string(ana.email)), ("credits", .int(0))], "credits"),
                                ([("action", .string("attach")), ("order_code", .string("PHIM222222"))], "order_code")] {
            let refused = resolve(ids[3], fields)
            XCTAssertEqual(refused.status, 400, "\(fields)")
            XCTAssertEqual(errorCode(refused), "invalid_review_resolution")
            XCTAssertTrue(refused.bodyJSON?["error"]?["message"]?.stringValue?.hasPrefix("Giá trị \(field) không hợp lệ") == true, refused.bodyText)
        }
        let noReason = world.send("POST", "/api/v1/admin/payments/reviews/\(ids[3])/resolve", json: .object([("action", .string("refunded"))]), as: root)
        XCTAssertEqual(errorCode(noReason), "reason_required")
        XCTAssertEqual(world.balance(ana).available, 105_000 + 52_500)
        XCTAssertEqual(try world.db.rows("SELECT action FROM admin_actions ORDER BY created_at, rowid").map { $0.string("action") },
                       ["payments.review.credit", "payments.review.attach", "payments.review.refunded"])
        XCTAssertEqual(array(world.send("GET", "/api/v1/admin/payments/reviews", as: root).bodyJSON?["data"]).count, 1)
        XCTAssertEqual(array(world.send("GET", "/api/v1/admin/payments/reviews?status=all", as: root).bodyJSON?["data"]).count, 4)
        XCTAssertEqual(errorCode(world.send("GET", "/api/v1/admin/payments/reviews?status=done", as: root)), "invalid_filter")
        // The credited notifications count as money received.
        XCTAssertEqual(try count(world, "bank_notifications WHERE credited_at IS NOT NULL"), 3)
        try world.assertLedgerClean()

        let journal = world.send("GET", "/api/v1/admin/payments/notifications?limit=2", as: root)
        XCTAssertEqual(journal.status, 200)
        let newest = array(journal.bodyJSON?["data"])
        XCTAssertEqual(newest.count, 2)
        XCTAssertEqual(newest.first?["order_code"]?.stringValue, paid.code)
        XCTAssertEqual(newest.first?["outcome"]?.stringValue, "review")
        // Not an operator: the routes do not exist.
        for caller in [nil, ana] {
            XCTAssertEqual(world.send("GET", "/api/v1/admin/payments/reviews", as: caller).status, 404)
            XCTAssertEqual(world.send("GET", "/api/v1/admin/payments/notifications", as: caller).status, 404)
            XCTAssertEqual(world.send("POST", "/api/v1/admin/payments/reviews/\(ids[3])/resolve", json: .object([("action", .string("refunded"))]), as: caller).status, 404)
        }
    }

    func testRefundingTheOnlyPaymentOfAnOrderInReviewCancelsIt() throws {
        let world = try world()
        let root = try world.admin()
        let ana = try world.user("ana")
        let short = try order(world, for: ana)
        XCTAssertEqual(post(world, sepayBody(amount: 1_000, content: short.code)).status, 200)
        XCTAssertEqual(try orderStatus(world, short.id), "review")
        let id = try XCTUnwrap(try world.db.firstRow("SELECT id FROM payment_reviews")?.string("id"))
        let done = world.send("POST", "/api/v1/admin/payments/reviews/\(id)/resolve",
                              json: .object([("action", .string("refunded")), ("reason", .string("sent back"))]), as: root)
        XCTAssertEqual(done.status, 200, done.bodyText)
        XCTAssertEqual(try orderStatus(world, short.id), "canceled")
        XCTAssertEqual(world.balance(ana).available, 0)
    }

    func testCreditingAShortPaymentToItsOwnerEndsTheOrderPaidWithTheStatedCredits() throws {
        let world = try world()
        let root = try world.admin()
        let ana = try world.user("ana")
        let short = try order(world, for: ana)
        XCTAssertEqual(post(world, sepayBody(amount: 99_000, content: short.code)).status, 200)
        let id = try XCTUnwrap(try world.db.firstRow("SELECT id FROM payment_reviews")?.string("id"))
        let done = world.send("POST", "/api/v1/admin/payments/reviews/\(id)/resolve",
                              json: .object([("action", .string("credit")), ("email", .string(ana.email)), ("credits", .int(103_950)),
                                             ("reason", .string("short by 1 000 VND"))]), as: root)
        XCTAssertEqual(done.status, 200, done.bodyText)
        // The person's order page stops waiting: paid, with what the operator credited and the transfer's receipt.
        let shown = world.send("GET", "/api/v1/topups/\(short.id)", as: ana)
        XCTAssertEqual(shown.bodyJSON?["status"]?.stringValue, "paid", shown.bodyText)
        XCTAssertEqual(shown.bodyJSON?["credits_added"]?.intValue, 103_950)
        XCTAssertEqual(shown.bodyJSON?["receipt"]?["amount_vnd"]?.intValue, 99_000)
        XCTAssertEqual(world.balance(ana).available, 103_950)
        XCTAssertEqual(try LedgerVerifier.verify(on: world.db).problems, [])
    }

    // MARK: - Who may post

    func testAWrongMissingOrOtherKeyIsRefusedAndNothingIsJournaled() throws {
        let world = try world()
        let ana = try world.user("ana")
        let placed = try order(world, for: ana)
        let body = sepayBody(content: placed.code)
        for authorization in ["Apikey wrong-key", nil, "Bearer \(Self.sepayKey)", "Apikey", "Apikey \(Self.sepayKey)x", Self.sepayKey] {
            let response = post(world, body, authorization: authorization)
            XCTAssertEqual(response.status, 401, authorization ?? "none")
            XCTAssertEqual(errorCode(response), "payment_unauthorized")
        }
        XCTAssertEqual(try count(world, "bank_notifications"), 0)
        XCTAssertEqual(world.balance(ana).available, 0)
        // The scheme in any case is SePay's.
        XCTAssertEqual(post(world, body, authorization: "APIKEY \(Self.sepayKey)").status, 200)
        XCTAssertEqual(world.balance(ana).available, 105_000)

        // Without a configured key, nothing is accepted.
        let closed = try self.world { $0.payments.sepayAPIKey = nil }
        XCTAssertEqual(post(closed, body).status, 401)
        XCTAssertEqual(try count(closed, "bank_notifications"), 0)
    }

    func testAMalformedNotificationIsRefusedNamingTheFieldAndNothingIsJournaled() throws {
        let world = try world()
        let cases: [(String, String)] = [
            ("not json", "body"), ("[1]", "body"),
            (#"{"transferType":"in","transferAmount":1000,"content":"x"}"#, "id"),
            (#"{"id":1,"transferType":"sideways","transferAmount":1000}"#, "transferType"),
            (#"{"id":1,"transferType":"in","transferAmount":"1000"}"#, "transferAmount"),
            (#"{"id":1,"transferType":"in","transferAmount":10.5}"#, "transferAmount"),
            (#"{"id":1,"transferType":"in","transferAmount":1000,"content":42}"#, "content"),
        ]
        for (text, field) in cases {
            let response = world.send("POST", "/api/v1/payments/sepay", body: Array(text.utf8),
                                      headers: ["authorization": "Apikey \(Self.sepayKey)", "content-type": "application/json"])
            XCTAssertEqual(response.status, 400, text)
            XCTAssertEqual(errorCode(response), "invalid_payment_notification")
            XCTAssertTrue(response.bodyJSON?["error"]?["message"]?.stringValue?.contains("(\(field))") == true, response.bodyText)
        }
        XCTAssertEqual(try count(world, "bank_notifications"), 0)
    }

    // MARK: - Parsers

    func testSePaysReferenceSampleParses() throws {
        let sample = #"{"id":92704,"gateway":"Vietcombank","transactionDate":"2023-03-25 14:02:37","accountNumber":"0123499999","code":null,"content":"chuyen tien mua iphone","transferType":"in","transferAmount":2277000,"accumulated":19077000,"subAccount":null,"referenceCode":"MBVCB.3278907687","description":""}"#
        let parsed = try BankNotification.sepay(Array(sample.utf8))
        XCTAssertEqual(parsed, BankNotification(provider: .sepay, providerTxnID: "92704", direction: .incoming, amountVND: 2_277_000,
                                                account: "0123499999", subAccount: nil, code: nil, content: "chuyen tien mua iphone",
                                                description: "", reference: "MBVCB.3278907687", transactionTime: "2023-03-25 14:02:37", raw: sample))
    }

    /// Casso's published vector (key, `t`, `v1` and body as integrators copy them from Casso's docs).
    static let cassoBody = #"{"error":0,"data":{"id":0,"reference":"MA_GIAO_DICH_THU_NGHIEM","description":"giao dich thu nghiem","amount":599000,"runningBalance":25000000,"transactionDateTime":"2024-10-03 15:06:37","accountNumber":"88888888","bankName":"VPBank","bankAbbreviation":"VPB","virtualAccountNumber":"","virtualAccountName":"","counterAccountName":"NGUYEN VAN A","counterAccountNumber":"8888888888","counterAccountBankId":"970415","counterAccountBankName":"VietinBank"}}"#
    static let cassoSignature = "t=1727948258788,v1=ed0a4bd2e826d5cb69988cdb141e6c1a080e21f3b57eb72cd78192220042b9e7dde0868fc667faea8e224900fa7904e7c88dfa098032fb2d6b6996856e8b7ff3"
    static let cassoTime: Int64 = 1_727_948_258_788

    func testCassosSignatureMatchesItsPublishedVectorAndNothingElse() throws {
        let body = Array(Self.cassoBody.utf8)
        XCTAssertTrue(BankNotification.cassoSignatureIsValid(header: Self.cassoSignature, body: body, key: Self.cassoKey, nowMillis: Self.cassoTime))
        // Key order and spacing of the body do not matter: Casso signs the sorted, compact form.
        let spaced = Array(Self.cassoBody.replacingOccurrences(of: #""error":0,"#, with: "").replacingOccurrences(of: "}}", with: "}, \"error\": 0}").utf8)
        XCTAssertTrue(BankNotification.cassoSignatureIsValid(header: Self.cassoSignature, body: spaced, key: Self.cassoKey, nowMillis: Self.cassoTime))
        let tampered = Array(Self.cassoBody.replacingOccurrences(of: "599000", with: "599001").utf8)
        XCTAssertFalse(BankNotification.cassoSignatureIsValid(header: Self.cassoSignature, body: tampered, key: Self.cassoKey, nowMillis: Self.cassoTime))
        XCTAssertFalse(BankNotification.cassoSignatureIsValid(header: Self.cassoSignature, body: body, key: Self.cassoKey + "x", nowMillis: Self.cassoTime))
        XCTAssertFalse(BankNotification.cassoSignatureIsValid(header: Self.cassoSignature.replacingOccurrences(of: "t=1727948258788", with: "t=1727948258789"),
                                                              body: body, key: Self.cassoKey, nowMillis: Self.cassoTime))
        // A signature more than 15 minutes from the clock is a replay.
        XCTAssertTrue(BankNotification.cassoSignatureIsValid(header: Self.cassoSignature, body: body, key: Self.cassoKey, nowMillis: Self.cassoTime + 15 * 60_000))
        XCTAssertFalse(BankNotification.cassoSignatureIsValid(header: Self.cassoSignature, body: body, key: Self.cassoKey, nowMillis: Self.cassoTime + 15 * 60_000 + 1))
        XCTAssertFalse(BankNotification.cassoSignatureIsValid(header: Self.cassoSignature, body: body, key: Self.cassoKey, nowMillis: Self.cassoTime - 15 * 60_000 - 1))
        for header in [nil, "", "v1=ed0a", "t=1727948258788", "t=abc,v1=ed0a4bd2"] {
            XCTAssertFalse(BankNotification.cassoSignatureIsValid(header: header, body: body, key: Self.cassoKey, nowMillis: Self.cassoTime))
        }

        let parsed = try BankNotification.casso(body)
        XCTAssertEqual(parsed.provider, .casso)
        XCTAssertEqual(parsed.providerTxnID, "0")
        XCTAssertEqual(parsed.direction, .incoming)
        XCTAssertEqual(parsed.amountVND, 599_000)
        XCTAssertEqual(parsed.account, "88888888")
        XCTAssertNil(parsed.subAccount)
        XCTAssertEqual(parsed.content, "giao dich thu nghiem")
        XCTAssertEqual(parsed.reference, "MA_GIAO_DICH_THU_NGHIEM")
        let out = try BankNotification.casso(Array(Self.cassoBody.replacingOccurrences(of: "599000", with: "-599000").utf8))
        XCTAssertEqual(out.direction, .outgoing)
        XCTAssertEqual(out.amountVND, 599_000)
    }

    /// Non-ASCII text: the forms JavaScript, Python and PHP write are each accepted (computed with
    /// Python's `hmac` over `json.dumps(sort_keys=True, separators=(",", ":"))`, `ensure_ascii` on).
    func testCassoSignaturesOverNonASCIITextAreAccepted() throws {
        let body = #"{"error":0,"data":{"id":7,"amount":50000,"description":"Nạp tiền PHIM8F3K2Q/ok","accountNumber":"1234567890"}}"#
        let python = "t=1727948258788,v1=" + Self.pythonSignature
        XCTAssertTrue(BankNotification.cassoSignatureIsValid(header: python, body: Array(body.utf8), key: Self.cassoKey, nowMillis: Self.cassoTime))
        // `ensure_ascii=False`: UTF-8 as it is, as JavaScript's JSON.stringify writes it.
        let javascript = "t=1727948258788,v1=b2f84c2a6cfd89a3a8a837a0abc8f1511fc5878c97377439c8563eb69515a0292990888e32412430253b5776c158268ac9561228e98d7a4317d014e96fdd7c85"
        XCTAssertTrue(BankNotification.cassoSignatureIsValid(header: javascript, body: Array(body.utf8), key: Self.cassoKey, nowMillis: Self.cassoTime))
        let other = Array(body.replacingOccurrences(of: "Nạp", with: "Nap").utf8)
        XCTAssertFalse(BankNotification.cassoSignatureIsValid(header: python, body: other, key: Self.cassoKey, nowMillis: Self.cassoTime))
    }

    static let pythonSignature = "77045587168b6d0cffd2fabf5ed320f14e51d0da62cc2dcebe9cd3d9dfba504dc9bcc17996b54e6fef0dbb7300fdbc1cc638beb1ff8f8172f97e2579017eb6a8"

    func testTheCassoRouteJournalsASignedNotification() throws {
        let world = try world()
        world.clock.advance(TimeInterval(Self.cassoTime) / 1000 - world.clock.now.timeIntervalSince1970)
        let body = Array(Self.cassoBody.utf8)
        let accepted = world.send("POST", "/api/v1/payments/casso", body: body,
                                  headers: ["x-casso-signature": Self.cassoSignature, "content-type": "application/json"])
        XCTAssertEqual(accepted.status, 200, accepted.bodyText)
        XCTAssertEqual(accepted.bodyJSON?["success"], .bool(true))
        // Casso's sample pays account 88888888, not ours: journaled and queued for an operator.
        XCTAssertEqual(try reviews(world), ["other_account"])
        XCTAssertEqual(try world.db.firstRow("SELECT provider, provider_txn_id FROM bank_notifications")?.string("provider"), "casso")
        let again = world.send("POST", "/api/v1/payments/casso", body: body, headers: ["x-casso-signature": Self.cassoSignature])
        XCTAssertEqual(again.status, 200)
        XCTAssertEqual(try count(world, "bank_notifications"), 1)
        let forged = world.send("POST", "/api/v1/payments/casso", body: Array(Self.cassoBody.replacingOccurrences(of: "\"id\":0", with: "\"id\":1").utf8),
                                headers: ["x-casso-signature": Self.cassoSignature])
        XCTAssertEqual(forged.status, 401)
        XCTAssertEqual(errorCode(forged), "payment_unauthorized")
        XCTAssertEqual(world.send("POST", "/api/v1/payments/casso", body: body).status, 401)
        XCTAssertEqual(try count(world, "bank_notifications"), 1)
    }

    func testThePaymentRefusalsHaveMessagesInBothLanguages() {
        let errors: [AppError] = [.paymentUnauthorized, .invalidPaymentNotification(field: "id"), .reviewNotFound, .reviewAlreadyResolved,
                                  .topupAlreadyPaid, .simulatorOff, .invalidReviewResolution(field: "credits")]
        for error in errors {
            for language in Language.allCases {
                XCTAssertTrue(Messages.has("error.\(error.code)", language), "error.\(error.code) missing in \(language)")
                XCTAssertFalse(Messages.message(for: error, in: language).contains("{"), "\(error.code) leaves a placeholder")
            }
        }
    }

    // MARK: - Simulator and verifier

    func testTheSimulatorIsOffOutsideTheDemo() throws {
        let world = try world()
        let ana = try world.user("ana")
        let placed = try order(world, for: ana)
        let response = world.send("POST", "/api/v1/topups/\(placed.id)/simulate-transfer", json: .object([]), as: ana)
        XCTAssertEqual(response.status, 404)
        XCTAssertEqual(errorCode(response), "simulator_off")
        XCTAssertEqual(try count(world, "bank_notifications"), 0)
    }

    func testTheVerifierFindsADoctoredTopupEntry() throws {
        let world = try world()
        let ana = try world.user("ana")
        let placed = try order(world, for: ana)
        XCTAssertEqual(post(world, sepayBody(content: placed.code)).status, 200)
        try world.assertLedgerClean()
        // An extra top-up written behind the inbox's back, balance and all: only the verifier sees it.
        try world.db.write {
            _ = try world.db.run("UPDATE users SET credits_available = credits_available + 105000 WHERE id = :id", ["id": .text(ana.id)])
            _ = try world.db.run("""
                INSERT INTO credit_entries (id, user_id, kind, available_delta, held_delta, reason, unique_key, created_at)
                VALUES ('forged-entry', :user, 'topup', 105000, 0, 'forged', 'topup:forged', 0)
                """, ["user": .text(ana.id)])
        }
        let report = try LedgerVerifier.verify(on: world.db)
        XCTAssertEqual(report.problems.count, 1, report.problems.joined(separator: "\n"))
        XCTAssertTrue(report.problems.first?.contains("topup:forged") == true, report.problems.joined(separator: "\n"))
        // A paid order whose entry is missing is found too.
        let second = try order(world, for: ana, status: "paid")
        let problems = try LedgerVerifier.verify(on: world.db).problems
        XCTAssertTrue(problems.contains { $0.contains("order \(second.code)") }, problems.joined(separator: "\n"))
    }
}
