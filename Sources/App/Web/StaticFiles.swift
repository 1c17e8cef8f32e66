import Vapor

/// Serves the stylesheet, scripts and icons under `/static/`, and only there.
///
/// Vapor's `FileMiddleware` looks every request's path up on disk; mounted for all paths, an
/// API path too long for the file system or with an encoded `../` made it fail with 500 before
/// routing. Here it sees only short `/static/` paths, and anything it refuses is a 404.
struct StaticFiles: AsyncMiddleware {
    let files: FileMiddleware

    init(publicDirectory: String) {
        files = FileMiddleware(publicDirectory: publicDirectory)
    }

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let path = request.url.path
        guard path.hasPrefix("/static/"), path.utf8.count <= 200 else { return try await next.respond(to: request) }
        do {
            return try await files.respond(to: request, chainingTo: next)
        } catch {
            throw AppError.routeNotFound
        }
    }
}
