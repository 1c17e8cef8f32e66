import Foundation
import PhimSupport

/// Reference images: checked as whole images, written to the uploads directory under an
/// unguessable name (nginx serves them at `/files/<name>` so the provider can fetch them), and
/// recorded for their owner.
public struct Uploads: Sendable {
    public static let maximumBytes = 10 * 1000 * 1000

    public var directory: String
    public var publicBaseURL: String
    public var clock: AppClock

    public init(directory: String, publicBaseURL: String, clock: AppClock) {
        self.directory = directory
        self.publicBaseURL = publicBaseURL
        self.clock = clock
    }

    public struct Stored: Sendable {
        public var id: String
        public var url: String
        public var contentType: String
        public var byteSize: Int
    }

    public func store(_ bytes: [UInt8], for user: User, on db: Database) throws -> Stored {
        guard !bytes.isEmpty else { throw AppError.fileRequired }
        guard bytes.count <= Self.maximumBytes else { throw AppError.imageTooLarge(limitBytes: Self.maximumBytes) }
        let kind: ImageInspector.Kind
        do {
            kind = try ImageInspector.inspect(bytes)
        } catch ImageInspector.Problem.unsupportedType {
            throw AppError.unsupportedImageType
        } catch {
            throw AppError.invalidImage
        }
        let id = UUID().uuidString.lowercased()
        let key = "\(Crypto.randomToken(bytes: 18)).\(kind.fileExtension)"
        let path = "\(directory)/\(key)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Written under a temporary name and renamed, so nginx never serves half a file.
        let temporary = path + ".part"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes),
                                             attributes: [.posixPermissions: 0o644]),
              rename(temporary, path) == 0
        else {
            Log.error("could not write an upload", ["path": path])
            throw AppError.internal
        }
        try db.write {
            try db.run("INSERT INTO uploads (id, user_id, storage_key, content_type, byte_size, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                       [.text(id), .text(user.id), .text(key), .text(kind.contentType), .int(bytes.count), .integer(clock.nowMillis())])
        }
        return Stored(id: id, url: "\(publicBaseURL)/files/\(key)", contentType: kind.contentType, byteSize: bytes.count)
    }
}
