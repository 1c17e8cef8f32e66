// A blocking HTTP client over libcurl's easy interface: one reused handle per thread.
import CCurl
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP answer, whatever its status: deciding what a status means is the caller's business.
public struct HTTPReply: Sendable {
    public var status: Int
    /// Header names lower-cased; a repeated header keeps its last value.
    public var headers: [String: String]
    public var body: Data

    public init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Why no answer came, sorted by whether the other side may have acted on the request.
public enum HTTPClientError: Error, Sendable, Equatable {
    /// Nothing was sent: DNS, connection refused, connect timeout, TLS handshake, a bad URL.
    case unreachable(String)
    /// Sent (at least partly), then a timeout, a reset or a broken reply: it may have been processed.
    case failedAfterSending(String)
}

/// Every call blocks its thread. Each thread keeps its own easy handle (libcurl forbids sharing
/// one between threads), reset between calls so no option leaks from one call to the next, while
/// its connection cache survives the reset and keeps TLS to the provider alive.
public enum HTTPClient {
    /// Cloudflare in front of Kie has refused requests without a browser-like agent (reference §11.19).
    public static let browserUserAgent =
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 Phim/1.0"

    /// libcurl's global set-up is not thread-safe: call once from main before any thread starts.
    public static func globalInit() {
        let result = curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        precondition(result == CURLE_OK, "curl_global_init failed: \(result.rawValue)")
    }

    /// `connectingTo`: IP addresses the connection must use instead of looking the URL's host up
    /// (a webhook's checked addresses, so the address checked is the address connected).
    public static func send(method: String, url: String, headers: [(String, String)] = [], body: Data? = nil,
                            timeoutMilliseconds: Int, connectTimeoutMilliseconds: Int = 5_000,
                            maxResponseBytes: Int = 4 << 20, connectingTo pinnedAddresses: [String] = []) throws -> HTTPReply {
        // A pinned call gets a handle of its own, dropped after: its pinned names and its
        // connection must not serve a later call that checked nothing (or checked another address).
        let isPinned = !pinnedAddresses.isEmpty
        guard let handle = isPinned ? curl_easy_init() : threadHandle() else { throw HTTPClientError.unreachable("curl_easy_init failed") }
        defer { if isPinned { curl_easy_cleanup(handle) } }
        if !isPinned { curl_easy_reset(handle) }
        let sink = ResponseSink(limit: maxResponseBytes)
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        var resolveList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(resolveList) }
        if isPinned {
            for entry in try pinEntries(url: url, addresses: pinnedAddresses) { resolveList = curl_slist_append(resolveList, entry) }
            phim_curl_set_pointer(handle, CURLOPT_RESOLVE, UnsafeMutableRawPointer(resolveList))
            // A proxy would look the name up itself and connect wherever it likes.
            phim_curl_set_string(handle, CURLOPT_NOPROXY, "*")
        }

        // Threads and signals do not mix: without this, a DNS timeout would use SIGALRM.
        phim_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
        phim_curl_set_string(handle, CURLOPT_URL, url)
        phim_curl_set_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
        phim_curl_set_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        phim_curl_set_long(handle, CURLOPT_TIMEOUT_MS, max(1, timeoutMilliseconds))
        phim_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, max(1, min(connectTimeoutMilliseconds, timeoutMilliseconds)))
        phim_curl_set_string(handle, CURLOPT_USERAGENT, browserUserAgent)

        switch method.uppercased() {
        case "GET" where body == nil: phim_curl_set_long(handle, CURLOPT_HTTPGET, 1)
        case "HEAD": phim_curl_set_long(handle, CURLOPT_NOBODY, 1)
        case "POST": break
        default: phim_curl_set_string(handle, CURLOPT_CUSTOMREQUEST, method.uppercased())
        }
        if body != nil || method.uppercased() == "POST" {
            let bytes = body ?? Data()
            // The size goes first: COPYPOSTFIELDS copies that many bytes, so a body may hold zeros.
            phim_curl_set_long(handle, CURLOPT_POSTFIELDSIZE, bytes.count)
            if bytes.isEmpty {
                phim_curl_set_string(handle, CURLOPT_COPYPOSTFIELDS, "")
            } else {
                bytes.withUnsafeBytes { raw in
                    _ = phim_curl_set_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress!))
                }
            }
        }

        // An empty `Expect:` stops curl waiting a second for a `100 Continue` on bodies over 1 KB.
        for line in headers.map({ "\($0.0): \($0.1)" }) + ["Expect:"] {
            guard !line.contains("\r"), !line.contains("\n") else {
                throw HTTPClientError.unreachable("header contains a line break")
            }
            headerList = curl_slist_append(headerList, line)
        }
        phim_curl_set_pointer(handle, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headerList))

        let context = Unmanaged.passUnretained(sink).toOpaque()
        phim_curl_set_write_function(handle) { data, size, count, context in
            guard let context else { return 0 }
            let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
            let length = size * count
            guard let data, length > 0 else { return length }
            // Returning less than was given aborts the transfer with CURLE_WRITE_ERROR.
            guard sink.body.count + length <= sink.limit else {
                sink.overflowed = true
                return 0
            }
            sink.body.append(UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: length)
            return length
        }
        phim_curl_set_pointer(handle, CURLOPT_WRITEDATA, context)
        phim_curl_set_header_function(handle) { data, size, count, context in
            let length = size * count
            guard let context, let data else { return length }
            let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
            sink.headerLine(UnsafeRawBufferPointer(start: data, count: length))
            return length
        }
        phim_curl_set_pointer(handle, CURLOPT_HEADERDATA, context)

        let code = withExtendedLifetime(sink) { curl_easy_perform(handle) }
        // The handle keeps pointers to the list and the sink; drop them before either goes away.
        phim_curl_set_pointer(handle, CURLOPT_HTTPHEADER, nil)
        phim_curl_set_pointer(handle, CURLOPT_WRITEDATA, nil)
        phim_curl_set_pointer(handle, CURLOPT_HEADERDATA, nil)
        phim_curl_set_pointer(handle, CURLOPT_RESOLVE, nil)

        guard code == CURLE_OK else {
            if sink.overflowed {
                throw HTTPClientError.failedAfterSending("response larger than \(maxResponseBytes) bytes")
            }
            throw classify(code, requestBytesSent: phim_curl_request_size(handle))
        }
        return HTTPReply(status: Int(phim_curl_response_code(handle)), headers: sink.headers, body: sink.body)
    }

    /// `CURLOPT_RESOLVE` entries that make every name of the URL's port lead to `addresses`: the
    /// host as libcurl's own URL parser reads it, and `*` (libcurl 7.86+) for any spelling of it
    /// the parser and the cache might still disagree on (a final dot, percent-encoding, case).
    static func pinEntries(url: String, addresses: [String]) throws -> [String] {
        guard let parsed = curl_url() else { throw HTTPClientError.unreachable("curl_url failed") }
        defer { curl_url_cleanup(parsed) }
        func part(_ which: CURLUPart, _ flags: Int32) -> String? {
            var value: UnsafeMutablePointer<CChar>?
            guard curl_url_get(parsed, which, &value, UInt32(flags)) == CURLUE_OK, let value else { return nil }
            defer { curl_free(value) }
            return String(cString: value)
        }
        guard curl_url_set(parsed, CURLUPART_URL, url, 0) == CURLUE_OK, let host = part(CURLUPART_HOST, CURLU_URLDECODE),
              let port = part(CURLUPART_PORT, CURLU_DEFAULT_PORT)
        else { throw HTTPClientError.unreachable("URL cannot be parsed") }
        let list = addresses.map { $0.contains(":") ? "[\($0)]" : $0 }.joined(separator: ",")
        var entries = ["*:\(port):\(list)"]
        if !host.hasPrefix("[") { entries.insert("\(host.lowercased()):\(port):\(list)", at: 0) }
        return entries
    }

    /// Sorts a failed transfer into "never sent" and "may have been processed".
    static func classify(_ code: CURLcode, requestBytesSent: Int) -> HTTPClientError {
        let message = String(cString: curl_easy_strerror(code))
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT,
             CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_SSL_CONNECT_ERROR,
             CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM:
            return .unreachable(message)
        case CURLE_OPERATION_TIMEDOUT where requestBytesSent == 0:
            // Timed out before the request went out: still connecting, or in the TLS handshake.
            return .unreachable(message)
        default:
            return .failedAfterSending(message)
        }
    }

    // MARK: - The thread's handle

    /// Each thread's easy handle, cleaned up by the key's destructor when the thread ends.
    private static let handleKey: pthread_key_t = {
        var key = pthread_key_t()
        let result = pthread_key_create(&key) { handle in
            if let handle { curl_easy_cleanup(handle) }
        }
        precondition(result == 0, "pthread_key_create failed: \(result)")
        return key
    }()

    private static func threadHandle() -> UnsafeMutableRawPointer {
        if let handle = pthread_getspecific(handleKey) { return handle }
        guard let handle = curl_easy_init() else { fatalError("curl_easy_init failed") }
        pthread_setspecific(handleKey, handle)
        return handle
    }
}

/// Collects one transfer's body and headers; reached from the C callbacks through an opaque pointer.
private final class ResponseSink {
    let limit: Int
    var body = Data()
    var headers: [String: String] = [:]
    var overflowed = false

    init(limit: Int) { self.limit = limit }

    func headerLine(_ bytes: UnsafeRawBufferPointer) {
        let line = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        // A new status line (after `100 Continue`, say) starts a new header block.
        if line.hasPrefix("HTTP/") {
            headers = [:]
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        headers[name] = value
    }
}
