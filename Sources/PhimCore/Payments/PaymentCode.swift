import Foundation
import PhimSupport

/// The payment code a person writes in a bank transfer (`PHIM` + 6 symbols without look-alikes),
/// and how the inbox finds it again in whatever text the bank passes on.
public enum PaymentCode {
    public static let prefix = "PHIM"
    public static let suffixLength = 6
    /// The redemption codes' symbols: no 0/O, 1/I/L, so a code read aloud or retyped survives.
    static let alphabet = RedemptionCodes.alphabet
    private static let symbols = Set(alphabet.map { $0.unicodeScalars.first! })
    /// What banks and people put between the characters of a code (`PHIM 8F3K-2Q`, `PHIM.8F3K2Q`).
    private static let separators: Set<Unicode.Scalar> = [" ", "-", ".", "_", "\t", "\u{00A0}", "\u{2010}", "\u{2011}", "\u{2013}"]

    /// A new code; its uniqueness is the orders table's (`code UNIQUE`).
    public static func generate() -> String { prefix + String(RedemptionCodes.randomSymbols(suffixLength)) }

    /// The stored form of a code typed by a person (`phim-8f3k 2q` → `PHIM8F3K2Q`), or nil when
    /// the text is not one payment code.
    public static func normalize(_ input: String) -> String? {
        let text = input.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count <= 64, let found = candidates(in: text).first else { return nil }
        // The whole input must be the code: nothing but separators around it.
        let letters = text.uppercased().unicodeScalars.filter { !separators.contains($0) }
        return String(String.UnicodeScalarView(letters)) == found ? found : nil
    }

    /// The first payment code in `text` (see `candidates`).
    public static func find(in text: String) -> String? { candidates(in: text).first }

    /// Every payment code in `text`, in order, normalized: `PHIM` (any case) then 6 symbols of
    /// the alphabet, with spaces, dashes, dots or underscores allowed between them; whatever the
    /// bank wrote around it (`MBVCB.3278907687.PHIM8F3K2Q.CT tu 0123 NGUYEN VAN A`) does not matter.
    public static func candidates(in text: String) -> [String] {
        let scalars = Array(text.uppercased().unicodeScalars.prefix(4096))
        let head = Array(prefix.unicodeScalars)
        var found: [String] = []
        var index = 0
        while index + head.count <= scalars.count {
            guard Array(scalars[index..<index + head.count]) == head else {
                index += 1
                continue
            }
            var cursor = index + head.count
            var suffix = String.UnicodeScalarView()
            while cursor < scalars.count, suffix.count < suffixLength {
                let scalar = scalars[cursor]
                if symbols.contains(scalar) {
                    suffix.append(scalar)
                } else if !separators.contains(scalar) {
                    break
                }
                cursor += 1
            }
            if suffix.count == suffixLength {
                let code = prefix + String(suffix)
                if !found.contains(code) { found.append(code) }
            }
            index += 1
        }
        return found
    }
}
