import Foundation

/// Numbers and times as people read them in each language.
enum Formatting {
    /// 100000 → "100.000" in Vietnamese, "100,000" in English.
    static func credits(_ amount: Int, _ language: Language) -> String {
        let separator = language == .vi ? "." : ","
        let digits = String(abs(amount))
        var grouped = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { grouped += separator }
            grouped.append(character)
        }
        return (amount < 0 ? "−" : "") + grouped
    }

    /// A signed amount for the ledger: "+7.000", "−7.000", "0".
    static func signedCredits(_ amount: Int, _ language: Language) -> String {
        amount > 0 ? "+" + credits(amount, language) : credits(amount, language)
    }

    /// A time in UTC, for pages read before their script turns it into the reader's local time.
    static func time(_ date: Date, _ language: Language) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = language == .vi ? "dd/MM/yyyy HH:mm" : "MMM d, yyyy HH:mm"
        return formatter.string(from: date) + " UTC"
    }

    static func iso(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }
}
