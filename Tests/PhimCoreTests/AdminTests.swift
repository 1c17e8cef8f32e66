import Foundation
import PhimCore
import PhimServer
import PhimSupport
import XCTest

/// Operators: every action audited in its own transaction, and to anyone else the admin API
/// does not exist.
final class AdminTests: XCTestCase {
    static let adminRoutes: [(String, String)] = [
        ("GET", "/api/v1/admin/users"), ("GET", "/api/v1/admin/users/00000000-0000-0000-0000-000000000000"),
        ("POST", "/api/v1/admin/users/00000000-0000-0000-0000-000000000000/credits"),
        ("POST", "/api/v1/admin/users/00000000-0000-0000-0000-000000000000/disable"),
        ("POST", "/api/v1/admin/users/00000000-0000-0000-0000-000000000000/enable"),
        ("GET", "/api/v1/admin/prices"), ("PUT", "/api/v1/admin/prices"), ("GET", "/api/v1/admin/audit"),
        ("GET", "/api/v1/admin/styles"), ("PUT", "/api/v1/admin/styles"), ("GET", "/api/v1/admin/videos"),
        ("GET", "/api/v1/admin/videos/stuck"), ("GET", "/api/v1/admin/failures"), ("GET", "/api/v1/admin/provider"), ("GET", "/api/v1/admin/analytics"), ("POST", "/api/v1/admin/provider/reconciliation"),
        ("POST", "/api/v1/admin/videos/00000000-0000-0000-0000-000000000000/reconcile"),
        ("GET", "/api/v1/admin/ledger.csv"),
        ("GET", "/api/v1/admin/payments/reviews"), ("GET", "/api/v1/admin/payments/notifications"),
        ("POST", "/api/v1/admin/payments/reviews/00000000-0000-0000-0000-000000000000/resolve"),
    ]

    func admin(_ world: TestWorld) throws -> TestWorld.Caller { try world.admin() }

    func testTheAdminAPIDoesNotExistForAnyoneElse() throws {
        let world = try TestWorld()
        let user = try world.user("plain")
        for (method, path) in Self.adminRoutes {
            for caller in [nil, user] {
                let response = world.send(method, path, json: .object([]), as: caller)
                XCTAssertEqual(response.status, 404, "\(method) \(path)")
                XCTAssertEqual(response.bodyJSON?["error"]?["code"]?.stringValue, "not_found")
            }
        }
    }

    func testGrantsAndDeductsAreAuditedAndNeverTouchHeldCredits() throws {
        let world = try TestWorld()
        let root = try admin(world)
        let user = try world.user("customer", credits: TestWorld.price + 3_000)
        XCTAssertEqual(world.createVideo(user).status, 202) // the price on hold, 3,000 left
        let path = "/api/v1/admin/users/\(user.id)/credits"
        let noReason = world.send("POST", path, json: .object([("action", .string("grant")), ("amount", .int(500))]), as: root)
        XCTAssertEqual(noReason.status, 422)
        XCTAssertEqual(noReason.bodyJSON?["error"]?["code"]?.stringValue, "reason_required")
        let granted = world.send("POST", path, json: .object([("action", .string("grant")), ("amount", .int(500)),
                                                               ("reason", .string("apology for an outage"))]), as: root)
        XCTAssertEqual(granted.bodyJSON?["credits"]?.intValue, 3_500, granted.bodyText)
        let tooMuch = world.send("POST", path, json: .object([("action", .string("deduct")), ("amount", .int(4_000)),
                                                               ("reason", .string("correction"))]), as: root)
        XCTAssertEqual(tooMuch.status, 402, "held credits cannot be deducted")
        XCTAssertEqual(world.send("POST", path, json: .object([("action", .string("deduct")), ("amount", .int(0)),
                                                               ("reason", .string("x"))]), as: root).status, 422)
        let deducted = world.send("POST", path, json: .object([("action", .string("deduct")), ("amount", .int(1_500)),
                                                                ("reason", .string("correction"))]), as: root)
        XCTAssertEqual(deducted.bodyJSON?["credits"]?.intValue, 2_000)
        XCTAssertEqual(world.balance(user).held, TestWorld.price)

        let detail = world.send("GET", "/api/v1/admin/users/\(user.id)", as: root).bodyJSON!
        guard case .array(let audit) = detail["audit"]! else { return XCTFail() }
        XCTAssertEqual(audit.map { $0["action"]?.stringValue }, ["credits.deduct", "credits.grant"])
        XCTAssertEqual(audit.first?["actor"]?.stringValue, root.email)
        XCTAssertEqual(audit.first?["before"]?["credits_available"]?.intValue, 3_500)
        XCTAssertEqual(audit.first?["after"]?["credits_available"]?.intValue, 2_000)
        try world.assertLedgerClean()
    }

    func testADisabledAccountCannotSignInOrUseKeysButItsVideosStillSettle() throws {
        let world = try TestWorld()
        let root = try admin(world)
        let user = try world.user("suspect", credits: 10_000)
        let id = world.createVideo(user).bodyJSON!["id"]!.stringValue!
        XCTAssertEqual(world.send("POST", "/api/v1/admin/users/\(root.id)/disable", json: .object([("reason", .string("x"))]), as: root)
            .bodyJSON?["error"]?["code"]?.stringValue, "cannot_disable_self")
        let disabled = world.send("POST", "/api/v1/admin/users/\(user.id)/disable", json: .object([("reason", .string("chargeback"))]), as: root)
        XCTAssertEqual(disabled.bodyJSON?["disabled"], .bool(true), disabled.bodyText)
        let withKey = world.send("GET", "/api/v1/me", as: user)
        XCTAssertEqual(withKey.status, 403)
        XCTAssertEqual(withKey.bodyJSON?["error"]?["code"]?.stringValue, "account_disabled")
        let signIn = world.send("POST", "/api/v1/auth/login", json: .object([("email", .string(user.email)), ("password", .string("correct horse"))]))
        XCTAssertEqual(signIn.bodyJSON?["error"]?["code"]?.stringValue, "account_disabled")
        world.clock.advance(25)
        world.deliverCallbacks()
        XCTAssertEqual(try world.db.first("SELECT status FROM video_jobs WHERE id = ?", [.text(id)])?.string(0), "completed")
        XCTAssertEqual(world.send("POST", "/api/v1/admin/users/\(user.id)/enable", json: .object([("reason", .string("resolved"))]), as: root).status, 200)
        XCTAssertEqual(world.send("GET", "/api/v1/me", as: user).status, 200)
        let audit = world.send("GET", "/api/v1/admin/audit?user_id=\(user.id)", as: root).bodyJSON!
        guard case .array(let entries) = audit["data"]! else { return XCTFail() }
        XCTAssertEqual(entries.map { $0["action"]?.stringValue }, ["account.enable", "account.disable"])
        try world.assertLedgerClean()
    }

    func testAPriceChangeAppliesToNewVideosOnly() throws {
        let world = try TestWorld()
        let root = try admin(world)
        let user = try world.user("buyer", credits: 30_000)
        let before = world.createVideo(user).bodyJSON!
        let row: [(String, JSON)] = [("duration", .int(5)), ("resolution", .string("480p")), ("audio", .bool(false))]
        let path = "/api/v1/admin/models/seedance-2-mini/prices"
        let unexplained = world.send("PUT", path, json: .object(row + [("credits", .int(9_000))]), as: root)
        XCTAssertEqual(unexplained.bodyJSON?["error"]?["code"]?.stringValue, "reason_required")
        let changed = world.send("PUT", path, json: .object(row + [("credits", .int(9_000)), ("reason", .string("provider raised prices"))]), as: root)
        XCTAssertEqual(changed.status, 200, changed.bodyText)
        guard case .array(let prices) = changed.bodyJSON?["prices"] ?? .null else { return XCTFail(changed.bodyText) }
        XCTAssertTrue(prices.contains { $0["duration"]?.intValue == 5 && $0["resolution"]?.stringValue == "480p" && $0["audio"] == .bool(false)
                                        && $0["credits"]?.intValue == 9_000 && $0["provider_credits"] == .number(19) })
        let after = world.createVideo(user).bodyJSON!
        XCTAssertEqual(before["price_credits"]?.intValue, TestWorld.price)
        XCTAssertEqual(after["price_credits"]?.intValue, 9_000)
        world.clock.advance(25)
        world.deliverCallbacks()
        XCTAssertEqual(world.balance(user).available, 30_000 - TestWorld.price - 9_000)
        let noSuchRow = world.send("PUT", path, json: .object([("duration", .int(12)), ("resolution", .string("480p")), ("audio", .bool(false)),
                                                             ("credits", .int(1)), ("reason", .string("x"))]), as: root)
        XCTAssertEqual(noSuchRow.bodyJSON?["error"]?["code"]?.stringValue, "price_not_found")
        let noSuchModel = world.send("PUT", "/api/v1/admin/models/sora-3/prices", json: .object(row + [("credits", .int(1)), ("reason", .string("x"))]), as: root)
        XCTAssertEqual(noSuchModel.bodyJSON?["error"]?["code"]?.stringValue, "model_not_found")
        let audit = world.send("GET", "/api/v1/admin/audit", as: root).bodyJSON!
        guard case .array(let entries) = audit["data"]! else { return XCTFail() }
        let entry = try XCTUnwrap(entries.first { $0["action"]?.stringValue == "model.set_price" })
        XCTAssertEqual(entry["target"]?.stringValue, "model seedance-2-mini")
        XCTAssertEqual(entry["reason"]?.stringValue, "provider raised prices")
        XCTAssertEqual(entry["before"]?["credits"]?.intValue, TestWorld.price)
        XCTAssertEqual(entry["after"]?["credits"]?.intValue, 9_000)
        XCTAssertEqual(world.send("PUT", "/api/v1/admin/models/seedance-2-mini/prices", json: .object(row + [("credits", .int(1)), ("reason", .string("x"))]),
                                  as: user).status, 404, "operators only")
        try world.assertLedgerClean()
    }

    func testLedgerCSVEscapesFormulaCells() throws {
        let world = try TestWorld()
        let root = try admin(world)
        let user = try world.user("csv")
        world.send("POST", "/api/v1/admin/users/\(user.id)/credits",
                   json: .object([("action", .string("grant")), ("amount", .int(100)), ("reason", .string("=HYPERLINK(\"http://evil\"),x"))]), as: root)
        let csv = world.send("GET", "/api/v1/admin/ledger.csv", as: root)
        XCTAssertEqual(csv.header("Content-Type"), "text/csv; charset=utf-8")
        let lines = csv.bodyText.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        XCTAssertEqual(lines.first, LedgerExport.header)
        XCTAssertTrue(lines.last?.hasSuffix(",\"'=HYPERLINK(\"\"http://evil\"\"),x\"") ?? false, lines.last ?? "")
        XCTAssertEqual(world.send("GET", "/api/v1/admin/ledger.csv?since=yesterday", as: root).status, 400)
    }

    func testStylePresetsAreSeededEditableAndAudited() throws {
        let world = try TestWorld()
        let root = try admin(world)
        let vi = world.send("GET", "/api/v1/styles").bodyJSON!
        guard case .array(let seeded) = vi["data"]! else { return XCTFail() }
        XCTAssertEqual(seeded.count, 6)
        XCTAssertEqual(seeded.first?["name"]?.stringValue, "Điện ảnh")
        let en = world.send("GET", "/api/v1/styles", headers: ["accept-language": "en"]).bodyJSON!
        guard case .array(let english) = en["data"]! else { return XCTFail() }
        XCTAssertEqual(english.first?["name"]?.stringValue, "Cinematic")

        let off = world.send("PUT", "/api/v1/admin/styles", json: .object([("key", .string("vintage")), ("enabled", .bool(false))]), as: root)
        XCTAssertEqual(off.bodyJSON?["enabled"], .bool(false), off.bodyText)
        let made = world.send("PUT", "/api/v1/admin/styles", json: .object([("key", .string("noir")), ("name_vi", .string("Phim đen trắng")),
                                                                           ("name_en", .string("Film noir")),
                                                                           ("prompt_text", .string("black and white, hard shadows"))]), as: root)
        XCTAssertEqual(made.status, 200, made.bodyText)
        let incomplete = world.send("PUT", "/api/v1/admin/styles", json: .object([("key", .string("new-one"))]), as: root)
        XCTAssertEqual(incomplete.bodyJSON?["error"]?["code"]?.stringValue, "invalid_style")
        XCTAssertEqual(world.send("PUT", "/api/v1/admin/styles", json: .object([("key", .string("Bad Key!")), ("name_vi", .string("x")),
                                                                               ("name_en", .string("x")), ("prompt_text", .string("x"))]), as: root).status, 422)
        let now = world.send("GET", "/api/v1/styles").bodyJSON!
        guard case .array(let current) = now["data"]! else { return XCTFail() }
        XCTAssertEqual(current.map { $0["key"]?.stringValue ?? "" }, ["cinematic", "documentary", "animated", "drone", "slow-motion", "noir"])
        let audit = world.send("GET", "/api/v1/admin/audit", as: root).bodyJSON!
        guard case .array(let entries) = audit["data"]! else { return XCTFail() }
        XCTAssertEqual(entries.map { $0["action"]?.stringValue ?? "" }, ["style.create", "style.update"])
        XCTAssertEqual(entries.last?["before"]?["enabled"], .bool(true))
        XCTAssertEqual(entries.last?["after"]?["enabled"], .bool(false))
    }
}

/// Operators' view of every account's videos.
final class AdminJobTests: XCTestCase {
    func testOperatorsSeeEveryVideoTheStuckOnesAndFailuresAndCanAskTheProvider() throws {
        let world = try TestWorld()
        let root = try world.admin()
        let user = try world.user("maker", credits: 30_000)
        let ok = world.createVideo(user).bodyJSON!["id"]!.stringValue!
        _ = world.createVideo(user, prompt: "storm #fail")
        world.clock.advance(25)
        world.deliverCallbacks()
        let lost = world.createVideo(user, prompt: "lost callbacks").bodyJSON!["id"]!.stringValue!
        world.clock.advance(25)
        _ = world.simulator.takeDueCallbacks() // lost
        world.clock.advance(100)

        let all = world.send("GET", "/api/v1/admin/videos", as: root).bodyJSON!
        guard case .array(let videos) = all["data"]! else { return XCTFail() }
        XCTAssertEqual(videos.count, 3)
        XCTAssertEqual(videos.first?["owner_email"]?.stringValue, user.email)
        let completed = world.send("GET", "/api/v1/admin/videos?state=completed", as: root).bodyJSON!
        guard case .array(let done) = completed["data"]! else { return XCTFail() }
        XCTAssertEqual(done.map { $0["id"]?.stringValue ?? "" }, [ok])
        XCTAssertEqual(world.send("GET", "/api/v1/admin/videos?state=weird", as: root).status, 400)

        let stuck = world.send("GET", "/api/v1/admin/videos/stuck", as: root).bodyJSON!
        guard case .array(let stuckVideos) = stuck["data"]! else { return XCTFail() }
        XCTAssertEqual(stuckVideos.map { $0["id"]?.stringValue ?? "" }, [lost])

        let failures = world.send("GET", "/api/v1/admin/failures?hours=24", as: root).bodyJSON!
        guard case .array(let groups) = failures["data"]! else { return XCTFail() }
        XCTAssertEqual(groups.first?["reason"]?.stringValue, "provider_failed")
        XCTAssertEqual(groups.first?["count"]?.intValue, 1)

        let asked = world.send("POST", "/api/v1/admin/videos/\(lost)/reconcile", as: root).bodyJSON!
        XCTAssertEqual(asked["result"]?["changed"], .bool(true), "\(asked)")
        XCTAssertEqual(asked["video"]?["status"]?.stringValue, "completed")
        let again = world.send("POST", "/api/v1/admin/videos/\(lost)/reconcile", as: root).bodyJSON!
        XCTAssertEqual(again["result"]?["reason"]?.stringValue, "asked_recently", "once per interval, like the reconciler")
        let audit = world.send("GET", "/api/v1/admin/audit", as: root).bodyJSON!
        guard case .array(let entries) = audit["data"]! else { return XCTFail() }
        XCTAssertEqual(entries.first?["action"]?.stringValue, "job.reconcile")
        try world.assertLedgerClean()
    }
}

extension TestWorld {
    /// An administrator with an API key.
    func admin() throws -> Caller {
        let user = try app.accounts.register(email: "root-\(UUID().uuidString.prefix(6))@example.com".lowercased(),
                                             password: "operator password", isAdmin: true, on: db)
        let (_, key) = try app.accounts.makeAPIKey(for: user, name: "ops", on: db)
        return Caller(id: user.id, email: user.email, key: key)
    }
}

final class ProviderHealthTests: XCTestCase {
    func testProviderHealthCountsOutcomesAndWarnsOfALowBalance() throws {
        let world = try TestWorld { $0.providerLowBalance = 10_000_000 }
        let root = try world.admin()
        let user = try world.user("health", credits: 30_000)
        XCTAssertEqual(world.createVideo(user).status, 202)
        XCTAssertEqual(world.createVideo(user, prompt: "x #error429").bodyJSON?["status"]?.stringValue, "queued", "busy: queued again")
        let health = world.send("GET", "/api/v1/admin/provider", as: root).bodyJSON!
        XCTAssertGreaterThanOrEqual(health["calls"]?.intValue ?? 0, 2)
        XCTAssertGreaterThanOrEqual(health["failures"]?.intValue ?? 0, 1)
        XCTAssertEqual(health["last_error"]?["call"]?.stringValue, "create_task")
        XCTAssertNotNil(health["balance"]?.intValue)
        XCTAssertEqual(health["balance_low"], .bool(true), "the simulator's balance is below the threshold set here")
    }
}

final class AnalyticsTests: XCTestCase {
    func testOperatorsSeeVideosByDayAndModelTheProvidersCostAndWhatPeopleAsk() throws {
        let world = try TestWorld()
        let root = try world.admin()
        let user = try world.user("stats", credits: 100_000)
        XCTAssertEqual(world.createVideo(user, prompt: "lighthouse at dawn, cinematic lighting, shallow depth of field, 35mm film look").status, 202)
        XCTAssertEqual(world.createVideo(user, prompt: "lighthouse in a storm #fail").status, 202)
        XCTAssertEqual(world.createVideo(user, prompt: "lighthouse keeper", options: [("model", .string("kling-3.0")), ("duration", .int(10)),
                                                                                      ("resolution", .string("1080p")), ("audio", .bool(true))]).status, 202)
        world.clock.advance(25)
        world.deliverCallbacks()
        let report = world.send("GET", "/api/v1/admin/analytics?days=7", as: root).bodyJSON!
        guard case .array(let rows) = report["by_day_and_model"]! else { return XCTFail() }
        let standard = try XCTUnwrap(rows.first { $0["model"]?.stringValue == "seedance-2-mini" })
        XCTAssertEqual(standard["made"]?.intValue, 2)
        XCTAssertEqual(standard["completed"]?.intValue, 1)
        XCTAssertEqual(standard["failed"]?.intValue, 1)
        XCTAssertEqual(standard["success_rate"], .number(0.5))
        XCTAssertEqual(standard["credits_charged"]?.intValue, TestWorld.price)
        XCTAssertEqual(standard["provider_cost_estimate"], .number(19), "5 s at 480p, as Kie reported charging; the failure is not billed")
        let kling = try XCTUnwrap(rows.first { $0["model"]?.stringValue == "kling-3.0" })
        XCTAssertEqual(kling["provider_cost_estimate"], .number(270), "10 s of pro with sound: 27 Kie credits a second")
        XCTAssertEqual(kling["credits_charged"]?.intValue, 63_000)
        XCTAssertEqual(report["top_styles"], .array([.object([("key", .string("cinematic")), ("uses", .int(1))])]))
        guard case .array(let words) = report["top_words"]! else { return XCTFail() }
        XCTAssertEqual(words.first?["word"]?.stringValue, "lighthouse")
        XCTAssertEqual(words.first?["uses"]?.intValue, 3)
        XCTAssertFalse(words.contains { $0["word"]?.stringValue == "cinematic" }, "a preset's words are not the user's")
        XCTAssertEqual(world.send("GET", "/api/v1/admin/analytics?days=0", as: root).status, 400)
    }
}

final class ProviderReconciliationTests: XCTestCase {
    func testEachVideosHoldIsHeldAgainstItsTaskAtTheProvider() throws {
        let world = try TestWorld { $0.jobTimeoutSeconds = 60 }
        let root = try world.admin()
        let user = try world.user("reconciled", credits: 50_000)
        XCTAssertEqual(world.createVideo(user).status, 202)
        XCTAssertEqual(world.createVideo(user, prompt: "x #fail").status, 202)
        let late = world.send("POST", "/api/v1/videos", json: .object([("prompt", .string("slow #slow"))]), as: user)
        XCTAssertEqual(late.status, 202)
        world.clock.advance(25)
        world.deliverCallbacks()
        world.clock.advance(40)
        _ = try world.reconcile() // past the job time limit: failed and refunded (a real anomaly)
        world.clock.advance(200)
        world.deliverCallbacks() // the provider finishes it anyway and bills it
        XCTAssertEqual(world.createVideo(user, prompt: "still going").status, 202)

        let report = world.send("POST", "/api/v1/admin/provider/reconciliation", json: .object([("hours", .int(1))]), as: root).bodyJSON!
        XCTAssertEqual(report["videos"]?.intValue, 4)
        XCTAssertEqual(report["by_verdict"]?["match"]?.intValue, 2)
        XCTAssertEqual(report["by_verdict"]?["in_flight"]?.intValue, 1)
        XCTAssertEqual(report["by_verdict"]?["provider_billed_user_refunded"]?.intValue, 1, "the late success is the operator's cost")
        XCTAssertEqual(report["settled_credits"]?.intValue, TestWorld.price)
        guard case .array(let differences) = report["differences"]! else { return XCTFail() }
        XCTAssertEqual(differences.first?["video_id"]?.stringValue, late.bodyJSON!["id"]!.stringValue)
        XCTAssertNotNil(report["balance"]?.intValue)
        let again = world.send("POST", "/api/v1/admin/provider/reconciliation", json: .object([("hours", .int(1))]), as: root).bodyJSON!
        XCTAssertEqual(again["previous_balance"]?["credits"], report["balance"], "the next run says how far the balance moved")
    }
}
