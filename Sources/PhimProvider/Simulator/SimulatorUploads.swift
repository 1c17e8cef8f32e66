// Kie's file upload host in memory: the files, their names and types, and the bodies the three upload calls take.
import Foundation
import PhimSupport

/// The files uploaded to the simulator, kept in memory: bounded (oldest dropped first) and
/// expiring after `lifetime` of the simulator's clock, as Kie's temporary files do. Not
/// thread-safe on its own: the simulator keeps it behind its lock.
struct SimulatorUploads {
    static let maxFiles = 256
    static let maxTotalBytes = 256 << 20
    /// Kie's pages say 24 h or 3 days; integrators measured about 24 h.
    static let lifetime: TimeInterval = 24 * 3600
    /// The largest upload the simulator's server reads (its 1 MB limit is raised to this for the upload paths).
    static let maxFileBytes = 20 << 20

    struct File {
        /// `kieai/<n>/<fileName>`, the key and the `filePath` of the reply.
        var path: String
        var fileName: String
        var bytes: Data
        var mimeType: String
        var uploadedAt: Date
    }

    private var files: [String: File] = [:]
    /// Paths, oldest first.
    private var order: [String] = []
    private var totalBytes = 0
    private var nextNumber = 1

    var count: Int { files.count }

    /// Stores the bytes under a new path, dropping expired and then the oldest files to stay in bounds.
    mutating func add(_ bytes: Data, fileName: String, at now: Date) -> File {
        purge(at: now)
        let path = "kieai/\(nextNumber)/\(fileName)"
        nextNumber += 1
        let file = File(path: path, fileName: fileName, bytes: bytes, mimeType: Self.mimeType(forFileName: fileName), uploadedAt: now)
        files[path] = file
        order.append(path)
        totalBytes += bytes.count
        while files.count > Self.maxFiles || totalBytes > Self.maxTotalBytes, order.count > 1 { dropOldest() }
        return file
    }

    /// The file at `kieai/<n>/<name>` (a leading slash is allowed), unless it expired.
    mutating func file(atPath path: String, now: Date) -> File? {
        purge(at: now)
        return files[path.hasPrefix("/") ? String(path.dropFirst()) : path]
    }

    private mutating func purge(at now: Date) {
        while let oldest = order.first, let file = files[oldest], now.timeIntervalSince(file.uploadedAt) >= Self.lifetime {
            dropOldest()
        }
    }

    private mutating func dropOldest() {
        let path = order.removeFirst()
        if let file = files.removeValue(forKey: path) { totalBytes -= file.bytes.count }
    }

    // MARK: - What Kie's host does with names and bodies

    /// The Content-Type Kie's upload host serves a file with: from the file NAME's extension,
    /// whatever the bytes are (live: EB 5.2.1).
    static func mimeType(forFileName name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "application/octet-stream" }
        switch name[name.index(after: dot)...].lowercased() {
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "webp": return "image/webp"
        case "gif": return "image/gif"
        case "bmp": return "image/bmp"
        case "svg": return "image/svg+xml"
        case "mp4": return "video/mp4"
        case "mov": return "video/quicktime"
        case "webm": return "video/webm"
        case "mp3": return "audio/mpeg"
        case "wav": return "audio/wav"
        case "m4a": return "audio/mp4"
        case "pdf": return "application/pdf"
        case "txt": return "text/plain"
        case "json": return "application/json"
        default: return "application/octet-stream"
        }
    }

    /// A name Kie's host would accept: not empty, no path separators, nothing that cannot go in a URL path.
    static func isAcceptableFileName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 255 && !name.contains("/") && !name.contains("\\") && name != "." && name != ".."
            && !name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    /// Base64 as Kie's uploader decodes it (`atob`): the standard alphabet, `=` only as final
    /// padding, no whitespace (newline-wrapped input is refused live, EB 4.6.4); a `data:…;base64,`
    /// prefix is taken off first. nil when it does not decode.
    static func decodeBase64(_ text: String) -> Data? {
        var payload = Substring(text)
        if payload.hasPrefix("data:") {
            guard let comma = payload.firstIndex(of: ","), payload[..<comma].hasSuffix(";base64") else { return nil }
            payload = payload[payload.index(after: comma)...]
        }
        var bytes = Array(payload.utf8)
        if bytes.count % 4 == 0 {
            if bytes.last == UInt8(ascii: "=") { bytes.removeLast() }
            if bytes.last == UInt8(ascii: "=") { bytes.removeLast() }
        }
        guard bytes.count % 4 != 1 else { return nil }
        var output = Data(capacity: bytes.count * 3 / 4)
        var buffer: UInt32 = 0, bits = 0
        for byte in bytes {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            default: return nil
            }
            buffer = buffer << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return output
    }

    /// One part of a multipart/form-data body.
    struct Part {
        var name: String
        var fileName: String?
        var content: Data
    }

    /// The parts of a multipart/form-data body (RFC 7578), or nil when it is not one.
    static func multipartParts(_ body: Data, contentType: String?) -> [Part]? {
        guard let contentType, contentType.lowercased().hasPrefix("multipart/form-data"),
              let boundary = parameter("boundary", in: contentType), !boundary.isEmpty else { return nil }
        let bytes = [UInt8](body)
        let delimiter = Array("--\(boundary)".utf8)
        guard var start = find(delimiter, in: bytes, from: 0) else { return nil }
        var parts: [Part] = []
        while true {
            var cursor = start + delimiter.count
            // The closing delimiter ends the body.
            if bytes.count >= cursor + 2, bytes[cursor] == UInt8(ascii: "-"), bytes[cursor + 1] == UInt8(ascii: "-") { return parts }
            guard bytes.count >= cursor + 2, bytes[cursor] == 13, bytes[cursor + 1] == 10 else { return nil }
            cursor += 2
            guard let headEnd = find([13, 10, 13, 10], in: bytes, from: cursor),
                  let head = String(bytes: bytes[cursor..<headEnd], encoding: .utf8),
                  let next = find([13, 10] + delimiter, in: bytes, from: headEnd + 4) else { return nil }
            var name: String?, fileName: String?
            for line in head.components(separatedBy: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
                name = parameter("name", in: line)
                fileName = parameter("filename", in: line)
            }
            guard let name else { return nil }
            parts.append(Part(name: name, fileName: fileName, content: Data(bytes[(headEnd + 4)..<next])))
            start = next + 2
        }
    }

    /// `name=value` or `name="value"` among a header's `;`-separated parameters.
    private static func parameter(_ name: String, in header: String) -> String? {
        for piece in header.split(separator: ";").dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0].lowercased() == name else { continue }
            var value = pair[1]
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var index = start
        let first = needle[0]
        while index <= haystack.count - needle.count {
            if haystack[index] == first, haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
