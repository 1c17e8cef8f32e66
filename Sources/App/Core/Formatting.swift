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
        // Calendar arithmetic rather than a DateFormatter per call: a gallery page shows many times.
        let parts = utcCalendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        let (year, month, day, hour, minute) = (parts.year ?? 0, parts.month ?? 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0)
        let clock = String(format: "%02d:%02d", hour, minute)
        switch language {
        case .vi: return String(format: "%02d/%02d/%04d ", day, month, year) + clock + " UTC"
        case .en: return "\(monthAbbreviations[month - 1]) \(day), \(year) \(clock) UTC"
        }
    }

    static func iso(_ date: Date) -> String {
        date.ISO8601Format()
    }

    private static let utcCalendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    private static let monthAbbreviations = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
}
