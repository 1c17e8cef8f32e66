@testable import App
import Foundation
import Testing
import Vapor
import VaporTesting

@Suite("The Kie contract: wire format, client and simulator")
struct KieContractTests {
    func fixture(_ name: String) throws -> Data {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Support/Fixtures/\(name)")
        return try Data(contentsOf: url)
    }

    @Test("a documented recordInfo reply decodes to a success with both URLs")
    func recordInfoFixture() throws {
        let status = try KieWire.parseRecordInfoReply(try fixture("recordInfo-success.json"))
        #expect(status.taskID == "e989621f54392584b05867f87b160672")
        #expect(status.state == .success)
        #expect(status.resultURLs == ["https://cdn.example/a.mp4"])
        #expect(status.watermarkedURLs == ["https://cdn.example/a_wm.mp4"])
        #expect(status.failCode == nil)
    }

    @Test("a failure callback with `message`, a numeric failCode and null fields decodes")
    func failCallbackFixture() throws {
        let status = try #require(KieWire.parseCallback(try fixture("callback-fail.json")))
        #expect(status.taskID == "task_12345678")
        #expect(status.state == .fail)
        #expect(status.failCode == "500")
        #expect(JobLifecycle.isContentRejection(status))
    }

    @Test("business errors arrive as HTTP 200 with a code, and are read as rejections")
    func envelopeErrors() {
        #expect(throws: ProviderError.rejected(code: 402, message: "Credits insufficient")) {
            try KieWire.parseCreateReply(Data(#"{"code": 402, "msg": "Credits insufficient", "data": null}"#.utf8))
        }
        #expect(throws: ProviderError.rejected(code: 422, message: "recordInfo is null")) {
            try KieWire.parseRecordInfoReply(Data(#"{"code": "422", "message": "recordInfo is null"}"#.utf8))
        }
    }

    @Test("the createTask body sends every option explicitly, and Pro size only to Pro models")
    func createTaskBody() throws {
        var request = ProviderTaskRequest(model: .sora2ImageToVideo, prompt: "p", aspectRatio: .portrait, durationSeconds: 15,
                                          quality: .standard, imageURL: "https://phim.test/files/uploads/a.png",
                                          callbackURL: "https://phim.test/cb", progressCallbackURL: "https://phim.test/cb/progress")
        let standard = KieWire.createTaskBody(for: request)
        #expect(standard.input.n_frames == "15")
        #expect(standard.input.aspect_ratio == "portrait")
        #expect(standard.input.image_urls == ["https://phim.test/files/uploads/a.png"])
        #expect(standard.input.size == nil)
        #expect(standard.input.remove_watermark == true)
        #expect(standard.progressCallBackUrl == "https://phim.test/cb/progress")

        request.model = .sora2ProTextToVideo
        request.quality = .high
        #expect(KieWire.createTaskBody(for: request).input.size == "high")
        request.model = .sora2StableTextToVideo
        #expect(KieWire.createTaskBody(for: request).progressCallBackUrl == nil)
        #expect(KieWire.createTaskBody(for: request).input.remove_watermark == nil)
    }

    @Test("the live client talks to the simulator over real HTTP: create, poll, errors")
    func clientOverHTTP() async throws {
        try await withTestApp { t in
            try await t.app.server.start(address: .hostname("127.0.0.1", port: 0))
            let port = try #require(t.app.http.server.shared.localAddress?.port)
            let client = KieClient(http: t.app.http.client.shared, baseURL: { "http://127.0.0.1:\(port)/simulator" },
                                   apiKey: "demo", clock: t.clock.appClock, logger: Logger(label: "test"))
            let request = ProviderTaskRequest(model: .sora2TextToVideo, prompt: "over the wire", aspectRatio: .landscape,
                                              durationSeconds: 10, quality: .standard, imageURL: nil,
                                              callbackURL: "https://phim.test/cb", progressCallbackURL: nil)
            let taskID = try await client.createTask(request)
            #expect(taskID.count == 32)
            #expect(try await client.taskStatus(taskID).state == .waiting)
            t.clock.advance(by: 21)
            let done = try await client.taskStatus(taskID)
            #expect(done.state == .success)
            #expect(done.resultURLs.first?.hasPrefix("https://phim.test/simulator/media/") == true)

            // The sample video is served, with range support for the player.
            let mediaPath = try #require(URLComponents(string: done.resultURLs[0])?.path)
            let media = try await t.app.client.get(URI(string: "http://127.0.0.1:\(port)\(mediaPath)"), headers: ["Range": "bytes=0-99"])
            #expect(media.status == .partialContent)
            #expect(media.headers.contentType?.description == "video/mp4")

            await t.simulator.inject(.reply(code: 429, message: "slow down"))
            await #expect(throws: ProviderError.rejected(code: 429, message: "slow down")) { try await client.createTask(request) }
            let unknown = await #expect(throws: ProviderError.self) { try await client.taskStatus("no-such-task") }
            #expect(unknown == .rejected(code: 422, message: "recordInfo is null"))
            let credits = try await client.remainingCredits()
            #expect(credits > 0)

            // Nothing listens on port 9: the create certainly did not happen.
            let nowhere = KieClient(http: t.app.http.client.shared, baseURL: { "http://127.0.0.1:9" }, apiKey: "demo",
                                    clock: t.clock.appClock, logger: Logger(label: "test"))
            let refused = await #expect(throws: ProviderError.self) { try await nowhere.createTask(request) }
            if case .unreachable = refused {} else { Issue.record("expected unreachable, got \(String(describing: refused))") }
            await t.app.server.shutdown()
        }
    }

    @Test("the simulator refuses bad keys and bad input like Kie does")
    func simulatorValidation() async throws {
        let simulator = KieSimulator(settings: .init(expectedAPIKey: "right"), clock: ManualClock().appClock, mediaBaseURL: { "" })
        let noKey = await simulator.createTask(authorization: nil, body: Data("{}".utf8))
        #expect((try? KieWire.parseCreateReply(noKey.body)) == nil)
        func code(_ reply: KieSimulator.Reply) -> Int? {
            (try? JSONSerialization.jsonObject(with: reply.body) as? [String: Any])?["code"] as? Int
        }
        #expect(code(noKey) == 401)
        #expect(code(await simulator.createTask(authorization: "Bearer wrong", body: Data("{}".utf8))) == 401)
        let noImage = #"{"model": "sora-2-image-to-video", "input": {"prompt": "x"}}"#
        #expect(code(await simulator.createTask(authorization: "Bearer right", body: Data(noImage.utf8))) == 422)
        let badFrames = #"{"model": "sora-2-text-to-video", "input": {"prompt": "x", "n_frames": "25"}}"#
        #expect(code(await simulator.createTask(authorization: "Bearer right", body: Data(badFrames.utf8))) == 422)
        let fine = #"{"model": "sora-2-text-to-video", "input": {"prompt": "x", "n_frames": "10"}}"#
        #expect(code(await simulator.createTask(authorization: "Bearer right", body: Data(fine.utf8))) == 200)
        let tagged = #"{"model": "sora-2-text-to-video", "input": {"prompt": "make it #error455 please"}}"#
        #expect(code(await simulator.createTask(authorization: "Bearer right", body: Data(tagged.utf8))) == 455)
        await simulator.setAccountCredits(0)
        #expect(code(await simulator.createTask(authorization: "Bearer right", body: Data(fine.utf8))) == 402)
    }

    @Test("the simulator loses the share of callbacks it is told to, and counts them")
    func simulatorDropsCallbacks() async throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(jobDuration: .seconds(1), seed: 7, callbackDropRate: 0.5),
                                     clock: clock.appClock, mediaBaseURL: { "" })
        let body = Data(#"{"model": "sora-2-text-to-video", "callBackUrl": "https://phim.test/cb", "input": {"prompt": "x"}}"#.utf8)
        for _ in 0..<200 { _ = await simulator.createTask(authorization: "Bearer k", body: body) }
        clock.advance(by: 2)
        let delivered = await simulator.takeDueCallbacks().count
        let counts = await simulator.callCounts
        #expect(delivered + counts.callbacksDropped == 200)
        #expect((60...140).contains(counts.callbacksDropped))
        #expect(await simulator.takeDueCallbacks().isEmpty) // a lost callback is never sent later
    }

    @Test("the simulator's rate limit answers 429 past 20 creates in 10 seconds")
    func simulatorRateLimit() async throws {
        let clock = ManualClock()
        let simulator = KieSimulator(settings: .init(createRateLimitPer10s: 20), clock: clock.appClock, mediaBaseURL: { "" })
        let body = Data(#"{"model": "sora-2-text-to-video", "input": {"prompt": "x"}}"#.utf8)
        var codes: [Int] = []
        for _ in 0..<21 {
            let reply = await simulator.createTask(authorization: "Bearer k", body: body)
            codes.append(((try? JSONSerialization.jsonObject(with: reply.body) as? [String: Any])?["code"] as? Int) ?? 0)
        }
        #expect(codes.filter { $0 == 200 }.count == 20)
        #expect(codes.last == 429)
        clock.advance(by: 10)
        let later = await simulator.createTask(authorization: "Bearer k", body: body)
        #expect((try? KieWire.parseCreateReply(later.body)) != nil)
    }
}
