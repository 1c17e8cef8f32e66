import Fluent
import Vapor

/// `GET /api/v1/events`: the caller's live updates as server-sent events.
///
/// Each change to one of the caller's videos arrives as an `event: video` whose data is the
/// video's id, the video (as `GET /api/v1/videos/{id}` shows it, or absent once deleted) and
/// the caller's balances. Nothing here asks the provider: events come from `JobLifecycle`, on this
/// instance or, through PostgreSQL, on another.
struct EventsController: RouteCollection {
    /// Comment lines that keep proxies from closing an idle stream.
    static let heartbeat: Duration = .seconds(15)

    func boot(routes: any RoutesBuilder) throws {
        routes.grouped(RequireUser()).get("events", use: stream)
    }

    struct Update: Content {
        var videoID: UUID?
        var video: API.Video?
        var credits: Int
        var creditsOnHold: Int
    }

    @Sendable func stream(req: Request) async throws -> Response {
        let userID = try req.user.requireID()
        let owner = try req.owner
        let language = req.language
        let shareBase = req.application.publicBaseURL
        let lifetimeDays = req.application.phimConfig.resultLifetimeDays
        let events = req.application.jobEvents.subscribe(userID: userID)
        let db = req.db
        let logger = req.logger
        let encoder = try ContentConfiguration.global.requireEncoder(for: .json)

        let response = Response(status: .ok)
        response.headers.replaceOrAdd(name: .contentType, value: "text/event-stream; charset=utf-8")
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-cache")
        response.headers.replaceOrAdd(name: "X-Accel-Buffering", value: "no") // nginx: do not buffer the stream
        response.body = .init(asyncStream: { writer in
            func send(_ update: Update, event: String) async throws {
                var body = ByteBuffer()
                var unused = HTTPHeaders()
                try encoder.encode(update, to: &body, headers: &unused)
                let text = "event: \(event)\ndata: \(body.readString(length: body.readableBytes) ?? "{}")\n\n"
                try await writer.write(.buffer(ByteBuffer(string: text)))
            }
            func balances() async throws -> (Int, Int) {
                let user = try await User.find(userID, on: db)
                return (user?.creditsAvailable ?? 0, user?.creditsHeld ?? 0)
            }
            do {
                try await writer.write(.buffer(ByteBuffer(string: "retry: 3000\n\n")))
                let (credits, held) = try await balances()
                try await send(Update(videoID: nil, video: nil, credits: credits, creditsOnHold: held), event: "hello")
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        while true {
                            try await Task.sleep(for: Self.heartbeat)
                            try await writer.write(.buffer(ByteBuffer(string: ": ping\n\n")))
                        }
                    }
                    group.addTask {
                        for await event in events {
                            let update: Update
                            do {
                                // A video deleted since is sent as absent; the balances still go out.
                                let job: VideoRecord?
                                do { job = try await owner.videoRecord(event.jobID) } catch AppError.videoNotFound { job = nil }
                                let (credits, held) = try await balances()
                                update = Update(videoID: event.jobID, video: try job.map { try API.Video($0, language: language, shareBase: shareBase, lifetimeDays: lifetimeDays) },
                                                credits: credits, creditsOnHold: held)
                            } catch {
                                // A failed read (a busy pool) skips this event, not the stream: the
                                // next event carries the state as it is then.
                                logger.warning("live update skipped", metadata: ["error": .string("\(error)")])
                                continue
                            }
                            try await send(update, event: "video")
                        }
                    }
                    // Whichever ends first (the client left, so a write failed) ends the stream.
                    try await group.next()
                    group.cancelAll()
                }
            } catch {
                // The client went away; nothing to report.
            }
            try? await writer.write(.end)
        })
        return response
    }
}
