import Foundation
import PhimCore
import PhimSupport

/// The provider's callbacks; the checks themselves are `CallbackReceiver`'s.
enum CallbackHandlers {
    static func completion(_ context: Context) throws -> Response { try receive(context, isProgress: false) }
    static func progress(_ context: Context) throws -> Response { try receive(context, isProgress: true) }

    private static func receive(_ context: Context, isProgress: Bool) throws -> Response {
        let signature = CallbackReceiver.Signature(timestamp: context.request.header("x-webhook-timestamp"),
                                                   signature: context.request.header("x-webhook-signature"))
        let kind = isProgress ? "progress" : "completion"
        let status: JobStatus
        do {
            status = try context.app.callbacks.receive(jobID: context.parameter("job"), secret: context.parameter("secret"),
                                                       body: Data(context.request.body), signature: signature,
                                                       isProgress: isProgress, on: context.db)
        } catch {
            Metrics.shared.count("phim_callbacks_total", [("kind", kind), ("outcome", (error as? AppError)?.code ?? "error")])
            throw error
        }
        Metrics.shared.count("phim_callbacks_total", [("kind", kind), ("outcome", "accepted")])
        return .json(.object([("received", .bool(true)), ("status", .string(status.rawValue))]))
    }
}
