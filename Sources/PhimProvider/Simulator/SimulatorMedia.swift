// The sample videos every simulated success points to, and the byte ranges a video player asks for.
import Foundation

/// Two small clips shipped as resources (`Simulator/Media`), read once and kept in memory.
enum SimulatorMedia {
    /// What a `Range` header asks of a file of a given size.
    enum RangeAnswer: Equatable {
        /// No range, or one we ignore (several ranges, or not `bytes`): the whole file, 200.
        case whole
        /// One satisfiable range, both ends inside the file: 206.
        case part(ClosedRange<Int>)
        /// A range that starts past the end: 416.
        case unsatisfiable
    }

    /// nil when the resource bundle is missing (an install that forgot to copy it).
    static let samples: [String: Data]? = {
        var found: [String: Data] = [:]
        for name in ["sample-landscape", "sample-portrait"] {
            guard let url = Bundle.module.url(forResource: name, withExtension: "mp4", subdirectory: "Media")
                    ?? Bundle.module.url(forResource: name, withExtension: "mp4"),
                  let data = try? Data(contentsOf: url) else { return nil }
            found[name] = data
        }
        return found
    }()

    /// The clip for a requested file name: portrait when the name says so, else landscape.
    static func sample(forFile name: String) -> Data? {
        samples?[name.contains("-portrait") ? "sample-portrait" : "sample-landscape"]
    }

    /// Reads a single `bytes=` range (RFC 9110 §14.1.2): `a-b`, `a-` or the suffix form `-n`.
    /// A malformed header is ignored, as the RFC allows.
    static func range(_ header: String?, size: Int) -> RangeAnswer {
        guard let header else { return .whole }
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("bytes=") else { return .whole }
        let spec = trimmed.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let first = spec[..<dash], last = spec[spec.index(after: dash)...]
        func number(_ text: Substring) -> Int? {
            guard !text.isEmpty, text.count <= 15, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            return Int(text)
        }
        if first.isEmpty {
            guard let suffix = number(last) else { return .whole }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .part(max(0, size - suffix)...(size - 1))
        }
        guard let start = number(first) else { return .whole }
        var end = size - 1
        if !last.isEmpty {
            guard let requested = number(last), requested >= start else { return .whole }
            end = min(requested, size - 1)
        }
        guard start < size else { return .unsatisfiable }
        return .part(start...end)
    }
}
