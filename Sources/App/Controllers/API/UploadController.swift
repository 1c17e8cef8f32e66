import Fluent
import MultipartKit
import Vapor

/// Reference images for image-to-video: streamed in, accepted by their bytes, served publicly
/// so the provider can fetch them.
struct UploadController: RouteCollection {
    static let maximumImageBytes = 10_000_000
    /// Room for the multipart framing and small fields around the image.
    static let framingAllowance = 64 * 1024

    func boot(routes: any RoutesBuilder) throws {
        // Streamed, so the size limit stops a large body as it arrives instead of after it is read.
        routes.grouped(RequireUser()).on(.POST, "uploads", body: .stream, use: create)
    }

    @Sendable func create(req: Request) async throws -> Response {
        guard let contentType = req.headers.contentType, contentType.type == "multipart", contentType.subType == "form-data",
              let boundary = contentType.parameters["boundary"], (1...200).contains(boundary.count)
        else { throw AppError.unsupportedMediaType }
        let tooLarge = AppError.imageTooLarge(limitBytes: Self.maximumImageBytes)
        let bodyLimit = Self.maximumImageBytes + Self.framingAllowance
        if let declared = req.headers.first(name: .contentLength).flatMap(Int.init), declared > bodyLimit { throw tooLarge }

        let reader = MultipartFileReader(boundary: boundary, field: "file", limit: Self.maximumImageBytes)
        var received = 0
        for try await chunk in req.body {
            received += chunk.readableBytes
            guard received <= bodyLimit else { throw tooLarge }
            try reader.feed(chunk)
        }
        guard let data = reader.completeFile, data.readableBytes > 0 else { throw AppError.fileRequired }

        // The declared type and the file name are the sender's claims; the bytes decide.
        let image: ImageInspector.Image
        do {
            image = try ImageInspector.inspect(data)
        } catch .unknownFormat {
            throw AppError.unsupportedImageType
        } catch {
            req.logger.info("upload refused", metadata: ["problem": .string("\(error)")])
            throw AppError.invalidImage
        }

        let id = UUID()
        let key = "uploads/\(id.uuidString.lowercased()).\(image.kind.fileExtension)"
        try await req.application.fileStorage.write(data, key: key)
        let upload = Upload(id: id, userID: try req.user.requireID(), contentType: image.kind.mimeType,
                            byteSize: data.readableBytes, storageKey: key, createdAt: req.clock.now())
        try await upload.create(on: req.db)
        return try await API.UploadInfo(id: id, url: "\(req.application.publicBaseURL)/files/\(key)",
                                        contentType: image.kind.mimeType, byteSize: upload.byteSize)
            .encodeResponse(status: .created, for: req)
    }
}

/// Pulls one field's content out of a `multipart/form-data` body as it streams in, keeping at
/// most `limit` bytes of it; other fields are skipped.
private final class MultipartFileReader {
    private let parser: MultipartParser
    private(set) var file: ByteBuffer?
    private var inField = false
    private var fieldComplete = false
    private var overflowed = false

    init(boundary: String, field: String, limit: Int) {
        parser = MultipartParser(boundary: boundary)
        parser.onHeader = { [unowned self] name, value in
            if name.lowercased() == "content-disposition", !fieldComplete {
                inField = Self.fieldName(value) == field
            }
        }
        parser.onBody = { [unowned self] chunk in
            guard inField, !overflowed else { return }
            if (file?.readableBytes ?? 0) + chunk.readableBytes > limit {
                overflowed = true
            } else {
                file = file ?? ByteBuffer()
                file?.writeBuffer(&chunk)
            }
        }
        parser.onPartComplete = { [unowned self] in
            if inField { fieldComplete = true }
            inField = false
        }
    }

    /// Parses the next piece of the body. A body that is not multipart ends the upload as
    /// missing its file; a field over the limit as too large.
    func feed(_ chunk: ByteBuffer) throws {
        do { try parser.execute(chunk) } catch { throw AppError.fileRequired }
        if overflowed { throw AppError.imageTooLarge(limitBytes: UploadController.maximumImageBytes) }
    }

    /// Only a field whose closing boundary arrived counts: a cut-off body has no file.
    var completeFile: ByteBuffer? { fieldComplete ? file : nil }

    /// `name` from `form-data; name="file"; filename="a.png"`.
    static func fieldName(_ disposition: String) -> String? {
        for parameter in disposition.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "name" {
                return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }
}
