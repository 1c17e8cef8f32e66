import Vapor

/// Every route, grouped: health, public files, the JSON API, provider webhooks, the simulator.
func routes(_ app: Application) throws {
    // MARK: - Health
    // Liveness: answers without touching anything, so it also measures the bare framework
    // (the benchmark's ceiling).
    app.get("livez") { _ -> String in "ok" }
    app.get("healthz") { req async throws -> [String: String] in
        _ = try await Price.query(on: req.db).count() // proves the database answers
        return ["status": "ok", "provider": req.application.phimConfig.isDemoMode ? "simulator" : "kie"]
    }

    // MARK: - Prometheus metrics (local scrapers or PHIM_METRICS_TOKEN)
    try app.register(collection: MetricsController())

    // MARK: - Uploaded images (public: the provider fetches them by URL)
    app.get("files", "uploads", ":name") { req async throws -> Response in
        guard let name = req.parameters.get("name"),
              name.range(of: #"^[0-9a-f-]{36}\.(jpg|png|webp)$"#, options: .regularExpression) != nil,
              let path = req.application.fileStorage.localPath(forKey: "uploads/\(name)")
        else { throw AppError.routeNotFound }
        let response = try await req.fileio.asyncStreamFile(at: path)
        response.headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
        return response
    }

    // MARK: - Studio (HTML pages; static files under /static come from FileMiddleware)
    let pages = app.grouped(UserAuthenticator())
    try pages.register(collection: AccountPages())
    try pages.register(collection: StudioPages())
    try pages.register(collection: KeysPages())
    try pages.register(collection: AdminPages())
    try pages.register(collection: AdminAccountPages())
    try pages.register(collection: AdminPricePages())
    try pages.register(collection: AdminJobPages())
    try pages.register(collection: AdminStylePages())
    try pages.register(collection: SharePages())

    // MARK: - JSON API
    let webhooks = app.grouped("api", "v1")
    let api = app.grouped("api", "v1").grouped(UserAuthenticator())
    try api.register(collection: AuthController())
    try api.register(collection: UploadController())
    try api.register(collection: VideoController())
    try api.register(collection: CreditController())
    try api.register(collection: StyleController())
    try api.register(collection: EventsController())
    try api.register(collection: WebhookController())

    // The API's OpenAPI 3 document (hand-written; `OpenAPITests` holds it to the routes, and
    // schemathesis in `scripts/test.sh` holds the service to it).
    webhooks.get("openapi.json") { req async throws -> Response in
        var headers = HTTPHeaders()
        headers.contentType = .json
        return Response(status: .ok, headers: headers, body: .init(data: APIDocument.contents))
    }

    // MARK: - Provider webhooks
    try webhooks.register(collection: KieWebhookController())

    // MARK: - Built-in simulator (demo mode)
    if let simulator = app.simulator {
        try app.register(collection: SimulatorRoutes(simulator: simulator, prefix: ["simulator"],
                                                     sampleVideoDirectory: SimulatorResources.sampleVideoDirectory))
    }
}

enum APIDocument {
    /// Read once: the file ships with the binary and never changes while it runs.
    static let contents: Data = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json", subdirectory: "Resources/OpenAPI"),
              let data = try? Data(contentsOf: url)
        else { return Data() }
        return data
    }()
}

enum SimulatorResources {
    /// The folder holding the sample MP4 files, with a trailing slash.
    static var sampleVideoDirectory: String {
        let url = Bundle.module.url(forResource: "sample-landscape", withExtension: "mp4", subdirectory: "Resources/Simulator")
        return (url?.deletingLastPathComponent().path ?? "Resources/Simulator") + "/"
    }
}
