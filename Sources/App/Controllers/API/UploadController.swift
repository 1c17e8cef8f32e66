import Fluent
import Vapor

/// Reference images for image-to-video: accepted by their bytes, served publicly so the
/// provider can fetch them.
struct UploadController: RouteCollection {
    static let maximumImageBytes = 10_000_000

    func boot(routes: any RoutesBuilder) throws {
        // The body limit leaves room for the multipart framing around a 10 MB image.
        routes.grouped(RequireUser()).on(.POST, "uploads", body: .collect(maxSize: "11mb"), use: create)
    }

    struct Form: Decodable {
        var file: File?
    }

    @Sendable func create(req: Request) async throws -> Response {
        guard req.headers.contentType?.type == "multipart", req.headers.contentType?.subType == "form-data" else {
            throw AppError.unsupportedMediaType
        }
        let form: Form
        do {
            form = try req.content.decode(Form.self)
        } catch {
            throw AppError.fileRequired
        }
        guard let file = form.file, file.data.readableBytes > 0 else { throw AppError.fileRequired }
        guard file.data.readableBytes <= Self.maximumImageBytes else {
            throw AppError.imageTooLarge(limitBytes: Self.maximumImageBytes)
        }
        // The declared type and the file name are the sender's claims; the bytes decide.
        guard let kind = ImageKind(sniffing: file.data) else { throw AppError.unsupportedImageType }

        let id = UUID()
        let key = "uploads/\(id.uuidString.lowercased()).\(kind.fileExtension)"
        try await req.application.fileStorage.write(file.data, key: key)
        let upload = Upload(id: id, userID: try req.user.requireID(), contentType: kind.mimeType,
                            byteSize: file.data.readableBytes, storageKey: key, createdAt: req.clock.now())
        try await upload.create(on: req.db)
        return try await API.UploadInfo(id: id, url: "\(req.application.publicBaseURL)/files/\(key)",
                                        contentType: kind.mimeType, byteSize: upload.byteSize)
            .encodeResponse(status: .created, for: req)
    }
}

/// The image formats the provider accepts, recognised by their first bytes.
enum ImageKind: Equatable {
    case jpeg, png, webp

    init?(sniffing buffer: ByteBuffer) {
        let bytes = buffer.getBytes(at: buffer.readerIndex, length: min(buffer.readableBytes, 16)) ?? []
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
            self = .jpeg
        } else if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            self = .png
        } else if bytes.count >= 12, bytes[0..<4] == [0x52, 0x49, 0x46, 0x46], bytes[8..<12] == [0x57, 0x45, 0x42, 0x50] {
            self = .webp
        } else {
            return nil
        }
    }

    var mimeType: String {
        switch self {
        case .jpeg: "image/jpeg"
        case .png: "image/png"
        case .webp: "image/webp"
        }
    }

    var fileExtension: String {
        switch self {
        case .jpeg: "jpg"
        case .png: "png"
        case .webp: "webp"
        }
    }
}
