import Foundation

/// Decides whether bytes are one whole JPEG, PNG or WebP image: the right signature, the
/// structure complete to its last byte, and nothing after it (a file that is also something
/// else, a polyglot, is refused). The provider fetches these files from our public URL.
public enum ImageInspector {
    public enum Kind: String, Sendable {
        case jpeg, png, webp

        public var contentType: String { "image/\(rawValue)" }
        public var fileExtension: String { rawValue == "jpeg" ? "jpg" : rawValue }
    }

    public enum Problem: Error, Equatable {
        case unsupportedType
        case damaged
    }

    public static func inspect(_ data: [UInt8]) throws -> Kind {
        if data.starts(with: [0xFF, 0xD8, 0xFF]) {
            guard jpegIsWhole(data) else { throw Problem.damaged }
            return .jpeg
        }
        if data.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            guard pngIsWhole(data) else { throw Problem.damaged }
            return .png
        }
        if data.count >= 12, data[0..<4].elementsEqual(Array("RIFF".utf8)), data[8..<12].elementsEqual(Array("WEBP".utf8)) {
            // The RIFF size counts everything after its own 8 bytes.
            let size = Int(data[4]) | Int(data[5]) << 8 | Int(data[6]) << 16 | Int(data[7]) << 24
            guard size + 8 == data.count, data.count >= 20 else { throw Problem.damaged }
            return .webp
        }
        throw Problem.unsupportedType
    }

    /// Walks the JPEG's segments to the start of scan, then expects the end-of-image marker as
    /// the last two bytes.
    private static func jpegIsWhole(_ data: [UInt8]) -> Bool {
        var index = 2
        while index + 4 <= data.count {
            guard data[index] == 0xFF else { return false }
            let marker = data[index + 1]
            if marker == 0xFF { index += 1; continue }
            if marker == 0xD9 { return false } // an end before any image data
            let length = Int(data[index + 2]) << 8 | Int(data[index + 3])
            guard length >= 2, index + 2 + length <= data.count else { return false }
            if marker == 0xDA { // start of scan: entropy-coded data runs to the end marker
                return data.count >= index + 2 + length + 2 && data[data.count - 2] == 0xFF && data[data.count - 1] == 0xD9
            }
            index += 2 + length
        }
        return false
    }

    /// Walks the PNG's chunks; the image ends with IEND exactly at the end of the data.
    private static func pngIsWhole(_ data: [UInt8]) -> Bool {
        var index = 8
        var sawHeader = false
        while index + 12 <= data.count {
            let length = Int(data[index]) << 24 | Int(data[index + 1]) << 16 | Int(data[index + 2]) << 8 | Int(data[index + 3])
            let type = String(decoding: data[(index + 4)..<(index + 8)], as: UTF8.self)
            guard length >= 0, length <= data.count, index + 12 + length <= data.count else { return false }
            if index == 8 { sawHeader = type == "IHDR" }
            index += 12 + length
            if type == "IEND" { return sawHeader && index == data.count }
        }
        return false
    }
}
