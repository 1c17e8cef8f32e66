import Foundation
import PhimCore
import PhimSupport

/// Redemption codes: a person redeems one (`POST /api/v1/redeem`); operators make, list, export
/// and disable them under /api/v1/admin/codes. The rules are `RedemptionCodes`'.
enum CodeHandlers {
    /// `{"code"}` → `{credits_added, credits}`.
    static func redeem(_ context: Context) throws -> Response {
        let body = try context.jsonBody()
        guard let text = body["code"]?.stringValue else { throw AppError.invalidJSON(detail: "code must be a string") }
        let address = context.request.remoteAddress
        let redemption = try codes(context).redeem(code: text, userID: try context.user.id,
                                                   address: address.isEmpty ? nil : address, on: context.db)
        return .json(.object([("credits_added", .int(redemption.creditsAdded)), ("credits", .int(redemption.creditsAvailable))]))
    }

    /// `{credits, count, expires_at?, max_uses?, label?, reason}` → the batch, codes in full (shown once).
    static func create(_ context: Context) throws -> Response {
        let body = try context.jsonBody()
        guard let credits = body["credits"]?.intValue else { throw AppError.invalidAmount(maximum: Administration.maximumAmount) }
        guard let count = body["count"]?.intValue else { throw AppError.invalidCodeBatch(field: "count") }
        var expiresAt: Int64?
        if let raw = body["expires_at"], raw != .null {
            guard let text = raw.stringValue, let parsed = ISOTime.parse(text) else {
                throw AppError.invalidCodeBatch(field: "expires_at")
            }
            expiresAt = parsed
        }
        var maxUses = 1
        if let raw = body["max_uses"], raw != .null {
            guard let value = raw.intValue else { throw AppError.invalidCodeBatch(field: "max_uses") }
            maxUses = value
        }
        var label: String?
        if let raw = body["label"], raw != .null {
            guard let text = raw.stringValue else { throw AppError.invalidCodeBatch(field: "label") }
            label = text
        }
        let made = try codes(context).create(credits: credits, count: count, expiresAt: expiresAt, maxUses: maxUses, label: label,
                                             reason: body["reason"]?.stringValue, by: .admin(try context.user), on: context.db)
        return .json(.object([("batch_id", .optional(made.first?.batchID)), ("data", .array(made.map(codeJSON)))]), status: 201)
    }

    static func list(_ context: Context) throws -> Response {
        let batch = context.request.query["batch"].flatMap { $0.isEmpty ? nil : $0 }
        let list = try codes(context).list(batchID: batch, limit: try context.limit(default: 500, maximum: 10_000), on: context.db)
        return .json(.object([("data", .array(list.map(codeJSON)))]))
    }

    /// `?batch=` one batch, else every code.
    static func csv(_ context: Context) throws -> Response {
        let batch = context.request.query["batch"].flatMap { $0.isEmpty ? nil : $0 }
        let text = try codes(context).csv(batchID: batch, on: context.db)
        return Response(status: 200, headers: [("Content-Type", "text/csv; charset=utf-8"),
                                               ("Content-Disposition", "attachment; filename=\"phim-codes.csv\"")], body: Array(text.utf8))
    }

    /// `{reason}`; `:id` is the code's id or the code itself.
    static func disable(_ context: Context) throws -> Response {
        let body = try context.jsonBody()
        let code = try codes(context).disable(context.parameter("id"), reason: body["reason"]?.stringValue,
                                              by: .admin(try context.user), on: context.db)
        return .json(codeJSON(code))
    }

    private static func codes(_ context: Context) -> RedemptionCodes { RedemptionCodes(clock: context.app.clock) }

    static func codeJSON(_ code: RedemptionCodes.Code) -> JSON {
        .object([("id", .string(code.id)), ("code", .string(code.code)), ("credits", .int(code.credits)),
                 ("max_uses", .int(code.maxUses)), ("used_count", .int(code.usedCount)),
                 ("expires_at", .optional(code.expiresAt.map(Timestamps.iso))), ("disabled_at", .optional(code.disabledAt.map(Timestamps.iso))),
                 ("batch_id", .string(code.batchID)), ("label", .optional(code.label)), ("created_by", .string(code.createdBy)),
                 ("created_at", .string(Timestamps.iso(code.createdAt)))])
    }
}
