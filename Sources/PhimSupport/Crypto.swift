import CSodium
import Foundation

/// The cryptography Phim needs, all from libsodium: nothing here is hand-written beyond the
/// calls and the encodings.
public enum Crypto {
    /// Must run once before any other call (libsodium's own initialisation is idempotent).
    public static func initialize() {
        precondition(sodium_init() >= 0, "libsodium failed to initialise")
    }

    public static func randomBytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: max(count, 1))
        bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) }
        if count == 0 { return [] }
        return bytes
    }

    /// 256 random bits as URL-safe base64 without padding (43 characters).
    public static func randomToken(bytes: Int = 32) -> String {
        base64URL(randomBytes(bytes))
    }

    public static func sha256(_ data: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        // A one-byte buffer stands in for empty input, whose base address would be nil.
        let input = data.isEmpty ? [0] : data
        _ = input.withUnsafeBufferPointer { buffer in
            crypto_hash_sha256(&digest, buffer.baseAddress!, UInt64(data.count))
        }
        return digest
    }

    public static func sha256Hex(_ text: String) -> String { hex(sha256(Array(text.utf8))) }

    /// HMAC-SHA-256 with a key of any length (Kie's console key, Standard Webhooks secrets).
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var state = crypto_auth_hmacsha256_state()
        var mac = [UInt8](repeating: 0, count: Int(crypto_auth_hmacsha256_BYTES))
        // One-byte stand-ins for empty inputs, whose base addresses would be nil.
        let keyBytes = key.isEmpty ? [0] : key, messageBytes = message.isEmpty ? [0] : message
        keyBytes.withUnsafeBufferPointer { _ = crypto_auth_hmacsha256_init(&state, $0.baseAddress!, key.count) }
        messageBytes.withUnsafeBufferPointer { _ = crypto_auth_hmacsha256_update(&state, $0.baseAddress!, UInt64(message.count)) }
        crypto_auth_hmacsha256_final(&state, &mac)
        return mac
    }

    /// HMAC-SHA-512 with a key of any length (Casso's webhook signature).
    public static func hmacSHA512(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var state = crypto_auth_hmacsha512_state()
        var mac = [UInt8](repeating: 0, count: Int(crypto_auth_hmacsha512_BYTES))
        let keyBytes = key.isEmpty ? [0] : key, messageBytes = message.isEmpty ? [0] : message
        keyBytes.withUnsafeBufferPointer { _ = crypto_auth_hmacsha512_init(&state, $0.baseAddress!, key.count) }
        messageBytes.withUnsafeBufferPointer { _ = crypto_auth_hmacsha512_update(&state, $0.baseAddress!, UInt64(message.count)) }
        crypto_auth_hmacsha512_final(&state, &mac)
        return mac
    }

    /// Compares without stopping at the first difference, so timing does not leak a secret.
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8), right = Array(b.utf8)
        guard left.count == right.count else { return false }
        return sodium_memcmp(left, right, left.count) == 0
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// Password hashes in libsodium's Argon2id string format (salt and cost inside the string).
public struct PasswordHasher: Sendable {
    public enum Cost: String, Sendable {
        /// libsodium's "interactive" limits: about 64 MiB and a tenth of a second.
        case interactive
        /// The library's minimum, for test suites that make hundreds of accounts.
        case minimum
    }

    public var cost: Cost
    /// The process's bound on hashes at once: each takes its memory limit (64 MiB interactive).
    public let slots: HashingSlots

    public init(cost: Cost = .interactive, slots: HashingSlots = HashingSlots(count: HashingSlots.defaultCount)) {
        self.cost = cost
        self.slots = slots
    }

    private var limits: (ops: UInt64, memory: Int) {
        switch cost {
        case .interactive: (UInt64(crypto_pwhash_OPSLIMIT_INTERACTIVE), Int(crypto_pwhash_MEMLIMIT_INTERACTIVE))
        case .minimum: (UInt64(crypto_pwhash_OPSLIMIT_MIN), Int(crypto_pwhash_MEMLIMIT_MIN))
        }
    }

    public func hash(_ password: String) -> String? {
        var out = [CChar](repeating: 0, count: Int(crypto_pwhash_STRBYTES))
        let bytes = Array(password.utf8CString)
        let result = bytes.withUnsafeBufferPointer { input in
            crypto_pwhash_str_alg(&out, input.baseAddress!, UInt64(input.count - 1), limits.ops, limits.memory,
                                  crypto_pwhash_ALG_ARGON2ID13)
        }
        guard result == 0 else { return nil }
        return String(cString: out)
    }

    public func verify(_ password: String, hash: String) -> Bool {
        let bytes = Array(password.utf8CString)
        return bytes.withUnsafeBufferPointer { input in
            crypto_pwhash_str_verify(hash, input.baseAddress!, UInt64(input.count - 1)) == 0
        }
    }
}

/// A small counting semaphore around password hashing: Argon2id takes 64 MiB per hash, so as
/// many hashes as threads at once could exceed the process's memory limit. A caller waits at most
/// `waitSeconds` for a slot, then is told the work is busy instead of queueing without end.
public final class HashingSlots: @unchecked Sendable {
    public static let defaultCount = 2
    public let count: Int
    public let waitSeconds: Double
    private let semaphore: DispatchSemaphore

    public struct Busy: Error {}

    public init(count: Int, waitSeconds: Double = 1) {
        self.count = max(1, count)
        self.waitSeconds = max(0, waitSeconds)
        semaphore = DispatchSemaphore(value: self.count)
    }

    /// Takes a slot without waiting; false when every slot is taken.
    public func tryAcquire() -> Bool { semaphore.wait(timeout: .now()) == .success }

    public func release() { semaphore.signal() }

    /// Runs `body` holding a slot; throws `Busy` when none came free within `waitSeconds`.
    public func run<Result>(_ body: () throws -> Result) throws -> Result {
        guard semaphore.wait(timeout: .now() + waitSeconds) == .success else { throw Busy() }
        defer { semaphore.signal() }
        return try body()
    }
}
