import Foundation
import PhimCore
import PhimServer
import PhimSupport
import XCTest

/// The change feed the studio polls: 304 while nothing changed, the changed videos after a
/// callback, and never a provider call, however many tabs poll.
final class LiveFeedTests: XCTestCase {
    func testChangesFeedReportsCallbacksAndDeletesWithoutAskingTheProvider() throws {
        let world = try TestWorld()
        let user = try world.user("feed", credits: 20_000)
        let list = world.send("GET", "/api/v1/videos", as: user).bodyJSON!
        var version = list["version"]!.intValue!
        let id = world.createVideo(user).bodyJSON!["id"]!.stringValue!

        var changes = world.send("GET", "/api/v1/videos/changes?after=\(version)", as: user)
        XCTAssertEqual(changes.status, 200)
        guard case .array(let made) = changes.bodyJSON!["videos"]! else { return XCTFail() }
        XCTAssertEqual(made.first?["id"]?.stringValue, id)
        version = changes.bodyJSON!["version"]!.intValue!

        let queriesBefore = world.simulator.statistics().calls.recordInfo
        for _ in 0..<50 { XCTAssertEqual(world.send("GET", "/api/v1/videos/changes?after=\(version)", as: user).status, 304) }
        XCTAssertEqual(world.simulator.statistics().calls.recordInfo, queriesBefore, "polling tabs never reach the provider")

        world.clock.advance(25)
        world.deliverCallbacks()
        changes = world.send("GET", "/api/v1/videos/changes?after=\(version)", as: user)
        XCTAssertEqual(changes.status, 200)
        guard case .array(let finished) = changes.bodyJSON!["videos"]! else { return XCTFail() }
        XCTAssertEqual(finished.last?["status"]?.stringValue, "completed")
        version = changes.bodyJSON!["version"]!.intValue!

        XCTAssertEqual(world.send("DELETE", "/api/v1/videos/\(id)", as: user).status, 204)
        changes = world.send("GET", "/api/v1/videos/changes?after=\(version)", as: user)
        XCTAssertEqual(changes.bodyJSON?["deleted"], .array([.string(id)]))
        XCTAssertEqual(world.send("GET", "/api/v1/videos/\(id)", as: user).status, 404)
        XCTAssertEqual(world.send("GET", "/api/v1/videos/changes?after=abc", as: user).status, 400)
        try world.assertLedgerClean()
    }

    func testTimesAreISO8601InUTCWithMilliseconds() throws {
        let world = try TestWorld()
        let user = try world.user("times", credits: TestWorld.price)
        world.clock.advance(0.25)
        let video = world.createVideo(user).bodyJSON!
        XCTAssertEqual(video["created_at"]?.stringValue, "2027-01-15T08:00:00.250Z")
        XCTAssertEqual(video["finished_at"], .null)
    }

    func testGalleryPagesNewestFirstWithACursor() throws {
        let world = try TestWorld()
        let user = try world.user("pages", credits: 70_000)
        var ids: [String] = []
        for index in 0..<5 {
            ids.append(world.createVideo(user, prompt: "clip \(index)").bodyJSON!["id"]!.stringValue!)
            world.clock.advance(1)
        }
        let first = world.send("GET", "/api/v1/videos?limit=2", as: user).bodyJSON!
        guard case .array(let page) = first["data"]! else { return XCTFail() }
        XCTAssertEqual(page.map { $0["id"]!.stringValue! }, [ids[4], ids[3]])
        let cursor = first["next_cursor"]!.stringValue!
        let second = world.send("GET", "/api/v1/videos?limit=2&cursor=\(cursor)", as: user).bodyJSON!
        guard case .array(let next) = second["data"]! else { return XCTFail() }
        XCTAssertEqual(next.map { $0["id"]!.stringValue! }, [ids[2], ids[1]])
        XCTAssertEqual(world.send("GET", "/api/v1/videos?cursor=garbage", as: user).status, 400)
        XCTAssertEqual(world.send("GET", "/api/v1/videos?limit=0", as: user).status, 400)
        let ledger = world.send("GET", "/api/v1/credits/transactions?limit=3", as: user).bodyJSON!
        guard case .array(let entries) = ledger["data"]! else { return XCTFail() }
        XCTAssertEqual(entries.count, 3)
        XCTAssertEqual(entries.first?["kind"]?.stringValue, "hold")
        XCTAssertNotNil(ledger["next_cursor"]?.stringValue)
    }
}
