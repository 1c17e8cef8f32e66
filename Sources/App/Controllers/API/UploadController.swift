import Fluent
import NIOCore
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

        // Collected as it streams, refused the moment it passes the limit.
        var body = ByteBuffer()
        for try await var chunk in req.body {
            guard body.readableBytes + chunk.readableBytes <= bodyLimit else { throw tooLarge }
            body.writeBuffer(&chunk)
        }
        guard let data = MultipartForm.field("file", boundary: boundary, in: body), data.readableBytes > 0 else {
            throw AppError.fileRequired
        }
        guard data.readableBytes <= Self.maximumImageBytes else { throw tooLarge }

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

/// Finds one field of a `multipart/form-data` body (RFC 7578) that has been read whole.
///
/// Our own few lines instead of multipart-kit's parser, which traps (taking the whole process
/// down) on a non-ASCII byte in a part's header name: schemathesis found it.
enum MultipartForm {
    /// The content of the first part named `field`; `nil` if there is none or the body is not
    /// well-formed multipart (a part must end with a delimiter, so a cut-off body has no file).
    static func field(_ field: String, boundary: String, in body: ByteBuffer) -> ByteBuffer? {
        let bytes = body.readableBytesView
        let start = bytes.startIndex
        let delimiter = Array("--\(boundary)".utf8)
        let partEnd = Array("\r\n--\(boundary)".utf8)
        let headerEnd = Array("\r\n\r\n".utf8)
        // The first delimiter opens the body (an optional preamble before it is ignored).
        guard var cursor = firstIndex(of: delimiter, in: bytes, from: start) else { return nil }
        cursor += delimiter.count
        while true {
            // "--" after a delimiter closes the body; otherwise a line break starts a part.
            guard cursor + 2 <= bytes.endIndex, bytes[cursor] == 0x0D, bytes[cursor + 1] == 0x0A else { return nil }
            let headersStart = cursor + 2
            guard let headersEnd = firstIndex(of: headerEnd, in: bytes, from: headersStart),
                  let contentEnd = firstIndex(of: partEnd, in: bytes, from: headersEnd + headerEnd.count)
            else { return nil }
            let headers = String(decoding: bytes[headersStart..<headersEnd], as: UTF8.self)
            if fieldName(headers) == field {
                return body.getSlice(at: body.readerIndex + (headersEnd + headerEnd.count - start),
                                     length: contentEnd - (headersEnd + headerEnd.count))
            }
            cursor = contentEnd + partEnd.count
            if cursor + 2 <= bytes.endIndex, bytes[cursor] == 0x2D, bytes[cursor + 1] == 0x2D { return nil }
        }
    }

    /// `name` from the part's `Content-Disposition: form-data; name="file"; filename="a.png"`.
    static func fieldName(_ headers: String) -> String? {
        for line in headers.split(separator: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces).lowercased() == "content-disposition" else { continue }
            for parameter in parts[1].split(separator: ";").dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if pair.count == 2, pair[0].lowercased() == "name" {
                    return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                }
            }
        }
        return nil
    }

    private static func firstIndex(of needle: [UInt8], in haystack: ByteBufferView, from: Int) -> Int? {
        guard let first = needle.first, haystack.endIndex - from >= needle.count else { return nil }
        var index = from
        let last = haystack.endIndex - needle.count
        while index <= last {
            if haystack[index] == first, haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
