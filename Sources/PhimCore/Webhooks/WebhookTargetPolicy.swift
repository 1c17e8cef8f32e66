// Where Phim may send a webhook: public internet addresses only, unless the operator allows more.
import Foundation
import PhimSupport
#if canImport(Glibc)
import Glibc
#endif

/// Decides whether Phim may send a webhook to a URL, so a user cannot make the server call into
/// its own network (SSRF): every address the name has must be public, not loopback, private,
/// link-local (which holds the cloud metadata service), carrier-grade NAT, multicast or reserved,
/// including IPv6 forms that carry such an IPv4 address. The operator can allow private targets,
/// for receivers on the same network.
///
/// Two moments, so no request thread ever waits for DNS: when a URL is given, only what needs no
/// DNS is checked (`require`: its form, an address written as the host, names local by
/// definition); before every attempt the dispatcher resolves the name once (`target`), checks
/// every address, and the connection is pinned to exactly those (`HTTPClient`'s
/// `connectingTo`), so a name cannot answer one address to the check and another to the
/// connection (DNS rebinding). Redirects are never followed (`HTTPClient`).
public struct WebhookTargetPolicy: Sendable {
    public static let maximumURLLength = 2_000

    public var allowsPrivateTargets: Bool
    public var resolve: HostResolver

    public init(settings: WebhookSettings) {
        allowsPrivateTargets = settings.allowsPrivateTargets
        resolve = settings.resolve
    }

    public enum Refusal: Error, Equatable, Sendable, CustomStringConvertible {
        /// Not an absolute http(s) URL with a host, or carrying credentials, spaces or control characters.
        case malformed
        /// The name, or an address it resolves to, is not public.
        case notPublic(host: String)
        /// The name does not resolve.
        case unresolvable(host: String)

        /// What the delivery log says about a refused attempt (no address: it may be the operator's internal one).
        public var description: String {
            switch self {
            case .malformed: "the URL is not a valid http(s) URL"
            case .notPublic(let host): "\(host) is or resolves to an address that is not public (loopback, private, link-local or reserved)"
            case .unresolvable(let host): "host \(host) could not be resolved"
            }
        }
    }

    /// Where an attempt may connect: the checked addresses of the URL's host (the host itself
    /// when written as an address), the only ones the connection may use.
    public struct Target: Sendable, Equatable {
        public var host: String
        public var addresses: [IPAddress]
    }

    /// Checks the URL's form only (no network) and returns its host, lower-cased, without
    /// brackets or a final dot.
    public static func host(of raw: String) throws -> String {
        guard raw.count <= maximumURLLength, !raw.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F || $0 == "\\" }),
              let components = URLComponents(string: raw),
              let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
              components.user == nil, components.password == nil,
              var host = components.host, !host.isEmpty
        else { throw Refusal.malformed }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        host = host.removingPercentEncoding ?? host
        while host.hasSuffix(".") { host.removeLast() }
        // A name in ASCII letters, digits, `-`, `.` and `_`, or an address: what a resolver or
        // libcurl might read differently (a NUL, `%`, non-ASCII digits like `①②⑦`) is refused
        // here, since no DNS answer is seen before the URL is accepted.
        let isPlainName = host.unicodeScalars.allSatisfy {
            $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "." || $0 == "_")
        }
        guard !host.isEmpty, isPlainName || IPAddress(host) != nil else { throw Refusal.malformed }
        return host.lowercased()
    }

    /// What can be judged without DNS, so it never blocks: the form, an address written as the
    /// host, and names that are local by definition. Returns the host.
    @discardableResult
    public func checkWithoutDNS(_ raw: String) throws -> String {
        let host = try Self.host(of: raw)
        if allowsPrivateTargets { return host }
        if host == "localhost" || host.hasSuffix(".localhost") || host.hasSuffix(".internal") || host.hasSuffix(".local") {
            throw Refusal.notPublic(host: host)
        }
        if let literal = IPAddress(host), !literal.isPublic { throw Refusal.notPublic(host: host) }
        return host
    }

    /// Before an attempt: resolves the name once and checks every address it has. The attempt
    /// must connect to these addresses only (never resolve again).
    public func target(_ raw: String) throws -> Target {
        let host = try checkWithoutDNS(raw)
        if let literal = IPAddress(host) { return Target(host: host, addresses: [literal]) }
        let addresses: [IPAddress]
        do { addresses = try resolve(host) } catch { throw Refusal.unresolvable(host: host) }
        guard !addresses.isEmpty else { throw Refusal.unresolvable(host: host) }
        guard allowsPrivateTargets || addresses.allSatisfy(\.isPublic) else { throw Refusal.notPublic(host: host) }
        return Target(host: host, addresses: addresses)
    }

    /// When a URL is given (request threads): `checkWithoutDNS`, failing with the error the caller
    /// is shown. Where the name leads is decided before each attempt, in the delivery log.
    public func require(_ raw: String) throws {
        do {
            try checkWithoutDNS(raw)
        } catch let refusal as Refusal {
            switch refusal {
            case .malformed: throw AppError.invalidWebhookURL
            case .notPublic(let host): throw AppError.webhookURLNotAllowed(host: host)
            case .unresolvable(let host): throw AppError.webhookURLUnresolvable(host: host)
            }
        }
    }

    /// The C library's resolver. It blocks its thread: only the dispatcher's attempts call it.
    public static let systemResolve: HostResolver = { host in
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { throw Refusal.unresolvable(host: host) }
        defer { freeaddrinfo(first) }
        var addresses: [IPAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor?.pointee {
            if info.ai_family == AF_INET, let address = info.ai_addr {
                var ip = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                addresses.append(.v4(withUnsafeBytes(of: &ip) { Array($0) }))
            } else if info.ai_family == AF_INET6, let address = info.ai_addr {
                var ip = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                addresses.append(.v6(withUnsafeBytes(of: &ip) { Array($0) }))
            }
            cursor = info.ai_next
        }
        return addresses
    }
}
