import Foundation

/// Decides whether bytes are one whole JPEG, PNG or WebP image: the right signature, the
/// structure complete to its last byte, and nothing after it (a file that is also something
/// else, a polyglot, is refused). The provider fetches these files from our public URL, so the
/// picture must be most of the file: text and metadata beside it are bounded
/// (`metadataLimitBytes`), and a PNG's chunks must carry their checksums.
public enum ImageInspector {
    public enum Kind: String, Sendable {
        case jpeg, png, webp

        public var contentType: String { "image/\(rawValue)" }
        public var fileExtension: String { rawValue == "jpeg" ? "jpg" : rawValue }
    }

    public enum Problem: Error, Equatable {
        case unsupportedType
        case damaged
        /// Text, profiles and other data beside the picture exceed `metadataLimitBytes`.
        case tooMuchMetadata
    }

    /// Metadata allowed beside the picture, over all of it: a phone photo's Exif (up to 64 KiB
    /// with its thumbnail), colour profile and XMP fit; a file that is mostly text does not.
    public static let metadataLimitBytes = 256 * 1024
    /// The longest side accepted (WebP's own limit; no video model takes more).
    public static let maximumSide = 16_383

    public static func inspect(_ data: [UInt8]) throws -> Kind {
        try data.withUnsafeBufferPointer { bytes in
            if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
                try checkJPEG(bytes)
                return .jpeg
            }
            if bytes.starts(with: pngSignature) {
                try checkPNG(bytes)
                return .png
            }
            if bytes.count >= 12, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WEBP".utf8) {
                try checkWebP(bytes)
                return .webp
            }
            throw Problem.unsupportedType
        }
    }

    private typealias Bytes = UnsafeBufferPointer<UInt8>

    private static func bigEndian32(_ data: Bytes, _ index: Int) -> Int {
        Int(data[index]) << 24 | Int(data[index + 1]) << 16 | Int(data[index + 2]) << 8 | Int(data[index + 3])
    }

    private static func littleEndian(_ data: Bytes, _ index: Int, count: Int) -> Int {
        (0..<count).reduce(0) { $0 | Int(data[index + $1]) << (8 * $1) }
    }

    // MARK: - PNG

    private static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// The chunks that make the picture; every other chunk counts as metadata.
    private static let pngPictureChunks: Set<String> = ["IHDR", "PLTE", "IDAT", "IEND", "tRNS"]

    /// IHDR first with a sane size and form, IDAT chunks together, IEND exactly at the end, every
    /// chunk's CRC right, and the other chunks within the metadata limit.
    private static func checkPNG(_ data: Bytes) throws {
        var index = 8
        var metadata = 0
        var sawData = false, dataEnded = false
        while true {
            guard index + 12 <= data.count else { throw Problem.damaged }
            let length = bigEndian32(data, index)
            guard length <= Int(Int32.max), length <= data.count - index - 12 else { throw Problem.damaged }
            let typeBytes = data[(index + 4)..<(index + 8)]
            guard typeBytes.allSatisfy({ (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else { throw Problem.damaged }
            let type = String(decoding: typeBytes, as: UTF8.self)
            let body = index + 8
            if !pngPictureChunks.contains(type) {
                metadata += length + 12
                guard metadata <= metadataLimitBytes else { throw Problem.tooMuchMetadata }
            }
            guard CRC32.checksum(UnsafeBufferPointer(rebasing: data[(index + 4)..<(body + length)])) == UInt32(bigEndian32(data, body + length))
            else { throw Problem.damaged }
            if index == 8 {
                guard type == "IHDR", length == 13 else { throw Problem.damaged }
                try checkPNGHeader(data, body)
            } else if type == "IHDR" {
                throw Problem.damaged
            }
            if type == "IDAT" {
                guard !dataEnded else { throw Problem.damaged }
                sawData = true
            } else if sawData {
                dataEnded = true
            }
            index = body + length + 4
            if type == "IEND" {
                guard length == 0, sawData, index == data.count else { throw Problem.damaged }
                return
            }
        }
    }

    private static func checkPNGHeader(_ data: Bytes, _ at: Int) throws {
        let width = bigEndian32(data, at), height = bigEndian32(data, at + 4)
        let depth = data[at + 8], colour = data[at + 9]
        let depths: [UInt8: Set<UInt8>] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
        guard (1...maximumSide).contains(width), (1...maximumSide).contains(height),
              depths[colour]?.contains(depth) == true,
              data[at + 10] == 0, data[at + 11] == 0, data[at + 12] <= 1
        else { throw Problem.damaged }
    }

    // MARK: - JPEG

    /// Walks the segments: a frame header (SOF) before the first scan, each scan's entropy-coded
    /// data to the next marker, and the end-of-image marker as the last two bytes. Application
    /// segments and comments count as metadata.
    private static func checkJPEG(_ data: Bytes) throws {
        var index = 2
        var metadata = 0
        var sawFrame = false, sawScan = false
        while true {
            guard index + 2 <= data.count, data[index] == 0xFF else { throw Problem.damaged }
            let marker = data[index + 1]
            switch marker {
            case 0xFF: // fill byte before a marker
                index += 1
                continue
            case 0xD9:
                guard sawScan, index + 2 == data.count else { throw Problem.damaged }
                return
            case 0x01, 0xD0...0xD7: // markers without a length
                index += 2
                continue
            case 0x00, 0xD8:
                throw Problem.damaged
            default:
                break
            }
            guard index + 4 <= data.count else { throw Problem.damaged }
            let length = Int(data[index + 2]) << 8 | Int(data[index + 3])
            guard length >= 2, index + 2 + length <= data.count else { throw Problem.damaged }
            let body = index + 4
            switch marker {
            case 0xC0...0xC3, 0xC5...0xC7, 0xC9...0xCB, 0xCD...0xCF:
                guard length >= 8 else { throw Problem.damaged }
                let height = Int(data[body + 1]) << 8 | Int(data[body + 2])
                let width = Int(data[body + 3]) << 8 | Int(data[body + 4])
                let components = Int(data[body + 5])
                guard (1...maximumSide).contains(width), (1...maximumSide).contains(height),
                      (1...4).contains(components), length == 8 + 3 * components
                else { throw Problem.damaged }
                sawFrame = true
            case 0xE0...0xEF, 0xFE:
                metadata += length + 2
                guard metadata <= metadataLimitBytes else { throw Problem.tooMuchMetadata }
            case 0xDA:
                guard sawFrame else { throw Problem.damaged }
                sawScan = true
                index = try endOfEntropyCodedData(data, from: index + 2 + length)
                continue
            default:
                break
            }
            index += 2 + length
        }
    }

    /// The index of the marker that ends a scan's entropy-coded data (stuffed zero bytes and
    /// restart markers belong to the data).
    private static func endOfEntropyCodedData(_ data: Bytes, from start: Int) throws -> Int {
        var index = start
        while index + 1 < data.count {
            if data[index] == 0xFF {
                let next = data[index + 1]
                if next == 0x00 || (0xD0...0xD7).contains(next) {
                    index += 2
                    continue
                }
                if next != 0xFF { return index }
            }
            index += 1
        }
        throw Problem.damaged
    }

    // MARK: - WebP

    /// The RIFF size matches the data, the chunks fill it exactly, the first chunk is a VP8,
    /// VP8L or VP8X header with a sane size, a picture is present, and the other chunks are
    /// within the metadata limit.
    private static func checkWebP(_ data: Bytes) throws {
        let riffSize = littleEndian(data, 4, count: 4)
        guard riffSize + 8 == data.count, data.count >= 20 else { throw Problem.damaged }
        var index = 12
        var metadata = 0
        var sawPicture = false
        while index < data.count {
            guard index + 8 <= data.count else { throw Problem.damaged }
            let type = String(decoding: data[index..<(index + 4)], as: UTF8.self)
            let length = littleEndian(data, index + 4, count: 4)
            let body = index + 8
            guard length <= data.count - body else { throw Problem.damaged }
            switch type {
            case "VP8 ":
                // A key frame's start code, then 14-bit width and height.
                guard length >= 10, data[body + 3] == 0x9D, data[body + 4] == 0x01, data[body + 5] == 0x2A,
                      littleEndian(data, body + 6, count: 2) & 0x3FFF > 0, littleEndian(data, body + 8, count: 2) & 0x3FFF > 0
                else { throw Problem.damaged }
                sawPicture = true
            case "VP8L":
                guard length >= 5, data[body] == 0x2F else { throw Problem.damaged }
                sawPicture = true
            case "VP8X":
                guard index == 12, length >= 10,
                      littleEndian(data, body + 4, count: 3) + 1 <= maximumSide, littleEndian(data, body + 7, count: 3) + 1 <= maximumSide
                else { throw Problem.damaged }
            case "ANMF":
                sawPicture = true
            case "ALPH", "ANIM":
                break
            default:
                metadata += length + 8
                guard metadata <= metadataLimitBytes else { throw Problem.tooMuchMetadata }
            }
            if index == 12, !["VP8 ", "VP8L", "VP8X"].contains(type) { throw Problem.damaged }
            // Chunks are padded to an even length.
            index = body + length + (length & 1)
        }
        guard index == data.count, sawPicture else { throw Problem.damaged }
    }
}

/// CRC-32 (ISO 3309, as PNG uses it) from a table: a checksum against damage, not cryptography.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { value in
        (0..<8).reduce(UInt32(value)) { crc, _ in crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
    }

    static func checksum(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        table.withUnsafeBufferPointer { table in
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
            return crc ^ 0xFFFF_FFFF
        }
    }
}
