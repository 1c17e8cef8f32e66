// Kie's public price feed: the count, the pages (100 at most), records shaped like Kie's with string prices.
@testable import PhimProvider
import PhimSupport
import XCTest

final class KieSimulatorPriceFeedTests: XCTestCase {
    override func setUp() { TestEnvironment.setUp() }

    static let allRecords = TestFeed.allRecords

    func page(_ simulator: KieSimulator, _ body: String) -> JSON { KieReply.data(simulator.pricingPage(body: Data(body.utf8))) }

    func records(_ data: JSON) -> [JSON] {
        guard case .array(let items)? = data["records"] else { return [] }
        return items
    }

    func testCountAndPagesWithPageSizeCappedAt100() {
        let simulator = KieSimulator(settings: .init(expectedAPIKey: "secret"), clock: ManualClock().clock, mediaBaseURL: "")
        XCTAssertEqual(String(decoding: simulator.pricingCount().body, as: UTF8.self),
                       #"{"code":200,"msg":"success","data":{"all":25,"image":0,"video":25,"music":0,"chat":0}}"#, "no key needed")
        let first = page(simulator, #"{"pageNum": 1, "pageSize": 10}"#)
        XCTAssertEqual(records(first).count, 10)
        XCTAssertEqual(first["total"]?.intValue, Self.allRecords)
        XCTAssertEqual(first["pages"]?.intValue, 3)
        XCTAssertEqual(records(page(simulator, #"{"pageNum": 3, "pageSize": 10, "interfaceType": "video"}"#)).count, 5)
        XCTAssertEqual(records(page(simulator, #"{"pageNum": 4, "pageSize": 10}"#)).count, 0)
        let capped = page(simulator, #"{"pageNum": 1, "pageSize": 500}"#)
        XCTAssertEqual(records(capped).count, Self.allRecords)
        XCTAssertEqual(capped["pages"]?.intValue, 1)
        let images = page(simulator, #"{"pageNum": 1, "pageSize": 100, "interfaceType": "image"}"#)
        XCTAssertEqual(images["total"]?.intValue, 0)
        XCTAssertEqual(records(page(simulator, "")).count, SimulatorPriceFeed.defaultPageSize)
        XCTAssertEqual(KieReply.code(simulator.pricingPage(body: Data(#"{"pageNum": 0}"#.utf8))), 400)
        XCTAssertEqual(KieReply.code(simulator.pricingPage(body: Data(#"{"pageSize": "10"}"#.utf8))), 400)
        XCTAssertEqual(simulator.callCounts.pricing, 9)

        // Paging through the whole feed gives every record once.
        let all = (1...5).flatMap { pageNum in records(page(simulator, #"{"pageNum": \#(pageNum), "pageSize": 6}"#)) }
        XCTAssertEqual(all.count, Self.allRecords)
        XCTAssertEqual(Set(all.compactMap { $0["modelDescription"]?.stringValue }).count, Self.allRecords, "no record twice")
    }

    func testRecordsAreShapedLikeKiesWithStringPrices() throws {
        let simulator = KieSimulator(settings: .init(), clock: ManualClock().clock, mediaBaseURL: "")
        let all = records(page(simulator, #"{"pageNum": 1, "pageSize": 100}"#))
        func record(_ description: String) throws -> JSON {
            try XCTUnwrap(all.first { $0["modelDescription"]?.stringValue == description }, description)
        }
        // Exactly Kie's record, key order included (JSON.parse sorts keys, so compare the text).
        let text = String(decoding: simulator.pricingPage(body: Data(#"{"pageNum": 1, "pageSize": 100}"#.utf8)).body, as: UTF8.self)
        XCTAssertTrue(text.contains(#"{"modelDescription":"Kling 3.0, video, with audio-720P","interfaceType":"video","provider":"Kling","creditPrice":"20","creditUnit":"per second","usdPrice":"0.1","falPrice":null,"discountRate":null,"anchor":"https://kie.ai/kling-3?model=kling-3.0/video"}"#), text)
        let expected: [(String, String, String, String)] = [
            ("Kling 3.0, video, without audio-720P", "14", "0.07", "per second"),
            ("Kling 3.0, video, with audio-1080P", "27", "0.135", "per second"),
            ("Kling 3.0, video-4K", "67", "0.335", "per second"),
            ("Seedance 2 Mini, video-480p", "3.8", "0.019", "per second"),
            ("Seedance 2 Fast, video-720p", "24.8", "0.124", "per second"),
            ("Seedance 2, video-1080p", "102", "0.51", "per second"),
            ("Grok Imagine, text-to-video-480p", "2.4", "0.012", "per second"),
            ("Grok Imagine, image-to-video-720p", "4.5", "0.0225", "per second"),
            ("Wan 3.0, video-1080P", "32", "0.16", "per second"),
            ("Wan 3.0 Prime, video-720P", "25.2", "0.126", "per second"),
            ("Veo 3.1 Fast, video-720P", "60", "0.3", "per video"),
            ("Veo 3.1 Quality, video-720P", "250", "1.25", "per video"),
            ("Veo 3.1 Lite, video-720P", "30", "0.15", "per video"),
        ]
        for (description, credits, usd, unit) in expected {
            let row = try record(description)
            guard case .string(let price)? = row["creditPrice"] else { return XCTFail("\(description): creditPrice is not a string") }
            XCTAssertEqual(price, credits, description)
            XCTAssertEqual(row["usdPrice"]?.stringValue, usd, description)
            XCTAssertEqual(row["creditUnit"]?.stringValue, unit, description)
        }
        XCTAssertFalse(all.contains { $0["anchor"]?.stringValue?.contains("sora") == true }, "Sora is paused, so it is not in the feed")
    }

    func testPausedModelsDropOutAndOverridesChangeTheFeedOnly() throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: 1, accountCredits: 1_000, pausedModels: ["kling-3.0/video"],
                                                     priceOverrides: ["veo3_fast|Veo 3.1 Fast, video-720P": 168]),
                                     clock: clock.clock, mediaBaseURL: "")
        XCTAssertEqual(KieReply.data(simulator.pricingCount())["all"]?.intValue, Self.allRecords - 5)
        let all = records(page(simulator, #"{"pageNum": 1, "pageSize": 100}"#))
        XCTAssertFalse(all.contains { $0["provider"]?.stringValue == "Kling" })
        let fast = try XCTUnwrap(all.first { $0["modelDescription"]?.stringValue == "Veo 3.1 Fast, video-720P" })
        XCTAssertEqual(fast["creditPrice"]?.stringValue, "168")
        XCTAssertEqual(fast["usdPrice"]?.stringValue, "0.84")
        // Billing keeps the list price: the feed and the bill disagree, as a test may want.
        _ = try KieReply.taskID(simulator.veoGenerate(authorization: "Bearer k", body: Data(#"{"prompt": "x", "model": "veo3_fast"}"#.utf8)))
        XCTAssertEqual(simulator.accountCredits, 940)
        simulator.setPaused([])
        XCTAssertEqual(KieReply.data(simulator.pricingCount())["all"]?.intValue, Self.allRecords)
    }

    func testDecimalsAreWrittenWithoutFloatingPointNoise() {
        XCTAssertEqual(SimulatorPriceFeed.decimal(3_800, scale: 1_000), "3.8")
        XCTAssertEqual(SimulatorPriceFeed.decimal(20_000, scale: 1_000), "20")
        XCTAssertEqual(SimulatorPriceFeed.decimal(12_200 * 5, scale: 1_000_000), "0.061")
        XCTAssertEqual(SimulatorPriceFeed.decimal(50, scale: 1_000), "0.05")
        XCTAssertEqual(SimulatorPriceFeed.decimal(-1_500, scale: 1_000), "-1.5")
    }
}
