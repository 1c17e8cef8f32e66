import Foundation

/// Decides whether a prompt may be sent to the provider, before any credit is held. The built-in
/// one checks the operator's blocked terms; a moderation service plugs in by conforming.
public protocol PromptModerator: Sendable {
    func review(prompt: String) throws -> ModerationVerdict
}

public enum ModerationVerdict: Sendable, Equatable {
    case allowed
    /// `term` is what matched, for the operator's log; users are told only that it was refused.
    case rejected(term: String)
}

/// Refuses prompts containing any of the operator's terms, ignoring case and Vietnamese (or any)
/// diacritics, and matching whole words so "class" is not refused for "ass".
public struct BlockedTermsModerator: PromptModerator {
    private let terms: [(original: String, words: [Substring])]

    public init(terms: [String]) {
        self.terms = terms.compactMap { term in
            let words = Self.words(term)
            return words.isEmpty ? nil : (term, words)
        }
    }

    /// Terms from a comma-separated list and a file of one per line (`#` starts a comment).
    public static func terms(list: String?, file: String?) throws -> [String] {
        var terms = (list ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if let file {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            terms += text.split(whereSeparator: \.isNewline).map { line in
                String(line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                    .trimmingCharacters(in: .whitespaces)
            }
        }
        return terms.filter { !$0.isEmpty }
    }

    public func review(prompt: String) throws -> ModerationVerdict {
        guard !terms.isEmpty else { return .allowed }
        let promptWords = Self.words(prompt)
        for term in terms where Self.contains(promptWords, term.words) {
            return .rejected(term: term.original)
        }
        return .allowed
    }

    /// Lower-cased, diacritics removed (đ becomes d), split at anything that is not a letter or digit.
    static func words(_ text: String) -> [Substring] {
        let folded = text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
            .replacingOccurrences(of: "đ", with: "d")
        return folded.split(whereSeparator: { !$0.isLetter && !$0.isNumber })
    }

    private static func contains(_ haystack: [Substring], _ needle: [Substring]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return true
        }
        return false
    }
}
