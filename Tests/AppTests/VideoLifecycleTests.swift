@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

@Suite("A video's life through the simulator")
struct VideoLifecycleTests {
    @Test("text-to-video goes pending, processing, completed by callbacks, and charges its price once")
    func textToVideoByCallbacks() async throws {
        try await withTestApp { t in
            // Given: a user with 100,000 credits
            let user = try await t.makeUser(credits: 100_000)

            // When: they ask for a video
            let created = try await t.createVideo(#"{"mode": "text_to_video", "prompt": "A fox in the snow", "aspect_ratio": "portrait", "duration": 15}"#, as: user)

            // Then: it is accepted, pending, and its price is on hold
            #expect(created.status == .accepted)
            #expect(created.json["status"].string == "pending")
            #expect(created.json["progress"].int == 10)
            #expect(created.json["price_credits"].int == 10_500)
            let id = try #require(created.json["id"].uuid)
            #expect(try await t.balances(user) == (89_500, 10_500))

            // When: the provider starts generating (progress callback)
            let progress = try await t.advance(by: 5)
            #expect(progress.map(\.kind) == [.progress])
            #expect(try await t.job(id).status == .processing)

            // When: the provider finishes (completion callback)
            let completion = try await t.advance(by: 16)
            #expect(completion.map(\.kind) == [.completion])

            // Then: completed with the video URL, the hold settled, nothing refunded
            let shown = try await t.request(.GET, "/api/v1/videos/\(id)", as: user)
            #expect(shown.json["status"].string == "completed")
            #expect(shown.json["progress"].int == 100)
            #expect(shown.json["video_url"].string?.hasSuffix("-portrait.mp4") == true)
            #expect(shown.json["watermark_video_url"].string?.hasSuffix("-portrait-wm.mp4") == true)
            #expect(shown.json["credits_refunded"].bool == false)
            #expect(try await t.balances(user) == (89_500, 0))
            #expect(try await t.ledgerEntries(forJob: id).map(\.kind).sorted { $0.rawValue < $1.rawValue } == [.hold, .settle])
            try await t.verifyLedger()
        }
    }

    @Test("image-to-video sends the uploaded image's public URL and completes")
    func imageToVideoByCallbacks() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let uploaded = try await t.upload(Images.png, as: user)
            #expect(uploaded.status == .created)
            let uploadID = try #require(uploaded.json["id"].string)
            let imageURL = try #require(uploaded.json["url"].string)
            #expect(imageURL.hasPrefix("https://phim.test/files/uploads/"))

            // The image is served publicly, so the provider can fetch it.
            let fetched = try await t.tester.sendRequest(.GET, String(imageURL.dropFirst("https://phim.test".count)))
            #expect(fetched.status == .ok)
            #expect(Array(fetched.body.readableBytesView) == Images.png)

            let created = try await t.createVideo(#"{"mode": "image_to_video", "prompt": "The boat sails away", "upload_id": "\#(uploadID)"}"#, as: user)
            #expect(created.status == .accepted)
            #expect(created.json["model"].string == "sora-2-image-to-video")
            #expect(created.json["image_url"].string == imageURL)
            #expect(created.json["price_credits"].int == 7_000)
            let id = try #require(created.json["id"].uuid)

            try await t.advance(by: 25)
            #expect(try await t.job(id).status == .completed)
            #expect(try await t.balances(user) == (93_000, 0))
            try await t.verifyLedger()
        }
    }

    @Test("with every callback lost, the reconciler finishes jobs with at most one query per job per interval")
    func reconcilerFinishesJobsWhenCallbacksAreLost() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let good = try await t.createTextVideo("A lighthouse at night", as: user)
            let bad = try await t.createTextVideo("A storm #fail", as: user)
            let uploadID = try #require(try await t.upload(Images.webp, filename: "a.webp", contentType: "image/webp", as: user).json["id"].string)
            let animated = try #require(try await t.createVideo(
                #"{"mode": "image_to_video", "prompt": "Wake up", "upload_id": "\#(uploadID)"}"#, as: user).json["id"].uuid)

            // Many clients read the jobs: reading never asks the provider.
            for _ in 0..<50 {
                _ = try await t.request(.GET, "/api/v1/videos/\(good)", as: user)
                _ = try await t.request(.GET, "/api/v1/videos", as: user)
            }
            #expect(await t.simulator.callCounts.recordInfo == 0)

            // Nothing is due before the jobs have been quiet for `staleAfter` (60 s).
            t.clock.advance(by: 30)
            _ = await t.simulator.takeDueCallbacks() // lost
            #expect(try await t.reconcilePass().queried == 0)

            // After that, one pass asks once per job and applies the answers.
            t.clock.advance(by: 31)
            _ = await t.simulator.takeDueCallbacks() // lost
            let pass = try await t.reconcilePass()
            #expect(pass.queried == 3)
            #expect(await t.simulator.callCounts.recordInfo == 3)
            #expect(try await t.job(good).status == .completed)
            #expect(try await t.job(bad).status == .failed)
            #expect(try await t.job(animated).status == .completed)
            #expect(try await t.job(animated).videoURL != nil)

            // Finished jobs are never asked about again.
            t.clock.advance(by: 600)
            #expect(try await t.reconcilePass().queried == 0)
            #expect(await t.simulator.callCounts.recordInfo == 3)
            #expect(try await t.balances(user) == (86_000, 0))
            try await t.verifyLedger()
        }
    }

    @Test("a running job is asked about at most once per reconcile interval, however often passes run")
    func oneQueryPerIntervalPerJob() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let id = try await t.createTextVideo("A very long render #slow", as: user) // 200 s
            t.clock.advance(by: 61)
            // Passes every 5 s for a minute: the 15 s interval allows 4 queries.
            var queries = 0
            for _ in 0..<12 {
                queries += try await t.reconcilePass().queried
                t.clock.advance(by: 5)
            }
            #expect(queries == 4)
            let seen = await t.simulator.statistics()
            #expect(seen.calls.recordInfo == 4)
            #expect((seen.shortestQueryGapSeconds ?? 0) >= 15)
            #expect(try await t.job(id).status == .processing)
        }
    }

    @Test("a failed job is refunded exactly once under duplicated and reordered callbacks and polls")
    func failureRefundsExactlyOnce() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser(credits: 20_000)
            let id = try await t.createTextVideo("A dragon #fail", as: user)
            #expect(try await t.balances(user) == (13_000, 7_000))

            // Collect the callbacks instead of delivering them.
            t.clock.advance(by: 5)
            let progress = await t.simulator.takeDueCallbacks()
            t.clock.advance(by: 20)
            let completion = await t.simulator.takeDueCallbacks()
            #expect(progress.count == 1 && completion.count == 1)

            // Deliver them reordered and duplicated, with polls in between.
            let responses = try await t.deliver(completion + completion + progress + completion + progress)
            #expect(responses.allSatisfy { $0.status == .ok })
            t.clock.advance(by: 120)
            _ = try await t.reconcilePass()
            try await t.deliver(completion)

            let job = try await t.job(id)
            #expect(job.status == .failed)
            #expect(job.failureReason == .providerFailed)
            #expect(job.providerFailCode == "500")
            let kinds = try await t.ledgerEntries(forJob: id).map(\.kind)
            #expect(kinds.filter { $0 == .release }.count == 1)
            #expect(kinds.filter { $0 == .settle }.isEmpty)
            #expect(try await t.balances(user) == (20_000, 0))

            let shown = try await t.request(.GET, "/api/v1/videos/\(id)", as: user, headers: ["Accept-Language": "en"])
            #expect(shown.json["credits_refunded"].bool == true)
            #expect(shown.json["failure"]["code"].string == "provider_failed")
            #expect(shown.json["failure"]["message"].string == "The provider could not generate the video.")
            #expect(shown.json["failure"]["provider_code"].string == "500")
            try await t.verifyLedger()
        }
    }

    @Test("a late 'waiting' never moves a job back, and a terminal job never changes")
    func statesOnlyMoveForward() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let id = try await t.createTextVideo(as: user)
            let taskID = try #require(try await t.job(id).providerTaskID)
            let lifecycle = t.app.jobLifecycle(logger: Logger(label: "test"))

            try await lifecycle.apply(.init(taskID: taskID, state: .generating, progress: 60), toJob: id, source: .callback)
            #expect(try await lifecycle.apply(.init(taskID: taskID, state: .waiting), toJob: id, source: .callback) == .unchanged)
            #expect(try await t.job(id).status == .processing)
            #expect(try await t.job(id).progress == 60)

            try await lifecycle.apply(.init(taskID: taskID, state: .success, resultURLs: ["https://cdn.test/a.mp4"]), toJob: id, source: .callback)
            let late = ProviderTaskStatus(taskID: taskID, state: .fail, failCode: "500", failMessage: "late")
            #expect(try await lifecycle.apply(late, toJob: id, source: .poll) == .unchanged)
            let job = try await t.job(id)
            #expect(job.status == .completed)
            #expect(job.videoURL == "https://cdn.test/a.mp4")
            #expect(try await t.balances(user) == (93_000, 0))
            try await t.verifyLedger()
        }
    }

    @Test("a content-policy rejection is shown as such and refunded")
    func contentRejection() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let id = try await t.createTextVideo("Something forbidden #reject", as: user)
            try await t.advance(by: 25)
            let shown = try await t.request(.GET, "/api/v1/videos/\(id)", as: user)
            #expect(shown.json["status"].string == "failed")
            #expect(shown.json["failure"]["code"].string == "content_rejected")
            #expect(shown.json["failure"]["message"].string == "Nội dung bị nhà cung cấp từ chối theo chính sách nội dung.")
            #expect(try await t.balances(user) == (100_000, 0))
        }
    }

    @Test("a success without any video URL is refunded as the integration's failure")
    func successWithoutVideoIsRefunded() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let id = try await t.createTextVideo(as: user)
            let taskID = try #require(try await t.job(id).providerTaskID)
            try await t.app.jobLifecycle(logger: Logger(label: "test"))
                .apply(.init(taskID: taskID, state: .success), toJob: id, source: .poll)
            #expect(try await t.job(id).failureReason == .missingResult)
            #expect(try await t.balances(user) == (100_000, 0))
        }
    }

    @Test("a job that runs past the time limit is failed and refunded")
    func jobTimeout() async throws {
        try await withTestApp { t in
            let user = try await t.makeUser()
            let stuck = ScriptedProvider()
            t.app.provider = stuck
            let id = try await t.createTextVideo("Never finishes", as: user)

            t.clock.advance(by: 1_800)
            #expect(try await t.reconcilePass().timedOut == 0)
            #expect(try await t.job(id).status == .processing)

            t.clock.advance(by: 1_801)
            #expect(try await t.reconcilePass().timedOut == 1)
            let job = try await t.job(id)
            #expect(job.status == .failed)
            #expect(job.failureReason == .timedOut)
            #expect(try await t.balances(user) == (100_000, 0))
            try await t.verifyLedger()
        }
    }
}
