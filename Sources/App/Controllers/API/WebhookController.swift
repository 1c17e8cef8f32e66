import Fluent
import Vapor

/// The caller's webhook settings (account endpoint, event filter, signing secret) and the
/// delivery log with its replay action.
struct WebhookController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let signedIn = routes.grouped(RequireUser())
        let endpoint = signedIn.grouped("webhook-endpoint")
        endpoint.get(use: showEndpoint)
        endpoint.put(use: updateEndpoint)
        endpoint.post("rotate-secret", use: rotateSecret)
        let deliveries = signedIn.grouped("webhook-deliveries")
        deliveries.get(use: listDeliveries)
        deliveries.get(":deliveryID", use: showDelivery)
        deliveries.post(":deliveryID", "replay", use: replay)
    }

    // MARK: - Endpoint and secret

    /// The settings, with the secret receivers verify signatures with (made on first read).
    @Sendable func showEndpoint(req: Request) async throws -> Response {
        let endpoint = try await WebhookOutbox.endpoint(forUser: try req.user.requireID(), at: req.clock.now(), on: req.db)
        return try await Self.secretBearing(API.WebhookEndpointInfo(endpoint), for: req)
    }

    /// Replaces the account endpoint: `url` (absent or null removes it) and `events` (absent
    /// means all). The URL is checked for form and for where it leads before anything changes.
    @Sendable func updateEndpoint(req: Request) async throws -> Response {
        let input = try req.decodeJSON(API.WebhookEndpointInput.self)
        var url: String?
        switch input.url {
        case .absent: url = nil
        case .value(let raw): url = raw
        case .invalid: throw AppError.invalidWebhookURL
        }
        let filter = try WebhookEventFilter.requested(input.events)
        if let url { try await req.application.webhookTargetPolicy.require(url) }

        let now = req.clock.now()
        let endpoint = try await WebhookOutbox.endpoint(forUser: try req.user.requireID(), at: now, on: req.db)
        endpoint.url = url
        endpoint.events = url == nil ? nil : filter.stored
        endpoint.updatedAt = now
        try await endpoint.save(on: req.db)
        req.logger.info("webhook endpoint updated", metadata: ["has_url": .stringConvertible(url != nil)])
        return try await Self.secretBearing(API.WebhookEndpointInfo(endpoint), for: req)
    }

    /// A new secret, effective at once: deliveries from now on are signed with it.
    @Sendable func rotateSecret(req: Request) async throws -> Response {
        let now = req.clock.now()
        let endpoint = try await WebhookOutbox.endpoint(forUser: try req.user.requireID(), at: now, on: req.db)
        endpoint.secret = WebhookSigner.makeSecret()
        endpoint.updatedAt = now
        try await endpoint.save(on: req.db)
        req.logger.notice("webhook secret rotated")
        return try await Self.secretBearing(API.WebhookEndpointInfo(endpoint), for: req)
    }

    // MARK: - Delivery log

    /// Newest first; `video_id` and `state` narrow it.
    @Sendable func listDeliveries(req: Request) async throws -> API.Page<API.WebhookDeliveryInfo> {
        var query = try req.owner.webhookDeliveries()
        if let raw = req.query[String.self, at: "video_id"] {
            guard let videoID = UUID(uuidString: raw) else { throw AppError.invalidFilter(name: "video_id") }
            query = query.filter(\.$jobID == videoID)
        }
        if let raw = req.query[String.self, at: "state"] {
            guard let state = WebhookDeliveryState(rawValue: raw) else { throw AppError.invalidFilter(name: "state") }
            query = query.filter(\.$state == state)
        }
        let page = try await query.newestFirstPage(req)
        return API.Page(data: try page.items.map { try API.WebhookDeliveryInfo($0) }, nextCursor: page.nextCursor)
    }

    /// One delivery with its body and every attempt.
    @Sendable func showDelivery(req: Request) async throws -> API.WebhookDeliveryInfo {
        let delivery = try await req.owner.webhookDelivery(req.parameters.get("deliveryID", as: UUID.self))
        let attempts = try await WebhookAttempt.query(on: req.db)
            .filter(\.$deliveryID == delivery.requireID()).sort(\.$attemptedAt).all()
        return try API.WebhookDeliveryInfo(delivery, attempts: attempts)
    }

    /// Sends the delivery again now (same `webhook-id` and body), with a fresh retry schedule.
    @Sendable func replay(req: Request) async throws -> Response {
        let delivery = try await req.owner.webhookDelivery(req.parameters.get("deliveryID", as: UUID.self))
        try await WebhookDispatcher.replay(delivery, at: req.clock.now(), on: req.db)
        req.logger.info("webhook delivery replayed", metadata: ["webhook_id": .string(delivery.messageID)])
        return try await API.WebhookDeliveryInfo(delivery).encodeResponse(status: .accepted, for: req)
    }

    /// An answer carrying the secret is never stored by a cache.
    private static func secretBearing(_ info: API.WebhookEndpointInfo, for req: Request) async throws -> Response {
        let response = try await info.encodeResponse(for: req)
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return response
    }
}
