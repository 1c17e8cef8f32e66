import Foundation
import PhimCore
@testable import PhimServer
import PhimSupport
import XCTest

/// Redemption codes: each use credits exactly once, whatever the races; refusals change nothing
/// but the guessing counters; operators' batches and disables are audited.
final class RedemptionTests: XCTestCase {
    private func batch(_ world: TestWorld, credits: Int = 500, count: Int = 1, maxUses: Int? = nil,
                       expiresAt: String? = nil, label: String? = nil) throws -> [String] {
        let root = try world.admin()
        var fields: [(String, JSON)] = [("credits", .int(credits)), ("count", .int(count)), ("reason", .string("promo"))]
        if let maxUses { fields.append(("max_uses", .int(maxUses))) }
        if let expiresAt { fields.append(("expires_at", .string(expiresAt))) }
        if let label { fields.append(("label", .string(label))) }
        let response = world.send("POST", "/api/v1/admin/codes", json: .object(fields), as: root)
        XCTAssertEqual(response.status, 201, String(decoding: response.body, as: UTF8.self))
        return array(response.bodyJSON?["data"]).compactMap { $0["code"]?.stringValue } ?? []
    }

    private func redeem(_ world: TestWorld, _ code: String, as caller: TestWorld.Caller, on connection: Database? = nil) -> Response {
        world.send("POST", "/api/v1/redeem", json: .object([("code", .string(code))]), as: caller, on: connection)
    }

    private func array(_ json: JSON?) -> [JSON] { if case .array(let items)? = json { items } else { [] } }

    private func errorCode(_ response: Response) -> String? { response.bodyJSON?["error"]?["code"]?.stringValue }

    func testACodeCreditsOnceAndTheSameAccountIsRefusedTheSecondTime() throws {
        let world = try TestWorld()
        let code = try batch(world, credits: 700)[0]
        XCTAssertNotNil(code.range(of: "^PHIM-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$", options: .regularExpression), code)
        let ana = try world.user("ana", credits: 100)
        let first = redeem(world, code, as: ana)
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(first.bodyJSON?["credits_added"]?.intValue, 700)
        XCTAssertEqual(first.bodyJSON?["credits"]?.intValue, 800)
        let again = redeem(world, code, as: ana)
        XCTAssertEqual(again.status, 409)
        XCTAssertEqual(errorCode(again), "code_already_redeemed")
        XCTAssertEqual(world.balance(ana).available, 800)
        let entries = try world.db.rows("SELECT reason FROM credit_entries WHERE user_id = :u AND kind = 'redeem'", ["u": .text(ana.id)])
        XCTAssertEqual(entries.map { $0.optionalString("reason") }, [code], "one entry, naming the code for the person's list")
        try world.assertLedgerClean()
    }

    func testTwoAccountsRacingForASingleUseCodeOnTwoConnectionsOneWins() throws {
        for _ in 0..<5 {
            let world = try TestWorld()
            let code = try batch(world, credits: 300)[0]
            let racers = [try world.user("a"), try world.user("b")]
            let statuses = Locked<[Int]>([])
            let group = DispatchGroup()
            let start = DispatchSemaphore(value: 0)
            for racer in racers {
                group.enter()
                let connection = try world.connection()
                DispatchQueue.global().async {
                    start.wait()
                    let response = self.redeem(world, code, as: racer, on: connection)
                    statuses.withLock { $0.append(response.status) }
                    group.leave()
                }
            }
            start.signal(); start.signal()
            group.wait()
            XCTAssertEqual(statuses.current.sorted(), [200, 409], "\(statuses.current)")
            XCTAssertEqual(racers.map { world.balance($0).available }.sorted(), [0, 300])
            XCTAssertEqual(try world.db.firstRow("SELECT used_count FROM redeem_codes")?.int("used_count"), 1)
            try world.assertLedgerClean()
        }
    }

    func testAMultiUseCodeServesAccountsUpToItsMaximum() throws {
        let world = try TestWorld()
        let code = try batch(world, credits: 50, maxUses: 3)[0]
        var statuses: [Int] = []
        var last: Response?
        for name in ["a", "b", "c", "d"] {
            last = redeem(world, code, as: try world.user(name))
            statuses.append(last!.status)
        }
        XCTAssertEqual(statuses, [200, 200, 200, 409])
        XCTAssertEqual(errorCode(last!), "code_used")
        XCTAssertEqual(try world.db.firstRow("SELECT SUM(available_delta) AS s FROM credit_entries WHERE kind = 'redeem'")?.int("s"), 150)
        try world.assertLedgerClean()
    }

    func testExpiredDisabledAndUnknownCodesAreRefusedAndChangeNothing() throws {
        let world = try TestWorld()
        let soon = ISOTime.string(world.clock.clock.nowMillis() + 60_000)
        let expiring = try batch(world, expiresAt: soon)[0]
        let disabled = try batch(world)[0]
        let root = try world.admin()
        let off = world.send("POST", "/api/v1/admin/codes/\(disabled)/disable", json: .object([("reason", .string("leaked"))]), as: root)
        XCTAssertEqual(off.status, 200)
        world.clock.advance(120)
        let bea = try world.user("bea", credits: 10)
        for (code, status, name) in [(expiring, 410, "code_expired"), (disabled, 410, "code_disabled"),
                                     ("PHIM-2222-3333-4444", 404, "code_not_found"), ("", 404, "code_not_found")] {
            let response = redeem(world, code, as: bea)
            XCTAssertEqual(response.status, status, code)
            XCTAssertEqual(errorCode(response), name)
            XCTAssertNotNil(response.bodyJSON?["error"]?["message"]?.stringValue)
        }
        XCTAssertEqual(world.balance(bea).available, 10)
        XCTAssertEqual(try world.db.firstRow("SELECT COUNT(*) AS n FROM redeem_uses")?.int("n"), 0)
        XCTAssertEqual(try world.db.firstRow("SELECT SUM(used_count) AS n FROM redeem_codes")?.int("n"), 0)
        try world.assertLedgerClean()
    }

    func testLowercaseAndSpacedInputIsAccepted() throws {
        let world = try TestWorld()
        let codes = try batch(world, credits: 10, count: 2)
        let cy = try world.user("cy")
        let spaced = " " + codes[0].lowercased().replacingOccurrences(of: "-", with: " ") + " "
        XCTAssertEqual(redeem(world, spaced, as: cy).status, 200)
        let bare = String(codes[1].dropFirst(5)).lowercased().replacingOccurrences(of: "-", with: "–")
        XCTAssertEqual(redeem(world, bare, as: cy).status, 200)
        XCTAssertEqual(world.balance(cy).available, 20)
    }

    func testGuessingIsLimitedPerAccountAndPerAddress() throws {
        let world = try TestWorld()
        let code = try batch(world, credits: 10)[0]
        let dan = try world.user("dan")
        for _ in 0..<RedemptionCodes.failuresPerAccount.limit {
            XCTAssertEqual(redeem(world, "PHIM-AAAA-BBBB-CCCC", as: dan).status, 404)
        }
        let limited = redeem(world, code, as: dan)
        XCTAssertEqual(limited.status, 429)
        XCTAssertEqual(errorCode(limited), "too_many_code_attempts")
        XCTAssertNotNil(limited.headers.first { $0.0 == "Retry-After" })
        XCTAssertEqual(world.balance(dan).available, 0)
        // Another account from the same address: refused once the address's tries are spent.
        let codes = RedemptionCodes(clock: world.clock.clock)
        let accounts = try (0..<4).map { try world.user("g\($0)") }
        var refusals: [String] = []
        for account in accounts {
            for _ in 0..<10 {
                do { _ = try codes.redeem(code: "PHIM-AAAA-BBBB-CCCC", userID: account.id, address: "203.0.113.9", on: world.db) } catch let error as AppError { refusals.append(error.code) }
            }
        }
        XCTAssertEqual(refusals.filter { $0 == "code_not_found" }.count, RedemptionCodes.failuresPerAddress.limit)
        XCTAssertThrowsError(try codes.redeem(code: code, userID: accounts[3].id, address: "203.0.113.9", on: world.db)) {
            XCTAssertEqual(($0 as? AppError)?.code, "too_many_code_attempts")
        }
        // An hour later the tries are back.
        world.clock.advance(3600)
        XCTAssertEqual(redeem(world, code, as: dan).status, 200)
        try world.assertLedgerClean()
    }

    func testOperatorBatchesAndDisablesAreAuditedAndExportedAsCSV() throws {
        let world = try TestWorld()
        let codes = try batch(world, credits: 25, count: 3, label: "=HYPERLINK(\"x\")")
        XCTAssertEqual(Set(codes).count, 3)
        let root = try world.admin()
        XCTAssertEqual(world.send("POST", "/api/v1/admin/codes/\(codes[0].lowercased())/disable", json: .object([("reason", .string("oops"))]), as: root).status, 200)
        let actions = try world.db.rows("SELECT action FROM admin_actions ORDER BY created_at, rowid").map { $0.string("action") }
        XCTAssertEqual(actions.filter { $0.hasPrefix("codes.") }, ["codes.create", "codes.disable"])
        let list = array(world.send("GET", "/api/v1/admin/codes", as: root).bodyJSON?["data"])
        XCTAssertEqual(list.count, 3)
        let batchID = list[0]["batch_id"]!.stringValue!
        let csv = world.send("GET", "/api/v1/admin/codes.csv?batch=\(batchID)", as: root)
        XCTAssertEqual(csv.status, 200)
        let lines = String(decoding: csv.body, as: UTF8.self).split(separator: "\r\n")
        XCTAssertEqual(lines.count, 4)
        XCTAssertTrue(lines[1].contains("'=HYPERLINK"), String(lines[1]))
        for code in codes { XCTAssertTrue(lines.contains { $0.hasPrefix(code + ",") }, code) }
        // Refused batches change nothing.
        for fields in [[("credits", JSON.int(0)), ("count", .int(1))], [("credits", .int(5)), ("count", .int(1001))],
                       [("credits", .int(5)), ("count", .int(1)), ("max_uses", .int(0))],
                       [("credits", .int(5)), ("count", .int(1)), ("expires_at", .string("2001-01-01T00:00:00Z"))]] {
            let response = world.send("POST", "/api/v1/admin/codes", json: .object(fields + [("reason", .string("r"))]), as: root)
            XCTAssertEqual(response.status, 422, "\(fields)")
        }
        let noReason = world.send("POST", "/api/v1/admin/codes", json: .object([("credits", .int(5)), ("count", .int(1))]), as: root)
        XCTAssertEqual(noReason.status, 422)
        XCTAssertEqual(try world.db.firstRow("SELECT COUNT(*) AS n FROM redeem_codes")?.int("n"), 3)
        // Not an operator: the admin API is not even there.
        XCTAssertEqual(world.send("GET", "/api/v1/admin/codes", as: try world.user("eve")).status, 404)
    }

    func testTheVerifierFindsACodeCreditedWithoutItsUse() throws {
        let world = try TestWorld()
        let code = try batch(world, credits: 40)[0]
        let fay = try world.user("fay")
        XCTAssertEqual(redeem(world, code, as: fay).status, 200)
        try world.assertLedgerClean()
        try world.db.run("DELETE FROM redeem_uses", [:])
        XCTAssertFalse(try LedgerVerifier.verify(on: world.db).isClean)
    }
}
