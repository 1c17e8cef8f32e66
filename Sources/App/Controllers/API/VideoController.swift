import Fluent
import Vapor

/// Creating, listing, reading, canceling and deleting a user's videos.
///
/// Every query is filtered by the caller's id, so another user's video answers exactly like a
/// missing one (404). Reading never calls the provider: status comes from our database, kept
/// current by callbacks and the reconciler.
struct VideoController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let videos = routes.grouped(RequireUser()).grouped("videos")
        videos.post(use: create)
        videos.get(use: index)
        videos.get(":videoID", use: show)
        videos.delete(":videoID", use: delete)
        videos.post(":videoID", "cancel", use: cancel)
    }

    @Sendable func create(req: Request) async throws -> Response {
        let idempotencyKey = try Self.idempotencyKey(req)
        let request = try VideoRequest.validate(try req.decodeJSON(API.CreateVideoInput.self))
        let user = try req.user
        let creation = VideoCreation(store: req.store, provider: req.application.provider, clock: req.clock,
                                     logger: req.logger, lifecycle: req.jobLifecycle,
                                     publicBaseURL: req.application.publicBaseURL)
        switch try await creation.create(request, userID: try user.requireID(), idempotencyKey: idempotencyKey) {
        case .created(let job):
            let response = try await API.Video(job, language: req.language).encodeResponse(status: .accepted, for: req)
            response.headers.replaceOrAdd(name: .location, value: "/api/v1/videos/\(try job.requireID().uuidString)")
            return response
        case .replayed(let job):
            let response = try await API.Video(job, language: req.language).encodeResponse(status: .ok, for: req)
            response.headers.replaceOrAdd(name: "Idempotent-Replayed", value: "true")
            return response
        }
    }

    @Sendable func index(req: Request) async throws -> API.Page<API.Video> {
        let limit = try Self.limit(req)
        let userID = try req.user.requireID()
        var query = VideoJob.query(on: req.db)
            .filter(\.$user.$id == userID)
            .filter(\.$deletedAt == nil)
        if let raw = req.query[String.self, at: "cursor"] {
            guard let cursor = Cursor(raw) else { throw AppError.invalidCursor }
            let window = cursor.window
            query = query.group(.or) { older in
                older.filter(\.$createdAt < window.before)
                older.group(.and) { $0.filter(\.$createdAt < window.after).filter(\.$id < cursor.id) }
            }
        }
        let jobs = try await query.sort(\.$createdAt, .descending).sort(\.$id, .descending).limit(limit + 1).all()
        let page = Array(jobs.prefix(limit))
        let language = req.language
        return API.Page(
            data: try page.map { try API.Video($0, language: language) },
            nextCursor: jobs.count > limit ? page.last.flatMap { job in job.id.map { Cursor(createdAt: job.createdAt, id: $0).encoded } } : nil)
    }

    @Sendable func show(req: Request) async throws -> API.Video {
        try API.Video(try await Self.ownedJob(req), language: req.language)
    }

    /// Soft delete: hidden from the owner at once; the job still runs and settles, the ledger is untouched.
    @Sendable func delete(req: Request) async throws -> HTTPStatus {
        let job = try await Self.ownedJob(req)
        job.deletedAt = req.clock.now()
        try await job.save(on: req.db)
        req.logger.info("video deleted", metadata: ["job_id": .string(job.id?.uuidString ?? "")])
        return .noContent
    }

    @Sendable func cancel(req: Request) async throws -> API.Video {
        let job = try await Self.ownedJob(req)
        let canceled = try await req.jobLifecycle.cancel(jobID: try job.requireID(), ownerID: try req.user.requireID())
        return try API.Video(canceled, language: req.language)
    }

    // MARK: - Helpers

    static func ownedJob(_ req: Request) async throws -> VideoJob {
        let userID = try req.user.requireID()
        guard let id = req.parameters.get("videoID", as: UUID.self),
              let job = try await VideoJob.query(on: req.db)
                .filter(\.$id == id).filter(\.$user.$id == userID).filter(\.$deletedAt == nil).first()
        else { throw AppError.videoNotFound }
        return job
    }

    static func idempotencyKey(_ req: Request) throws -> String? {
        guard let key = req.headers.first(name: "Idempotency-Key") else { return nil }
        guard !key.isEmpty, key.count <= 200, key.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value <= 0x7E }) else {
            throw AppError.invalidIdempotencyKey
        }
        return key
    }

    static func limit(_ req: Request) throws -> Int {
        guard let raw = req.query[String.self, at: "limit"] else { return 20 }
        guard let limit = Int(raw), (1...100).contains(limit) else { throw AppError.invalidLimit }
        return limit
    }
}

/// A position in a newest-first list: the creation time (whole milliseconds, as `AppClock`
/// makes them) and id of the last item seen.
///
/// Times make a round trip through each driver's own encoding, which can be off by a
/// microsecond, so "same time" is matched as "within half a millisecond". That is exact because
/// stored times are whole milliseconds apart.
struct Cursor: Equatable {
    var milliseconds: Int64
    var id: UUID

    init(createdAt: Date, id: UUID) {
        self.milliseconds = Int64((createdAt.timeIntervalSince1970 * 1000).rounded())
        self.id = id
    }

    init?(_ encoded: String) {
        var base64 = encoded.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard encoded.count < 200, let data = Data(base64Encoded: base64),
              let text = String(data: data, encoding: .utf8) else { return nil }
        let parts = text.split(separator: "|")
        guard parts.count == 2, let milliseconds = Int64(parts[0]), let id = UUID(uuidString: String(parts[1])) else { return nil }
        self.milliseconds = milliseconds
        self.id = id
    }

    var encoded: String {
        Data("\(milliseconds)|\(id.uuidString)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Just before and just after the cursor's millisecond.
    var window: (before: Date, after: Date) {
        (Date(timeIntervalSince1970: (Double(milliseconds) - 0.5) / 1000),
         Date(timeIntervalSince1970: (Double(milliseconds) + 0.5) / 1000))
    }
}
