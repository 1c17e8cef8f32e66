@testable import App
import Fluent
import Foundation
import Testing
import VaporTesting

@Suite("Batches of variants")
struct BatchTests {
    @Test("a batch makes that many videos, each held, charged and refunded on its own; a retry with the same key makes nothing twice")
    func eachOnItsOwn() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser(credits: 50_000)
            let body = #"{"prompt": "A heron lands on a lotus pond", "variants": 3}"#
            let batch = try await t.request(.POST, "/api/v1/videos/batch", as: user, json: body, headers: ["Idempotency-Key": "batch-1"])
            #expect(batch.status == .accepted)
            let ids = batch.json["videos"].array.compactMap { $0["id"].uuid }
            #expect(ids.count == 3 && Set(ids).count == 3)
            let price = try await t.job(ids[0]).priceCredits
            #expect(try await t.balances(user) == (50_000 - 3 * price, 3 * price))
            for id in ids {
                #expect(try await t.ledgerEntries(forJob: id).map(\.kind) == [.hold], "one hold per video")
            }

            let retry = try await t.request(.POST, "/api/v1/videos/batch", as: user, json: body, headers: ["Idempotency-Key": "batch-1"])
            #expect(retry.status == .ok && retry.headers.first(name: "Idempotent-Replayed") == "true")
            #expect(retry.json["videos"].array.compactMap { $0["id"].uuid } == ids)
            #expect(try await t.jobCount() == 3)
            #expect(try await t.balances(user) == (50_000 - 3 * price, 3 * price))

            try await t.advance(by: 30)
            #expect(try await t.balances(user) == (50_000 - 3 * price, 0))
            for id in ids { #expect(Set(try await t.ledgerEntries(forJob: id).map(\.kind)) == [.hold, .settle]) }

            let failing = try await t.request(.POST, "/api/v1/videos/batch", as: user, json: #"{"prompt": "Storm #fail", "variants": 2}"#)
            let failed = failing.json["videos"].array.compactMap { $0["id"].uuid }
            #expect(failed.count == 2)
            try await t.advance(by: 30)
            for id in failed {
                #expect(try await t.job(id).status == .failed)
                #expect(Set(try await t.ledgerEntries(forJob: id).map(\.kind)) == [.hold, .release], "each refunded on its own")
            }
            #expect(try await t.balances(user) == (50_000 - 3 * price, 0))
            try await t.verifyLedger()
        }
    }

    @Test("a batch the balance cannot cover makes nothing; a bad variants value is refused before anything is held")
    func refusals() async throws {
        try await withTestApp { t in
            let probe = try await t.makeUser(credits: 50_000)
            let price = try #require(try await t.request(.POST, "/api/v1/videos/quote", as: probe, json: #"{"prompt": "x"}"#).json["price_credits"].int)
            let user = try await t.makeUser(credits: 2 * price + 1)
            let short = try await t.request(.POST, "/api/v1/videos/batch", as: user, json: #"{"prompt": "Three herons", "variants": 3}"#)
            #expect(short.status == .paymentRequired && short.errorCode == "insufficient_credits")
            #expect(short.json["error"]["needed"].int == 3 * price)
            for variants in ["1", "5", "\"two\"", "null", "2.5"] {
                let refused = try await t.request(.POST, "/api/v1/videos/batch", as: user, json: #"{"prompt": "Herons", "variants": \#(variants)}"#)
                #expect(refused.status == .unprocessableEntity && refused.errorCode == "invalid_variants", "\(variants)")
            }
            let noPrompt = try await t.request(.POST, "/api/v1/videos/batch", as: user, json: #"{"variants": 2}"#)
            #expect(noPrompt.status == .unprocessableEntity && noPrompt.errorCode == "prompt_required")
            #expect(try await t.jobCount() == 0, "no video made")
            #expect(try await t.balances(user) == (2 * price + 1, 0), "nothing held")
            try await t.verifyLedger()
        }
    }
}
