import Vapor

/// A language the interface speaks. Vietnamese comes first: it is the default.
public enum Language: String, Sendable, CaseIterable {
    case vi, en

    /// The first supported language in an `Accept-Language` header, else Vietnamese.
    static func preferred(by acceptLanguage: String?) -> Language {
        guard let header = acceptLanguage else { return .vi }
        let ranked = header.split(separator: ",").compactMap { part -> (String, Double)? in
            let pieces = part.split(separator: ";")
            guard let tag = pieces.first?.trimmingCharacters(in: .whitespaces).lowercased(), !tag.isEmpty else { return nil }
            let quality = pieces.dropFirst().first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("q=") }
                .flatMap { Double($0.trimmingCharacters(in: .whitespaces).dropFirst(2)) } ?? 1
            return (tag, quality)
        }
        for (tag, _) in ranked.sorted(by: { $0.1 > $1.1 }) {
            let primary = tag.split(separator: "-").first.map(String.init) ?? tag
            if let language = Language(rawValue: primary) { return language }
        }
        return .vi
    }
}

/// Looks up translated text in `Resources/Localization/<language>.json`.
///
/// A key missing from a language falls back to Vietnamese, then to the key itself, so a gap
/// shows up as a visible key rather than an empty string. `LocalizationTests` checks that both
/// files have the same keys.
public struct Localizer: Sendable {
    let tables: [Language: [String: String]]

    public static let shared: Localizer = {
        var tables: [Language: [String: String]] = [:]
        for language in Language.allCases {
            guard let url = Bundle.module.url(forResource: language.rawValue, withExtension: "json", subdirectory: "Resources/Localization"),
                  let data = try? Data(contentsOf: url),
                  let table = try? JSONDecoder().decode([String: String].self, from: data)
            else { continue }
            tables[language] = table
        }
        return Localizer(tables: tables)
    }()

    /// Every text whose key starts with `prefix` (keys whole), for handing to the page's script.
    public func texts(prefix: String, _ language: Language) -> [String: String] {
        let keys = Set((tables[.vi] ?? [:]).keys).union((tables[language] ?? [:]).keys).filter { $0.hasPrefix(prefix) }
        return Dictionary(uniqueKeysWithValues: keys.map { ($0, text($0, language)) })
    }

    public func text(_ key: String, _ language: Language, _ parameters: [String: String] = [:]) -> String {
        var text = tables[language]?[key] ?? tables[.vi]?[key] ?? key
        for (name, value) in parameters {
            text = text.replacingOccurrences(of: "{\(name)}", with: value)
        }
        return text
    }
}

extension Language {
    /// The cookie that keeps a person's choice from the language switch.
    static let cookieName = "phim_lang"
}

extension Request {
    /// The language chosen with the studio's language switch, if any.
    private var chosenLanguage: Language? { cookies[Language.cookieName].flatMap { Language(rawValue: $0.string) } }

    /// The language to answer an API request in: the one chosen in the studio, else the
    /// `Accept-Language` preference, else Vietnamese. (The studio's script sends its page's
    /// language, so its messages always match the page.)
    var language: Language { chosenLanguage ?? Language.preferred(by: headers.first(name: .acceptLanguage)) }

    /// The language of the studio's pages: Vietnamese unless English was chosen with the switch,
    /// whatever the browser prefers.
    var pageLanguage: Language { chosenLanguage ?? .vi }
}
