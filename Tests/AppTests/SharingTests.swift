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
            #expect(html.contains(#"<meta property="og:video" content="\#(videoURL)">"#))
            #expect(html.contains(#"<meta property="og:title" content="Fireflies over a rice field at dusk">"#))
            #expect(html.contains(#"<video controls playsinline preload="metadata" src="\#(videoURL)""#))
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
