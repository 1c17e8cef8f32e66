import Foundation
import PhimCore
import PhimServer
import PhimSupport
import XCTest

/// Public links and media that outlive the provider's URLs.
final class SharingTests: XCTestCase {
    func finishedVideo(_ world: TestWorld, _ user: TestWorld.Caller, prompt: String = "a lantern festival <img src=x onerror=alert(1)>") -> String {
        let id = world.createVideo(user, prompt: prompt).bodyJSON!["id"]!.stringValue!
        world.clock.advance(25)
        world.deliverCallbacks()
        return id
    }

    func testASharedVideoPlaysAtItsLinkWithoutNamingItsOwnerUntilWithdrawn() throws {
        let world = try TestWorld()
        let owner = try world.user("owner", credits: 20_000)
        let pending = world.createVideo(owner).bodyJSON!["id"]!.stringValue!
        XCTAssertEqual(world.send("POST", "/api/v1/videos/\(pending)/share", as: owner).bodyJSON?["error"]?["code"]?.stringValue, "not_shareable")
        let id = finishedVideo(world, owner)
        let shared = world.send("POST", "/api/v1/videos/\(id)/share", as: owner)
        XCTAssertEqual(shared.status, 200, shared.bodyText)
        let url = shared.bodyJSON!["url"]!.stringValue!
        XCTAssertTrue(url.hasPrefix("http://127.0.0.1:8080/v/"))
        XCTAssertEqual(URL(string: url)!.lastPathComponent.count, 43, "256 random bits")
        XCTAssertEqual(world.send("POST", "/api/v1/videos/\(id)/share", as: owner).bodyJSON?["url"]?.stringValue, url, "same link again")
        XCTAssertEqual(world.video(owner, id)?["share_url"]?.stringValue, url)

        let path = URL(string: url)!.path
        let page = world.send("GET", path)
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.header("Content-Type"), "text/html; charset=utf-8")
        let html = page.bodyText
        XCTAssertTrue(html.contains("<meta name=\"robots\" content=\"noindex, nofollow\">"))
        XCTAssertTrue(html.contains("property=\"og:video\" content=\"\(url)/media\""))
        XCTAssertTrue(html.contains("a lantern festival &lt;img src=x onerror=alert(1)&gt;"), "the prompt is text, never markup")
        XCTAssertFalse(html.contains("<img src=x"))
        XCTAssertFalse(html.contains(owner.email))
        XCTAssertFalse(html.contains("<script"))
        let media = world.send("GET", path + "/media")
        XCTAssertEqual(media.status, 307)
        XCTAssertTrue(media.header("Location")?.hasPrefix("http://127.0.0.1:8080/simulator/media/") ?? false)

        let embed = world.send("GET", path + "/embed")
        XCTAssertEqual(embed.status, 200)
        XCTAssertTrue(embed.bodyText.contains("src=\"\(url)/media\""))
        XCTAssertFalse(embed.bodyText.contains("<script"))
        try ShareViewCounter.shared.flush(on: world.db)
        let counted = world.video(owner, id)!
        XCTAssertEqual(counted["share_views"]?.intValue, 2, "the page and the embed were each viewed once")
        XCTAssertEqual(counted["embed_code"]?.stringValue,
                       "<iframe src=\"\(url)/embed\" width=\"640\" height=\"360\" frameborder=\"0\" allow=\"fullscreen\" allowfullscreen title=\"Phim\"></iframe>")
        XCTAssertEqual(try world.db.query("SELECT * FROM share_views").count, 1, "one row per video and day, nothing about viewers")
        let stranger = try world.user("stranger")
        XCTAssertEqual(world.send("POST", "/api/v1/videos/\(id)/share", as: stranger).status, 404)
        XCTAssertEqual(world.send("DELETE", "/api/v1/videos/\(id)/share", as: owner).status, 204)
        XCTAssertEqual(world.send("GET", path).status, 404)
        XCTAssertEqual(world.send("GET", path + "/media").status, 404)
        XCTAssertEqual(world.send("GET", path + "/embed").status, 404)
        let again = world.send("POST", "/api/v1/videos/\(id)/share", as: owner).bodyJSON!["url"]!.stringValue!
        XCTAssertNotEqual(again, url, "sharing again makes a new link")
        XCTAssertEqual(world.send("DELETE", "/api/v1/videos/\(id)", as: owner).status, 204)
        XCTAssertEqual(world.send("GET", URL(string: again)!.path).status, 404, "a deleted video's link is gone at once")
        XCTAssertEqual(world.send("GET", "/v/not-a-token").status, 404)
    }

    /// Write transactions committed to the database file: commit frames in its write-ahead log
    /// (this test empties the log first, and SQLite checkpoints only past 1,000 pages).
    func commits(_ world: TestWorld) throws -> Int {
        let wal = [UInt8](try Data(contentsOf: URL(fileURLWithPath: world.databasePath + "-wal")))
        guard wal.count >= 32 else { return 0 }
        func be32(_ at: Int) -> Int { Int(wal[at]) << 24 | Int(wal[at + 1]) << 16 | Int(wal[at + 2]) << 8 | Int(wal[at + 3]) }
        let pageSize = be32(8), salts = Array(wal[16..<24])
        var count = 0, frame = 32
        while frame + 24 + pageSize <= wal.count, Array(wal[(frame + 8)..<(frame + 16)]) == salts {
            if be32(frame + 4) != 0 { count += 1 }
            frame += 24 + pageSize
        }
        return count
    }

    func storedViews(_ world: TestWorld, _ id: String) throws -> (video: Int, days: Int) {
        (try world.db.first("SELECT share_views FROM video_jobs WHERE id = ?", [.text(id)])?.int(0) ?? -1,
         try world.db.first("SELECT COALESCE(SUM(views), 0) FROM share_views WHERE job_id = ?", [.text(id)])?.int(0) ?? -1)
    }

    func testViewsAreCountedInMemoryAndWrittenInOneTransactionPerFlush() throws {
        let world = try TestWorld()
        let owner = try world.user("popular", credits: 20_000)
        let id = finishedVideo(world, owner)
        let path = URL(string: world.send("POST", "/api/v1/videos/\(id)/share", as: owner).bodyJSON!["url"]!.stringValue!)!.path
        try ShareViewCounter.shared.flush(on: world.db) // whatever earlier tests left
        try world.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        XCTAssertEqual(try commits(world), 0)

        for _ in 0..<7 { XCTAssertEqual(world.send("GET", path).status, 200) }
        for _ in 0..<3 { XCTAssertEqual(world.send("GET", path + "/embed").status, 200) }
        XCTAssertEqual(try commits(world), 0, "ten anonymous views wrote nothing")
        XCTAssertEqual(ShareViewCounter.shared.unwritten, 10)
        XCTAssertEqual(try storedViews(world, id).video, 0)

        XCTAssertEqual(try ShareViewCounter.shared.flush(on: world.connection()), 10)
        XCTAssertEqual(try commits(world), 1, "one flush, one transaction")
        XCTAssertEqual(try storedViews(world, id).video, 10)
        XCTAssertEqual(try storedViews(world, id).days, 10)
        XCTAssertEqual(ShareViewCounter.shared.unwritten, 0)
        XCTAssertEqual(try ShareViewCounter.shared.flush(on: world.db), 0)
        XCTAssertEqual(try commits(world), 1, "nothing to write, no transaction")
        XCTAssertEqual(world.video(owner, id)?["share_views"]?.intValue, 10)
        XCTAssertEqual(world.send("GET", path).status, 200)
        XCTAssertEqual(world.video(owner, id)?["share_views"]?.intValue, 10, "at most one flush behind")
        try ShareViewCounter.shared.flush(on: world.db)
        XCTAssertEqual(world.video(owner, id)?["share_views"]?.intValue, 11)
    }

    func testViewsNotYetWrittenAreWrittenAtAShutdown() throws {
        let world = try TestWorld()
        let owner = try world.user("closing", credits: 20_000)
        let id = finishedVideo(world, owner)
        let path = URL(string: world.send("POST", "/api/v1/videos/\(id)/share", as: owner).bodyJSON!["url"]!.stringValue!)!.path
        for _ in 0..<4 { XCTAssertEqual(world.send("GET", path).status, 200) }
        XCTAssertEqual(try storedViews(world, id).video, 0)
        // What `phim fcgi` does once its requests are finished, before it exits.
        BackgroundLoops.flushShareViews(databasePath: world.databasePath)
        let afterRestart = try Database(path: world.databasePath)
        XCTAssertEqual(try afterRestart.first("SELECT share_views FROM video_jobs WHERE id = ?", [.text(id)])?.int(0), 4)
        XCTAssertEqual(ShareViewCounter.shared.unwritten, 0)
    }

    func testMediaRedirectsToTheStoredURLThenToFreshLinksThenExpires() throws {
        let world = try TestWorld()
        let owner = try world.user("viewer", credits: 10_000)
        let id = finishedVideo(world, owner)
        let video = world.video(owner, id)!
        XCTAssertEqual(video["media_url"]?.stringValue, "http://127.0.0.1:8080/api/v1/videos/\(id)/media")
        let stored = video["video_url"]!.stringValue!
        XCTAssertEqual(world.send("GET", "/api/v1/videos/\(id)/media", as: owner).header("Location"), stored)

        world.clock.advance(21 * 3600) // past the stored URL's trusted day
        let fresh = world.send("GET", "/api/v1/videos/\(id)/media", as: owner)
        XCTAssertEqual(fresh.status, 307)
        let freshURL = fresh.header("Location")!
        XCTAssertTrue(freshURL.hasPrefix(stored + "?download="), freshURL)
        let calls = world.simulator.statistics().calls.downloadURL
        XCTAssertEqual(world.send("GET", "/api/v1/videos/\(id)/media", as: owner).header("Location"), freshURL, "reused while fresh")
        XCTAssertEqual(world.simulator.statistics().calls.downloadURL, calls)

        world.clock.advance(14 * 86_400)
        let expired = world.send("GET", "/api/v1/videos/\(id)/media", as: owner)
        XCTAssertEqual(expired.status, 410)
        XCTAssertEqual(expired.bodyJSON?["error"]?["code"]?.stringValue, "video_expired")
        XCTAssertEqual(world.video(owner, id)?["expired"], .bool(true))
        XCTAssertEqual(world.send("POST", "/api/v1/videos/\(id)/share", as: owner).status, 409)
    }
}
