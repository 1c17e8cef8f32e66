import Foundation
import PhimProvider
import PhimSupport

/// What operators see of the business: per day and model, videos made, how they ended, credits
/// charged and what the provider likely billed for them; the most used style presets and
/// prompt words. Read from the jobs themselves, so there is nothing extra to keep in step.
public struct Analytics: Sendable {
    public var clock: AppClock

    public init(clock: AppClock) { self.clock = clock }

    public struct DayModel: Sendable {
        public var day: String
        public var model: String
        public var made = 0
        public var completed = 0
        public var failed = 0
        public var canceled = 0
        public var creditsCharged = 0
        /// Kie credits the provider bills for the completed ones: what it reported charging, else
        /// its list price when the video was made (it bills a success, not a failure).
        public var providerCostEstimate = 0.0
        public var successRate: Double { completed + failed == 0 ? 0 : Double(completed) / Double(completed + failed) }
    }

    /// Money that came in by bank transfer and was credited (by itself or by an operator from the review queue), per day.
    public struct RevenueDay: Sendable, Equatable {
        public var day: String
        public var amountVND = 0
        public var topups = 0
        public var creditsSold = 0
    }

    public struct Report: Sendable {
        public var days: Int
        public var rows: [DayModel]
        public var styles: [(key: String, uses: Int)]
        public var words: [(word: String, uses: Int)]
        public var revenue: [RevenueDay] = []
    }

    public func report(days: Int, on db: Database) throws -> Report {
        let since = clock.nowMillis() - Int64(days) * 86_400_000
        var rows: [String: DayModel] = [:]
        var prompts: [String] = []
        for row in try db.rows("""
            SELECT created_at, model, status, price_credits, prompt,
              COALESCE(provider_consumed_millicredits, provider_list_millicredits, 0) AS provider_millicredits
            FROM video_jobs WHERE created_at >= :since ORDER BY created_at
            """, ["since": .integer(since)]) {
            let day = String(ISOTime.string(row.int64("created_at")).prefix(10))
            let model = row.string("model")
            let key = "\(day) \(model)"
            var entry = rows[key] ?? DayModel(day: day, model: model)
            entry.made += 1
            switch row.string("status") {
            case "completed":
                entry.completed += 1
                entry.creditsCharged += row.int("price_credits")
                entry.providerCostEstimate += Double(row.int64("provider_millicredits")) / 1000
            case "failed": entry.failed += 1
            case "canceled": entry.canceled += 1
            default: break
            }
            rows[key] = entry
            prompts.append(row.string("prompt"))
        }
        // A preset was used when its words are in the prompt (the chip puts them there verbatim).
        let presets = try StylePresets.all(includeDisabled: true, on: db)
        var styles: [(key: String, uses: Int)] = []
        for preset in presets {
            let uses = prompts.filter { $0.localizedCaseInsensitiveContains(preset.promptText) }.count
            if uses > 0 { styles.append((preset.key, uses)) }
        }
        styles.sort { $0.uses != $1.uses ? $0.uses > $1.uses : $0.key < $1.key }
        // Words the presets add are not the users' own; short words say little.
        let presetWords = Set(presets.flatMap { BlockedTermsModerator.words($0.promptText).map(String.init) })
        var counts: [String: Int] = [:]
        for prompt in prompts {
            for word in Set(BlockedTermsModerator.words(prompt).map(String.init)) where word.count >= 4 && !presetWords.contains(word) {
                counts[word, default: 0] += 1
            }
        }
        let ranked = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        let words: [(word: String, uses: Int)] = ranked.prefix(20).map { (word: $0.key, uses: $0.value) }
        let ordered = rows.values.sorted { $0.day != $1.day ? $0.day < $1.day : $0.model < $1.model }
        return Report(days: days, rows: ordered, styles: styles, words: words, revenue: try revenue(since: since, on: db))
    }

    /// By the day of the credit (`credited_at`): an operator's credit counts the credits it gave,
    /// an order (paid, or attached from the review queue) its own.
    func revenue(since: Int64, on db: Database) throws -> [RevenueDay] {
        var days: [String: RevenueDay] = [:]
        for row in try db.rows("""
            SELECT n.credited_at, n.amount_vnd,
              CASE WHEN r.status = 'credited' THEN COALESCE(r.credits, 0) ELSE COALESCE(o.credits, 0) END AS credits
            FROM bank_notifications n
            LEFT JOIN payment_reviews r ON r.notification_id = n.id
            LEFT JOIN topup_orders o ON o.id = n.order_id
            WHERE n.credited_at IS NOT NULL AND n.credited_at >= :since
            """, ["since": .integer(since)]) {
            let day = String(ISOTime.string(row.int64("credited_at")).prefix(10))
            var entry = days[day] ?? RevenueDay(day: day)
            entry.amountVND += row.int("amount_vnd")
            entry.topups += 1
            entry.creditsSold += row.int("credits")
            days[day] = entry
        }
        return days.values.sorted { $0.day < $1.day }
    }
}
