// Kie's file upload host on the simulator: stream, base64 and URL uploads, and serving the files back.
import Foundation
import PhimSupport

extension KieSimulator {
    /// `POST /api/file-stream-upload`: multipart/form-data with `file`, `uploadPath` (required), `fileName`.
    public func uploadStream(authorization: String?, contentType: String?, body: Data) -> Reply {
        if let denied = admitUpload(authorization) { return denied }
        guard let parts = SimulatorUploads.multipartParts(body, contentType: contentType) else {
            return uploadFailure(code: 400, msg: "Invalid multipart/form-data body")
        }
        func text(_ name: String) -> String? {
            parts.first { $0.name == name && $0.fileName == nil }.map { String(decoding: $0.content, as: UTF8.self) }
        }
        guard let file = parts.first(where: { $0.name == "file" }) else { return uploadFailure(code: 400, msg: "This field is required: file") }
        return store(file.content, uploadPath: text("uploadPath"), fileName: text("fileName"))
    }

    /// `POST /api/file-base64-upload`: JSON `{base64Data, uploadPath, fileName?}`; raw base64 or a
    /// `data:<mime>;base64,` URL (the name, not the data URL, decides the type).
    public func uploadBase64(authorization: String?, body: Data) -> Reply {
        if let denied = admitUpload(authorization) { return denied }
        guard let json = JSON.parse(body), case .object = json else { return uploadFailure(code: 400, msg: "Invalid request body") }
        if let problem = checkNames(json) { return problem }
        guard let encoded = json["base64Data"]?.stringValue, !encoded.isEmpty else {
            return uploadFailure(code: 400, msg: "This field is required: base64Data")
        }
        guard let bytes = SimulatorUploads.decodeBase64(encoded) else {
            // The doubled message Kie's uploader gives for base64 that `atob` refuses (EB 4.6.4).
            return uploadFailure(code: 500, msg: "Base64 decoding failed: Failed to execute 'atob': invalid base64-encoded data "
                                 + "(The string to be decoded is not correctly encoded.)")
        }
        return store(bytes, uploadPath: json["uploadPath"]?.stringValue, fileName: json["fileName"]?.stringValue)
    }

    /// `POST /api/file-url-upload`: JSON `{fileUrl, uploadPath, fileName?}`; the URL is fetched
    /// through the image fetcher, outside the lock.
    public func uploadURL(authorization: String?, body: Data) -> Reply {
        if let denied = admitUpload(authorization) { return denied }
        guard let json = JSON.parse(body), case .object = json else { return uploadFailure(code: 400, msg: "Invalid request body") }
        if let problem = checkNames(json) { return problem }
        guard let url = json["fileUrl"]?.stringValue, !url.isEmpty else { return uploadFailure(code: 400, msg: "This field is required: fileUrl") }
        guard KieModelRules.isHTTPURL(url) else { return uploadFailure(code: 400, msg: "fileUrl: expected an http(s) URL") }
        guard let fetched = fetchImage(url) else { return uploadFailure(code: 500, msg: "Failed to download the file from fileUrl") }
        return store(fetched.bytes, uploadPath: json["uploadPath"]?.stringValue, fileName: json["fileName"]?.stringValue)
    }

    /// The file at `/kieai/<n>/<name>` under the upload base (as `GET` serves it), with the type
    /// its name gave it; nil when there is none or it expired.
    public func uploadedFile(path: String) -> FetchedImage? {
        lock.withLock {
            uploads.file(atPath: path, now: clock.now()).map { FetchedImage(contentType: $0.mimeType, bytes: $0.bytes) }
        }
    }

    // MARK: - Private

    private func admitUpload(_ authorization: String?) -> Reply? {
        lock.withLock {
            counts.uploads += 1
            guard checkAuthorization(authorization) != nil else { return nil }
            return uploadFailure(code: 401, msg: "You do not have access permissions")
        }
    }

    /// `uploadPath` is required and `fileName`, when given, must be a plain name (the JSON endpoints check these first).
    private func checkNames(_ json: JSON) -> Reply? {
        guard let path = json["uploadPath"], !path.isNull else { return uploadFailure(code: 400, msg: "This field is required: uploadPath") }
        guard path.stringValue != nil else { return uploadFailure(code: 400, msg: "uploadPath: expected a string") }
        if let name = json["fileName"], !name.isNull, name.stringValue == nil {
            return uploadFailure(code: 400, msg: "fileName: expected a string")
        }
        return nil
    }

    private func store(_ bytes: Data, uploadPath: String?, fileName: String?) -> Reply {
        guard let uploadPath, !uploadPath.trimmingCharacters(in: .whitespaces).isEmpty else {
            return uploadFailure(code: 400, msg: "This field is required: uploadPath")
        }
        if let fileName, !SimulatorUploads.isAcceptableFileName(fileName) {
            return uploadFailure(code: 400, msg: "fileName: expected a file name without '/' or control characters")
        }
        guard bytes.count <= SimulatorUploads.maxFileBytes else { return uploadFailure(code: 413, msg: "File too large (at most 20 MB)") }
        return lock.withLock {
            let now = clock.now()
            // Kie names an unnamed upload itself; without an extension it is served as application/octet-stream.
            let name = fileName ?? "\(now.unixMillis)-\(Self.hex32(UInt32(truncatingIfNeeded: random.next())))"
            let file = uploads.add(bytes, fileName: name, at: now)
            let encodedName = name.addingPercentEncoding(withAllowedCharacters: Self.pathSegmentCharacters) ?? name
            let downloadURL = "\(currentUploadBase)/\(file.path.dropLast(name.count))\(encodedName)"
            let data = JSON.object([
                ("fileName", .string(name)), ("filePath", .string(file.path)), ("downloadUrl", .string(downloadURL)),
                ("fileSize", .int(bytes.count)), ("mimeType", .string(file.mimeType)),
                ("uploadedAt", .string(ISOTime.string(now.unixMillis))),
            ])
            return uploadReply(success: true, code: 200, msg: "File uploaded successfully", data: data)
        }
    }

    private static let pathSegmentCharacters: CharacterSet = {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/;?#%")
        return allowed
    }()

    /// The upload host's envelope: `{success, code, msg, data}`.
    private func uploadReply(success: Bool, code: Int, msg: String, data: JSON) -> Reply {
        Reply(status: 200, body: JSON.object([("success", .bool(success)), ("code", .int(code)), ("msg", .string(msg)),
                                              ("data", data)]).data())
    }

    private func uploadFailure(code: Int, msg: String) -> Reply {
        uploadReply(success: false, code: code, msg: msg, data: .null)
    }
}
