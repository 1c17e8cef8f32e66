import CQREncode
import Foundation

/// A QR code drawn locally by libqrencode as a self-contained SVG (no image service sees the payment).
public struct QRCodeSVG: Sendable {
    /// Modules per side, without the quiet zone.
    public let modules: Int
    /// Row-major, true where the module is dark.
    public let dark: [Bool]
    public static let quietZone = 4

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case encodingFailed(errno: Int32)
        public var description: String {
            switch self {
            case .encodingFailed(let code): return "libqrencode could not encode the text (errno \(code))"
            }
        }
    }

    /// Error correction M, 8-bit mode, the smallest version that fits.
    public init(text: String) throws {
        guard let code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1) else {
            throw Failure.encodingFailed(errno: errno)
        }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        let data = code.pointee.data!
        modules = width
        dark = (0..<width * width).map { data[$0] & 1 == 1 }
    }

    public func isDark(x: Int, y: Int) -> Bool { dark[y * modules + x] }

    /// Side of the drawing in modules, quiet zone included.
    public var size: Int { modules + 2 * Self.quietZone }

    /// One path of horizontal runs, one unit per module, scaled by the viewer.
    public var svg: String {
        var path = ""
        for y in 0..<modules {
            var x = 0
            while x < modules {
                guard isDark(x: x, y: y) else { x += 1; continue }
                var run = 1
                while x + run < modules, isDark(x: x + run, y: y) { run += 1 }
                path += "M\(x + Self.quietZone) \(y + Self.quietZone)h\(run)v1h-\(run)z"
                x += run
            }
        }
        return """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(size) \(size)" width="\(size * 8)" height="\(size * 8)" shape-rendering="crispEdges">\
        <rect width="\(size)" height="\(size)" fill="#fff"/><path fill="#000" d="\(path)"/></svg>

        """
    }
}
