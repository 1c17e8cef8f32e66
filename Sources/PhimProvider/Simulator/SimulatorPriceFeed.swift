// Kie's public price feed (`/client/v1/model-pricing/*`), made from the rules table's list prices.
import Foundation
import PhimSupport

/// One record per priced variant of every model that is not paused, shaped like Kie's: the
/// price is a STRING, `usdPrice` is credits × 0.005, and the description names the resolution
/// (and the audio, where the price depends on it). Paused models drop out, as they do at Kie.
enum SimulatorPriceFeed {
    /// Most records one page gives, whatever `pageSize` asks.
    static let maxPageSize = 100
    static let defaultPageSize = 10

    struct Record {
        var modelID: String
        var description: String
        var provider: String
        var unit: KieModelRules.PriceUnit
        var milliCredits: Int64
        var anchor: String

        var json: JSON {
            .object([
                ("modelDescription", .string(description)), ("interfaceType", .string("video")), ("provider", .string(provider)),
                ("creditPrice", .string(SimulatorPriceFeed.decimal(milliCredits, scale: 1_000))),
                ("creditUnit", .string(unit.rawValue)),
                // 1 credit = US$0.005: in millionths of a dollar that is milli-credits × 5.
                ("usdPrice", .string(SimulatorPriceFeed.decimal(milliCredits * 5, scale: 1_000_000))),
                ("falPrice", .null), ("discountRate", .null), ("anchor", .string(anchor)),
            ])
        }
    }

    /// The feed's records in table order. `overrides` ("<model id>|<description>" → credits)
    /// let a test make the feed disagree with what the simulator bills.
    static func records(isPaused: (String) -> Bool, overrides: [String: Double]) -> [Record] {
        KieModelRules.all.filter { !isPaused($0.id) }.flatMap { rules in
            rules.rates.map { rate in
                let override = overrides["\(rules.id)|\(rate.description)"].map { Int64(($0 * 1_000).rounded()) }
                return Record(modelID: rules.id, description: rate.description, provider: rules.provider, unit: rules.unit,
                              milliCredits: override ?? rate.milliCredits, anchor: rules.anchor)
            }
        }
    }

    /// `value / scale` written without floating-point noise: 3800/1000 is "3.8", 20000/1000 is "20".
    static func decimal(_ value: Int64, scale: Int64) -> String {
        let sign = value < 0 ? "-" : ""
        let magnitude = value.magnitude
        let whole = magnitude / UInt64(scale), fraction = magnitude % UInt64(scale)
        guard fraction > 0 else { return "\(sign)\(whole)" }
        var digits = String(fraction)
        digits = String(repeating: "0", count: String(scale).count - 1 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(sign)\(whole).\(digits)"
    }
}
