import Vapor

/// Counts and times every request by its route pattern (`/api/v1/videos/:videoID`, never the
/// concrete path, so the number of series stays bounded), method and final status, and tells
/// the client the request's id (`X-Request-ID`).
struct RequestMetrics: AsyncMiddleware {
    let metrics: PhimMetrics

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await next.respond(to: request)
            record(request, status: response.status.code, since: started)
            // The id every log line of this request carries: a person reporting a problem can quote it.
            response.headers.replaceOrAdd(name: "X-Request-ID", value: request.id)
            return response
        } catch {
            let status = (error as? AppError)?.status ?? (error as? any AbortError)?.status ?? .internalServerError
            record(request, status: status.code, since: started)
            throw error
        }
    }

    private func record(_ request: Request, status: UInt, since started: ContinuousClock.Instant) {
        let route = request.route.map { "/" + $0.path.map(\.description).joined(separator: "/") } ?? "(unmatched)"
        metrics.request(route: route, method: request.method.rawValue, status: status, duration: ContinuousClock.now - started)
    }
}
