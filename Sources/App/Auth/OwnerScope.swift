import Fluent
import SQLKit
import Vapor

/// The only way request handlers reach rows that belong to a user: every query made here starts
/// filtered to the signed-in user, so a handler cannot forget the filter.
///
/// This is Phim's row-level security, in the query layer, the same on SQLite and PostgreSQL
/// (`AccessTests` run on both). Background work (callbacks, the reconciler) acts on jobs by
/// their id and secret, never on a user's behalf, and does not go through here.
struct OwnerScope: Sendable {
    let userID: UUID
    let db: any Database

    /// The user's videos that are not deleted.
    func videos() -> QueryBuilder<VideoJob> {
        VideoJob.query(on: db).filter(\.$user.$id == userID).filter(\.$deletedAt == nil)
    }

    /// One of the user's videos; another user's answers exactly like a missing one.
    func video(_ id: UUID?) async throws -> VideoJob {
        guard let id, let job = try await videos().filter(\.$id == id).first() else { throw AppError.videoNotFound }
        return job
    }

    // MARK: Reads that only show videos (no Fluent model; see `VideoRecord`)

    /// One of the user's videos, as shown; another user's answers exactly like a missing one.
    func videoRecord(_ id: UUID?) async throws -> VideoRecord {
        guard let id, let record = try await sql.raw("""
            SELECT \(unsafeRaw: VideoRecord.selectList) FROM video_jobs
            WHERE id = \(bind: id) AND user_id = \(bind: userID) AND deleted_at IS NULL
            """).first(decoding: VideoRecord.self)
        else { throw AppError.videoNotFound }
        return record
    }

    /// One of the user's videos with its ledger entries (hold first), in one query: reading a
    /// video with its receipt is the commonest call programs make.
    func videoWithLedger(_ id: UUID?) async throws -> (video: VideoRecord, entries: [LedgerRecord]) {
        guard let id else { throw AppError.videoNotFound }
        let rows = try await sql.raw("""
            SELECT \(unsafeRaw: VideoRecord.selectListInJoin), \(unsafeRaw: LedgerRecord.selectListInJoin)
            FROM video_jobs v LEFT JOIN credit_entries e ON e.job_id = v.id
            WHERE v.id = \(bind: id) AND v.user_id = \(bind: userID) AND v.deleted_at IS NULL
            ORDER BY e.created_at, e.id
            """).all()
        guard let first = rows.first else { throw AppError.videoNotFound }
        let decoder = SQLRowDecoder(prefix: "entry_")
        let entries = try rows.filter { try !$0.decodeNil(column: "entry_id") }.map { try decoder.decode(LedgerRecord.self, from: $0) }
        return (try first.decode(model: VideoRecord.self), entries)
    }

    /// A page of the user's videos, newest first (the same order and cursor as `newestFirstPage`).
    func videoRecords(_ page: PageRequest) async throws -> (items: [VideoRecord], nextCursor: String?) {
        var query = SQLQueryString("""
            SELECT \(unsafeRaw: VideoRecord.selectList) FROM video_jobs
            WHERE user_id = \(bind: userID) AND deleted_at IS NULL
            """)
        if let cursor = page.cursor {
            let window = cursor.window
            query += " AND (created_at < \(bind: window.before) OR (created_at < \(bind: window.after) AND id < \(bind: cursor.id)))"
        }
        query += " ORDER BY created_at DESC, id DESC LIMIT \(literal: page.limit + 1)"
        let rows = try await sql.raw(query).all(decoding: VideoRecord.self)
        return page.cut(rows) { row in row.id.map { Cursor(createdAt: row.createdAt, id: $0) } }
    }

    private var sql: any SQLDatabase { db as! any SQLDatabase } // both supported drivers are SQL databases

    /// A video by the user's `Idempotency-Key`, deleted or not (a retry must find it either way).
    func video(idempotencyKey: String) async throws -> VideoJob? {
        try await VideoJob.query(on: db).filter(\.$user.$id == userID).filter(\.$idempotencyKey == idempotencyKey).first()
    }

    /// The user's API keys, revoked ones included (they stay listed, marked).
    func apiKeys() -> QueryBuilder<APIKey> {
        APIKey.query(on: db).filter(\.$user.$id == userID)
    }

    func upload(_ id: UUID) async throws -> Upload? {
        try await Upload.query(on: db).filter(\.$user.$id == userID).filter(\.$id == id).first()
    }

    /// The user's webhook delivery log.
    func webhookDeliveries() -> QueryBuilder<WebhookDelivery> {
        WebhookDelivery.query(on: db).filter(\.$user.$id == userID)
    }

    func webhookDelivery(_ id: UUID?) async throws -> WebhookDelivery {
        guard let id, let delivery = try await webhookDeliveries().filter(\.$id == id).first() else {
            throw AppError.webhookDeliveryNotFound
        }
        return delivery
    }

    /// The user's ledger entries.
    func ledger() -> QueryBuilder<CreditEntry> {
        CreditEntry.query(on: db).filter(\.$user.$id == userID)
    }
}

extension Request {
    /// The signed-in user's rows; only behind `RequireUser`.
    var owner: OwnerScope {
        get throws { OwnerScope(userID: try user.requireID(), db: db) }
    }
}
