import Foundation
import PhimProvider
import PhimSupport

/// One model Phim offers: what people see (names, description, options, prices), how it is
/// spelled on Kie's wire (`WireSpec`), and what Phim has learnt of it (enabled, default,
/// available). The catalog file's entry and the `models` row are the same thing.
public struct CatalogModel: Sendable {
    public var id: String
    public var name: LocalizedText
    public var description: LocalizedText
    /// What a video of this model usually takes, in seconds, until completions say otherwise.
    public var typicalSeconds: Int
    /// Withdrawn by the provider for good: old videos keep its name; creates are refused.
    public var retired: Bool
    /// Catalog ids to suggest instead, for a retired model.
    public var replacements: [String]
    public var wire: WireSpec
    public var prices: [Price]

    public var enabled = true
    public var isDefault = false
    public var position = 0
    public var availability = Availability()

    public struct LocalizedText: Sendable, Equatable {
        public var vi: String
        public var en: String
        public init(vi: String, en: String) {
            self.vi = vi
            self.en = en
        }
    }

    /// One price row: a length × resolution × sound, in Phim credits, with Kie's list price for
    /// the same video (its credits, fractional at times) when known.
    public struct Price: Sendable, Equatable {
        public var durationSeconds: Int
        public var resolution: String
        public var audio: Bool
        public var credits: Int
        public var providerCredits: Double?

        public init(durationSeconds: Int, resolution: String, audio: Bool, credits: Int, providerCredits: Double?) {
            self.durationSeconds = durationSeconds
            self.resolution = resolution
            self.audio = audio
            self.credits = credits
            self.providerCredits = providerCredits
        }

        func matches(duration: Int, resolution: String, audio: Bool) -> Bool {
            durationSeconds == duration && self.resolution == resolution && self.audio == audio
        }
    }

    /// What the provider last said about the model. Unavailable from `since` until `recheckAt`:
    /// creates are refused before anything is held; after it, the next create tries again.
    public struct Availability: Sendable, Equatable {
        public var unavailableSince: Int64?
        public var reason: String?
        public var recheckAt: Int64?
        public var lastAcceptedAt: Int64?
        public var lastRefusedAt: Int64?
        public var lastRefusal: String?

        public init() {}

        public func isUnavailable(at now: Int64) -> Bool {
            guard unavailableSince != nil else { return false }
            return (recheckAt ?? .max) > now
        }
    }

    public var modes: [VideoMode] { wire.modes }
    /// Audio choices a request may make: `[false, true]`, `[true]` or `[false]`.
    public var audioChoices: [Bool] {
        switch wire.audio.policy {
        case .optional: [false, true]
        case .always: [true]
        case .none: [false]
        }
    }

    public func price(duration: Int, resolution: String, audio: Bool) -> Price? {
        prices.first { $0.matches(duration: duration, resolution: resolution, audio: audio) }
    }

    /// The cheapest and the dearest video, for "from … to …".
    public var priceRange: ClosedRange<Int>? {
        guard let low = prices.map(\.credits).min(), let high = prices.map(\.credits).max() else { return nil }
        return low...high
    }

    /// What a create that leaves an option out gets: the first length and resolution listed,
    /// 16:9 where offered, and the model's usual sound.
    public struct Defaults: Sendable, Equatable {
        public var duration: Int
        public var aspectRatio: String
        public var resolution: String
        public var audio: Bool
    }

    public var defaults: Defaults {
        let ratios = wire.aspectRatio.values
        let audio = wire.audio.policy == .optional ? wire.audio.defaultOn : wire.audio.policy == .always
        return Defaults(duration: wire.duration.values[0], aspectRatio: ratios.contains("16:9") ? "16:9" : ratios[0],
                        resolution: wire.resolution.ids[0], audio: audio)
    }

    /// Offered to people: enabled and not retired.
    public var isOffered: Bool { enabled && !retired }
}

// MARK: - The catalog file's JSON

extension CatalogModel {
    public static let idPattern = "a-z, 0-9, dot and dash, 2 to 64 characters"

    /// Reads one entry of a catalog file. Prices without `credits` are priced from Kie's list
    /// price (`provider_credits`) at `creditsPerProviderCredit`, rounded up to 100.
    public init(json entry: JSON, path: String, creditsPerProviderCredit: Double) throws {
        try self.init(definition: entry, path: path)
        let reader = SpecReader(entry, path: path)
        // A retired model is never offered, whatever the file says.
        enabled = try reader.optionalBool("enabled") ?? true && !retired
        isDefault = try reader.optionalBool("default") ?? false
        prices = try Self.prices(reader, wire: wire, ratio: creditsPerProviderCredit)
        // Every option shown must have a price, or the studio would offer what cannot be made.
        for duration in wire.duration.values {
            for resolution in wire.resolution.ids {
                for audio in audioChoices where price(duration: duration, resolution: resolution, audio: audio) == nil {
                    throw WireSpec.Problem("\(path).prices", "has no row for \(duration) s, \(resolution), audio \(audio)")
                }
            }
        }
    }

    /// Reads what a `models` row's definition holds (everything but prices and state).
    init(definition entry: JSON, path: String) throws {
        let reader = SpecReader(entry, path: path)
        id = try reader.string("id")
        guard Self.isValidID(id) else { throw WireSpec.Problem("\(path).id", "must use \(Self.idPattern)") }
        name = try Self.localized(reader.object("name"), maximum: 60)
        description = try Self.localized(reader.object("description"), maximum: 300)
        typicalSeconds = try reader.optionalInt("typical_seconds") ?? 120
        guard (5...7200).contains(typicalSeconds) else { throw WireSpec.Problem("\(path).typical_seconds", "must be 5 to 7200") }
        retired = try reader.optionalBool("retired") ?? false
        replacements = try reader.stringArray("replacements")
        wire = try WireSpec(json: entry, path: path)
        prices = []
    }

    private static func prices(_ reader: SpecReader, wire: WireSpec, ratio creditsPerProviderCredit: Double) throws -> [Price] {
        var prices: [Price] = []
        for row in try reader.objectArray("prices") {
            let duration = try row.positiveInt("duration")
            let resolution = try row.string("resolution")
            guard let audio = try row.optionalBool("audio") else { throw WireSpec.Problem("\(row.path).audio", "is required") }
            let providerCredits = try row.optionalNumber("provider_credits")
            if let providerCredits, providerCredits <= 0 { throw WireSpec.Problem("\(row.path).provider_credits", "must be positive") }
            let credits: Int
            if let given = try row.optionalInt("credits") {
                credits = given
            } else if let providerCredits {
                credits = Self.credits(forProviderCredits: providerCredits, ratio: creditsPerProviderCredit)
            } else {
                throw WireSpec.Problem(row.path, "needs credits or provider_credits")
            }
            guard (1...Self.maximumCredits).contains(credits) else {
                throw WireSpec.Problem("\(row.path).credits", "must be 1 to \(Self.maximumCredits)")
            }
            guard wire.duration.values.contains(duration), wire.resolution.ids.contains(resolution) else {
                throw WireSpec.Problem(row.path, "names a length or resolution the model does not offer")
            }
            guard !prices.contains(where: { $0.matches(duration: duration, resolution: resolution, audio: audio) }) else {
                throw WireSpec.Problem(row.path, "repeats an earlier row")
            }
            prices.append(Price(durationSeconds: duration, resolution: resolution, audio: audio, credits: credits,
                                providerCredits: providerCredits))
        }
        return prices
    }

    public static let maximumCredits = 100_000_000

    /// Kie's price in Phim credits: times the ratio, rounded up to the next 100 (a hair of
    /// floating-point excess is not a reason to round up: 30 × 7,000/30 is 7,000).
    public static func credits(forProviderCredits providerCredits: Double, ratio: Double) -> Int {
        Int((providerCredits * ratio / 100 - 1e-9).rounded(.up)) * 100
    }

    static func isValidID(_ id: String) -> Bool {
        (2...64).contains(id.count) && id.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "."
        }
    }

    private static func localized(_ reader: SpecReader, maximum: Int) throws -> LocalizedText {
        let text = LocalizedText(vi: try reader.string("vi"), en: try reader.string("en"))
        for (language, value) in [("vi", text.vi), ("en", text.en)] {
            guard !value.trimmingCharacters(in: .whitespaces).isEmpty, value.count <= maximum,
                  !value.containsControlCharacters(allowingLineBreaks: false)
            else { throw WireSpec.Problem("\(reader.path).\(language)", "must be 1 to \(maximum) characters of text") }
        }
        return text
    }

    /// The entry as a catalog file holds it: what `phim models export` writes and `import` reads.
    public var json: JSON {
        var fields: [(String, JSON)] = [
            ("id", .string(id)),
            ("name", .object([("vi", .string(name.vi)), ("en", .string(name.en))])),
            ("description", .object([("vi", .string(description.vi)), ("en", .string(description.en))])),
            ("typical_seconds", .int(typicalSeconds)),
            ("enabled", .bool(enabled)), ("default", .bool(isDefault)),
        ]
        if retired { fields += [("retired", .bool(true)), ("replacements", .array(replacements.map { .string($0) }))] }
        fields += wire.jsonFields
        fields.append(("prices", .array(prices.map { price in
            var row: [(String, JSON)] = [("duration", .int(price.durationSeconds)), ("resolution", .string(price.resolution)),
                                         ("audio", .bool(price.audio)), ("credits", .int(price.credits))]
            if let provider = price.providerCredits { row.append(("provider_credits", .number(provider))) }
            return .object(row)
        })))
        return .object(fields)
    }

    /// The definition stored in the `models` row: the entry without its prices and state, which
    /// have columns and rows of their own.
    var definitionJSON: JSON {
        var fields: [(String, JSON)] = [
            ("id", .string(id)),
            ("name", .object([("vi", .string(name.vi)), ("en", .string(name.en))])),
            ("description", .object([("vi", .string(description.vi)), ("en", .string(description.en))])),
            ("typical_seconds", .int(typicalSeconds)),
        ]
        if !replacements.isEmpty { fields.append(("replacements", .array(replacements.map { .string($0) }))) }
        return .object(fields + wire.jsonFields)
    }
}
