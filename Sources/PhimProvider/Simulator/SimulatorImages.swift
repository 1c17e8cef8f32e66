// Images as Kie fetches them: through an injected fetcher, checked by their bytes (and, for Veo, their Content-Type).
import Foundation
import PhimSupport

/// What fetching an image URL gave: the Content-Type the server declared and the bytes.
public struct FetchedImage: Sendable, Equatable {
    public var contentType: String?
    public var bytes: Data

    public init(contentType: String?, bytes: Data) {
        self.contentType = contentType
        self.bytes = bytes
    }
}

/// Fetches one image URL the way Kie would; nil when it cannot be had (network error, a status
/// other than 2xx, more than 10 MB). Called without the simulator's lock held.
public typealias ImageFetcher = @Sendable (String) -> FetchedImage?

enum SimulatorImages {
    /// Kie's documented limit for an input image.
    static let maxBytes = 10 << 20
    static let fetchTimeoutMilliseconds = 5_000

    enum Kind: String {
        case jpeg = "image/jpeg"
        case png = "image/png"
        case webp = "image/webp"
    }

    /// The image type the bytes are, by their magic numbers; nil for anything else (text, GIF, HTML …).
    static func kind(of bytes: Data) -> Kind? {
        let head = [UInt8](bytes.prefix(12))
        if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF { return .jpeg }
        if head.count >= 8, head[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        if head.count == 12, head[0..<4] == Array("RIFF".utf8)[...], head[8..<12] == Array("WEBP".utf8)[...] { return .webp }
        return nil
    }

    /// Why a task whose images are these fails, or nil when Kie can use them. Market models
    /// look only at the bytes; Veo also fails when the declared type does not match the bytes
    /// (a JPEG served as image/png), with the message Kie gives for it (live: EB 5.2.1).
    static func problem(with image: FetchedImage?, family: KieModelRules.Family) -> String? {
        guard let image, image.bytes.count <= maxBytes else { return "Failed to fetch the image" }
        guard let kind = kind(of: image.bytes) else { return "The image format is not supported" }
        if family == .veo {
            let declared = image.contentType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            if declared != kind.rawValue { return "The Google model was unable to generate audio" }
        }
        return nil
    }

    /// A plain GET with Kie-like limits: 5 s, 10 MB, 2xx only.
    static func fetchOverHTTP(_ url: String) -> FetchedImage? {
        guard let reply = try? HTTPClient.send(method: "GET", url: url, timeoutMilliseconds: fetchTimeoutMilliseconds,
                                               maxResponseBytes: maxBytes),
              (200..<300).contains(reply.status) else { return nil }
        return FetchedImage(contentType: reply.headers["content-type"], bytes: reply.body)
    }
}
