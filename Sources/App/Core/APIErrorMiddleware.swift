import NIOHTTP1
import Vapor

/// Turns every error into `{"error": {"code", "message"}}` with the right status, the message
/// in the caller's language; a browser finding its way to a page gets the same as an HTML page.
/// Unexpected errors are logged in full and answered with a generic 500 that reveals nothing.
struct APIErrorMiddleware: AsyncMiddleware {
    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        do {
            return try await next.respond(to: request)
        } catch {
            let appError = Self.appError(for: error, request: request)
            if appError == .internal {
                request.logger.error("unhandled error", metadata: ["error": .string(String(reflecting: error))])
            }
            if Self.wantsPage(request), let page = try? await Self.page(for: appError, request: request) {
                return page
            }
            return Self.response(for: appError, request: request)
        }
    }

    /// A browser navigating (or posting a form) outside the JSON API.
    static func wantsPage(_ request: Request) -> Bool {
        let path = request.url.path
        return !path.hasPrefix("/api/") && !path.hasPrefix("/simulator/")
            // The literal type: `*/*` (curl, most programs) matches `.html` in Vapor's comparison.
            && request.headers[.accept].contains { $0.contains("text/html") }
    }

    struct ErrorPage: Encodable {
        var frame: PageFrame
        var status: Int
        var message: String
    }

    static func page(for error: AppError, request: Request) async throws -> Response {
        let language = request.pageLanguage
        let message = error.message(in: language)
        let response = try await request.view.render("error", ErrorPage(
            frame: PageFrame(request, title: message, user: nil, startsSession: false), status: Int(error.status.code), message: message)
        ).encodeResponse(for: request)
        error.mark(response)
        return response
    }

    static func response(for error: AppError, request: Request) -> Response {
        let details = error.details
        let body = API.ErrorBody(error: .init(
            code: error.code,
            message: error.message(in: request.language),
            needed: details["needed"].flatMap(Int.init),
            available: details["available"].flatMap(Int.init),
            videoID: details["video_id"],
            limit: details["limit"].flatMap(Int.init),
            retryAfterSeconds: error.retryAfterSeconds))
        let response = Response()
        try? response.content.encode(body, as: .json)
        error.mark(response)
        return response
    }

    /// Maps framework errors to our codes; anything unknown becomes `internal_error`.
    static func appError(for error: any Error, request: Request) -> AppError {
        switch error {
        case let error as AppError:
            return error
        case let error as DecodingError:
            return .invalidJSON(detail: error.briefDescription)
        case is HTTPParserError:
            // The client broke HTTP's framing (a body that ended early, bad chunk sizes).
            return .badRequest
        case let error as any AbortError:
            switch error.status {
            case .notFound: return .routeNotFound
            case .methodNotAllowed: return .methodNotAllowed
            case .payloadTooLarge: return .payloadTooLarge(limitBytes: BodyLimits.limit(forPath: request.url.path))
            case .unsupportedMediaType: return .unsupportedMediaType
            case .badRequest: return .invalidJSON(detail: error.reason)
            case .unauthorized: return .unauthenticated
            case .forbidden: return .routeNotFound
            case let status where (400..<500).contains(status.code): return .badRequest
            default: return .internal
            }
        default:
            return .internal
        }
    }
}

extension DecodingError {
    /// Which field was wrong and how, without echoing the input.
    var briefDescription: String {
        func path(_ context: Context) -> String {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return path.isEmpty ? "body" : path
        }
        switch self {
        case .typeMismatch(_, let context): return "\(path(context)) has the wrong type"
        case .valueNotFound(_, let context): return "\(path(context)) is missing"
        case .keyNotFound(let key, _): return "\(key.stringValue) is missing"
        case .dataCorrupted(let context): return context.codingPath.isEmpty ? "not valid JSON" : "\(path(context)) is not valid"
        @unknown default: return "not valid JSON"
        }
    }
}

extension Request {
    /// Decodes a JSON body with a plain decoder (field names as written in `CodingKeys`).
    /// A missing or non-JSON content type is 415, a body that is not JSON is 400.
    func decodeJSON<T: Decodable>(_ type: T.Type) throws -> T {
        if let contentType = headers.contentType, contentType != .json,
           !(contentType.type == "application" && contentType.subType.hasSuffix("+json")) {
            throw AppError.unsupportedMediaType
        }
        guard let buffer = body.data, buffer.readableBytes > 0 else {
            throw AppError.invalidJSON(detail: "the body is empty")
        }
        do {
            return try JSONDecoder().decode(T.self, from: buffer)
        } catch let error as DecodingError {
            throw AppError.invalidJSON(detail: error.briefDescription)
        }
    }
}

/// A content decoder that refuses everything, for media types no route accepts.
struct RefusedContent: ContentDecoder {
    func decode<D: Decodable>(_ decodable: D.Type, from body: ByteBuffer, headers: HTTPHeaders) throws -> D {
        throw AppError.unsupportedMediaType
    }
}

/// How large a request body may be, in one place so refusals can name the limit.
enum BodyLimits {
    /// Every JSON and form body.
    static let json = 64 * 1024
    /// The provider's callbacks, which repeat the whole original request.
    static let callback = 256 * 1024

    static func limit(forPath path: String) -> Int {
        path.hasPrefix("/api/v1/webhooks/") ? callback : json
    }
}
