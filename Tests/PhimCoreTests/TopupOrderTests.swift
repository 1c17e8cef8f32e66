import Foundation
@testable import PhimCore
@testable import PhimServer
import PhimSupport
import XCTest

/// Top-up packages and orders: defaults seeded once; operators' changes validated and audited;
/// an order snapshots its package and bank account, carries a VietQR that decodes back to what
/// the person must pay, stays its account's own, and expires or is canceled only while pending.
final class TopupOrderTests: XCTestCase {
    static let bank = PaymentSettings.BankAccount(bin: "970436", account: "0011001932418", accountName: "PHIM STUDIO")

    private func world(bank: PaymentSettings.BankAccount? = TopupOrderTests.bank, pendingLimit: Int = 5) throws -> TestWorld {
        try TestWorld { settings in
            settings.payments.bank = bank
            settings.payments.pendingOrdersPerAccount = pendingLimit
        }
    }

    private func order(_ world: TestWorld, _ packageID: String = "standard", as caller: TestWorld.Caller,
                       language: String? = nil) -> Response {
        world.send("POST", "/api/v1/topups", json: .object([("package_id", .string(packageID))]),
                   headers: language.map { ["accept-language": $0] } ?? [:], as: caller)
    }

    private func array(_ json: JSON?) -> [JSON] { if case .array(let items)? = json { items } else { [] } }

    private func errorCode(_ response: Response) -> String? { response.bodyJSON?["error"]?["code"]?.stringValue }

    private func packageRows(_ world: TestWorld) throws -> [String] {
        try world.db.rows("SELECT id, name_vi, name_en, amount_vnd, credits, enabled, sort_order, updated_at FROM topup_packages ORDER BY id").map {
            [$0.string("id"), $0.string("name_vi"), $0.string("name_en"), String($0.int("amount_vnd")), String($0.int("credits")),
             String($0.int("enabled")), String($0.int("sort_order")), String($0.int64("updated_at"))].joined(separator: "|")
        }
    }

    private func auditActions(_ world: TestWorld) throws -> [String] {
        try world.db.rows("SELECT action FROM admin_actions ORDER BY created_at, rowid").map { $0.string("action") }
    }

    private func orderCount(_ world: TestWorld) throws -> Int {
        try world.db.firstRow("SELECT COUNT(*) AS count FROM topup_orders")?.int("count") ?? -1
    }

    // MARK: - Packages

    func testDefaultPackagesAreSeededOnceAndListedInOrderInTheCallersLanguage() throws {
        let world = try world()
        let ana = try world.user("ana")
        let listed = world.send("GET", "/api/v1/topups/packages", as: ana)
        XCTAssertEqual(listed.status, 200, listed.bodyText)
        XCTAssertEqual(listed.bodyJSON?["enabled"], .bool(true))
        XCTAssertEqual(listed.bodyJSON?["disabled_reason"], .null)
        XCTAssertEqual(listed.bodyJSON?["simulate_transfer"], .bool(false))
        let data = array(listed.bodyJSON?["data"])
        XCTAssertEqual(data.compactMap { $0["id"]?.stringValue }, ["starter", "standard", "pro", "studio"])
        XCTAssertEqual(data.compactMap { $0["amount_vnd"]?.intValue }, [50_000, 100_000, 200_000, 500_000])
        XCTAssertEqual(data.compactMap { $0["credits"]?.intValue }, [50_000, 105_000, 220_000, 575_000])
        XCTAssertEqual(data.first?["name"]?.stringValue, "Gói Khởi đầu", "Vietnamese first")
        let english = world.send("GET", "/api/v1/topups/packages", headers: ["accept-language": "en"], as: ana)
        XCTAssertEqual(array(english.bodyJSON?["data"]).first?["name"]?.stringValue, "Starter")

        // A package the operator stopped selling is not brought back by the next start.
        let root = try world.admin()
        XCTAssertEqual(world.send("POST", "/api/v1/admin/packages/starter/disable", json: .object([("reason", .string("no longer sold"))]),
                                  as: root).status, 200)
        let before = try packageRows(world)
        try Migrations.run(on: world.db)
        try Migrations.run(on: world.connection())
        XCTAssertEqual(try packageRows(world), before, "seeded once: a later start changes nothing")
        XCTAssertEqual(array(world.send("GET", "/api/v1/topups/packages", as: ana).bodyJSON?["data"]).compactMap { $0["id"]?.stringValue },
                       ["standard", "pro", "studio"])
    }

    func testOperatorsSetAndDisablePackagesWithAuditAndRefusedChangesChangeNothing() throws {
        let world = try world()
        let root = try world.admin()
        let promo = JSON.object([("name_vi", .string("Gói Tết")), ("name_en", .string("New Year")), ("amount_vnd", .int(20_000)),
                                 ("credits", .int(25_000)), ("sort_order", .int(5)), ("reason", .string("Tet promotion"))])
        let created = world.send("PUT", "/api/v1/admin/packages/tet-2027", json: promo, as: root)
        XCTAssertEqual(created.status, 200, created.bodyText)
        XCTAssertEqual(created.bodyJSON?["enabled"], .bool(true))
        XCTAssertEqual(created.bodyJSON?["sort_order"]?.intValue, 5)
        let replaced = world.send("PUT", "/api/v1/admin/packages/tet-2027", json: .object([
            ("name_vi", .string("Gói Tết")), ("name_en", .string("New Year")), ("amount_vnd", .int(30_000)), ("credits", .int(40_000)),
            ("reason", .string("better deal"))]), as: root)
        XCTAssertEqual(replaced.status, 200, replaced.bodyText)
        XCTAssertEqual(replaced.bodyJSON?["amount_vnd"]?.intValue, 30_000)
        XCTAssertEqual(replaced.bodyJSON?["sort_order"]?.intValue, 5, "the position stays when not given")
        let audit = try world.db.rows("SELECT action, target, reason, before, after FROM admin_actions WHERE action = 'packages.set' ORDER BY rowid")
        XCTAssertEqual(audit.count, 2)
        XCTAssertEqual(audit.last?.string("target"), "package tet-2027")
        XCTAssertEqual(audit.last?.string("reason"), "better deal")
        XCTAssertTrue(audit.last?.string("before").contains("20000") ?? false, audit.last?.string("before") ?? "")
        XCTAssertTrue(audit.last?.string("after").contains("30000") ?? false, audit.last?.string("after") ?? "")

        let rows = try packageRows(world)
        let actions = try auditActions(world)
        func refused(_ id: String, _ changes: [(String, JSON)], status: Int = 400, code: String = "invalid_package", field: String? = nil,
                     line: UInt = #line) {
            var fields: [(String, JSON)] = [("name_vi", .string("Gói Tết")), ("name_en", .string("New Year")), ("amount_vnd", .int(50_000)),
                                            ("credits", .int(60_000)), ("reason", .string("try"))]
            for (name, value) in changes {
                fields.removeAll { $0.0 == name }
                if value != .null { fields.append((name, value)) }
            }
            let response = world.send("PUT", "/api/v1/admin/packages/\(id)", json: .object(fields), headers: ["accept-language": "en"], as: root)
            XCTAssertEqual(response.status, status, response.bodyText, line: line)
            XCTAssertEqual(errorCode(response), code, line: line)
            if let field {
                XCTAssertTrue(response.bodyJSON?["error"]?["message"]?.stringValue?.contains(field) ?? false, response.bodyText, line: line)
            }
        }
        refused("Tet_2027", [], field: "id")
        refused(String(repeating: "a", count: 33), [], field: "id")
        refused("tet-2027", [("amount_vnd", .int(9_999))], field: "amount_vnd")
        refused("tet-2027", [("amount_vnd", .number(50_000.5))], field: "amount_vnd")
        refused("tet-2027", [("amount_vnd", .int(100_000_001))], field: "amount_vnd")
        refused("tet-2027", [("credits", .int(0))], field: "credits")
        refused("tet-2027", [("credits", .string("many"))], field: "credits")
        refused("tet-2027", [("name_vi", .string("  "))], field: "name_vi")
        refused("tet-2027", [("name_en", .null)], field: "name_en")
        refused("tet-2027", [("name_en", .string(String(repeating: "x", count: 61)))], field: "name_en")
        refused("tet-2027", [("enabled", .string("yes"))], field: "enabled")
        refused("tet-2027", [("sort_order", .int(-1))], field: "sort_order")
        refused("tet-2027", [("reason", .null)], status: 422, code: "reason_required")
        XCTAssertEqual(try packageRows(world), rows, "a refused change changes nothing")
        XCTAssertEqual(try auditActions(world), actions, "and is not audited")

        let user = try world.user("not-an-operator")
        XCTAssertEqual(world.send("PUT", "/api/v1/admin/packages/tet-2027", json: promo, as: user).status, 404, "operators only")
        XCTAssertEqual(world.send("GET", "/api/v1/admin/packages", as: user).status, 404)

        let disabled = world.send("POST", "/api/v1/admin/packages/tet-2027/disable", json: .object([("reason", .string("Tet is over"))]), as: root)
        XCTAssertEqual(disabled.status, 200, disabled.bodyText)
        XCTAssertEqual(disabled.bodyJSON?["enabled"], .bool(false))
        XCTAssertEqual(world.send("POST", "/api/v1/admin/packages/tet-2027/disable", json: .object([("reason", .string("again"))]), as: root).status, 200)
        XCTAssertEqual(try auditActions(world).filter { $0 == "packages.disable" }.count, 1, "twice changes nothing more")
        let unknown = world.send("POST", "/api/v1/admin/packages/nope/disable", json: .object([("reason", .string("x"))]), as: root)
        XCTAssertEqual(unknown.status, 404)
        XCTAssertEqual(errorCode(unknown), "package_not_found")
        XCTAssertEqual(world.send("POST", "/api/v1/admin/packages/pro/disable", json: .object([]), as: root).status, 422, "a reason is required")
        let all = array(world.send("GET", "/api/v1/admin/packages", as: root).bodyJSON?["data"])
        XCTAssertEqual(all.count, 5)
        XCTAssertEqual(all.first { $0["id"]?.stringValue == "tet-2027" }?["enabled"], .bool(false))
        XCTAssertEqual(all.first { $0["id"]?.stringValue == "pro" }?["enabled"], .bool(true))
        let gone = order(world, "tet-2027", as: user)
        XCTAssertEqual(gone.status, 404, "a disabled package cannot be ordered")
        XCTAssertEqual(errorCode(gone), "package_not_found")
    }

    // MARK: - Orders

    func testAnOrderSnapshotsItsPackageAndBankAndItsVietQRDecodesToWhatIsOwed() throws {
        let world = try world()
        let ana = try world.user("ana")
        let placed = order(world, as: ana)
        XCTAssertEqual(placed.status, 201, placed.bodyText)
        let json = try XCTUnwrap(placed.bodyJSON)
        let id = try XCTUnwrap(json["id"]?.stringValue)
        let code = try XCTUnwrap(json["code"]?.stringValue)
        XCTAssertNotNil(code.range(of: "^PHIM[2-9A-HJKMNP-Z]{6}$", options: .regularExpression), code)
        XCTAssertEqual(json["package_id"]?.stringValue, "standard")
        XCTAssertEqual(json["package_name"]?.stringValue, "Gói Tiêu chuẩn")
        XCTAssertEqual(json["amount_vnd"]?.intValue, 100_000)
        XCTAssertEqual(json["credits"]?.intValue, 105_000)
        XCTAssertEqual(json["status"]?.stringValue, "pending")
        XCTAssertEqual(json["paid_at"], .null)
        XCTAssertEqual(json["receipt"], .null)
        XCTAssertEqual(json["created_at"]?.stringValue, ISOTime.string(world.clock.now.unixMillis))
        XCTAssertEqual(json["expires_at"]?.stringValue, ISOTime.string(world.clock.now.unixMillis + 1_800_000), "30 minutes")
        XCTAssertEqual(json["qr_svg_url"]?.stringValue, "/api/v1/topups/\(id)/qr.svg")
        // Parsed objects come back with their keys sorted.
        XCTAssertEqual(json["bank"], .object([("account", .string("0011001932418")), ("account_name", .string("PHIM STUDIO")),
                                              ("bank_name", .string("Vietcombank")), ("bin", .string("970436"))]))

        let payload = try XCTUnwrap(json["vietqr_payload"]?.stringValue)
        let decoded = try VietQR.decode(payload)
        XCTAssertEqual(decoded, VietQR(bin: "970436", account: "0011001932418", amountVND: 100_000, content: code))
        XCTAssertEqual(String(payload.suffix(4)), VietQR.crcHex(String(payload.dropLast(4))), "the CRC checks")
        XCTAssertTrue(payload.contains("0010A000000727"), "NAPAS GUID")
        XCTAssertTrue(payload.contains("0208QRIBFTTA"), "transfer to an account")

        let svg = world.send("GET", "/api/v1/topups/\(id)/qr.svg", as: ana)
        XCTAssertEqual(svg.status, 200)
        XCTAssertEqual(svg.header("Content-Type"), "image/svg+xml")
        XCTAssertEqual(svg.header("Cache-Control"), "private, max-age=3600")
        XCTAssertTrue(svg.bodyText.hasPrefix("<svg"), svg.bodyText)
        XCTAssertTrue(svg.bodyText.contains("<path fill=\"#000\" d=\"M"), "dark modules drawn")
        XCTAssertEqual(svg.bodyText, try QRCodeSVG(text: payload).svg, "the QR of the same payload")

        // The operator changes the package afterwards: the order keeps what was ordered.
        let root = try world.admin()
        XCTAssertEqual(world.send("PUT", "/api/v1/admin/packages/standard", json: .object([
            ("name_vi", .string("Gói Mới")), ("name_en", .string("New")), ("amount_vnd", .int(150_000)), ("credits", .int(1)),
            ("reason", .string("repricing"))]), as: root).status, 200)
        let read = world.send("GET", "/api/v1/topups/\(id)", headers: ["accept-language": "en"], as: ana)
        XCTAssertEqual(read.status, 200)
        XCTAssertEqual(read.bodyJSON?["amount_vnd"]?.intValue, 100_000)
        XCTAssertEqual(read.bodyJSON?["credits"]?.intValue, 105_000)
        XCTAssertEqual(read.bodyJSON?["package_name"]?.stringValue, "Standard", "the English name as ordered")
        XCTAssertEqual(read.bodyJSON?["vietqr_payload"]?.stringValue, payload)
        let listed = array(world.send("GET", "/api/v1/topups", as: ana).bodyJSON?["data"])
        XCTAssertEqual(listed.compactMap { $0["id"]?.stringValue }, [id])
        XCTAssertEqual(try TopupOrder.find(code: code, on: world.db)?.bank, Self.bank, "the bank account is stored with the order")
    }

    func testPaymentCodesAreUniqueAcrossOrdersAndTheListIsNewestFirst() throws {
        let world = try world()
        var codes: [String] = []
        var last: (TestWorld.Caller, [String])?
        for index in 0..<8 {
            let caller = try world.user("buyer\(index)")
            var ids: [String] = []
            for _ in 0..<5 {
                let placed = order(world, "starter", as: caller)
                XCTAssertEqual(placed.status, 201, placed.bodyText)
                codes.append(placed.bodyJSON?["code"]?.stringValue ?? "")
                ids.append(placed.bodyJSON?["id"]?.stringValue ?? "")
                world.clock.advance(1)
            }
            last = (caller, ids)
        }
        XCTAssertEqual(Set(codes).count, 40)
        XCTAssertTrue(codes.allSatisfy { $0.range(of: "^PHIM[2-9A-HJKMNP-Z]{6}$", options: .regularExpression) != nil }, "\(codes)")
        let (caller, ids) = try XCTUnwrap(last)
        let listed = array(world.send("GET", "/api/v1/topups", as: caller).bodyJSON?["data"]).compactMap { $0["id"]?.stringValue }
        XCTAssertEqual(listed, ids.reversed(), "the caller's own, newest first")
        XCTAssertEqual(array(world.send("GET", "/api/v1/topups?limit=2", as: caller).bodyJSON?["data"]).count, 2)
        XCTAssertEqual(errorCode(world.send("GET", "/api/v1/topups?limit=0", as: caller)), "invalid_limit")
    }

    func testTopUpsAreOffAndSaySoWhileNoBankAccountIsSet() throws {
        let world = try world(bank: nil)
        let ana = try world.user("ana")
        let packages = world.send("GET", "/api/v1/topups/packages", as: ana)
        XCTAssertEqual(packages.status, 200)
        XCTAssertEqual(packages.bodyJSON?["enabled"], .bool(false))
        XCTAssertEqual(packages.bodyJSON?["disabled_reason"]?.stringValue, "bank_not_configured")
        let refused = order(world, as: ana)
        XCTAssertEqual(refused.status, 503)
        XCTAssertEqual(errorCode(refused), "topups_disabled")
        XCTAssertEqual(try orderCount(world), 0)
    }

    func testRefusedOrdersWriteNothing() throws {
        let world = try world()
        let ana = try world.user("ana")
        let unknown = order(world, "platinum", as: ana)
        XCTAssertEqual(unknown.status, 404)
        XCTAssertEqual(errorCode(unknown), "package_not_found")
        let missing = world.send("POST", "/api/v1/topups", json: .object([("package_id", .int(3))]), as: ana)
        XCTAssertEqual(missing.status, 400)
        XCTAssertEqual(errorCode(missing), "invalid_json")
        XCTAssertEqual(world.send("POST", "/api/v1/topups", json: .object([("package_id", .string("starter"))])).status, 401)
        XCTAssertEqual(try orderCount(world), 0)
    }

    func testAnAccountHasAtMostItsLimitOfPendingOrders() throws {
        let world = try world(pendingLimit: 2)
        let ana = try world.user("ana")
        let first = order(world, as: ana).bodyJSON?["id"]?.stringValue ?? ""
        XCTAssertEqual(order(world, as: ana).status, 201)
        let third = order(world, as: ana)
        XCTAssertEqual(third.status, 429, third.bodyText)
        XCTAssertEqual(errorCode(third), "too_many_pending_orders")
        XCTAssertEqual(third.bodyJSON?["error"]?["limit"]?.intValue, 2)
        XCTAssertEqual(try orderCount(world), 2)
        XCTAssertEqual(order(world, as: try world.user("bob")).status, 201, "the limit is per account")
        XCTAssertEqual(world.send("POST", "/api/v1/topups/\(first)/cancel", as: ana).status, 200)
        XCTAssertEqual(order(world, as: ana).status, 201, "a canceled order no longer counts")
        XCTAssertEqual(order(world, as: ana).status, 429)
        world.clock.advance(1_800)
        XCTAssertEqual(order(world, as: ana).status, 201, "nor do expired ones")
    }

    func testAnotherAccountsOrderDoesNotExistForTheCaller() throws {
        let world = try world()
        let ana = try world.user("ana"), eve = try world.user("eve")
        let id = order(world, as: ana).bodyJSON?["id"]?.stringValue ?? ""
        for (method, path) in [("GET", "/api/v1/topups/\(id)"), ("GET", "/api/v1/topups/\(id)/qr.svg"), ("POST", "/api/v1/topups/\(id)/cancel"),
                               ("GET", "/api/v1/topups/no-such-order"), ("GET", "/api/v1/topups/no-such-order/qr.svg")] {
            let response = world.send(method, path, as: eve)
            XCTAssertEqual(response.status, 404, "\(method) \(path)")
            XCTAssertEqual(errorCode(response), "topup_not_found", "\(method) \(path)")
        }
        XCTAssertEqual(array(world.send("GET", "/api/v1/topups", as: eve).bodyJSON?["data"]).count, 0)
        XCTAssertEqual(try TopupOrder.find(id: id, on: world.db)?.status, .pending, "eve's cancel changed nothing")
    }

    func testOnlyAPendingOrderCanBeCanceled() throws {
        let world = try world()
        let ana = try world.user("ana")
        let id = order(world, as: ana).bodyJSON?["id"]?.stringValue ?? ""
        let canceled = world.send("POST", "/api/v1/topups/\(id)/cancel", as: ana)
        XCTAssertEqual(canceled.status, 200, canceled.bodyText)
        XCTAssertEqual(canceled.bodyJSON?["status"]?.stringValue, "canceled")
        let again = world.send("POST", "/api/v1/topups/\(id)/cancel", as: ana)
        XCTAssertEqual(again.status, 409)
        XCTAssertEqual(errorCode(again), "topup_not_pending")
        XCTAssertEqual(world.send("GET", "/api/v1/topups/\(id)", as: ana).bodyJSON?["status"]?.stringValue, "canceled")
    }

    func testAnUnpaidOrderExpiresAfterItsLifetime() throws {
        let world = try world()
        let ana = try world.user("ana")
        let id = order(world, as: ana).bodyJSON?["id"]?.stringValue ?? ""
        world.clock.advance(1_799)
        XCTAssertEqual(world.send("GET", "/api/v1/topups/\(id)", as: ana).bodyJSON?["status"]?.stringValue, "pending")
        world.clock.advance(1)
        XCTAssertEqual(world.send("GET", "/api/v1/topups/\(id)", as: ana).bodyJSON?["status"]?.stringValue, "expired")
        XCTAssertEqual(try TopupOrder.find(id: id, on: world.db)?.status, .expired, "stored as expired, not only shown")
        let late = world.send("POST", "/api/v1/topups/\(id)/cancel", as: ana)
        XCTAssertEqual(late.status, 409)
        XCTAssertEqual(errorCode(late), "topup_not_pending")

        // The background loop's pass, with nobody reading.
        let other = order(world, as: ana).bodyJSON?["id"]?.stringValue ?? ""
        let orders = TopupOrders(settings: world.app.settings.payments, clock: world.clock.clock)
        XCTAssertEqual(try orders.expireDue(on: world.db), 0)
        world.clock.advance(1_800)
        XCTAssertEqual(try orders.expireDue(on: world.db), 1)
        XCTAssertEqual(try TopupOrder.find(id: other, on: world.db)?.status, .expired)
    }

    func testOperatorsSeeEveryAccountsOrdersWithTheirEmail() throws {
        let world = try world()
        let root = try world.admin()
        let ana = try world.user("ana"), bob = try world.user("bob")
        let anaOrder = order(world, as: ana).bodyJSON?["id"]?.stringValue ?? ""
        world.clock.advance(1)
        _ = order(world, "pro", as: bob)
        XCTAssertEqual(world.send("POST", "/api/v1/topups/\(anaOrder)/cancel", as: ana).status, 200)
        let all = world.send("GET", "/api/v1/admin/topups", as: root)
        XCTAssertEqual(all.status, 200, all.bodyText)
        let data = array(all.bodyJSON?["data"])
        XCTAssertEqual(data.compactMap { $0["user_email"]?.stringValue }, [bob.email, ana.email])
        XCTAssertEqual(data.last?["user_id"]?.stringValue, ana.id)
        let canceled = array(world.send("GET", "/api/v1/admin/topups?status=canceled", as: root).bodyJSON?["data"])
        XCTAssertEqual(canceled.compactMap { $0["id"]?.stringValue }, [anaOrder])
        let bad = world.send("GET", "/api/v1/admin/topups?status=lost", as: root)
        XCTAssertEqual(bad.status, 400)
        XCTAssertEqual(errorCode(bad), "invalid_filter")
        XCTAssertEqual(world.send("GET", "/api/v1/admin/topups", as: ana).status, 404, "operators only")
    }

    // MARK: - Money that came in

    /// What the inbox does for a matching transfer, written here directly: the journaled
    /// notification, the order paid, the ledger's credit.
    private func pay(_ world: TestWorld, orderID: String, reference: String) throws {
        let order = try XCTUnwrap(try TopupOrder.find(id: orderID, on: world.db))
        let now = world.clock.now.unixMillis
        let notification = UUID().uuidString.lowercased()
        try world.db.write {
            try world.db.run("""
                INSERT INTO bank_notifications (id, provider, provider_txn_id, direction, amount_vnd, account, code, content, reference,
                  transaction_time, raw, received_at, outcome, order_id, credited_at)
                VALUES (:id, 'sepay', :txn, 'in', :amount, :account, :code, :content, :reference, '2027-01-15 10:00:00', '{}', :now,
                  'credited', :order, :now)
                """, ["id": .text(notification), "txn": .text(reference), "amount": .int(order.amountVND), "account": .text(order.bank.account),
                      "code": .text(order.code), "content": .text(order.code + " chuyen tien"), "reference": .text(reference),
                      "order": .text(orderID), "now": .integer(now)])
            try world.db.run("UPDATE topup_orders SET status = 'paid', paid_at = :now, notification_id = :n WHERE id = :id",
                             ["now": .integer(now), "n": .text(notification), "id": .text(orderID)])
            try CreditLedger.topup(userID: order.userID, amount: order.credits, reason: order.code, uniqueKey: "topup:\(orderID)", at: now, on: world.db)
        }
    }

    func testRevenuePerDayTheReceiptAndTheLedgerCSVIncludeTopUps() throws {
        let world = try world()
        let root = try world.admin()
        let ana = try world.user("ana")
        let id = order(world, as: ana).bodyJSON?["id"]?.stringValue ?? ""
        try pay(world, orderID: id, reference: "FT27015123456")
        let day = String(ISOTime.string(world.clock.now.unixMillis).prefix(10))

        let paid = world.send("GET", "/api/v1/topups/\(id)", as: ana).bodyJSON
        XCTAssertEqual(paid?["status"]?.stringValue, "paid")
        XCTAssertEqual(paid?["paid_at"]?.stringValue, ISOTime.string(world.clock.now.unixMillis))
        XCTAssertEqual(paid?["receipt"], .object([("amount_vnd", .int(100_000)), ("paid_at", .string(ISOTime.string(world.clock.now.unixMillis))),
                                                  ("provider", .string("sepay")), ("reference", .string("FT27015123456")),
                                                  ("transaction_time", .string("2027-01-15 10:00:00"))]))
        XCTAssertEqual(world.balance(ana).available, 105_000)

        // An operator's credit from the review queue: money without an order, credits as stated.
        let now = world.clock.now.unixMillis
        try world.db.write {
            try world.db.run("""
                INSERT INTO bank_notifications (id, provider, provider_txn_id, direction, amount_vnd, raw, received_at, outcome, credited_at)
                VALUES ('n-review', 'casso', 'c-1', 'in', 12345, '{}', :now, 'review', :now)
                """, ["now": .integer(now)])
            try world.db.run("""
                INSERT INTO payment_reviews (id, notification_id, reason, amount_vnd, status, credited_user_id, credits, created_at)
                VALUES ('r-1', 'n-review', 'missing_code', 12345, 'credited', :user, 777, :now)
                """, ["user": .text(ana.id), "now": .integer(now)])
            // Journaled but credited by nobody: not revenue.
            try world.db.run("""
                INSERT INTO bank_notifications (id, provider, provider_txn_id, direction, amount_vnd, raw, received_at, outcome)
                VALUES ('n-open', 'sepay', 's-2', 'in', 99000, '{}', :now, 'review')
                """, ["now": .integer(now)])
        }
        let report = world.send("GET", "/api/v1/admin/analytics?days=7", as: root)
        XCTAssertEqual(report.status, 200)
        XCTAssertEqual(report.bodyJSON?["revenue"], .array([.object([("amount_vnd", .int(112_345)), ("credits_sold", .int(105_777)),
                                                                     ("day", .string(day)), ("topups", .int(2))])]))
        world.clock.advance(8 * 86_400)
        XCTAssertEqual(world.send("GET", "/api/v1/admin/analytics?days=7", as: root).bodyJSON?["revenue"], .array([]), "only the period's")

        let csv = world.send("GET", "/api/v1/admin/ledger.csv", as: root).bodyText
        let topups = csv.components(separatedBy: "\r\n").filter { $0.contains(",topup,") }
        XCTAssertEqual(topups.count, 1, csv)
        XCTAssertTrue(topups.first?.contains(",\(ana.email),topup,105000,0,,") ?? false, topups.first ?? "")
        XCTAssertTrue(topups.first?.hasSuffix(",\(paid?["code"]?.stringValue ?? "?")") ?? false, "the reason names the payment code")
    }

    func testTheTopUpRefusalsHaveMessagesInBothLanguages() {
        for error in [AppError.topupsDisabled, .packageNotFound, .invalidPackage(field: "amount_vnd"), .tooManyPendingOrders(limit: 5),
                      .topupNotFound, .topupNotPending] {
            for language in Language.allCases {
                XCTAssertTrue(Messages.has("error.\(error.code)", language), "error.\(error.code) missing in \(language)")
                XCTAssertFalse(Messages.message(for: error, in: language).contains("{"), "\(error.code) leaves a placeholder")
            }
        }
    }
}
