import Foundation
import PhimCore
import PhimProvider
import PhimSupport

/// The web application: the domain's services and the route table. `handle` turns one request
/// into one response and never throws, so the FastCGI loop is a thin shell around it and tests
/// call it directly with a request value.
public final class App: Sendable {
    public let settings: Settings
    public let provider: any VideoProvider
    public let clock: AppClock
    public let accounts: Accounts
    public let lifecycle: JobLifecycle
    public let creation: VideoCreation
    /// The admission queue, and the signal that wakes this process's dispatcher when a create queued a job.
    public let queue: ProviderQueue
    public let queueWakeup = Wakeup()
    public let callbacks: CallbackReceiver
    public let uploads: Uploads
    /// Whether session cookies carry `Secure` (the public URL is https).
    let secureCookies: Bool
    /// `__Host-` on https: the handlers speak of `phim_session` and `phim_csrf`; on the wire they
    /// are `__Host-phim_session` and `__Host-phim_csrf` (Secure, Path=/, no Domain).
    let cookieNamePrefix: String

    public init(settings: Settings, provider: any VideoProvider, clock: AppClock = .system,
                hasher: PasswordHasher = PasswordHasher()) {
        var settings = settings
        // A webhook body carries the video as this API shows it; the domain cannot write that itself.
        if settings.webhooks.videoJSON == nil { settings.webhooks.videoJSON = WebhookHandlers.videoJSON }
        self.settings = settings
        // Every provider call is counted by outcome for /api/metrics.
        let provider = CountingProvider(provider)
        self.provider = provider
        self.clock = clock
        accounts = Accounts(hasher: hasher, clock: clock)
        lifecycle = JobLifecycle(clock: clock, settings: settings)
        queue = ProviderQueue(provider: provider, lifecycle: lifecycle, settings: settings, clock: clock)
        creation = VideoCreation(queue: queue, lifecycle: lifecycle, settings: settings, clock: clock,
                                 queued: { [queueWakeup] in queueWakeup.signal() })
        callbacks = CallbackReceiver(provider: provider, lifecycle: lifecycle, settings: settings, clock: clock)
        uploads = Uploads(directory: settings.uploadsDirectory, publicBaseURL: settings.publicBaseURL, clock: clock, limits: settings.uploads)
        secureCookies = settings.publicBaseURL.hasPrefix("https://")
        cookieNamePrefix = secureCookies ? "__Host-" : ""
    }

    public func reconciler() -> Reconciler {
        Reconciler(provider: provider, lifecycle: lifecycle, settings: settings, clock: clock)
    }

    /// Answers one request. Every failure becomes a JSON error in the caller's language.
    public func handle(_ request: Request, db: Database?) -> Response {
        var request = request
        request.cookieNamePrefix = cookieNamePrefix
        var response: Response
        var route = "unmatched"
        defer { Metrics.shared.count("phim_http_requests_total", [("route", route), ("status", String(response.status))]) }
        do {
            response = try Router.dispatch(request, app: self, db: db, route: &route)
        } catch let error as AppError {
            response = Self.errorResponse(error, language: request.language)
        } catch let error as DatabaseError where error.isUnavailable {
            // A 503 with Retry-After, not a 500: nothing was written, and the same request works
            // once the disk has room or the file can be written again, with no restart (disk full
            // and a read-only file used to be answered 500 internal_error, which tells the client
            // neither that nor when to try again).
            Log.error(error.isBusy ? "database busy" : "database unavailable: cannot write (disk full, read-only or failing file)",
                      ["request_id": request.requestID, "path": LogRedaction.path(request.path), "error": "\(error)"])
            response = Self.errorResponse(.serviceBusy, language: request.language)
        } catch {
            Log.error("request failed", ["request_id": request.requestID, "path": LogRedaction.path(request.path), "error": "\(error)"])
            response = Self.errorResponse(.internal, language: request.language)
        }
        if !cookieNamePrefix.isEmpty { response.headers = response.headers.map(hostOnlyCookie) }
        response.addHeader("X-Request-ID", request.requestID)
        if response.header("Cache-Control") == nil { response.addHeader("Cache-Control", "no-store") }
        return response
    }

    /// A `Set-Cookie` under its `__Host-` name, with the `Secure` a browser demands of that
    /// name (a clearing cookie included, or the browser would keep the old one).
    private func hostOnlyCookie(_ header: (String, String)) -> (String, String) {
        guard header.0.lowercased() == "set-cookie", !header.1.hasPrefix(cookieNamePrefix) else { return header }
        let attributes = header.1.split(separator: ";").dropFirst().map { $0.trimmingSpaces.lowercased() }
        return (header.0, cookieNamePrefix + header.1 + (attributes.contains("secure") ? "" : "; Secure"))
    }

    public static func errorResponse(_ error: AppError, language: Language) -> Response {
        var fields: [(String, JSON)] = [("code", .string(error.code)), ("message", .string(Messages.message(for: error, in: language)))]
        fields += error.details.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        if let seconds = error.retryAfterSeconds { fields.append(("retry_after_seconds", .int(seconds))) }
        var response = Response.json(.object([("error", .object(fields))]), status: error.status)
        if let seconds = error.retryAfterSeconds { response.addHeader("Retry-After", String(seconds)) }
        return response
    }
}
