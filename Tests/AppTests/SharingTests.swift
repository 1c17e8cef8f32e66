@testable import App
import Fluent
import Foundation
import Testing
import VaporTesting

@Suite("Share links")
struct SharingTests {
    @Test("a finished video shared by its owner plays on a public page with Open Graph tags; withdrawn, deleted or unknown links show nothing")
    func shareAndWithdraw() async throws {
        try await withTestApp { t in
            let owner = try await t.makeUser("owner@phim.test")
            let stranger = try await t.makeUser()
            let id = try await t.createTextVideo("Fireflies over a rice field at dusk", as: owner)
            let early = try await t.request(.POST, "/api/v1/videos/\(id)/share", as: owner)
            #expect(early.status == .conflict && early.errorCode == "not_shareable", "only a finished video")
            try await t.advance(by: 30)
            let videoURL = try #require(try await t.job(id).videoURL)

            #expect(try await t.request(.POST, "/api/v1/videos/\(id)/share", as: stranger).status == .notFound)
            let shared = try await t.request(.POST, "/api/v1/videos/\(id)/share", as: owner)
            #expect(shared.status == .ok)
            let url = try #require(shared.json["url"].string)
            #expect(try await t.request(.POST, "/api/v1/videos/\(id)/share", as: owner).json["url"].string == url, "asking again keeps the link")
            #expect(try await t.request(.GET, "/api/v1/videos/\(id)", as: owner).json["share_url"].string == url)
            let path = try #require(URLComponents(string: url)?.path)
            #expect(path.hasPrefix("/v/") && path.count == 3 + 43)

            let page = try await t.tester.sendRequest(.GET, path)
            #expect(page.status == .ok && page.headers.first(name: "X-Robots-Tag") == "noindex")
            let html = page.body.string
            #expect(html.contains(#"<meta property="og:video" content="\#(url)/media">"#))
            #expect(html.contains(#"<meta property="og:title" content="Fireflies over a rice field at dusk">"#))
            #expect(html.contains(#"<video controls playsinline preload="metadata" src="\#(url)/media""#))
            let media = try await t.tester.sendRequest(.GET, path + "/media")
            #expect(media.status == .temporaryRedirect && media.headers.first(name: .location) == videoURL, "plays from the provider")
            #expect(!html.contains("owner@phim.test"), "the page never shows who made it")
            for other in ["/v/\(String(repeating: "a", count: 43))", "/v/short", "/v/\(path.dropFirst(3).dropLast())%2F"] {
                #expect(try await t.tester.sendRequest(.GET, other).status == .notFound, "\(other)")
            }

            #expect(try await t.request(.DELETE, "/api/v1/videos/\(id)/share", as: stranger).status == .notFound)
            #expect(try await t.request(.DELETE, "/api/v1/videos/\(id)/share", as: owner).status == .noContent)
            #expect(try await t.tester.sendRequest(.GET, path).status == .notFound, "withdrawn at once")
            #expect(try await t.request(.GET, "/api/v1/videos/\(id)", as: owner).json["share_url"].isNull)
            let again = try #require(try await t.request(.POST, "/api/v1/videos/\(id)/share", as: owner).json["url"].string)
            #expect(again != url)
            #expect(try await t.tester.sendRequest(.GET, path).status == .notFound, "a withdrawn link never comes back")

            #expect(try await t.request(.DELETE, "/api/v1/videos/\(id)", as: owner).status == .noContent)
            #expect(try await t.tester.sendRequest(.GET, try #require(URLComponents(string: again)?.path)).status == .notFound,
                    "a deleted video's link shows nothing")
        }
    }
}

@Suite("Provider links: fresh after a day, expired after the provider's retention")
struct MediaLinkTests {
    @Test("a video plays through Phim's link: the stored URL for a day, then a fresh provider link reused for 18 minutes; after 14 days it has expired")
    func freshAndExpired() async throws {
        try await withTestApp { t in
            let owner = try await t.makeUser()
            let stranger = try await t.makeUser()
            let id = try await t.createTextVideo("Lanterns on the river", as: owner)
            try await t.advance(by: 30)
            let stored = try #require(try await t.job(id).videoURL)
            let path = "/api/v1/videos/\(id)/media"

            let first = try await t.request(.GET, path, as: owner)
            #expect(first.status == .temporaryRedirect && first.headers.first(name: .location) == stored)
            #expect(try await t.request(.GET, path, as: stranger).status == .notFound)
            #expect(await t.simulator.callCounts.downloadURL == 0, "a day-fresh URL needs no provider call")
            let video = try await t.request(.GET, "/api/v1/videos/\(id)", as: owner).json
            #expect(video["media_url"].string?.hasSuffix(path.lowercased()) == true)
            let expires = try #require(video["expires_at"].string.flatMap { try? Date($0, strategy: .iso8601) })
            #expect(abs(expires.timeIntervalSince(try #require(try await t.job(id).finishedAt)) - 14 * 86_400) < 1)

            t.clock.advance(by: 21 * 3600)
            let fresh = try #require(try await t.request(.GET, path, as: owner).headers.first(name: .location))
            #expect(fresh.hasPrefix(stored + "?download="), "a fresh provider link for an old URL")
            #expect(try await t.request(.GET, path, as: owner).headers.first(name: .location) == fresh)
            #expect(await t.simulator.callCounts.downloadURL == 1, "reused while valid")
            t.clock.advance(by: 19 * 60)
            #expect(try await t.request(.GET, path, as: owner).headers.first(name: .location) != fresh)
            #expect(await t.simulator.callCounts.downloadURL == 2)

            let visitor = try await t.signInWithForm(owner)
            let card = try await t.tester.sendRequest(.GET, "/studio/cards/\(id)", headers: visitor.headers).body.string
            #expect(card.contains(Localizer.shared.text("card.expires_in", .vi, ["days": "14"])), "13 days and 3 hours: 14 started days")
            #expect(card.contains(#"src="/api/v1/videos/\#(id.uuidString.lowercased())/media""#))

            t.clock.advance(by: 14 * 86_400)
            let gone = try await t.request(.GET, path, as: owner)
            #expect(gone.status == .gone && gone.errorCode == "video_expired")
            let expired = try await t.tester.sendRequest(.GET, "/studio/cards/\(id)", headers: visitor.headers).body.string
            #expect(expired.contains("media-expired") && !expired.contains("<video") && !expired.contains(#"data-action="share""#))
            #expect(expired.contains(Localizer.shared.text("card.expired", .vi, ["days": "14"])))
            let share = try await t.request(.POST, "/api/v1/videos/\(id)/share", as: owner)
            #expect(share.status == .gone && share.errorCode == "video_expired", "an expired video cannot be shared")
        }
    }
}
