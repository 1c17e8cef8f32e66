import Vapor

/// `GET /metrics` in Prometheus' text format.
///
/// The figures are the business's own (balances, job counts), so they are not public: with
/// `PHIM_METRICS_TOKEN` set, a scraper sends it as `Authorization: Bearer <token>`; without it,
/// only clients on this machine (loopback) are answered. Anyone else gets a 404.
struct MetricsController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("metrics", use: metrics)
    }

    @Sendable func metrics(req: Request) async throws -> Response {
        guard Self.mayScrape(req) else { throw AppError.routeNotFound }
        let metrics = req.application.metrics
        try await metrics.refresh(from: req.db, now: req.clock.now())
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: "text/plain; version=0.0.4; charset=utf-8")
        headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return Response(status: .ok, headers: headers, body: .init(data: Data(metrics.registry.emitToBuffer())))
    }

    static func mayScrape(_ req: Request) -> Bool {
        if let token = req.application.phimConfig.metricsToken {
            guard let bearer = req.headers.bearerAuthorization?.token else { return false }
            return KieWebhookController.constantTimeEqual(bearer, token)
        }
        // The socket's peer, never a forwarded-for header. A proxy on this machine makes every
        // request look local, but it adds X-Forwarded-For: such requests are refused (behind a
        // proxy, set a token).
        if req.headers.first(name: "X-Forwarded-For") != nil { return false }
        guard let address = req.remoteAddress?.ipAddress else { return false }
        return address == "127.0.0.1" || address == "::1" || address.hasPrefix("::ffff:127.")
    }
}
