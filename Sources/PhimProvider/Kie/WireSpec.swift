// How one model of Phim's catalog is spelled on Kie's wire: which endpoint family, which model
// id per mode, and each input's field name, JSON type and values. Data, read from the catalog.
import Foundation
import PhimSupport

/// What a person asks for: text-to-video, or image-to-video with a reference image.
public enum VideoMode: String, Codable, Sendable, CaseIterable {
    case textToVideo = "text_to_video"
    case imageToVideo = "image_to_video"
}

/// Kie's two ways of making a video: the Market jobs API (`/api/v1/jobs/*`, `input` nested,
/// `state` names) and Veo's own API (`/api/v1/veo/*`, a flat body, `successFlag`).
public enum ProviderFamily: String, Sendable, CaseIterable {
    case market, veo
}

public struct WireSpec: Sendable, Equatable {
    public var family: ProviderFamily
    /// The provider's model id for each mode the model offers (one id for both, or two).
    public var providerModels: [VideoMode: String]
    public var prompt: Prompt
    public var image: Image?
    public var duration: Duration
    public var aspectRatio: AspectRatio
    public var resolution: Resolution
    public var audio: Audio
    /// Input fields sent with every create, as they are (Kling's `multi_shots: false`).
    public var fixed: [(String, JSON)]
    /// Input fields sent in one mode only (Veo's `generationType`).
    public var modeFields: [VideoMode: [(String, JSON)]]

    public struct Prompt: Sendable, Equatable {
        public var field: String
        /// The provider's own limit, in characters.
        public var maxLength: Int
    }

    public struct Image: Sendable, Equatable {
        public enum Shape: String, Sendable { case string, array }
        public var field: String
        public var shape: Shape
    }

    public struct Duration: Sendable, Equatable {
        public enum Kind: String, Sendable { case integer, string }
        /// nil: the length is fixed by the model and not sent (Veo's 8 s).
        public var field: String?
        public var type: Kind
        public var values: [Int]
    }

    public struct AspectRatio: Sendable, Equatable {
        public var field: String?
        /// Phim's ratios ("16:9", "9:16", "1:1"), sent as they are.
        public var values: [String]
        /// Whether the ratio is sent with a reference image (the output often follows the image).
        public var sendWithImage: Bool
    }

    public struct Resolution: Sendable, Equatable {
        public struct Value: Sendable, Equatable {
            /// Phim's name, lower case ("720p").
            public var id: String
            /// What the provider takes ("720P", Kling's "std").
            public var wire: String
        }
        public var field: String?
        public var values: [Value]
        public var ids: [String] { values.map(\.id) }
    }

    public struct Audio: Sendable, Equatable {
        public enum Policy: String, Sendable { case optional, always, none }
        public var field: String?
        public var policy: Policy
        /// For `optional`: what a request that says nothing gets.
        public var defaultOn: Bool
    }

    public static func == (a: WireSpec, b: WireSpec) -> Bool { a.json == b.json }

    public var modes: [VideoMode] { VideoMode.allCases.filter { providerModels[$0] != nil } }
}

// MARK: - Reading and writing the catalog's JSON

extension WireSpec {
    /// A catalog entry's field that is missing or has the wrong type, by its path.
    public struct Problem: Error, Equatable, CustomStringConvertible, Sendable {
        public var path: String
        public var message: String
        public init(_ path: String, _ message: String) {
            self.path = path
            self.message = message
        }
        public var description: String { "\(path): \(message)" }
    }

    /// Reads the wire part of a catalog entry (`family`, `provider_models`, `prompt`, `image`,
    /// `duration`, `aspect_ratio`, `resolution`, `audio`, `fixed`, `mode_fields`).
    public init(json entry: JSON, path: String) throws {
        let reader = SpecReader(entry, path: path)
        guard let family = ProviderFamily(rawValue: try reader.string("family")) else {
            throw Problem("\(path).family", "must be market or veo")
        }
        self.family = family
        let models = try reader.object("provider_models")
        var providerModels: [VideoMode: String] = [:]
        for mode in VideoMode.allCases {
            if let id = try models.optionalString(mode.rawValue) {
                guard !id.isEmpty, id.count <= 200 else { throw Problem("\(models.path).\(mode.rawValue)", "must be a provider model id") }
                providerModels[mode] = id
            }
        }
        guard !providerModels.isEmpty else { throw Problem(models.path, "must name text_to_video or image_to_video") }
        self.providerModels = providerModels

        let prompt = try reader.object("prompt")
        self.prompt = Prompt(field: try prompt.optionalString("field") ?? "prompt", maxLength: try prompt.positiveInt("max_length"))

        if let image = try reader.optionalObject("image") {
            guard let shape = Image.Shape(rawValue: try image.string("shape")) else {
                throw Problem("\(image.path).shape", "must be string or array")
            }
            self.image = Image(field: try image.string("field"), shape: shape)
        } else {
            image = nil
        }
        if providerModels[.imageToVideo] != nil, image == nil { throw Problem("\(path).image", "is required for image_to_video") }

        let duration = try reader.object("duration")
        guard let kind = Duration.Kind(rawValue: try duration.optionalString("type") ?? "integer") else {
            throw Problem("\(duration.path).type", "must be integer or string")
        }
        let seconds = try duration.intArray("values")
        guard !seconds.isEmpty, seconds.allSatisfy({ (1...600).contains($0) }) else {
            throw Problem("\(duration.path).values", "must list seconds from 1 to 600")
        }
        self.duration = Duration(field: try duration.optionalString("field"), type: kind, values: seconds)

        let aspect = try reader.object("aspect_ratio")
        let ratios = try aspect.stringArray("values")
        guard !ratios.isEmpty, ratios.allSatisfy({ Self.phimAspectRatios.contains($0) }) else {
            throw Problem("\(aspect.path).values", "must list some of \(Self.phimAspectRatios.joined(separator: ", "))")
        }
        aspectRatio = AspectRatio(field: try aspect.optionalString("field"), values: ratios,
                                  sendWithImage: try aspect.optionalBool("send_with_image") ?? true)

        let resolution = try reader.object("resolution")
        var values: [Resolution.Value] = []
        for item in try resolution.objectArray("values") {
            let id = try item.string("id")
            guard id == id.lowercased(), !id.isEmpty, id.count <= 20 else { throw Problem("\(item.path).id", "must be a lower-case name") }
            values.append(.init(id: id, wire: try item.optionalString("wire") ?? id))
        }
        guard !values.isEmpty, Set(values.map(\.id)).count == values.count else {
            throw Problem("\(resolution.path).values", "must list distinct resolutions")
        }
        self.resolution = Resolution(field: try resolution.optionalString("field"), values: values)

        let audio = try reader.object("audio")
        guard let policy = Audio.Policy(rawValue: try audio.string("policy")) else {
            throw Problem("\(audio.path).policy", "must be optional, always or none")
        }
        let audioField = try audio.optionalString("field")
        if policy == .optional, audioField == nil { throw Problem("\(audio.path).field", "is required when audio is optional") }
        self.audio = Audio(field: audioField, policy: policy, defaultOn: try audio.optionalBool("default") ?? false)

        fixed = try reader.optionalObject("fixed")?.fields ?? []
        var modeFields: [VideoMode: [(String, JSON)]] = [:]
        if let perMode = try reader.optionalObject("mode_fields") {
            for mode in VideoMode.allCases {
                if let fields = try perMode.optionalObject(mode.rawValue) { modeFields[mode] = fields.fields }
            }
        }
        self.modeFields = modeFields
    }

    /// The ratios Phim offers; `landscape` and `portrait` are read as the first two.
    public static let phimAspectRatios = ["16:9", "9:16", "1:1"]

    /// The same fields, in the catalog's order.
    public var jsonFields: [(String, JSON)] {
        var fields: [(String, JSON)] = [("family", .string(family.rawValue))]
        fields.append(("provider_models", .object(modes.map { ($0.rawValue, .string(providerModels[$0]!)) })))
        fields.append(("prompt", .object([("field", .string(prompt.field)), ("max_length", .int(prompt.maxLength))])))
        if let image { fields.append(("image", .object([("field", .string(image.field)), ("shape", .string(image.shape.rawValue))]))) }
        fields.append(("duration", .object([("field", .optional(duration.field)), ("type", .string(duration.type.rawValue)),
                                            ("values", .array(duration.values.map { .int($0) }))])))
        fields.append(("aspect_ratio", .object([("field", .optional(aspectRatio.field)),
                                                ("values", .array(aspectRatio.values.map { .string($0) })),
                                                ("send_with_image", .bool(aspectRatio.sendWithImage))])))
        fields.append(("resolution", .object([("field", .optional(resolution.field)), ("values", .array(resolution.values.map {
            .object([("id", .string($0.id)), ("wire", .string($0.wire))])
        }))])))
        fields.append(("audio", .object([("field", .optional(audio.field)), ("policy", .string(audio.policy.rawValue)),
                                         ("default", .bool(audio.defaultOn))])))
        if !fixed.isEmpty { fields.append(("fixed", .object(fixed))) }
        if !modeFields.isEmpty {
            fields.append(("mode_fields", .object(VideoMode.allCases.compactMap { mode in modeFields[mode].map { (mode.rawValue, .object($0)) } })))
        }
        return fields
    }

    public var json: JSON { .object(jsonFields) }
}

/// Reads one object of a catalog file, naming the path of whatever is wrong.
public struct SpecReader {
    public let value: JSON
    public let path: String

    public init(_ value: JSON, path: String) {
        self.value = value
        self.path = path
    }

    public var fields: [(String, JSON)] {
        if case .object(let fields) = value { return fields }
        return []
    }

    private func field(_ name: String) -> JSON? {
        guard let found = value[name], !found.isNull else { return nil }
        return found
    }

    private func problem(_ name: String, _ message: String) -> WireSpec.Problem { .init("\(path).\(name)", message) }

    public func string(_ name: String) throws -> String {
        guard let text = try optionalString(name) else { throw problem(name, "is required") }
        return text
    }

    public func optionalString(_ name: String) throws -> String? {
        guard let found = field(name) else { return nil }
        guard let text = found.stringValue else { throw problem(name, "must be a string") }
        return text
    }

    public func optionalBool(_ name: String) throws -> Bool? {
        guard let found = field(name) else { return nil }
        guard case .bool(let flag) = found else { throw problem(name, "must be true or false") }
        return flag
    }

    public func optionalInt(_ name: String) throws -> Int? {
        guard let found = field(name) else { return nil }
        guard let number = found.intValue else { throw problem(name, "must be a whole number") }
        return number
    }

    public func positiveInt(_ name: String) throws -> Int {
        guard let number = try optionalInt(name) else { throw problem(name, "is required") }
        guard number > 0 else { throw problem(name, "must be positive") }
        return number
    }

    public func optionalNumber(_ name: String) throws -> Double? {
        guard let found = field(name) else { return nil }
        guard case .number(let number) = found, number.isFinite else { throw problem(name, "must be a number") }
        return number
    }

    public func object(_ name: String) throws -> SpecReader {
        guard let found = try optionalObject(name) else { throw problem(name, "is required") }
        return found
    }

    public func optionalObject(_ name: String) throws -> SpecReader? {
        guard let found = field(name) else { return nil }
        guard case .object = found else { throw problem(name, "must be an object") }
        return SpecReader(found, path: "\(path).\(name)")
    }

    public func array(_ name: String) throws -> [JSON] {
        guard let found = field(name) else { return [] }
        guard case .array(let items) = found else { throw problem(name, "must be a list") }
        return items
    }

    public func intArray(_ name: String) throws -> [Int] {
        let items = try array(name)
        let numbers = items.compactMap(\.intValue)
        guard numbers.count == items.count else { throw problem(name, "must list whole numbers") }
        return numbers
    }

    public func stringArray(_ name: String) throws -> [String] {
        let items = try array(name)
        let texts = items.compactMap(\.stringValue)
        guard texts.count == items.count else { throw problem(name, "must list strings") }
        return texts
    }

    public func objectArray(_ name: String) throws -> [SpecReader] {
        try array(name).enumerated().map { index, item in
            guard case .object = item else { throw problem("\(name)[\(index)]", "must be an object") }
            return SpecReader(item, path: "\(path).\(name)[\(index)]")
        }
    }
}
