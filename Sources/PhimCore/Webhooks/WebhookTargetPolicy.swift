// Where Phim may send a webhook: public internet addresses only, unless the operator allows more.
import Foundation
import PhimSupport
#if canImport(Glibc)
import Glibc
#endif

/// Decides whether Phim may send a webhook to a URL, so a user cannot make the server call into
/// its own network (SSRF): the name is resolved and every address it has must be public, not
/// loopback, private, link-local (which holds the cloud metadata service), carrier-grade NAT,
/// multicast or reserved, including IPv6 forms that carry such an IPv4 address. The operator can
/// allow private targets, for receivers on the same network.
///
/// URLs are checked when they are given (so the caller gets a precise error) and again before
/// every attempt (a name may point elsewhere since). Redirects are never followed (`HTTPClient`).
/// A name that changes its answer between the check and the connection is not caught.
public struct WebhookTargetPolicy: Sendable {
    public static let maximumURLLength = 2_000

    public var allowsPrivateTargets: Bool
    public var resolve: HostResolver

    public init(settings: WebhookSettings) {
        allowsPrivateTargets = settings.allowsPrivateTargets
        resolve = settings.resolve
    }

    public enum Refusal: Error, Equatable, Sendable {
        /// Not an absolute http(s) URL with a host, or carrying credentials, spaces or control characters.
        case malformed
        /// The name, or an address it resolves to, is not public.
        case notPublic(host: String)
        /// The name does not resolve.
        case unresolvable(host: String)
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
        guard !host.isEmpty else { throw Refusal.malformed }
        return host.lowercased()
    }

    /// Checks the URL's form and where it leads.
    public func check(_ raw: String) throws {
        let host = try Self.host(of: raw)
        if allowsPrivateTargets { return }
        if host == "localhost" || host.hasSuffix(".localhost") || host.hasSuffix(".internal") || host.hasSuffix(".local") {
            throw Refusal.notPublic(host: host)
        }
        let addresses: [IPAddress]
        if let literal = IPAddress(host) {
            addresses = [literal]
        } else {
            do { addresses = try resolve(host) } catch { throw Refusal.unresolvable(host: host) }
        }
        guard !addresses.isEmpty else { throw Refusal.unresolvable(host: host) }
        guard addresses.allSatisfy(\.isPublic) else { throw Refusal.notPublic(host: host) }
    }

    /// `check`, failing with the error the caller is shown.
    public func require(_ raw: String) throws {
        do {
            try check(raw)
        } catch let refusal as Refusal {
            switch refusal {
            case .malformed: throw AppError.invalidWebhookURL
            case .notPublic(let host): throw AppError.webhookURLNotAllowed(host: host)
            case .unresolvable(let host): throw AppError.webhookURLUnresolvable(host: host)
            }
        }
    }

    /// The C library's resolver. It blocks its thread (every caller is on one of its own).
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
