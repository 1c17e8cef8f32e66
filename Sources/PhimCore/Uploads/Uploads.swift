import Foundation
import PhimSupport

/// Reference images: checked as whole images, written to the uploads directory under an
/// unguessable name (nginx serves them at `/files/<name>` so the provider can fetch them), and
/// recorded for their owner.
///
/// They share a disk with the database, so each account may store `Limits.perHour` an hour and
/// `Limits.bytesPerAccount` in all, and an upload is deleted `Limits.retentionHours` after it was
/// made unless a video that has not finished uses it (the provider fetches it until then).
public struct Uploads: Sendable {
    public static let maximumBytes = 10 * 1000 * 1000

    public struct Limits: Sendable {
        public var perHour = 30
        public var bytesPerAccount = 100 * 1000 * 1000
        public var retentionHours = 24

        public init() {}

        var retentionMillis: Int64 { Int64(retentionHours) * 3_600_000 }
    }

    public var directory: String
    public var publicBaseURL: String
    public var clock: AppClock
    public var limits: Limits

    public init(directory: String, publicBaseURL: String, clock: AppClock, limits: Limits = Limits()) {
        self.directory = directory
        self.publicBaseURL = publicBaseURL
        self.clock = clock
        self.limits = limits
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
        } catch ImageInspector.Problem.tooMuchMetadata {
            throw AppError.imageMetadataTooLarge(limitBytes: ImageInspector.metadataLimitBytes)
        } catch {
            throw AppError.invalidImage
        }
        // Checked before the file is written, so a refused upload costs no disk, and again under
        // the write lock, so uploads at once cannot pass the limits together.
        try requireRoom(for: bytes.count, userID: user.id, on: db)
        let id = UUID().uuidString.lowercased()
        let key = "\(Crypto.randomToken(bytes: 18)).\(kind.fileExtension)"
        let path = "\(directory)/\(key)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Written under a temporary name and renamed, so nginx never serves half a file.
        let temporary = path + ".part"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes), attributes: [.posixPermissions: 0o644]) else {
            Log.error("could not write an upload", ["path": path])
            throw AppError.internal
        }
        do {
            try db.write {
                try requireRoom(for: bytes.count, userID: user.id, on: db)
                try db.run("""
                    INSERT INTO uploads (id, user_id, storage_key, content_type, byte_size, created_at)
                    VALUES (:id, :user, :key, :type, :size, :now)
                    """, ["id": .text(id), "user": .text(user.id), "key": .text(key), "type": .text(kind.contentType),
                          "size": .int(bytes.count), "now": .integer(clock.nowMillis())])
                // Inside the transaction: a row never names a file that is not there.
                guard rename(temporary, path) == 0 else {
                    Log.error("could not write an upload", ["path": path])
                    throw AppError.internal
                }
            }
        } catch {
            // Nothing was committed: neither name may stay (the rename may have happened before a failed commit).
            unlink(temporary)
            unlink(path)
            throw error
        }
        return Stored(id: id, url: "\(publicBaseURL)/files/\(key)", contentType: kind.contentType, byteSize: bytes.count)
    }

    /// Refuses an upload of `size` bytes past the account's hourly count or its byte quota.
    private func requireRoom(for size: Int, userID: String, on db: Database) throws {
        let now = clock.nowMillis()
        guard let usage = try db.firstRow("""
            SELECT COALESCE(SUM(byte_size), 0) AS bytes,
                   COUNT(CASE WHEN created_at > :hour_ago THEN 1 END) AS last_hour,
                   MIN(CASE WHEN created_at > :hour_ago THEN created_at END) AS oldest_in_hour
            FROM uploads WHERE user_id = :user
            """, ["user": .text(userID), "hour_ago": .integer(now - 3_600_000)])
        else { return }
        if usage.int("last_hour") >= limits.perHour {
            let freesAt = (usage.optionalInt64("oldest_in_hour") ?? now) + 3_600_000
            throw AppError.tooManyUploads(limit: limits.perHour, retryAfter: max(1, Int((freesAt - now + 999) / 1000)))
        }
        if usage.int("bytes") + size > limits.bytesPerAccount {
            throw AppError.uploadQuotaExceeded(limitBytes: limits.bytesPerAccount, retentionHours: limits.retentionHours)
        }
    }

    /// Deletes uploads older than the retention that no unfinished video uses, at most `batch`
    /// at a time: the rows in one transaction (a finished video forgets which upload it used),
    /// then the files. Returns how many it deleted.
    @discardableResult
    public func deleteExpired(on db: Database, batch: Int = 200) throws -> Int {
        let cutoff = clock.nowMillis() - limits.retentionMillis
        let keys = try db.write { () -> [String] in
            let expired = try db.rows("""
                SELECT id, storage_key FROM uploads
                WHERE created_at <= :cutoff
                  AND NOT EXISTS (SELECT 1 FROM video_jobs WHERE video_jobs.upload_id = uploads.id
                                  AND video_jobs.status IN ('queued', 'submitting', 'pending', 'processing'))
                ORDER BY created_at LIMIT :batch
                """, ["cutoff": .integer(cutoff), "batch": .int(batch)])
            for upload in expired {
                try db.run("UPDATE video_jobs SET upload_id = NULL WHERE upload_id = :id", ["id": .text(upload.string("id"))])
                try db.run("DELETE FROM uploads WHERE id = :id", ["id": .text(upload.string("id"))])
            }
            return expired.map { $0.string("storage_key") }
        }
        for key in keys where unlink("\(directory)/\(key)") != 0 && errno != ENOENT {
            Log.warning("could not delete an expired upload's file", ["key": key, "errno": String(errno)])
        }
        if !keys.isEmpty { Log.info("expired uploads deleted", ["count": String(keys.count)]) }
        return keys.count
    }
}
