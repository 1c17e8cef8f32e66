import Foundation
import PhimProvider
import PhimSupport

/// `phim provider check`: is the provider ready for the catalog, without starting a billable
/// task? The account's balance; per enabled model, what its last real create answered; and
/// Kie's public price list next to each price row, with the rows that disagree flagged.
public struct ProviderCheck: Sendable {
    public var provider: any VideoProvider
    public var clock: AppClock

    public init(provider: any VideoProvider, clock: AppClock) {
        self.provider = provider
        self.clock = clock
    }

    public enum Liveness: Sendable, Equatable {
        /// The provider accepted a create of this model at that time, and refused none since.
        case live(since: Int64)
        case unavailable(since: Int64, reason: String?, recheckAt: Int64?)
        case neverTried
    }

    public struct PriceLine: Sendable {
        public var price: CatalogModel.Price
        /// Kie's price for the same video by its price list now (its credits), when a record matches.
        public var feedCredits: Double?
        public var feedDescription: String?
        /// Kie's list differs from the price Phim's row was made from (by more than 1 %).
        public var differs: Bool
    }

    public struct ModelLine: Sendable {
        public var model: CatalogModel
        public var liveness: Liveness
        public var prices: [PriceLine]
    }

    public struct Report: Sendable {
        public var balance: Int?
        public var balanceError: String?
        public var feedError: String?
        public var models: [ModelLine]
        public var differences: Int { models.reduce(0) { $0 + $1.prices.filter(\.differs).count } }
    }

    public func run(on db: Database) throws -> Report {
        var report = Report(models: [])
        do { report.balance = try provider.remainingCredits() } catch { report.balanceError = "\(error)" }
        var feed: [ProviderPriceRecord] = []
        do { feed = try provider.priceFeed() } catch { report.feedError = "\(error)" }
        for model in try ModelCatalog.all(on: db) where model.isOffered {
            let availability = model.availability
            let liveness: Liveness
            if let since = availability.unavailableSince {
                liveness = .unavailable(since: since, reason: availability.reason, recheckAt: availability.recheckAt)
            } else if let accepted = availability.lastAcceptedAt {
                liveness = .live(since: accepted)
            } else {
                liveness = .neverTried
            }
            let ids = Set(model.wire.providerModels.values)
            let records = feed.filter { $0.modelID.map(ids.contains) ?? false }
            let prices = model.prices.map { price -> PriceLine in
                guard let record = Self.record(for: price, among: records) else {
                    return PriceLine(price: price, feedCredits: nil, feedDescription: nil, differs: false)
                }
                let kie = record.unit.lowercased().contains("second") ? record.credits * Double(price.durationSeconds) : record.credits
                let differs = price.providerCredits.map { abs($0 - kie) > 0.01 * max($0, kie) } ?? true
                return PriceLine(price: price, feedCredits: kie, feedDescription: record.description, differs: differs)
            }
            report.models.append(ModelLine(model: model, liveness: liveness, prices: prices))
        }
        return report
    }

    /// The record of a model's price list that prices this row: its label names the row's
    /// resolution (or none), and says "with audio" / "without audio" to match the row (or neither).
    static func record(for price: CatalogModel.Price, among records: [ProviderPriceRecord]) -> ProviderPriceRecord? {
        let candidates = records.filter { record in
            let label = record.description.lowercased()
            if let resolution = resolution(in: label), resolution != price.resolution.lowercased() { return false }
            let silent = label.contains("without audio") || label.contains("no audio") || label.contains("without sound")
            let sound = !silent && (label.contains("with audio") || label.contains("with sound"))
            if silent && price.audio || sound && !price.audio { return false }
            return true
        }
        // The most specific label first: one that names the resolution and the sound.
        return candidates.max { specificity($0) < specificity($1) }
    }

    private static func specificity(_ record: ProviderPriceRecord) -> Int {
        let label = record.description.lowercased()
        return (resolution(in: label) == nil ? 0 : 2) + (label.contains("audio") || label.contains("sound") ? 1 : 0)
    }

    /// "480p", "720p", "1080p" or "4k" named in a label, if any.
    static func resolution(in label: String) -> String? {
        for name in ["2160p", "1080p", "720p", "768p", "540p", "480p", "360p", "4k", "2k"] where label.contains(name) { return name }
        return nil
    }
}
