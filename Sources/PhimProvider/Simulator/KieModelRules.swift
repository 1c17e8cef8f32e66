// Kie's documented input rules, one entry per provider model id: the simulator's own table, written
// from Kie's docs (shared/reference/kie-video-models.md), never from Phim's catalog, so it checks Phim.
import Foundation
import PhimSupport

/// One model as Kie checks it: the fields it takes with their JSON types and allowed values,
/// which are required, the rules between fields, which fields name images Kie will fetch, and its
/// list price (what Kie bills, and what its public price feed says).
struct KieModelRules: Sendable {
    /// Market models are created at `/api/v1/jobs/createTask` with their fields under `input`;
    /// Veo at `/api/v1/veo/generate` with a flat body.
    enum Family: String, Sendable { case market, veo }

    /// What a field must hold. The JSON type is part of it: `5` is not `"5"`.
    enum FieldType: Sendable {
        /// A string whose length (in characters) lies in the range.
        case text(ClosedRange<Int>)
        /// A string holding an absolute http or https URL.
        case url
        /// A string, exactly one of these (case-sensitive).
        case oneOf([String])
        /// Veo's aspect ratio: a string, one of these; another value is Kie's bare "Ratio error".
        case ratio([String])
        /// A whole JSON number in the range, or one of the extra values.
        case integer(ClosedRange<Int>, orAlso: [Int])
        case anyInteger
        case boolean
        /// An array of URL strings, with this many items.
        case urls(ClosedRange<Int>)
        /// An array of objects with exactly these fields, with this many items.
        case objects(ClosedRange<Int>, [Field])
        /// An array, items unchecked (Kling's `kling_elements`, whose schema the docs leave open).
        case array
    }

    struct Field: Sendable {
        var name: String
        var type: FieldType
        var isRequired = false
    }

    /// One priced variant: `variant` is what `priceVariant` answers for a request; the
    /// description is the price feed's `modelDescription`.
    struct Rate: Sendable {
        var variant: String
        var description: String
        var milliCredits: Int64
    }

    enum PriceUnit: String, Sendable {
        case perSecond = "per second"
        case perVideo = "per video"
    }

    let id: String
    let family: Family
    /// The feed's `provider` and `anchor` (the kie.ai page).
    let provider: String
    let anchor: String
    let fields: [Field]
    /// Fields that other models take and this one refuses, with why: a better message than "unknown field".
    var refusedFields: [String: String] = [:]
    /// The fields naming images Kie fetches (a URL string or an array of them), in order.
    var imageFields: [String] = []
    /// Rules between fields, checked once every field has the right type.
    var checks: [@Sendable (Input) -> Refusal?] = []
    let unit: PriceUnit
    let rates: [Rate]
    /// Which rate a (valid) request is billed at.
    let priceVariant: @Sendable (Input) -> String
    /// How many units of `unit` it is billed for (1 for a per-video price).
    let billedUnits: @Sendable (Input) -> Int

    /// The list price of a valid request, in thousandths of a credit (prices such as 3.8/s stay exact).
    func priceMilliCredits(_ input: Input) -> Int64 {
        let variant = priceVariant(input)
        let rate = rates.first { $0.variant == variant } ?? rates[0]
        return rate.milliCredits * Int64(billedUnits(input))
    }

    // MARK: - Reading a request

    /// The object holding a model's fields (`input` for Market, the whole body for Veo), with
    /// the prefix that names its fields in messages (`input.duration`).
    struct Input: Sendable {
        var fields: [(String, JSON)]
        var prefix: String

        subscript(_ name: String) -> JSON? { fields.first { $0.0 == name }?.1 }
        func has(_ name: String) -> Bool { self[name] != nil }
        func path(_ name: String) -> String { prefix + name }
        func string(_ name: String) -> String? { self[name]?.stringValue }
        func int(_ name: String) -> Int? { self[name]?.intValue }
        func bool(_ name: String) -> Bool? {
            if case .bool(let value)? = self[name] { return value }
            return nil
        }
        func array(_ name: String) -> [JSON]? {
            if case .array(let items)? = self[name] { return items }
            return nil
        }
        /// Whether the field is there and is not an empty array.
        func isGiven(_ name: String) -> Bool {
            guard let value = self[name] else { return false }
            if case .array(let items) = value { return !items.isEmpty }
            return true
        }
    }

    /// A create Kie refuses: HTTP 200, this envelope, and nothing created.
    struct Refusal: Error, Equatable, Sendable {
        var code: Int
        var msg: String

        /// Kie answers some validation errors with 500 "This field is required" (EB 5.3.0).
        static func required(_ path: String) -> Refusal { Refusal(code: 500, msg: "This field is required: \(path)") }
        static func invalid(_ path: String, _ problem: String) -> Refusal { Refusal(code: 422, msg: "\(path): \(problem)") }
    }
}

// MARK: - The table

extension KieModelRules {
    /// Every model the simulator serves, Market and Veo.
    static let all: [KieModelRules] = seedance + [grokTextToVideo, grokImageToVideo, kling3] + wan + veo

    static func market(_ id: String) -> KieModelRules? { all.first { $0.family == .market && $0.id == id } }
    static func veo(_ id: String) -> KieModelRules? { all.first { $0.family == .veo && $0.id == id } }
    static var veoModelIDs: [String] { all.filter { $0.family == .veo }.map(\.id) }

    /// Sora 2 ids: Kie answers "temporarily paused" for every one (since 2026-06-11), whatever the settings.
    static func isSora(_ id: String) -> Bool { id.hasPrefix("sora-2-") }

    // MARK: Seedance 2 (ByteDance)

    static let seedanceAspectRatios = ["16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive"]

    private static let seedance: [KieModelRules] = [
        seedance2(id: "bytedance/seedance-2-mini", name: "Seedance 2 Mini", rates: [("480p", 3_800), ("720p", 8_200)]),
        seedance2(id: "bytedance/seedance-2-fast", name: "Seedance 2 Fast", rates: [("480p", 11_700), ("720p", 24_800)]),
        seedance2(id: "bytedance/seedance-2", name: "Seedance 2", rates: [("480p", 19_000), ("720p", 41_000), ("1080p", 102_000)]),
    ]

    /// One id covers text-to-video, first/last frame and references; `rates` (resolution, milli-credits
    /// per second without video input) also say which resolutions the model offers. No audio surcharge.
    private static func seedance2(id: String, name: String, rates: [(String, Int64)]) -> KieModelRules {
        KieModelRules(
            id: id, family: .market, provider: "ByteDance", anchor: "https://kie.ai/seedance-2?model=\(id)",
            fields: [
                Field(name: "prompt", type: .text(1...20_000), isRequired: true),
                Field(name: "first_frame_url", type: .url),
                Field(name: "last_frame_url", type: .url),
                Field(name: "reference_image_urls", type: .urls(0...9)),
                Field(name: "reference_video_urls", type: .urls(0...3)),
                Field(name: "reference_audio_urls", type: .urls(0...3)),
                Field(name: "generate_audio", type: .boolean),
                Field(name: "return_last_frame", type: .boolean),
                Field(name: "web_search", type: .boolean),
                Field(name: "resolution", type: .oneOf(rates.map(\.0))),
                Field(name: "aspect_ratio", type: .oneOf(seedanceAspectRatios)),
                Field(name: "duration", type: .integer(4...15, orAlso: [])),
            ],
            refusedFields: ["image_urls": "not a Seedance field (use first_frame_url / last_frame_url, or reference_image_urls)"],
            imageFields: ["first_frame_url", "last_frame_url", "reference_image_urls"],
            checks: [lastFrameNeedsFirst, framesOrReferences, { input in
                let hasImages = input.isGiven("first_frame_url") || input.isGiven("last_frame_url") || input.isGiven("reference_image_urls")
                if input.bool("web_search") == true, hasImages {
                    return .invalid(input.path("web_search"), "only for text-to-video (no images)")
                }
                return nil
            }],
            unit: .perSecond,
            rates: rates.map { Rate(variant: $0.0, description: "\(name), video-\($0.0)", milliCredits: $0.1) },
            priceVariant: { $0.string("resolution") ?? "720p" },
            billedUnits: { $0.int("duration") ?? 5 })
    }

    // MARK: Grok Imagine (xAI)

    private static let grokRates: [(String, Int64)] = [("480p", 2_400), ("720p", 4_500)]
    private static let grokDurations = ["6", "10", "15"]

    private static let grokTextToVideo = KieModelRules(
        id: "grok-imagine/text-to-video", family: .market, provider: "Grok",
        anchor: "https://kie.ai/grok-imagine?model=grok-imagine/text-to-video",
        fields: [
            Field(name: "prompt", type: .text(1...5_000), isRequired: true),
            Field(name: "aspect_ratio", type: .oneOf(["2:3", "3:2", "1:1", "16:9", "9:16"])),
            Field(name: "mode", type: .oneOf(["fun", "normal", "spicy"])),
            Field(name: "duration", type: .oneOf(grokDurations)),
            Field(name: "resolution", type: .oneOf(grokRates.map(\.0))),
        ],
        refusedFields: [
            "image_urls": "text-to-video takes no images (grok-imagine/image-to-video does)",
            "task_id": "text-to-video takes no images (grok-imagine/image-to-video does)",
            "index": "text-to-video takes no images (grok-imagine/image-to-video does)",
        ],
        unit: .perSecond,
        rates: grokRates.map { Rate(variant: $0.0, description: "Grok Imagine, text-to-video-\($0.0)", milliCredits: $0.1) },
        priceVariant: { $0.string("resolution") ?? "480p" },
        billedUnits: { Int($0.string("duration") ?? "6") ?? 6 })

    private static let grokImageToVideo = KieModelRules(
        id: "grok-imagine/image-to-video", family: .market, provider: "Grok",
        anchor: "https://kie.ai/grok-imagine?model=grok-imagine/image-to-video",
        fields: [
            Field(name: "image_urls", type: .urls(1...1)),
            Field(name: "task_id", type: .text(1...200)),
            Field(name: "index", type: .integer(0...5, orAlso: [])),
            Field(name: "prompt", type: .text(0...5_000)),
            Field(name: "mode", type: .oneOf(["fun", "normal", "spicy"])),
            Field(name: "duration", type: .oneOf(grokDurations)),
            Field(name: "resolution", type: .oneOf(grokRates.map(\.0))),
        ],
        refusedFields: ["aspect_ratio": "not accepted by image-to-video (the output follows the image)"],
        imageFields: ["image_urls"],
        checks: [{ input in
            // One source for the image: an external URL, or an earlier Grok image (task_id + index).
            switch (input.has("image_urls"), input.has("task_id")) {
            case (true, true): return .invalid(input.path("task_id"), "cannot be combined with \(input.path("image_urls"))")
            case (false, false): return .required(input.path("image_urls"))
            case (false, true) where !input.has("index"): return .required(input.path("index"))
            default: break
            }
            if input.has("index"), !input.has("task_id") { return .invalid(input.path("index"), "only with \(input.path("task_id"))") }
            if input.has("image_urls"), input.string("mode") == "spicy" {
                return .invalid(input.path("mode"), "\"spicy\" is not allowed with external images")
            }
            return nil
        }],
        unit: .perSecond,
        rates: grokRates.map { Rate(variant: $0.0, description: "Grok Imagine, image-to-video-\($0.0)", milliCredits: $0.1) },
        priceVariant: { $0.string("resolution") ?? "480p" },
        billedUnits: { Int($0.string("duration") ?? "6") ?? 6 })

    // MARK: Kling 3.0

    private static let kling3 = KieModelRules(
        id: "kling-3.0/video", family: .market, provider: "Kling", anchor: "https://kie.ai/kling-3?model=kling-3.0/video",
        fields: [
            Field(name: "prompt", type: .text(1...2_500)),
            Field(name: "image_urls", type: .urls(1...2)),
            Field(name: "duration", type: .oneOf((3...15).map(String.init))),
            Field(name: "aspect_ratio", type: .oneOf(["16:9", "9:16", "1:1"])),
            Field(name: "mode", type: .oneOf(["std", "pro", "4K"])),
            Field(name: "sound", type: .boolean),
            Field(name: "multi_shots", type: .boolean, isRequired: true),
            Field(name: "multi_prompt", type: .objects(1...Int.max, [
                Field(name: "prompt", type: .text(1...2_500), isRequired: true),
                Field(name: "duration", type: .integer(1...12, orAlso: []), isRequired: true),
            ])),
            Field(name: "kling_elements", type: .array),
        ],
        imageFields: ["image_urls"],
        checks: [{ input in
            let multiShots = input.bool("multi_shots") == true
            if !multiShots, !input.has("prompt") { return .required(input.path("prompt")) }
            if multiShots, !input.has("multi_prompt") { return .required(input.path("multi_prompt")) }
            if !multiShots, input.has("multi_prompt") {
                return .invalid(input.path("multi_prompt"), "only with \(input.path("multi_shots")) true")
            }
            if !input.has("image_urls"), !input.has("aspect_ratio") { return .required(input.path("aspect_ratio")) }
            if multiShots, input.bool("sound") == true {
                return .invalid(input.path("sound"), "true cannot be combined with \(input.path("multi_shots")) true")
            }
            return nil
        }],
        unit: .perSecond,
        rates: [
            Rate(variant: "std", description: "Kling 3.0, video, without audio-720P", milliCredits: 14_000),
            Rate(variant: "std+sound", description: "Kling 3.0, video, with audio-720P", milliCredits: 20_000),
            Rate(variant: "pro", description: "Kling 3.0, video, without audio-1080P", milliCredits: 18_000),
            Rate(variant: "pro+sound", description: "Kling 3.0, video, with audio-1080P", milliCredits: 27_000),
            Rate(variant: "4K", description: "Kling 3.0, video-4K", milliCredits: 67_000),
        ],
        priceVariant: { input in
            let mode = input.string("mode") ?? "std"
            if mode == "4K" { return mode }
            return input.bool("sound") == true ? "\(mode)+sound" : mode
        },
        billedUnits: { Int($0.string("duration") ?? "5") ?? 5 })

    // MARK: Wan 3.0 (Alibaba)

    private static let wan: [KieModelRules] = [
        wan3(id: "wan/3-0-video", name: "Wan 3.0", rates: [("480P", 8_000), ("720P", 16_000), ("1080P", 32_000)]),
        wan3(id: "wan/3-0-video-prime", name: "Wan 3.0 Prime", rates: [("480P", 12_200), ("720P", 25_200), ("1080P", 50_400)]),
    ]

    private static func wan3(id: String, name: String, rates: [(String, Int64)]) -> KieModelRules {
        KieModelRules(
            id: id, family: .market, provider: "Wan", anchor: "https://kie.ai/wan-3?model=\(id)",
            fields: [
                Field(name: "prompt", type: .text(1...20_000), isRequired: true),
                Field(name: "first_frame_url", type: .url),
                Field(name: "last_frame_url", type: .url),
                Field(name: "reference_image_urls", type: .urls(0...10)),
                Field(name: "reference_video_urls", type: .urls(0...5)),
                Field(name: "reference_audio_urls", type: .urls(0...5)),
                Field(name: "resolution", type: .oneOf(rates.map(\.0))),
                Field(name: "aspect_ratio", type: .oneOf(["adaptive", "16:9", "4:3", "1:1", "3:4", "9:16"])),
                Field(name: "duration", type: .integer(2...30, orAlso: [-1])),
                Field(name: "audio", type: .boolean),
                Field(name: "seed", type: .anyInteger),
                Field(name: "nsfw_checker", type: .boolean),
            ],
            refusedFields: ["image_urls": "not a Wan 3.0 field (use first_frame_url / last_frame_url, or reference_image_urls)"],
            imageFields: ["first_frame_url", "last_frame_url", "reference_image_urls"],
            checks: [lastFrameNeedsFirst, framesOrReferences],
            unit: .perSecond,
            rates: rates.map { Rate(variant: $0.0, description: "\(name), video-\($0.0)", milliCredits: $0.1) },
            // 1080P is Kie's documented default; a "smart" duration (-1) is billed as 5 s here.
            priceVariant: { $0.string("resolution") ?? "1080P" },
            billedUnits: { input in
                let seconds = input.int("duration") ?? 5
                return seconds == -1 ? 5 : seconds
            })
    }

    // MARK: Veo 3.1 (Google, its own API)

    static let veoAspectRatios = ["16:9", "9:16", "Auto"]
    static let veoGenerationTypes = ["TEXT_2_VIDEO", "FIRST_AND_LAST_FRAMES_2_VIDEO", "REFERENCE_2_VIDEO"]

    private static let veo: [KieModelRules] = [
        veo31(id: "veo3", name: "Veo 3.1 Quality", clipMilliCredits: 250_000),
        veo31(id: "veo3_fast", name: "Veo 3.1 Fast", clipMilliCredits: 60_000),
        veo31(id: "veo3_lite", name: "Veo 3.1 Lite", clipMilliCredits: 30_000),
    ]

    /// A fixed 8 s clip at 720p, audio included, priced per clip.
    private static func veo31(id: String, name: String, clipMilliCredits: Int64) -> KieModelRules {
        KieModelRules(
            id: id, family: .veo, provider: "Google", anchor: "https://kie.ai/veo-3-1?model=\(id)",
            fields: [
                Field(name: "prompt", type: .text(1...2_000), isRequired: true),
                Field(name: "model", type: .oneOf(["veo3", "veo3_fast", "veo3_lite"]), isRequired: true),
                Field(name: "generationType", type: .oneOf(veoGenerationTypes)),
                Field(name: "imageUrls", type: .urls(0...3)),
                Field(name: "aspect_ratio", type: .ratio(veoAspectRatios)),
                // The older spelling, still in Kie's older docs and some clients.
                Field(name: "aspectRatio", type: .ratio(veoAspectRatios)),
                Field(name: "seeds", type: .integer(10_000...99_999, orAlso: [])),
                Field(name: "watermark", type: .text(0...Int.max)),
                Field(name: "callBackUrl", type: .url),
                Field(name: "enableFallback", type: .boolean),
                Field(name: "enableTranslation", type: .boolean),
            ],
            refusedFields: ["input": "Veo takes a flat body, without input", "duration": "Veo clips are a fixed 8 s",
                            "resolution": "Veo generates 720p (1080p is a separate call)"],
            imageFields: ["imageUrls"],
            checks: [{ input in
                if input.has("aspect_ratio"), input.has("aspectRatio") {
                    return .invalid("aspectRatio", "cannot be sent together with aspect_ratio")
                }
                let images = input.array("imageUrls")?.count ?? 0
                switch input.string("generationType") ?? (images > 0 ? "FIRST_AND_LAST_FRAMES_2_VIDEO" : "TEXT_2_VIDEO") {
                case "TEXT_2_VIDEO":
                    if images > 0 { return .invalid("imageUrls", "not accepted with generationType TEXT_2_VIDEO") }
                case "FIRST_AND_LAST_FRAMES_2_VIDEO":
                    if images == 0 { return .required("imageUrls") }
                    if images > 2 { return .invalid("imageUrls", "expected 1..2 images for FIRST_AND_LAST_FRAMES_2_VIDEO") }
                default: // REFERENCE_2_VIDEO
                    if input.string("model") != "veo3_fast" {
                        return .invalid("generationType", "REFERENCE_2_VIDEO is only for veo3_fast")
                    }
                    if images == 0 { return .required("imageUrls") }
                }
                return nil
            }],
            unit: .perVideo,
            rates: [Rate(variant: "clip", description: "\(name), video-720P", milliCredits: clipMilliCredits)],
            priceVariant: { _ in "clip" },
            billedUnits: { _ in 1 })
    }

    // MARK: Rules shared by several models

    private static let lastFrameNeedsFirst: @Sendable (Input) -> Refusal? = { input in
        if input.has("last_frame_url"), !input.has("first_frame_url") {
            return .invalid(input.path("last_frame_url"), "requires \(input.path("first_frame_url"))")
        }
        return nil
    }

    /// First/last frame on one side, references on the other: Kie's two input modes exclude each other.
    private static let framesOrReferences: @Sendable (Input) -> Refusal? = { input in
        guard input.has("first_frame_url") || input.has("last_frame_url") else { return nil }
        for name in ["reference_image_urls", "reference_video_urls", "reference_audio_urls"] where input.isGiven(name) {
            return .invalid(input.path(name), "cannot be combined with \(input.path("first_frame_url")) or \(input.path("last_frame_url"))")
        }
        return nil
    }
}
