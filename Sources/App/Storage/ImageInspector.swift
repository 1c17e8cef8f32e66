import NIOCore

/// The image formats the provider accepts.
enum ImageKind: Equatable {
    case jpeg, png, webp

    var mimeType: String {
        switch self {
        case .jpeg: "image/jpeg"
        case .png: "image/png"
        case .webp: "image/webp"
        }
    }

    var fileExtension: String {
        switch self {
        case .jpeg: "jpg"
        case .png: "png"
        case .webp: "webp"
        }
    }
}

/// Decides what an uploaded file is from its bytes alone, walking the format's structure to
/// its end marker.
///
/// The declared type and the file name are the sender's claims. A file is accepted only if it
/// is one whole image and nothing else: a truncated file (no end marker, a chunk running past
/// the end, a bad checksum) and a polyglot (an image with a script, page or archive after its
/// end) are both refused. Pixel data is not decoded; the provider does that.
enum ImageInspector {
    enum Problem: Error, Equatable {
        case unknownFormat
        case truncated
        case trailingData
        case malformed
    }

    struct Image: Equatable {
        var kind: ImageKind
        var width: Int
        var height: Int
    }

    /// Images bigger than this on a side are refused as malformed (Sora takes far less).
    static let maximumSide = 16_384

    static func inspect(_ buffer: ByteBuffer) throws(Problem) -> Image {
        let bytes = Array(buffer.readableBytesView)
        let image: Image
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            image = try png(bytes)
        } else if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
            image = try jpeg(bytes)
        } else if bytes.count >= 12, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WEBP".utf8) {
            image = try webp(bytes)
        } else {
            throw .unknownFormat
        }
        guard (1...maximumSide).contains(image.width), (1...maximumSide).contains(image.height) else { throw .malformed }
        return image
    }

    // MARK: - PNG: signature, then chunks (length, type, data, CRC-32) from IHDR to IEND

    private static func png(_ bytes: [UInt8]) throws(Problem) -> Image {
        var offset = 8
        var size: (Int, Int)?
        var sawImageData = false
        while true {
            guard offset + 12 <= bytes.count else { throw .truncated }
            let length = Int(bigEndian32(bytes, offset))
            guard length <= 0x7FFF_FFFF else { throw .malformed }
            let typeStart = offset + 4
            let end = typeStart + 4 + length
            guard end + 4 <= bytes.count else { throw .truncated }
            let type = String(decoding: bytes[typeStart..<(typeStart + 4)], as: UTF8.self)
            guard CRC32.checksum(bytes[typeStart..<end]) == bigEndian32(bytes, end) else { throw .truncated }
            if size == nil {
                guard type == "IHDR", length == 13 else { throw .malformed }
                size = (Int(bigEndian32(bytes, typeStart + 4)), Int(bigEndian32(bytes, typeStart + 8)))
            }
            if type == "IDAT" { sawImageData = true }
            offset = end + 4
            if type == "IEND" { break }
        }
        guard sawImageData, let size else { throw .malformed }
        guard offset == bytes.count else { throw .trailingData }
        return Image(kind: .png, width: size.0, height: size.1)
    }

    // MARK: - JPEG: markers from SOI to EOI, entropy-coded data after each start of scan

    private static func jpeg(_ bytes: [UInt8]) throws(Problem) -> Image {
        var offset = 2
        var size: (Int, Int)?
        var sawScan = false
        while true {
            guard offset < bytes.count else { throw .truncated }
            guard bytes[offset] == 0xFF else { throw .malformed }
            while offset < bytes.count, bytes[offset] == 0xFF { offset += 1 } // fill bytes
            guard offset < bytes.count else { throw .truncated }
            let marker = bytes[offset]
            offset += 1
            if marker == 0xD9 { break } // end of image
            if marker == 0x01 || (0xD0...0xD7).contains(marker) { continue } // no length
            guard offset + 2 <= bytes.count else { throw .truncated }
            let length = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
            guard length >= 2 else { throw .malformed }
            guard offset + length <= bytes.count else { throw .truncated }
            if [0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF].contains(marker) {
                guard length >= 7 else { throw .malformed }
                size = (Int(bytes[offset + 5]) << 8 | Int(bytes[offset + 6]), Int(bytes[offset + 3]) << 8 | Int(bytes[offset + 4]))
            }
            offset += length
            if marker == 0xDA {
                guard size != nil else { throw .malformed }
                sawScan = true
                // Entropy-coded data runs to the next marker: 0xFF not followed by 0x00 (a stuffed
                // byte) or a restart marker.
                while true {
                    guard offset + 1 < bytes.count else { throw .truncated }
                    if bytes[offset] == 0xFF, bytes[offset + 1] != 0x00, !(0xD0...0xD7).contains(bytes[offset + 1]) { break }
                    offset += 1
                }
            }
        }
        guard sawScan, let size else { throw .malformed }
        guard offset == bytes.count else { throw .trailingData }
        return Image(kind: .jpeg, width: size.0, height: size.1)
    }

    // MARK: - WebP: a RIFF container whose declared size is exactly the file, holding VP8, VP8L or VP8X

    private static func webp(_ bytes: [UInt8]) throws(Problem) -> Image {
        let riffSize = Int(littleEndian32(bytes, 4))
        guard riffSize + 8 <= bytes.count else { throw .truncated }
        guard riffSize + 8 == bytes.count else { throw .trailingData }
        var offset = 12
        var size: (Int, Int)?
        while offset < bytes.count {
            guard offset + 8 <= bytes.count else { throw .truncated }
            let fourCC = String(decoding: bytes[offset..<(offset + 4)], as: UTF8.self)
            let length = Int(littleEndian32(bytes, offset + 4))
            let data = offset + 8
            guard data + length <= bytes.count else { throw .truncated }
            if size == nil {
                switch fourCC {
                case "VP8 ":
                    // Frame tag (3 bytes), start code 9D 01 2A, then 14-bit width and height.
                    guard length >= 10, bytes[(data + 3)..<(data + 6)].elementsEqual([0x9D, 0x01, 0x2A]) else { throw .malformed }
                    size = (Int(littleEndian16(bytes, data + 6) & 0x3FFF), Int(littleEndian16(bytes, data + 8) & 0x3FFF))
                case "VP8L":
                    guard length >= 5, bytes[data] == 0x2F else { throw .malformed }
                    let bits = littleEndian32(bytes, data + 1)
                    size = (Int(bits & 0x3FFF) + 1, Int((bits >> 14) & 0x3FFF) + 1)
                case "VP8X":
                    guard length >= 10 else { throw .malformed }
                    size = (Int(littleEndian24(bytes, data + 4)) + 1, Int(littleEndian24(bytes, data + 7)) + 1)
                default:
                    throw .malformed
                }
            }
            offset = data + length + (length & 1) // chunks are padded to an even length
        }
        guard offset == bytes.count, let size else { throw .truncated }
        return Image(kind: .webp, width: size.0, height: size.1)
    }

    // MARK: - Reading integers

    private static func bigEndian32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    private static func littleEndian32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }

    private static func littleEndian24(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16
    }

    private static func littleEndian16(_ b: [UInt8], _ i: Int) -> UInt16 {
        UInt16(b[i]) | UInt16(b[i + 1]) << 8
    }
}

/// CRC-32 (ISO 3309, as PNG uses it).
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
