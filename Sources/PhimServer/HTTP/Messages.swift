import Foundation
import PhimCore

/// The texts the API itself says (error messages, failure reasons), in Vietnamese and English,
/// from `Messages/vi.json` and `Messages/en.json`. The pages' own words live in `public/i18n`.
public enum Messages {
    static let tables: [Language: [String: String]] = {
        var tables: [Language: [String: String]] = [:]
        for language in Language.allCases {
            guard let url = Bundle.module.url(forResource: language.rawValue, withExtension: "json", subdirectory: "Messages"),
                  let data = try? Data(contentsOf: url),
                  let table = try? JSONSerialization.jsonObject(with: data) as? [String: String]
            else { fatalError("missing message table \(language.rawValue).json") }
            tables[language] = table
        }
        return tables
    }()

    public static func text(_ key: String, _ language: Language, _ values: [String: String] = [:]) -> String {
        var text = tables[language]?[key] ?? tables[.en]?[key] ?? key
        for (name, value) in values { text = text.replacingOccurrences(of: "{\(name)}", with: value) }
        return text
    }

    public static func has(_ key: String, _ language: Language) -> Bool { tables[language]?[key] != nil }

    public static func message(for error: AppError, in language: Language) -> String {
        var values = error.parameters
        if case .insufficientCredits(let needed, let available) = error {
            values = ["needed": credits(needed, language), "available": credits(available, language)]
        }
        return text("error.\(error.code)", language, values)
    }

    /// 100000 → "100.000" in Vietnamese, "100,000" in English.
    static func credits(_ amount: Int, _ language: Language) -> String {
        let digits = String(abs(amount))
        var grouped = ""
        for (index, character) in digits.reversed().enumerated() {
            if index > 0, index % 3 == 0 { grouped.append(language == .vi ? "." : ",") }
            grouped.append(character)
        }
        return (amount < 0 ? "-" : "") + String(grouped.reversed())
    }
}
