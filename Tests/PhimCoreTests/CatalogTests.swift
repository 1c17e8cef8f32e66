import Foundation
import PhimCore
import PhimProvider
import PhimServer
import PhimSupport
import XCTest

/// The model catalog against the strict simulator: every shipped model makes videos in every
/// mode and option it offers, retired and paused models are refused before anything is held,
/// and operators change the catalog without a rebuild, audited.
final class CatalogTests: XCTestCase {
    private func offered(_ world: TestWorld) throws -> [CatalogModel] {
        try ModelCatalog.all(on: world.db).filter(\.isOffered)
    }

    private func upload(_ world: TestWorld, as user: TestWorld.Caller) -> String {
        var body = Array("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n".utf8)
        body += Images.png() + Array("\r\n--B--\r\n".utf8)
        let stored = world.send("POST", "/api/v1/uploads", body: body, headers: ["content-type": "multipart/form-data; boundary=B"], as: user)
        XCTAssertEqual(stored.status, 201, stored.bodyText)
        return stored.bodyJSON!["id"]!.stringValue!
    }

    /// Every offered model, every length × resolution × sound × ratio it offers, text-to-video:
    /// the simulator checks each body field by field, type for type, as Kie does; each video is
    /// charged exactly its price row.
    func testEveryShippedModelMakesAVideoWithEveryOptionItOffers() throws {
        let world = try TestWorld { $0.maxUnfinishedVideos = 1_000 }
        let user = try world.user("catalog", credits: 50_000_000)
        var expectedCharge = 0, made: [String: [String]] = [:]
        let models = try offered(world)
        XCTAssertEqual(Set(models.map(\.id)), ["seedance-2-mini", "grok-imagine", "kling-3.0", "wan-3.0", "veo-3.1-fast", "veo-3.1-lite"])
        for model in models {
            for price in model.prices {
                for ratio in model.wire.aspectRatio.values where ratio == "16:9" || price == model.prices.first {
                    let options: [(String, JSON)] = [("model", .string(model.id)), ("duration", .int(price.durationSeconds)),
                                                     ("resolution", .string(price.resolution)), ("audio", .bool(price.audio)),
                                                     ("aspect_ratio", .string(ratio))]
                    let created = world.createVideo(user, prompt: "a lantern festival over the river", options: options)
                    XCTAssertEqual(created.status, 202, "\(model.id) \(price): \(created.bodyText)")
                    XCTAssertEqual(created.bodyJSON?["price_credits"]?.intValue, price.credits, "\(model.id) \(price)")
                    XCTAssertEqual(created.bodyJSON?["model"]?.stringValue, model.id)
                    XCTAssertEqual(created.bodyJSON?["resolution"]?.stringValue, price.resolution)
                    XCTAssertEqual(created.bodyJSON?["audio"], .bool(price.audio))
                    XCTAssertEqual(created.bodyJSON?["aspect_ratio"]?.stringValue, ratio)
                    expectedCharge += price.credits
                    made[model.id, default: []].append(created.bodyJSON!["id"]!.stringValue!)
                }
            }
        }
        world.clock.advance(25)
        world.deliverCallbacks()
        for (model, ids) in made {
            for id in ids {
                let video = try XCTUnwrap(world.video(user, id))
                XCTAssertEqual(video["status"]?.stringValue, "completed", "\(model): \(video)")
            }
        }
        XCTAssertEqual(world.balance(user).available, 50_000_000 - expectedCharge)
        XCTAssertEqual(world.balance(user).held, 0)
        // What Kie charged (Market models report it; Veo's record says nothing) is kept, and it is
        // the list price the catalog recorded for the row.
        let mismatched = try world.db.query("""
            SELECT model, duration_seconds, resolution, audio, provider_list_millicredits, provider_consumed_millicredits FROM video_jobs
            WHERE provider_family = 'market' AND (provider_consumed_millicredits IS NULL OR provider_consumed_millicredits <> provider_list_millicredits)
            """).map { row in (0..<6).map { row.string($0) }.joined(separator: " ") }
        XCTAssertEqual(mismatched, [])
        try world.assertLedgerClean()
    }

    /// Image-to-video for every model that offers it, with the image reaching the provider both
    /// ways: Phim's own public `/files/` URL, and a copy on Kie's file host (no public address).
    func testEveryModelThatTakesAnImageMakesAnImageToVideoBothWaysTheImageCanTravel() throws {
        for delivery in [Settings.ImageDelivery.publicURL, .kieUpload] {
            let world = try TestWorld { $0.imageDelivery = delivery }
            let user = try world.user("frames", credits: 2_000_000)
            var ids: [String] = []
            for model in try offered(world) where model.modes.contains(.imageToVideo) {
                let created = world.createVideo(user, prompt: "the lantern starts to glow",
                                                options: [("model", .string(model.id)), ("upload_id", .string(upload(world, as: user)))])
                XCTAssertEqual(created.status, 202, "\(delivery) \(model.id): \(created.bodyText)")
                XCTAssertEqual(created.bodyJSON?["mode"]?.stringValue, "image_to_video")
                XCTAssertTrue(created.bodyJSON?["image_url"]?.stringValue?.hasPrefix("http://127.0.0.1:8080/files/") ?? false,
                              "the owner sees Phim's own copy of the image")
                ids.append(created.bodyJSON!["id"]!.stringValue!)
            }
            XCTAssertEqual(ids.count, 6)
            XCTAssertEqual(world.simulator.callCounts.uploads, delivery == .kieUpload ? 6 : 0, "\(delivery)")
            world.clock.advance(25)
            world.deliverCallbacks()
            for id in ids {
                XCTAssertEqual(world.video(user, id)?["status"]?.stringValue, "completed", "\(delivery): the provider fetched the image")
            }
            try world.assertLedgerClean()
        }
    }

    /// Without a reachable image the provider fails the task (it fetches the URL it is given):
    /// the video fails and is refunded, as Kie would make it.
    func testAnImageTheProviderCannotFetchFailsTheVideoAndRefundsIt() throws {
        let world = try TestWorld { $0.imageDelivery = .publicURL }
        let user = try world.user("lost", credits: 100_000)
        let uploadID = upload(world, as: user)
        let key = try XCTUnwrap(try world.db.first("SELECT storage_key FROM uploads WHERE id = ?", [.text(uploadID)])?.string(0))
        try FileManager.default.removeItem(atPath: world.settings.uploadsDirectory + "/" + key)
        let created = world.createVideo(user, options: [("upload_id", .string(uploadID))])
        XCTAssertEqual(created.status, 202, created.bodyText)
        world.clock.advance(25)
        world.deliverCallbacks()
        let video = try XCTUnwrap(world.video(user, created.bodyJSON!["id"]!.stringValue!))
        XCTAssertEqual(video["status"]?.stringValue, "failed")
        XCTAssertEqual(video["credits_refunded"], .bool(true))
        XCTAssertEqual(world.balance(user).available, 100_000)
        try world.assertLedgerClean()
    }

    func testRetiredSoraModelsAreRefusedBeforeAnythingIsHeldNamingTheirReplacements() throws {
        let world = try TestWorld()
        let user = try world.user("old-client", credits: 100_000)
        for id in ["sora-2-text-to-video", "sora-2-pro-text-to-video", "sora-2-text-to-video-stable"] {
            for language in ["vi", "en"] {
                let refused = world.send("POST", "/api/v1/videos", json: .object([("prompt", .string("x")), ("model", .string(id))]),
                                         headers: ["accept-language": language], as: user)
                XCTAssertEqual(refused.status, 410)
                XCTAssertEqual(refused.bodyJSON?["error"]?["code"]?.stringValue, "model_retired")
                XCTAssertEqual(refused.bodyJSON?["error"]?["replacements"], .array(["seedance-2-mini", "kling-3.0", "veo-3.1-fast"].map { .string($0) }))
                XCTAssertTrue(refused.bodyJSON?["error"]?["message"]?.stringValue?.contains("kling-3.0") ?? false, refused.bodyText)
            }
        }
        XCTAssertEqual(world.simulator.callCounts.createTask, 0, "nothing reached the provider")
        XCTAssertEqual(world.balance(user).available, 100_000)
        XCTAssertEqual(try world.db.first("SELECT COUNT(*) FROM video_jobs")?.int(0), 0)
        let listed = world.send("GET", "/api/v1/models").bodyJSON!
        guard case .array(let models) = listed["models"]!, case .array(let withdrawn) = listed["withdrawn"]! else { return XCTFail() }
        XCTAssertFalse(models.contains { $0["id"]?.stringValue?.hasPrefix("sora") ?? false }, "retired models are not offered")
        XCTAssertTrue(withdrawn.contains { $0["id"]?.stringValue == "sora-2-text-to-video" && $0["name"]?.stringValue == "Sora 2" })
    }

    /// The provider pauses a model: one refused create marks it unavailable (its user refunded),
    /// later creates are refused before anything is held, and it is tried again after the
    /// recheck time, or when an operator says so.
    func testAModelTheProviderPausedIsMarkedUnavailableAfterOneRefusedCreateAndTriedAgainLater() throws {
        let world = try TestWorld { $0.modelRecheckMinutes = 30 }
        let root = try world.admin()
        let user = try world.user("paused", credits: 100_000)
        world.simulator.setPaused(["kling-3.0/video"])
        let kling: [(String, JSON)] = [("model", .string("kling-3.0"))]
        // The create is queued and answered; its send is refused: the video fails, refunded.
        let first = world.createVideo(user, options: kling)
        XCTAssertEqual(first.status, 202, first.bodyText)
        let videoID = try XCTUnwrap(first.bodyJSON?["id"]?.stringValue)
        let failed = try XCTUnwrap(world.video(user, videoID))
        XCTAssertEqual(failed["status"]?.stringValue, "failed")
        XCTAssertEqual(failed["failure"]?["code"]?.stringValue, "model_unavailable")
        XCTAssertEqual(failed["failure"]?["provider_message"], .null, "the provider's words are for operators")
        XCTAssertFalse(first.bodyText.contains("temporarily paused"))
        XCTAssertEqual(world.balance(user).available, 100_000, "refunded")
        let listed = world.send("GET", "/api/v1/admin/videos?state=failed", as: root).bodyJSON!
        guard case .array(let operatorsView) = listed["data"]! else { return XCTFail() }
        XCTAssertEqual(operatorsView.first { $0["id"]?.stringValue == videoID }?["failure"]?["provider_message"]?.stringValue,
                       "This interface is temporarily paused")

        let models = world.send("GET", "/api/v1/models").bodyJSON!
        guard case .array(let list) = models["models"]! else { return XCTFail() }
        let entry = try XCTUnwrap(list.first { $0["id"]?.stringValue == "kling-3.0" })
        XCTAssertEqual(entry["available"], .bool(false))
        XCTAssertNil(entry["unavailable_reason"], "the provider's words are for operators (the admin Models page)")

        let creates = world.simulator.callCounts.createTask
        let again = world.createVideo(user, options: kling)
        XCTAssertEqual(again.bodyJSON?["error"]?["code"]?.stringValue, "model_unavailable")
        XCTAssertEqual(again.bodyJSON?["error"]?["video_id"], .null, "refused before anything was made")
        XCTAssertEqual(world.simulator.callCounts.createTask, creates, "the provider was not asked")
        XCTAssertEqual(world.send("POST", "/api/v1/videos/quote", json: .object([("prompt", .string("x"))] + kling), as: user)
            .bodyJSON?["error"]?["code"]?.stringValue, "model_unavailable")
        XCTAssertEqual(world.createVideo(user).status, 202, "other models are not touched")

        let health = world.send("GET", "/api/v1/admin/provider", as: root).bodyJSON!
        guard case .array(let unavailable) = health["unavailable_models"]! else { return XCTFail() }
        XCTAssertEqual(unavailable.first?["id"]?.stringValue, "kling-3.0")
        XCTAssertEqual(unavailable.first?["reason"]?.stringValue, "This interface is temporarily paused")

        // After the recheck time the next create tries again; the model is back.
        world.simulator.setPaused([])
        world.clock.advance(30 * 60 + 1)
        XCTAssertEqual(world.createVideo(user, options: kling).status, 202)
        XCTAssertNil(try ModelCatalog.find("kling-3.0", on: world.db)?.availability.unavailableSince)

        // Paused again; an operator says "try now" (audited) without waiting.
        world.simulator.setPaused(["kling-3.0/video"])
        XCTAssertEqual(world.createVideo(user, options: kling).bodyJSON?["failure"]?["code"]?.stringValue, "model_unavailable")
        XCTAssertEqual(world.createVideo(user, options: kling).status, 503, "refused up front again")
        world.simulator.setPaused([])
        let recheck = world.send("POST", "/api/v1/admin/models/kling-3.0/recheck", json: .object([("reason", .string("Kie says it is back"))]), as: root)
        XCTAssertEqual(recheck.bodyJSON?["available"], .bool(true), recheck.bodyText)
        XCTAssertEqual(world.createVideo(user, options: kling).status, 202)
        world.clock.advance(25)
        world.deliverCallbacks()
        try world.assertLedgerClean()
    }

    func testOperatorsEnableDisableAndChooseTheDefaultAuditedAndTheStudioFollows() throws {
        let world = try TestWorld()
        let root = try world.admin()
        let user = try world.user("picker", credits: 100_000)
        func change(_ id: String, _ fields: [(String, JSON)]) -> Response {
            world.send("PUT", "/api/v1/admin/models/\(id)", json: .object(fields), as: root)
        }
        XCTAssertEqual(change("wan-3.0", [("enabled", .bool(false))]).bodyJSON?["error"]?["code"]?.stringValue, "reason_required")
        XCTAssertEqual(change("wan-3.0", [("enabled", .bool(false)), ("reason", .string("too slow this week"))]).bodyJSON?["enabled"], .bool(false))
        let refused = world.createVideo(user, options: [("model", .string("wan-3.0"))])
        XCTAssertEqual(refused.bodyJSON?["error"]?["code"]?.stringValue, "unknown_model")
        guard case .array(let offered) = refused.bodyJSON?["error"]?["offered"] ?? .null else { return XCTFail(refused.bodyText) }
        XCTAssertFalse(offered.contains(.string("wan-3.0")))
        XCTAssertEqual(change("seedance-2-mini", [("enabled", .bool(false)), ("reason", .string("x"))]).bodyJSON?["error"]?["code"]?.stringValue,
                       "model_is_default", "the default cannot be disabled")
        XCTAssertEqual(change("sora-2-text-to-video", [("enabled", .bool(true)), ("reason", .string("x"))]).bodyJSON?["error"]?["code"]?.stringValue,
                       "model_retired_locked", "a retired model cannot come back")
        XCTAssertEqual(change("grok-imagine", [("default", .bool(true)), ("reason", .string("cheapest drafts"))]).bodyJSON?["default"], .bool(true))
        let byDefault = world.createVideo(user)
        XCTAssertEqual(byDefault.bodyJSON?["model"]?.stringValue, "grok-imagine")
        XCTAssertEqual(byDefault.bodyJSON?["duration"]?.intValue, 6)
        XCTAssertEqual(byDefault.bodyJSON?["audio"], .bool(true))

        let audit = world.send("GET", "/api/v1/admin/audit", as: root).bodyJSON!
        guard case .array(let entries) = audit["data"]! else { return XCTFail() }
        XCTAssertEqual(entries.map { $0["action"]?.stringValue }, ["model.set_default", "model.disable"])
        XCTAssertEqual(entries.first?["before"]?["default"]?.stringValue, "seedance-2-mini")
        XCTAssertEqual(entries.last?["reason"]?.stringValue, "too slow this week")
        let listed = world.send("GET", "/api/v1/models").bodyJSON!
        guard case .array(let models) = listed["models"]! else { return XCTFail() }
        XCTAssertEqual(models.filter { $0["default"] == .bool(true) }.map { $0["id"]?.stringValue }, ["grok-imagine"])
        XCTAssertFalse(models.contains { $0["id"]?.stringValue == "wan-3.0" })
    }

    /// A new Kie model whose fields follow a shape the catalog already describes is added with a
    /// file: no Swift change. Here Seedance 2 Fast, Mini's faster sibling.
    func testANewModelIsAddedByImportingAFileAndMakesVideos() throws {
        let world = try TestWorld()
        let user = try world.user("importer", credits: 500_000)
        let file = #"""
        {"format": "phim-models/1", "models": [{
          "id": "seedance-2-fast", "name": {"vi": "Seedance 2 Fast", "en": "Seedance 2 Fast"},
          "description": {"vi": "Nhanh hơn Mini, nét hơn.", "en": "Faster than Mini, sharper."}, "typical_seconds": 45,
          "family": "market", "provider_models": {"text_to_video": "bytedance/seedance-2-fast", "image_to_video": "bytedance/seedance-2-fast"},
          "prompt": {"max_length": 20000}, "image": {"field": "first_frame_url", "shape": "string"},
          "duration": {"field": "duration", "type": "integer", "values": [5, 10]},
          "aspect_ratio": {"field": "aspect_ratio", "values": ["16:9", "9:16"]},
          "resolution": {"field": "resolution", "values": [{"id": "480p"}, {"id": "720p"}]},
          "audio": {"field": "generate_audio", "policy": "optional"},
          "prices": [
            {"duration": 5, "resolution": "480p", "audio": false, "provider_credits": 58.5},
            {"duration": 5, "resolution": "480p", "audio": true, "provider_credits": 58.5},
            {"duration": 5, "resolution": "720p", "audio": false, "provider_credits": 124},
            {"duration": 5, "resolution": "720p", "audio": true, "provider_credits": 124},
            {"duration": 10, "resolution": "480p", "audio": false, "provider_credits": 117},
            {"duration": 10, "resolution": "480p", "audio": true, "provider_credits": 117},
            {"duration": 10, "resolution": "720p", "audio": false, "credits": 60000},
            {"duration": 10, "resolution": "720p", "audio": true, "credits": 60000, "provider_credits": 248}]}]}
        """#
        let models = try ModelCatalog.parseFile(Data(file.utf8), creditsPerProviderCredit: Settings.defaultCreditsPerProviderCredit)
        XCTAssertEqual(models.first?.price(duration: 5, resolution: "480p", audio: false)?.credits, 13_700, "58.5 × 7,000/30 = 13,650, up to 100")
        let result = try Administration(clock: world.clock.clock).importModels(models, reason: "Kie listed it", by: .commandLine(), on: world.db)
        XCTAssertEqual(result.added, ["seedance-2-fast"])
        let made = world.createVideo(user, options: [("model", .string("seedance-2-fast")), ("duration", .int(10)), ("resolution", .string("720p"))])
        XCTAssertEqual(made.status, 202, made.bodyText)
        XCTAssertEqual(made.bodyJSON?["price_credits"]?.intValue, 60_000)
        world.clock.advance(25)
        world.deliverCallbacks()
        XCTAssertEqual(world.video(user, made.bodyJSON!["id"]!.stringValue!)?["status"]?.stringValue, "completed")
        // The same file again changes nothing; the audit log has the one import.
        XCTAssertEqual(try Administration(clock: world.clock.clock).importModels(models, reason: "again", by: .commandLine(), on: world.db).unchanged,
                       ["seedance-2-fast"])
        let audited = try world.db.first("SELECT COUNT(*) FROM admin_actions WHERE action = 'model.import' AND target = 'model seedance-2-fast'")?.int(0)
        XCTAssertEqual(audited, 1)
        // What `export` writes, `import` reads back as the same models.
        let exported = ModelCatalog.fileJSON(try ModelCatalog.all(on: world.db)).data()
        let reread = try ModelCatalog.parseFile(exported, creditsPerProviderCredit: 1)
        XCTAssertEqual(reread.map(\.json), try ModelCatalog.all(on: world.db).map(\.json))
    }

    func testABadCatalogFileNamesWhatIsWrongAndChangesNothing() throws {
        func problem(_ text: String) -> String {
            do {
                _ = try ModelCatalog.parseFile(Data(text.utf8), creditsPerProviderCredit: 233)
                return "accepted"
            } catch { return "\(error)" }
        }
        let shipped = String(decoding: ModelCatalog.fileJSON(try ModelCatalog.shipped(creditsPerProviderCredit: 233)).data(), as: UTF8.self)
        XCTAssertEqual(problem(shipped), "accepted")
        XCTAssertEqual(problem(shipped.replacingOccurrences(of: #""type":"string""#, with: #""type":"text""#)),
                       "models[1].duration.type: must be integer or string")
        XCTAssertEqual(problem(#"{"models": [{"id": "Bad Id"}]}"#), "models[0].id: must use \(CatalogModel.idPattern)")
        XCTAssertTrue(problem(shipped.replacingOccurrences(of: #"{"duration":15,"resolution":"720p","audio":true,"credits":28700,"provider_credits":123}"#, with: ""))
            .contains("has no row for 15 s, 720p, audio true"))
        XCTAssertEqual(problem("[]"), "file: is not a JSON object")
        let world = try TestWorld()
        let before = try ModelCatalog.all(on: world.db).map(\.json)
        let twoDefaults = try ModelCatalog.shipped(creditsPerProviderCredit: 233).map { model -> CatalogModel in
            var model = model
            model.isDefault = model.id == "wan-3.0"
            model.enabled = model.id != "wan-3.0"
            return model
        }
        XCTAssertThrowsError(try Administration(clock: world.clock.clock).importModels(twoDefaults, reason: "x", by: .commandLine(), on: world.db))
        XCTAssertEqual(try ModelCatalog.all(on: world.db).map(\.json), before, "all or nothing")
    }

    /// A database from before the catalog: Sora videos keep their name, price and look; an
    /// operator's changed Sora price moves into the catalog; the ledger still verifies.
    func testADatabaseFromBeforeTheCatalogMigrates() throws {
        let directory = NSTemporaryDirectory() + "phim-migrate-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let db = try Database(path: directory + "/phim.sqlite")
        try db.write {
            for step in Migrations.steps.prefix(11) { try db.execute(step) }
            try db.execute("PRAGMA user_version = 11")
            try db.run("INSERT INTO prices (model, duration_seconds, quality, credits, updated_at) VALUES ('sora-2-pro-text-to-video', 15, 'high', 150000, 1)")
            try db.run("INSERT INTO users (id, email, password_hash, credits_available, created_at) VALUES ('u1', 'old@example.com', 'x', 3000, 1)")
            try db.run("""
                INSERT INTO video_jobs (id, user_id, mode, model, prompt, aspect_ratio, duration_seconds, quality, price_credits, request_fingerprint,
                  status, progress, hold_state, callback_secret_hash, created_at, updated_at, finished_at)
                VALUES ('11111111-1111-1111-1111-111111111111', 'u1', 'text_to_video', 'sora-2-text-to-video', 'an old sunset', 'portrait', 10,
                  'standard', 7000, 'f', 'completed', 100, 'settled', 'h', 1, 2, 2)
                """)
            try db.run("""
                INSERT INTO credit_entries (id, user_id, kind, available_delta, held_delta, reason, unique_key, created_at) VALUES
                ('e1', 'u1', 'grant', 10000, 0, 'x', NULL, 1),
                ('e2', 'u1', 'hold', -7000, 7000, NULL, 'hold:11111111-1111-1111-1111-111111111111', 1),
                ('e3', 'u1', 'settle', 0, -7000, NULL, 'close:11111111-1111-1111-1111-111111111111', 2)
                """)
            try db.run("UPDATE credit_entries SET job_id = '11111111-1111-1111-1111-111111111111' WHERE id IN ('e2', 'e3')")
        }
        XCTAssertEqual(try Migrations.run(on: db), Migrations.steps.count - 11)
        let old = try XCTUnwrap(try db.firstRow("""
            SELECT model, aspect_ratio, resolution, price_credits, provider_list_millicredits, provider_family FROM video_jobs
            """))
        XCTAssertEqual(old.string("model"), "sora-2-text-to-video")
        XCTAssertEqual(old.string("aspect_ratio"), "9:16")
        XCTAssertEqual(old.string("resolution"), "standard")
        XCTAssertEqual(old.int("price_credits"), 7_000)
        XCTAssertEqual(old.int("provider_list_millicredits"), 30_000)
        XCTAssertEqual(old.string("provider_family"), "market")
        let pro = try XCTUnwrap(try ModelCatalog.find("sora-2-pro-text-to-video", on: db))
        XCTAssertTrue(pro.retired)
        XCTAssertEqual(pro.price(duration: 15, resolution: "high", audio: true)?.credits, 150_000, "the operator's price was kept")
        XCTAssertNil(try db.first("SELECT 1 FROM sqlite_master WHERE name = 'prices'"), "the old table is gone")
        XCTAssertEqual(try ModelCatalog.defaultModel(on: db)?.id, "seedance-2-mini")
        XCTAssertTrue(try LedgerVerifier.verify(on: db).isClean)
        XCTAssertEqual(try Migrations.run(on: db), 0, "safe to repeat")
    }

    /// `phim provider check`'s comparison: each row next to Kie's price list, differences flagged.
    func testTheProviderCheckComparesEveryPriceRowWithKiesListAndStartsNoTask() throws {
        let world = try TestWorld()
        let kling = "kling-3.0/video"
        let records = try world.app.provider.priceFeed()
        let overridden = try XCTUnwrap(records.first { $0.modelID == kling && $0.description.lowercased().contains("with audio")
                                                       && $0.description.lowercased().contains("720p") })
        let provider = InProcessSimulatorProvider(simulator: KieSimulator(
            settings: .init(priceOverrides: ["\(kling)|\(overridden.description)": 25]), clock: world.clock.clock, mediaBaseURL: ""))
        let report = try ProviderCheck(provider: provider, clock: world.clock.clock).run(on: world.db)
        XCTAssertNotNil(report.balance)
        XCTAssertNil(report.feedError)
        let lines = Dictionary(uniqueKeysWithValues: report.models.map { ($0.model.id, $0) })
        XCTAssertEqual(lines["seedance-2-mini"]?.liveness, .neverTried)
        let klingLine = try XCTUnwrap(lines["kling-3.0"])
        let flagged = klingLine.prices.filter(\.differs)
        XCTAssertEqual(flagged.map { "\($0.price.durationSeconds) \($0.price.resolution) \($0.price.audio)" }, ["5 720p true", "10 720p true", "15 720p true"])
        XCTAssertEqual(flagged.first?.feedCredits, 125, "25 a second × 5 s")
        XCTAssertTrue(report.models.filter { $0.model.id != "kling-3.0" }.allSatisfy { $0.prices.allSatisfy { !$0.differs && $0.feedCredits != nil } },
                      "every other row matches Kie's list")
        XCTAssertEqual(provider.simulator.callCounts.createTask, 0, "the check starts no task")
    }

    /// Kie reports what it charged; when that is more than the list price the catalog's row was
    /// made from, the reconciliation says so.
    func testTheReconciliationFlagsAChargeAboveTheListPrice() throws {
        let world = try TestWorld()
        let root = try world.admin()
        let user = try world.user("charged", credits: 100_000)
        var models = try ModelCatalog.shipped(creditsPerProviderCredit: Settings.defaultCreditsPerProviderCredit).filter { $0.id == "grok-imagine" }
        models[0].prices = models[0].prices.map { price in
            var price = price
            price.providerCredits = (price.providerCredits ?? 0) / 2 // an out-of-date list price
            return price
        }
        _ = try Administration(clock: world.clock.clock).importModels(models, reason: "old list", by: .commandLine(), on: world.db)
        XCTAssertEqual(world.createVideo(user, options: [("model", .string("grok-imagine"))]).status, 202)
        XCTAssertEqual(world.createVideo(user).status, 202)
        world.clock.advance(25)
        world.deliverCallbacks()
        let report = world.send("POST", "/api/v1/admin/provider/reconciliation", json: .object([("hours", .int(1))]), as: root).bodyJSON!
        XCTAssertEqual(report["by_verdict"]?["match"]?.intValue, 1)
        XCTAssertEqual(report["by_verdict"]?["provider_charged_above_list"]?.intValue, 1)
        guard case .array(let differences) = report["differences"]! else { return XCTFail() }
        XCTAssertEqual(differences.first?["model"]?.stringValue, "grok-imagine")
        XCTAssertEqual(differences.first?["provider_list_credits"], .number(7.2))
        XCTAssertEqual(differences.first?["provider_charged_credits"], .number(14.4))
    }
}
