import AsyncHTTPClient
import Vapor

/// Serves a `KieSimulator` over HTTP with Kie's paths, under `prefix`:
/// `POST api/v1/jobs/createTask`, `GET api/v1/jobs/recordInfo`, `GET api/v1/chat/credit`,
/// `POST api/v1/common/download-url`, and
/// `GET media/<file>.mp4` for the sample video every successful task points to.
struct SimulatorRoutes: RouteCollection {
    let simulator: KieSimulator
    let prefix: [PathComponent]
    let sampleVideoDirectory: String

    func boot(routes: any RoutesBuilder) throws {
        let group = routes.grouped(prefix)
        group.on(.POST, "api", "v1", "jobs", "createTask", body: .collect(maxSize: "1mb")) { req async throws -> Response in
            let body = req.body.data.map { Data(buffer: $0) } ?? Data()
            let reply = await simulator.createTask(authorization: req.headers.first(name: .authorization), body: body)
            if reply.hangs {
                // The task exists, but the answer never comes: the caller times out after sending.
                try await Task.sleep(for: .seconds(120))
            }
            return Self.response(reply)
        }
        group.get("api", "v1", "jobs", "recordInfo") { req async -> Response in
            let reply = await simulator.recordInfo(authorization: req.headers.first(name: .authorization),
                                                   taskID: req.query[String.self, at: "taskId"])
            return Self.response(reply)
        }
        group.get("api", "v1", "chat", "credit") { req async -> Response in
            Self.response(await simulator.credit(authorization: req.headers.first(name: .authorization)))
        }
        group.on(.POST, "api", "v1", "common", "download-url", body: .collect(maxSize: "64kb")) { req async -> Response in
            let body = req.body.data.map { Data(buffer: $0) } ?? Data()
            return Self.response(await simulator.downloadURL(authorization: req.headers.first(name: .authorization), body: body))
        }
        group.get("_simulator", "stats") { _ async throws -> Response in
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = .sortedKeys
            var headers = HTTPHeaders()
            headers.contentType = .json
            return Response(status: .ok, headers: headers, body: .init(data: try encoder.encode(await simulator.statistics())))
        }
        group.get("media", ":file") { req async throws -> Response in
            let file = req.parameters.get("file") ?? ""
            guard file.hasSuffix(".mp4") else { throw AppError.routeNotFound }
            let sample = file.contains("-portrait") ? "sample-portrait.mp4" : "sample-landscape.mp4"
            // streamFile answers Range requests, which the browser's video element needs to seek.
            let response = try await req.fileio.asyncStreamFile(at: sampleVideoDirectory + sample)
            response.headers.replaceOrAdd(name: .contentType, value: "video/mp4")
            response.headers.replaceOrAdd(name: .accessControlAllowOrigin, value: "*")
            return response
        }
    }

    static func response(_ reply: KieSimulator.Reply) -> Response {
        var headers = HTTPHeaders()
        headers.contentType = .json
        return Response(status: reply.status, headers: headers, body: .init(data: reply.body))
    }
}

/// Posts the simulator's due callbacks over HTTP, the way Kie would: once, with a 15 s timeout,
/// no retry (the reference documents none, so Phim must not depend on one).
struct SimulatorCallbackDispatcher: Sendable {
    let simulator: KieSimulator
    let http: HTTPClient
    let logger: Logger
    var tick: Duration = .milliseconds(200)

    func run() async {
        while !Task.isCancelled {
            let due = await simulator.takeDueCallbacks()
            await withTaskGroup(of: Void.self) { group in
                for callback in due {
                    group.addTask { await deliver(callback) }
                }
            }
            try? await Task.sleep(for: tick) // cancellation ends the loop on the next check
        }
    }

    private func deliver(_ callback: KieSimulator.Callback) async {
        var request = HTTPClientRequest(url: callback.url)
        request.method = .POST
        for (name, value) in callback.headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(data: callback.body))
        do {
            let response = try await http.execute(request, timeout: .seconds(15))
            _ = try? await response.body.collect(upTo: 64 * 1024) // drain; the content does not matter
            if response.status != .ok {
                logger.warning("simulator callback refused", metadata: [
                    "task_id": .string(callback.taskID), "status": .stringConvertible(response.status.code),
                ])
            }
        } catch {
            logger.warning("simulator callback failed", metadata: [
                "task_id": .string(callback.taskID), "error": .string("\(error)"),
            ])
        }
    }
}
