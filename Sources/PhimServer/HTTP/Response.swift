import Foundation
import PhimSupport

/// One answer: status, headers and body, written out by the FastCGI loop (or read by a test).
public struct Response: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func json(_ value: JSON, status: Int = 200) -> Response {
        json(bytes: value.bytes(), status: status)
    }

    /// An answer written with a `JSONWriter` (no tree in between).
    public static func json(_ writer: JSONWriter, status: Int = 200) -> Response {
        json(bytes: writer.bytes, status: status)
    }

    private static func json(bytes: [UInt8], status: Int) -> Response {
        Response(status: status, headers: [("Content-Type", "application/json; charset=utf-8")], body: bytes)
    }

    public static func noContent() -> Response { Response(status: 204) }

    public mutating func addHeader(_ name: String, _ value: String) { headers.append((name, value)) }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
    public var bodyJSON: JSON? { JSON.parse(Data(body)) }

    /// The reason phrase nginx passes on (without one, the status line has an empty reason).
    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 402: "Payment Required"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 410: "Gone"
        case 413: "Payload Too Large"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}
