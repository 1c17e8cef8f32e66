@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

@Suite("Credits: holds, idempotency and concurrency")
struct CreditTests {
    @Test("50 concurrent creates on a balance that covers 10 make exactly 10 jobs")
    func concurrentCreatesNeverOverdraw() async throws {
        // The balance is what stops them here, not the per-account limits.
        try await withTestApp(adjust: { $0.limits.createsPerMinute = 100; $0.limits.maxUnfinishedJobs = 100 }) { t in
            let user = try await t.makeUser(credits: 70_000)
            let statuses = try await withThrowingTaskGroup(of: HTTPStatus.self) { group in
                for index in 0..<50 {
                    group.addTask { try await t.createVideo(#"{"prompt": "Clip number \#(index)"}"#, as: user).status }
                }
                return try await group.reduce(into: [HTTPStatus]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .accepted }.count == 10)
            #expect(statuses.filter { $0 == .paymentRequired }.count == 40, "\(statuses.filter { $0 != .paymentRequired && $0 != .accepted })")
            #expect(try await t.jobCount() == 10)
            #expect(try await t.balances(user) == (0, 70_000))
            try await t.verifyLedger()

            try await t.advance(by: 25)
            #expect(try await t.balances(user) == (0, 0))
            try await t.verifyLedger()
        }
    }

    @Test("insufficient credits answers 402 with the amounts and changes nothing")
    func insufficientCredits() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser(credits: 6_999)
            let response = try await t.createVideo(#"{"prompt": "Too expensive"}"#, as: user)
            #expect(response.status == .paymentRequired)
            #expect(response.errorCode == "insufficient_credits")
            #expect(response.json["error"]["needed"].int == 7_000)
            #expect(response.json["error"]["available"].int == 6_999)
            #expect(response.json["error"]["message"].string == "Không đủ tín dụng: cần 7.000, bạn còn 6.999.", "amounts grouped as people read them")
            #expect(try await t.jobCount() == 0)
            #expect(try await t.balances(user) == (6_999, 0))
            #expect(t.app.provider is SimulatorProvider)
            #expect(await t.simulator.callCounts.createTask == 0)
        }
    }

    @Test("a retry with the same Idempotency-Key returns the same video and charges once")
    func idempotentRetry() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let body = #"{"prompt": "A single charge"}"#
            let first = try await t.createVideo(body, as: user, idempotencyKey: "order-42")
            let second = try await t.createVideo(body, as: user, idempotencyKey: "order-42")
            #expect(first.status == .accepted)
            #expect(second.status == .ok)
            #expect(second.headers.first(name: "Idempotent-Replayed") == "true")
            #expect(first.json["id"].string == second.json["id"].string)
            #expect(try await t.jobCount() == 1)
            #expect(await t.simulator.callCounts.createTask == 1)
            #expect(try await t.balances(user) == (93_000, 7_000))

            // The same key with a different request is refused, not silently replayed.
            let reused = try await t.createVideo(#"{"prompt": "Something else"}"#, as: user, idempotencyKey: "order-42")
            #expect(reused.status == .unprocessableEntity)
            #expect(reused.errorCode == "idempotency_key_reused")

            // Keys are per user: another user's identical key makes their own job.
            let other = try await t.makeUser()
            #expect(try await t.createVideo(body, as: other, idempotencyKey: "order-42").status == .accepted)
            #expect(try await t.jobCount() == 2)
            try await t.verifyLedger()
        }
    }

    @Test("ten simultaneous double-submits with one key make one job and one hold")
    func concurrentIdempotentRetries() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let ids = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<10 {
                    group.addTask { try await t.createVideo(#"{"prompt": "Double click"}"#, as: user, idempotencyKey: "double-click").json["id"].string }
                }
                return try await group.reduce(into: [String?]()) { $0.append($1) }
            }
            #expect(Set(ids.compactMap { $0 }).count == 1)
            #expect(ids.allSatisfy { $0 != nil })
            #expect(try await t.jobCount() == 1)
            #expect(try await t.balances(user) == (93_000, 7_000))
            try await t.verifyLedger()
        }
    }

    @Test("the price is the table's price when the job was made, not a later one")
    func priceIsSnapshotted() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let id = try await t.createTextVideo(as: user)
            let price = try #require(try await Price.query(on: t.app.db)
                .filter(\.$model == "sora-2-text-to-video").filter(\.$durationSeconds == 10).first())
            price.credits = 9_000
            try await price.save(on: t.app.db)

            let next = try await t.createVideo(#"{"prompt": "After the change"}"#, as: t.makeUser())
            #expect(next.json["price_credits"].int == 9_000)
            try await t.advance(by: 25)
            #expect(try await t.job(id).priceCredits == 7_000)
            #expect(try await t.balances(user) == (93_000, 0))
            try await t.verifyLedger()
        }
    }

    @Test("the pricing endpoint lists the table, 7,000 credits for 10 s standard in both modes")
    func pricing() async throws {
        try await withTestApp { t in
            let response = try await t.request(.GET, "/api/v1/pricing")
            #expect(response.status == .ok)
            let rows = response.json["prices"].array
            #expect(rows.count == 16)
            func credits(_ model: String, _ duration: Int, _ quality: String) -> Int? {
                rows.first { $0["model"].string == model && $0["duration"].int == duration && $0["quality"].string == quality }?["credits"].int
            }
            #expect(credits("sora-2-text-to-video", 10, "standard") == 7_000)
            #expect(credits("sora-2-image-to-video", 10, "standard") == 7_000)
            #expect(credits("sora-2-pro-text-to-video", 15, "high") == 147_000)
            #expect(credits("sora-2-text-to-video", 10, "high") == nil)
        }
    }

    @Test("ledger verify notices a balance that does not match its entries")
    func verifierCatchesMismatch() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser(credits: 10_000)
            try await t.verifyLedger()
            let row = try #require(try await User.find(user.id, on: t.app.db))
            row.creditsAvailable += 1
            try await row.save(on: t.app.db)
            let report = try await LedgerVerifier(db: t.app.db).verify()
            #expect(report.problems.count == 1)
            #expect(report.problems.first?.contains("available 10001 but ledger sums to 10000") == true)
        }
    }
}
