import Foundation
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decides whether Phim may send a webhook to a URL, so a user cannot make the server call
/// into its own network (SSRF): the name is resolved and every address it has must be a
/// public one, not loopback, private, link-local (which holds the cloud metadata service),
/// carrier-grade NAT, multicast or reserved. The operator can allow private targets
/// (`PHIM_WEBHOOK_ALLOW_PRIVATE_TARGETS`), for receivers on the same network.
///
/// URLs are checked when they are given (so the caller gets a precise error) and again before
/// every attempt (a name may have been pointed elsewhere since). Redirects are never followed.
struct WebhookTargetPolicy: Sendable {
    typealias Resolver = @Sendable (_ host: String) async throws -> [IPAddress]

    var allowsPrivateTargets: Bool
    /// DNS; tests give a table instead.
    var resolve: Resolver = WebhookTargetPolicy.systemResolver

    static let maximumURLLength = 2_000

    enum Refusal: Error, Equatable, Sendable {
        /// Not an absolute http(s) URL with a host, or carrying credentials or spaces.
        case malformed
        /// The name or an address it resolves to is not public.
        case notPublic(host: String)
        /// The name does not resolve.
        case unresolvable(host: String)
    }

    /// Checks the URL's form only (no network).
    static func host(of raw: String) throws(Refusal) -> String {
        guard raw.count <= maximumURLLength, !raw.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }),
              let components = URLComponents(string: raw),
              let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
              components.user == nil, components.password == nil,
              var host = components.host, !host.isEmpty
        else { throw .malformed }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.lowercased()
    }

    /// Checks the URL's form and where it leads.
    func check(_ raw: String) async throws(Refusal) {
        let host = try Self.host(of: raw)
        if allowsPrivateTargets { return }
        if host == "localhost" || host.hasSuffix(".localhost") || host.hasSuffix(".internal") { throw .notPublic(host: host) }
        let addresses: [IPAddress]
        if let literal = IPAddress(host) {
            addresses = [literal]
        } else {
            do { addresses = try await resolve(host) } catch { throw .unresolvable(host: host) }
        }
        guard !addresses.isEmpty else { throw .unresolvable(host: host) }
        guard addresses.allSatisfy(\.isPublic) else { throw .notPublic(host: host) }
    }

    /// `check`, failing with the error the caller is shown.
    func require(_ raw: String) async throws(AppError) {
        do {
            try await check(raw)
        } catch {
            switch error {
            case .malformed: throw .invalidWebhookURL
            case .notPublic(let host): throw .webhookURLNotAllowed(host: host)
            case .unresolvable(let host): throw .webhookURLUnresolvable(host: host)
            }
        }
    }

    // MARK: - Resolving names

    /// The system resolver, run off the cooperative pool and given up on after 5 seconds.
    static let systemResolver: Resolver = { host in
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[IPAddress], any Error>) in
            let once = ResumeOnce(continuation)
            DispatchQueue.global().async { once.resume(with: Result { try lookUp(host) }) }
            DispatchQueue.global().asyncAfter(deadline: .now() + 5) { once.resume(with: .failure(Refusal.unresolvable(host: host))) }
        }
    }

    private final class ResumeOnce: Sendable {
        private let continuation: NIOLockedValueBox<CheckedContinuation<[IPAddress], any Error>?>
        init(_ continuation: CheckedContinuation<[IPAddress], any Error>) { self.continuation = .init(continuation) }
        func resume(with result: Result<[IPAddress], any Error>) {
            let pending = continuation.withLockedValue { value in defer { value = nil }; return value }
            pending?.resume(with: result)
        }
    }

    private static func lookUp(_ host: String) throws -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
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

/// An IPv4 or IPv6 address as its bytes.
enum IPAddress: Sendable, Equatable, CustomStringConvertible {
    case v4([UInt8])
    case v6([UInt8])

    /// Parses a literal address (`203.0.113.7`, `2001:db8::1`); `nil` for anything else.
    init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { self = .v4(withUnsafeBytes(of: &v4) { Array($0) }); return }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { self = .v6(withUnsafeBytes(of: &v6) { Array($0) }); return }
        return nil
    }

    var description: String {
        switch self {
        case .v4(let b): return b.map(String.init).joined(separator: ".")
        case .v6(let b): return stride(from: 0, to: 16, by: 2).map { String(format: "%x", UInt16(b[$0]) << 8 | UInt16(b[$0 + 1])) }.joined(separator: ":")
        }
    }

    /// Whether the address belongs to the public internet.
    var isPublic: Bool {
        switch self {
        case .v4(let b):
            return !Self.v4SpecialPurpose.contains { Self.matches(b, $0.prefix, $0.bits) }
        case .v6(let b):
            // Addresses that carry an IPv4 address inside are judged by it: mapped (::ffff:0:0/96),
            // compatible (::/96), NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
            if Self.matches(b, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF], 96) || Self.matches(b, [UInt8](repeating: 0, count: 12), 96)
                || Self.matches(b, [0, 0x64, 0xFF, 0x9B], 96) {
                return IPAddress.v4(Array(b[12..<16])).isPublic
            }
            if Self.matches(b, [0x20, 0x02], 16) { return IPAddress.v4(Array(b[2..<6])).isPublic }
            return !Self.v6SpecialPurpose.contains { Self.matches(b, $0.prefix, $0.bits) }
        }
    }

    /// IPv4 ranges that are not the public internet (RFC 6890 and its successors).
    private static let v4SpecialPurpose: [(prefix: [UInt8], bits: Int)] = [
        ([0], 8),              // "this network", 0.0.0.0
        ([10], 8),             // private
        ([100, 64], 10),       // carrier-grade NAT
        ([127], 8),            // loopback
        ([169, 254], 16),      // link-local, the cloud metadata service (169.254.169.254)
        ([172, 16], 12),       // private
        ([192, 0, 0], 24),     // IETF protocol assignments
        ([192, 168], 16),      // private
        ([198, 18], 15),       // benchmarking
        ([224], 4),            // multicast
        ([240], 4),            // reserved, and the broadcast address
    ]

    private static let v6SpecialPurpose: [(prefix: [UInt8], bits: Int)] = [
        ([UInt8](repeating: 0, count: 16), 127), // :: and ::1
        ([0x01, 0x00, 0, 0, 0, 0, 0, 0], 64),    // discard-only
        ([0xFC], 7),                             // unique local (fd00:ec2::254 is AWS's metadata service)
        ([0xFE, 0x80], 10),                      // link-local
        ([0xFE, 0xC0], 10),                      // site-local (deprecated)
        ([0xFF], 8),                             // multicast
    ]

    private static func matches(_ address: [UInt8], _ prefix: [UInt8], _ bits: Int) -> Bool {
        var remaining = bits
        for (index, byte) in prefix.enumerated() where remaining > 0 {
            let take = min(8, remaining)
            let mask: UInt8 = take == 8 ? 0xFF : ~(0xFF >> UInt8(take))
            if address[index] & mask != byte & mask { return false }
            remaining -= take
        }
        // A prefix listed shorter than its length in bits continues with zero bytes.
        var index = prefix.count
        while remaining > 0 {
            let take = min(8, remaining)
            let mask: UInt8 = take == 8 ? 0xFF : ~(0xFF >> UInt8(take))
            if address[index] & mask != 0 { return false }
            remaining -= take
            index += 1
        }
        return true
    }
}
