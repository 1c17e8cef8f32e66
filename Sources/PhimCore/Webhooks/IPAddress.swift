// IPv4 and IPv6 addresses as bytes, and which of them belong to the public internet.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address as its bytes.
public enum IPAddress: Sendable, Equatable, CustomStringConvertible {
    case v4([UInt8])
    case v6([UInt8])

    /// Parses a literal address; nil for anything else. IPv4 is read as the C library reads it
    /// (`inet_aton`: `127.1`, `0x7f000001` and `2130706433` are all 127.0.0.1), since that is how
    /// the connection would read it too; an IPv6 zone (`fe80::1%eth0`) is ignored.
    public init?(_ text: String) {
        var v4 = in_addr()
        if !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isHexDigit || $0 == "." || $0 == "x" || $0 == "X") }),
           inet_aton(text, &v4) == 1 {
            self = .v4(withUnsafeBytes(of: &v4) { Array($0) })
            return
        }
        let unzoned = text.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? text
        var v6 = in6_addr()
        if inet_pton(AF_INET6, unzoned, &v6) == 1 {
            self = .v6(withUnsafeBytes(of: &v6) { Array($0) })
            return
        }
        return nil
    }

    public var description: String {
        switch self {
        case .v4(let b): b.map(String.init).joined(separator: ".")
        case .v6(let b): stride(from: 0, to: 16, by: 2).map { String(UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]), radix: 16) }.joined(separator: ":")
        }
    }

    /// Whether the address belongs to the public internet.
    public var isPublic: Bool {
        switch self {
        case .v4(let b):
            return !Self.v4SpecialPurpose.contains { Self.matches(b, $0.prefix, $0.bits) }
        case .v6(let b):
            // Addresses that carry an IPv4 address inside are judged by it: mapped (::ffff:0:0/96),
            // compatible (::/96, which holds :: and ::1), NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
            if Self.matches(b, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF], 96) || Self.matches(b, [], 96)
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
        ([192, 0, 2], 24),     // documentation (TEST-NET-1)
        ([192, 88, 99], 24),   // 6to4 relay anycast
        ([192, 168], 16),      // private
        ([198, 18], 15),       // benchmarking
        ([198, 51, 100], 24),  // documentation (TEST-NET-2)
        ([203, 0, 113], 24),   // documentation (TEST-NET-3)
        ([224], 4),            // multicast
        ([240], 4),            // reserved, and the broadcast address
    ]

    private static let v6SpecialPurpose: [(prefix: [UInt8], bits: Int)] = [
        ([0x00, 0x64, 0xFF, 0x9B, 0x00, 0x01], 48), // NAT64 for local use
        ([0x01, 0x00, 0, 0, 0, 0, 0, 0], 64),    // discard-only
        ([0x20, 0x01, 0x00, 0x00], 32),          // Teredo (an IPv4 address inside, obscured)
        ([0x20, 0x01, 0x0D, 0xB8], 32),          // documentation
        ([0xFC], 7),                             // unique local (fd00:ec2::254 is AWS's metadata service)
        ([0xFE, 0x80], 10),                      // link-local
        ([0xFE, 0xC0], 10),                      // site-local (deprecated)
        ([0xFF], 8),                             // multicast
    ]

    /// Whether the first `bits` of `address` equal `prefix` (a prefix shorter than `bits` continues with zeros).
    private static func matches(_ address: [UInt8], _ prefix: [UInt8], _ bits: Int) -> Bool {
        var remaining = bits
        var index = 0
        while remaining > 0 {
            let take = min(8, remaining)
            let mask: UInt8 = take == 8 ? 0xFF : ~(0xFF >> UInt8(take))
            let expected = index < prefix.count ? prefix[index] : 0
            if address[index] & mask != expected & mask { return false }
            remaining -= take
            index += 1
        }
        return true
    }
}
