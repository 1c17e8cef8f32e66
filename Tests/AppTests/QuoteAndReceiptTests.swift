@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

@Suite("Quotes before a create, receipts after, deadlines")
struct QuoteAndReceiptTests {
    @Test("the quote equals the hold of the create that follows, for any option", arguments: [
        #"{"prompt": "A lantern festival"}"#,
        #"{"prompt": "A lantern festival", "duration": 15, "aspect_ratio": "portrait"}"#,
        #"{"prompt": "A lantern festival", "model": "sora-2-pro-text-to-video", "quality": "high", "duration": 15}"#,
        #"{"prompt": "A lantern festival", "model": "sora-2-text-to-video-stable"}"#,
    ])
    func quoteMatchesHold(body: String) async throws {
        try await withTestApp { t in
            let user = try await t.makeUser(credits: 500_000)
            let quote = try await t.request(.POST, "/api/v1/videos/quote", as: user, json: body)
            #expect(quote.status == .ok)
            let price = try #require(quote.json["price_credits"].int)
            #expect(quote.json["credits"].int == 500_000)
            #expect(quote.json["credits_after"].int == 500_000 - price)
            #expect(quote.json["affordable"].bool == true)
            #expect(try await t.balances(user) == (500_000, 0))

            let created = try await t.createVideo(body, as: user)
            let id = try #require(created.json["id"].uuid)
            let hold = try #require(try await t.ledgerEntries(forJob: id).first { $0.kind == .hold })
            #expect(hold.heldDelta == price)
            #expect(try await t.balances(user).available == quote.json["credits_after"].int)
        }
    }

    @Test("a quote holds nothing, spends no rate limit, and refuses what a create would refuse")
    func quoteRefusesLikeACreate() async throws {
        try await withTestApp(adjust: { $0.limits.createsPerMinute = 1; $0.blockedTerms = ["forbidden"] }) { t in
            let user = try await t.makeUser(credits: 5_000)
            let bob = try await t.makeUser()
            for _ in 0..<5 {
                #expect(try await t.request(.POST, "/api/v1/videos/quote", as: user, json: #"{"prompt": "Fine"}"#).status == .ok)
            }
            let short = try await t.request(.POST, "/api/v1/videos/quote", as: user, json: #"{"prompt": "Fine"}"#)
            #expect(short.json["affordable"].bool == false)
            #expect(short.json["credits_after"].int == 5_000 - 7_000)

            #expect(try await t.request(.POST, "/api/v1/videos/quote", as: user, json: #"{"prompt": "forbidden things"}"#).errorCode
                    == "prompt_rejected")
            #expect(try await t.request(.POST, "/api/v1/videos/quote", as: user, json: #"{"prompt": "x", "duration": 12}"#).errorCode
                    == "invalid_duration")
            let upload = try #require(try await t.upload(Images.png, as: bob).json["id"].string)
            let foreign = try await t.request(.POST, "/api/v1/videos/quote", as: user,
                                              json: #"{"prompt": "x", "mode": "image_to_video", "upload_id": "\#(upload)"}"#)
            #expect(foreign.errorCode == "upload_not_found")
            #expect(try await t.request(.POST, "/api/v1/videos/quote", json: #"{"prompt": "x"}"#).status == .unauthorized)
            #expect(try await t.jobCount() == 0)
            #expect(try await t.balances(user) == (5_000, 0))

            // The one create this minute is still there to spend.
            try await t.app.store.writeTransaction { [now = t.clock.now, id = user.id] db in
                try await CreditLedger.grant(userID: id, amount: 10_000, reason: "test", at: now, on: db)
            }
            #expect(try await t.createVideo(#"{"prompt": "Fine"}"#, as: user).status == .accepted)
        }
    }

    @Test("the refund policy lists every full refund, in the caller's language")
    func refundPolicy() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let english = try await t.request(.POST, "/api/v1/videos/quote", as: user, json: #"{"prompt": "x"}"#,
                                              headers: ["Accept-Language": "en"])
            let rules = english.json["refund_policy"].array
            #expect(Set(rules.compactMap { $0["when"].string })
                    == ["provider_failed", "content_rejected", "provider_error", "submission_unconfirmed", "timed_out",
                        "deadline_exceeded", "missing_result", "canceled"])
            #expect(rules.allSatisfy { $0["refund"].string == "full" })
            #expect(rules.first { $0["when"].string == "canceled" }?["description"].string == "You canceled before the video started.")
            let vietnamese = try await t.request(.POST, "/api/v1/videos/quote", as: user, json: #"{"prompt": "x"}"#)
            #expect(vietnamese.json["refund_policy"].array.first { $0["when"].string == "canceled" }?["description"].string
                    == "Bạn hủy trước khi video bắt đầu được tạo.")

            let studio = try await t.tester.sendRequest(.GET, "/studio", headers: try await t.signInWithForm(user).headers)
            #expect(studio.body.string.contains(Localizer.shared.text("composer.refund_policy", .vi)))
        }
    }

    @Test("a video's receipt keeps the price it was held at and shows its hold, then the settle or release")
    func receipts() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let good = try await t.createTextVideo("Will be charged", as: user)
            let bad = try await t.createTextVideo("Will be refunded #fail", as: user)

            var receipt = try await t.request(.GET, "/api/v1/videos/\(good)", as: user).json["receipt"]
            #expect(receipt["price_credits"].int == 7_000)
            #expect(receipt["state"].string == "open")
            #expect(receipt["entries"].array.map { $0["kind"].string } == ["hold"])
            #expect(receipt["closed_at"].isNull)

            // A price change after the hold touches no receipt.
            try await Price.query(on: t.app.db).set(\.$credits, to: 9_999).update()
            try await t.advance(by: 25)

            receipt = try await t.request(.GET, "/api/v1/videos/\(good)", as: user).json["receipt"]
            #expect(receipt["price_credits"].int == 7_000)
            #expect(receipt["state"].string == "settled")
            #expect(receipt["entries"].array.map { $0["kind"].string } == ["hold", "settle"])
            #expect(receipt["entries"][0]["amount"].int == -7_000 && receipt["entries"][1]["held_change"].int == -7_000)
            #expect(!receipt["closed_at"].isNull)

            let refunded = try await t.request(.GET, "/api/v1/videos/\(bad)", as: user).json["receipt"]
            #expect(refunded["state"].string == "released")
            #expect(refunded["entries"].array.map { $0["kind"].string } == ["hold", "release"])
            #expect(refunded["entries"][1]["amount"].int == 7_000)

            // The list stays light: receipts are on the single video only.
            #expect(try await t.request(.GET, "/api/v1/videos", as: user).json["data"][0]["receipt"].isNull)
        }
    }

    @Test("a job past its deadline fails with deadline_exceeded and is refunded once; a late success is recorded, not charged")
    func deadlines() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            // #slow: the simulator takes 200 s; the deadline is 60 s.
            let created = try await t.createVideo(#"{"prompt": "A slow sunrise #slow", "deadline_seconds": 60}"#, as: user)
            let id = try #require(created.json["id"].uuid)
            #expect(!created.json["deadline_at"].isNull)
            let onTime = try await t.createVideo(#"{"prompt": "A quick one", "deadline_seconds": 120}"#, as: user)
            let onTimeID = try #require(onTime.json["id"].uuid)

            try await t.advance(by: 30) // the quick one finishes before its deadline
            #expect(try await t.job(onTimeID).status == .completed)
            _ = try await t.reconcilePass()
            #expect(try await t.job(id).status != .failed)

            try await t.advance(by: 31)
            _ = try await t.reconcilePass()
            _ = try await t.reconcilePass() // a second pass changes nothing
            let failed = try await t.request(.GET, "/api/v1/videos/\(id)", as: user)
            #expect(failed.json["status"].string == "failed")
            #expect(failed.json["failure"]["code"].string == "deadline_exceeded")
            #expect(failed.json["credits_refunded"].bool == true)
            #expect(try await t.balances(user) == (93_000, 0))

            // The provider finishes later: the success is recorded, nothing is charged.
            try await t.advance(by: 200)
            let late = try await t.job(id)
            #expect(late.status == .failed && late.providerState == "success")
            #expect(try await t.ledgerEntries(forJob: id).map(\.kind).sorted { $0.rawValue < $1.rawValue } == [.hold, .release])
            #expect(try await t.balances(user) == (93_000, 0))
            try await t.verifyLedger()

            for bad in ["59", "86401", "\"soon\""] {
                let refused = try await t.createVideo(#"{"prompt": "x", "deadline_seconds": \#(bad)}"#, as: user)
                #expect(refused.errorCode == "invalid_deadline", "\(bad)")
            }
            let quoteWithDeadline = try await t.request(.POST, "/api/v1/videos/quote", as: user, json: #"{"prompt": "x", "deadline_seconds": 600}"#)
            #expect(quoteWithDeadline.json["refund_policy"].array.contains { $0["when"].string == "deadline_exceeded" })
        }
    }
}
