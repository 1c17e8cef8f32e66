import Foundation
import PhimCore
import PhimSupport

/// `POST /api/v1/uploads`: one reference image in the multipart field `file`.
enum UploadHandlers {
    static func upload(_ context: Context) throws -> Response {
        guard let type = context.request.header("content-type"), type.lowercased().hasPrefix("multipart/form-data"),
              let boundary = Multipart.boundary(in: type)
        else { throw AppError.unsupportedMediaType }
        guard let file = Multipart.field(named: "file", in: context.request.body, boundary: boundary) else {
            throw AppError.fileRequired
        }
        let stored = try context.app.uploads.store(file, for: try context.user, on: context.db)
        return .json(.object([("id", .string(stored.id)), ("url", .string(stored.url)),
                              ("content_type", .string(stored.contentType)), ("byte_size", .int(stored.byteSize))]), status: 201)
    }
}

/// Just enough of multipart/form-data to find one field, on bytes: headers are matched as
/// ASCII and any other byte is carried, never decoded, so no input can trap the parser.
enum Multipart {
    static func boundary(in contentType: String) -> String? {
        for part in contentType.split(separator: ";").dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "boundary" else { continue }
            var value = pair[1].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            guard !value.isEmpty, value.utf8.count <= 70 else { return nil }
            return value
        }
        return nil
    }

    static func field(named name: String, in body: [UInt8], boundary: String) -> [UInt8]? {
        let delimiter = Array("--\(boundary)".utf8)
        var position = 0
        guard let first = find(delimiter, in: body, from: 0) else { return nil }
        position = first + delimiter.count
        while position < body.count {
            // After a delimiter: "--" ends the body, otherwise CRLF and the part's headers.
            if body.count >= position + 2, body[position] == 0x2D, body[position + 1] == 0x2D { return nil }
            guard let headersStart = find([0x0D, 0x0A], in: body, from: position).map({ $0 + 2 }),
                  let headersEnd = find([0x0D, 0x0A, 0x0D, 0x0A], in: body, from: headersStart)
            else { return nil }
            let contentStart = headersEnd + 4
            guard let next = find([0x0D, 0x0A] + delimiter, in: body, from: contentStart) else { return nil }
            if fieldName(headers: body[headersStart..<headersEnd]) == name { return Array(body[contentStart..<next]) }
            position = next + 2 + delimiter.count
        }
        return nil
    }

    /// The `name` parameter of a part's `Content-Disposition: form-data` header (RFC 7578), read
    /// parameter by parameter, so `filename="file"` is never taken for `name="file"`.
    static func fieldName(headers: ArraySlice<UInt8>) -> String? {
        for rawLine in headers.split(separator: 0x0A, omittingEmptySubsequences: false) {
            let line = rawLine.last == 0x0D ? rawLine.dropLast() : rawLine
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")),
                  headerText(line[..<colon]).lowercased() == "content-disposition"
            else { continue }
            let parameters = dispositionParameters(line[(colon + 1)...])
            guard parameters.first?.key.lowercased() == "form-data" else { return nil }
            return parameters.dropFirst().first { $0.key.lowercased() == "name" }?.value
        }
        return nil
    }

    /// `form-data; name="a"; filename="b; c"` as [("form-data", nil), ("name", "a"), ("filename", "b; c")]:
    /// a value is a token or a quoted string (backslash escapes), and a `;` inside quotes is text.
    static func dispositionParameters(_ value: ArraySlice<UInt8>) -> [(key: String, value: String?)] {
        let semicolon = UInt8(ascii: ";"), equals = UInt8(ascii: "="), quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        var parameters: [(key: String, value: String?)] = []
        var index = value.startIndex
        while index < value.endIndex {
            let keyStart = index
            while index < value.endIndex, value[index] != semicolon, value[index] != equals { index += 1 }
            let key = headerText(value[keyStart..<index])
            var parameterValue: String?
            if index < value.endIndex, value[index] == equals {
                index += 1
                while index < value.endIndex, value[index] == 0x20 || value[index] == 0x09 { index += 1 }
                if index < value.endIndex, value[index] == quote {
                    var text: [UInt8] = []
                    index += 1
                    while index < value.endIndex, value[index] != quote {
                        if value[index] == backslash, index + 1 < value.endIndex { index += 1 }
                        text.append(value[index])
                        index += 1
                    }
                    parameterValue = String(decoding: text, as: UTF8.self)
                    while index < value.endIndex, value[index] != semicolon { index += 1 }
                } else {
                    let valueStart = index
                    while index < value.endIndex, value[index] != semicolon { index += 1 }
                    parameterValue = headerText(value[valueStart..<index])
                }
            }
            parameters.append((key, parameterValue))
            index += 1
        }
        return parameters
    }

    /// Header text, trimmed; any byte that is not UTF-8 becomes U+FFFD and so matches nothing.
    private static func headerText(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        let first = needle[0]
        var index = start
        let last = haystack.count - needle.count
        return haystack.withUnsafeBufferPointer { bytes in
            while index <= last {
                if bytes[index] == first {
                    var matched = true
                    for offset in 1..<needle.count where bytes[index + offset] != needle[offset] {
                        matched = false
                        break
                    }
                    if matched { return index }
                }
                index += 1
            }
            return nil
        }
    }
}
