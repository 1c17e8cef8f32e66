@testable import App
import Crypto
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

@Suite("Outbound webhooks")
struct WebhookTests {
    static let hook = "https://hooks.shop.test/phim"

    @Test("a video's events reach its webhook_url, signed as Standard Webhooks says, with the video as it was")
    func signedDeliveries() async throws {
        try await withTestApp { t in
            let sender = t.recordWebhooks()
            let user = try await t.makeUser()
            let created = try await t.createVideo(#"{"prompt": "A lighthouse at dawn", "webhook_url": "\#(Self.hook)"}"#, as: user)
            #expect(created.status == .accepted)
            let id = try #require(created.json["id"].uuid)
            let secret = try #require(try await t.request(.GET, "/api/v1/webhook-endpoint", as: user).json["secret"].string)
            #expect(secret.hasPrefix("whsec_"))

            try await t.advance(by: 10) // generating: started
            #expect(try await t.dispatchWebhooks().delivered == 1)
            try await t.advance(by: 15) // done
            #expect(try await t.dispatchWebhooks().delivered == 1)

            let posts = sender.posts(to: Self.hook)
            #expect(posts.map(\.type) == ["video.started", "video.completed"])
            for post in posts {
                // Verified here from the specification, independently of WebhookSigner.
                let id = try #require(post.headers["webhook-id"]), timestamp = try #require(post.headers["webhook-timestamp"])
                let key = SymmetricKey(data: Data(base64Encoded: String(secret.dropFirst("whsec_".count)))!)
                let mac = HMAC<SHA256>.authenticationCode(for: Data("\(id).\(timestamp).\(post.body)".utf8), using: key)
                #expect(post.headers["webhook-signature"] == "v1," + Data(mac).base64EncodedString())
                #expect(id.hasPrefix("msg_"))
            }
            // Each attempt is stamped with the time it was sent: 15 s apart here.
            let stamps = posts.compactMap { $0.headers["webhook-timestamp"].flatMap(Int.init) }
            #expect(stamps == [Int(t.clock.now.timeIntervalSince1970) - 15, Int(t.clock.now.timeIntervalSince1970)])
            let done = try #require(posts.last).json
            #expect(done["data"]["id"].uuid == id)
            #expect(done["data"]["status"].string == "completed")
            #expect(done["data"]["video_url"].string?.hasPrefix("http") == true)
            #expect(try #require(posts.first).json["data"]["status"].string == "processing")
            // Nothing left to send.
            #expect(try await t.dispatchWebhooks().attempted == 0)
        }
    }

    @Test("a receiver answering 500 twice gets the same message again after 5 s and 5 min, then it is delivered")
    func retriesAfterServerErrors() async throws {
        try await withTestApp { t in
            let sender = t.recordWebhooks()
            sender.queue([.status(500), .status(500)], for: Self.hook)
            let user = try await t.makeUser()
            let id = try #require(try await t.createVideo(#"{"prompt": "Rain on a tin roof", "webhook_url": "\#(Self.hook)", "webhook_events": ["completed"]}"#, as: user).json["id"].uuid)
            try await t.advance(by: 25)

            #expect(try await t.dispatchWebhooks() == .init(delivered: 0, retrying: 1, failed: 0))
            t.clock.advance(by: 4)
            #expect(try await t.dispatchWebhooks().attempted == 0) // not yet
            t.clock.advance(by: 1)
            #expect(try await t.dispatchWebhooks().retrying == 1)
            t.clock.advance(by: 299)
            #expect(try await t.dispatchWebhooks().attempted == 0)
            t.clock.advance(by: 1)
            #expect(try await t.dispatchWebhooks().delivered == 1)

            let posts = sender.posts(to: Self.hook)
            #expect(posts.count == 3)
            #expect(Set(posts.compactMap { $0.headers["webhook-id"] }).count == 1) // one message, three attempts
            #expect(Set(posts.map(\.body)).count == 1)

            let log = try await t.request(.GET, "/api/v1/webhook-deliveries?video_id=\(id)", as: user).json["data"]
            #expect(log.array.count == 1)
            #expect(log[0]["state"].string == "delivered")
            #expect(log[0]["attempts"].int == 3)
            #expect(log[0]["event"].string == "video.completed")
            let deliveryID = try #require(log[0]["id"].uuid)
            let detail = try await t.request(.GET, "/api/v1/webhook-deliveries/\(deliveryID)", as: user).json
            #expect(detail["attempt_log"].array.map { $0["status_code"].int } == [500, 500, 200])
            #expect(detail["payload"].string == posts[0].body)
        }
    }

    @Test("a receiver that never says yes is retried for more than 24 hours, then the delivery fails; a replay sends it again")
    func retriesRunOutThenReplay() async throws {
        try await withTestApp { t in
            let sender = t.recordWebhooks()
            sender.alwaysAnswer(.noAnswer, for: Self.hook)
            let user = try await t.makeUser()
            _ = try await t.createVideo(#"{"prompt": "Fog over a harbor", "webhook_url": "\#(Self.hook)", "webhook_events": ["completed"]}"#, as: user)
            try await t.advance(by: 25)

            let first = t.clock.now
            var report = try await t.dispatchWebhooks()
            while report.failed == 0 {
                let delivery = try #require(try await WebhookDelivery.query(on: t.app.db).first())
                let next = try #require(delivery.nextAttemptAt)
                t.clock.advance(by: next.timeIntervalSince(t.clock.now))
                report = try await t.dispatchWebhooks()
            }
            let posts = sender.posts(to: Self.hook)
            #expect(posts.count == 8)
            #expect(t.clock.now.timeIntervalSince(first) >= 24 * 3600)
            let delivery = try #require(try await WebhookDelivery.query(on: t.app.db).first())
            #expect(delivery.state == .failed)
            #expect(delivery.nextAttemptAt == nil)
            t.clock.advance(by: 86_400)
            #expect(try await t.dispatchWebhooks().attempted == 0) // failed stays failed

            sender.alwaysAnswer(.status(204), for: Self.hook)
            let replay = try await t.request(.POST, "/api/v1/webhook-deliveries/\(try delivery.requireID())/replay", as: user)
            #expect(replay.status == .accepted)
            #expect(replay.json["state"].string == "pending")
            #expect(try await t.dispatchWebhooks().delivered == 1)
            #expect(sender.posts(to: Self.hook).last?.headers["webhook-id"] == delivery.messageID)
        }
    }

    @Test("filters: a video's own URL gets only the events it asked for; the account endpoint gets every event once")
    func eventFiltersAndAccountEndpoint() async throws {
        try await withTestApp { t in
            let sender = t.recordWebhooks()
            let user = try await t.makeUser()
            let account = "https://backup.shop.test/all"
            let put = try await t.request(.PUT, "/api/v1/webhook-endpoint", as: user, json: #"{"url": "\#(account)"}"#)
            #expect(put.status == .ok)
            #expect(put.json["events"].array.compactMap(\.string) == ["started", "progress", "completed", "failed", "canceled"])
            #expect(put.headers.first(name: .cacheControl) == "no-store")

            _ = try await t.createVideo(#"{"prompt": "Paper lanterns rising", "webhook_url": "\#(Self.hook)", "webhook_events": ["failed", "completed"]}"#, as: user)
            let failing = try #require(try await t.createVideo(#"{"prompt": "Clouds #fail"}"#, as: user).json["id"].uuid)
            try await t.advance(by: 10)
            try await t.advance(by: 15)
            _ = try await t.dispatchWebhooks()

            #expect(sender.posts(to: Self.hook).map(\.type) == ["video.completed"])
            let accountTypes = sender.posts(to: account).map(\.type)
            #expect(accountTypes.filter { $0 == "video.completed" }.count == 1)
            #expect(accountTypes.filter { $0 == "video.failed" }.count == 1)
            let failed = try #require(sender.posts(to: account).first { $0.type == "video.failed" }).json
            #expect(failed["data"]["id"].uuid == failing)
            #expect(failed["data"]["credits_refunded"].bool == true)

            // The same URL for the video and the account: one delivery per event, not two.
            let sharedUser = try await t.makeUser()
            _ = try await t.request(.PUT, "/api/v1/webhook-endpoint", as: sharedUser, json: #"{"url": "https://hooks.shop.test/shared"}"#)
            let pending = try #require(try await t.createVideo(#"{"prompt": "Sand dunes", "webhook_url": "https://hooks.shop.test/shared"}"#, as: sharedUser).json["id"].uuid)
            _ = try await t.request(.POST, "/api/v1/videos/\(pending)/cancel", as: sharedUser)
            _ = try await t.dispatchWebhooks()
            #expect(sender.posts(to: "https://hooks.shop.test/shared").map(\.type) == ["video.canceled"])

            // Removing the endpoint stops account-wide deliveries.
            let removed = try await t.request(.PUT, "/api/v1/webhook-endpoint", as: user, json: #"{"url": null}"#)
            #expect(removed.json["url"].isNull)
            let before = sender.posts(to: account).count
            _ = try await t.createTextVideo(as: user)
            try await t.advance(by: 25)
            _ = try await t.dispatchWebhooks()
            #expect(sender.posts(to: account).count == before)
        }
    }

    @Test("URLs into the private network are refused with a clear error, on create, quote and the account endpoint, and nothing is held", arguments: [
        ("http://127.0.0.1:8080/hook", "webhook_url_not_allowed"),
        ("http://localhost/hook", "webhook_url_not_allowed"),
        ("http://10.1.2.3/hook", "webhook_url_not_allowed"),
        ("http://172.20.0.1/hook", "webhook_url_not_allowed"),
        ("http://192.168.0.10/hook", "webhook_url_not_allowed"),
        ("http://100.64.0.1/hook", "webhook_url_not_allowed"),
        ("http://169.254.169.254/latest/meta-data/", "webhook_url_not_allowed"),
        ("http://0.0.0.0/", "webhook_url_not_allowed"),
        ("http://[::1]/hook", "webhook_url_not_allowed"),
        ("http://[fd00:ec2::254]/latest", "webhook_url_not_allowed"),
        ("http://[fe80::1]/hook", "webhook_url_not_allowed"),
        ("http://[::ffff:127.0.0.1]/hook", "webhook_url_not_allowed"),
        ("http://[64:ff9b::a00:1]/hook", "webhook_url_not_allowed"),
        ("https://inside.shop.test/hook", "webhook_url_not_allowed"),
        ("https://half-inside.shop.test/hook", "webhook_url_not_allowed"),
        ("https://metadata.shop.test/", "webhook_url_not_allowed"),
        ("https://metadata.google.internal/", "webhook_url_not_allowed"),
        ("https://nowhere.shop.test/hook", "webhook_url_unresolvable"),
        ("ftp://hooks.shop.test/hook", "invalid_webhook_url"),
        ("https://user:secret@hooks.shop.test/hook", "invalid_webhook_url"),
        ("hooks.shop.test/hook", "invalid_webhook_url"),
        ("https://hooks.shop.test/a b", "invalid_webhook_url"),
    ])
    func refusedTargets(url: String, code: String) async throws {
        try await withTestApp { t in
            let sender = t.recordWebhooks()
            let user = try await t.makeUser(credits: 10_000)
            let body = #"{"prompt": "A quiet street", "webhook_url": "\#(url)"}"#
            let created = try await t.createVideo(body, as: user)
            #expect(created.status == .unprocessableEntity)
            #expect(created.errorCode == code)
            #expect(created.json["error"]["message"].string?.isEmpty == false)
            let quoted = try await t.request(.POST, "/api/v1/videos/quote", as: user, json: body)
            #expect(quoted.errorCode == code)
            let put = try await t.request(.PUT, "/api/v1/webhook-endpoint", as: user, json: #"{"url": "\#(url)"}"#)
            #expect(put.errorCode == code)
            #expect(try await t.request(.GET, "/api/v1/webhook-endpoint", as: user).json["url"].isNull)
            #expect(try await t.jobCount() == 0)
            #expect(try await t.balances(user) == (10_000, 0))
            #expect(sender.posts.isEmpty)
        }
    }

    @Test("bad event filters are refused", arguments: [
        #"{"prompt": "x", "webhook_url": "https://hooks.shop.test/h", "webhook_events": ["finished"]}"#,
        #"{"prompt": "x", "webhook_url": "https://hooks.shop.test/h", "webhook_events": []}"#,
        #"{"prompt": "x", "webhook_url": "https://hooks.shop.test/h", "webhook_events": "completed"}"#,
        #"{"prompt": "x", "webhook_events": ["completed"]}"#,
    ])
    func badEventFilters(body: String) async throws {
        try await withTestApp { t in
            t.recordWebhooks()
            let user = try await t.makeUser()
            let response = try await t.createVideo(body, as: user)
            #expect(response.status == .unprocessableEntity)
            #expect(response.errorCode == "invalid_webhook_events")
            #expect(try await t.jobCount() == 0)
        }
    }

    @Test("an operator who allows private targets can send to a receiver on the same network")
    func operatorAllowsPrivateTargets() async throws {
        try await withTestApp { t in
            let sender = t.recordWebhooks(allowPrivate: true)
            let user = try await t.makeUser()
            let url = "http://127.0.0.1:9999/hook"
            #expect(try await t.createVideo(#"{"prompt": "Lamps", "webhook_url": "\#(url)", "webhook_events": ["completed"]}"#, as: user).status == .accepted)
            try await t.advance(by: 25)
            #expect(try await t.dispatchWebhooks().delivered == 1)
            #expect(sender.posts(to: url).count == 1)
        }
    }

    @Test("a name that points inside by the time of sending is not called, and the delivery fails")
    func targetCheckedAgainBeforeSending() async throws {
        try await withTestApp { t in
            let sender = t.recordWebhooks()
            let user = try await t.makeUser()
            _ = try await t.createVideo(#"{"prompt": "Tide pools", "webhook_url": "\#(Self.hook)", "webhook_events": ["completed"]}"#, as: user)
            try await t.advance(by: 25)
            t.useWebhookHosts(["hooks.shop.test": [IPAddress("127.0.0.1")!]]) // DNS rebinding
            #expect(try await t.dispatchWebhooks().failed == 1)
            #expect(sender.posts.isEmpty)
            let delivery = try #require(try await WebhookDelivery.query(on: t.app.db).first())
            #expect(delivery.lastError?.contains("target refused") == true)
        }
    }

    @Test("a repeated callback announces the completion once")
    func duplicateNewsAnnouncedOnce() async throws {
        try await withTestApp { t in
            let sender = t.recordWebhooks()
            let user = try await t.makeUser()
            _ = try await t.createVideo(#"{"prompt": "Kites", "webhook_url": "\#(Self.hook)", "webhook_events": ["completed"]}"#, as: user)
            t.clock.advance(by: 25)
            let callbacks = await t.simulator.takeDueCallbacks()
            try await t.deliver(callbacks)
            try await t.deliver(callbacks)
            _ = try await t.reconcilePass()
            _ = try await t.dispatchWebhooks()
            #expect(sender.posts(to: Self.hook).count == 1)
        }
    }

    @Test("one user never sees, reads or replays another's deliveries, nor their secret")
    func deliveriesArePrivate() async throws {
        try await withTestApp { t in
            t.recordWebhooks()
            let alice = try await t.makeUser()
            let bob = try await t.makeUser()
            _ = try await t.createVideo(#"{"prompt": "Orchard", "webhook_url": "\#(Self.hook)"}"#, as: alice)
            try await t.advance(by: 25)
            _ = try await t.dispatchWebhooks()
            let alicesDelivery = try #require(try await t.request(.GET, "/api/v1/webhook-deliveries", as: alice).json["data"][0]["id"].uuid)

            #expect(try await t.request(.GET, "/api/v1/webhook-deliveries", as: bob).json["data"].array.isEmpty)
            let read = try await t.request(.GET, "/api/v1/webhook-deliveries/\(alicesDelivery)", as: bob)
            #expect(read.status == .notFound)
            #expect(read.errorCode == "webhook_delivery_not_found")
            #expect(try await t.request(.POST, "/api/v1/webhook-deliveries/\(alicesDelivery)/replay", as: bob).status == .notFound)
            let alicesSecret = try await t.request(.GET, "/api/v1/webhook-endpoint", as: alice).json["secret"].string
            let bobsSecret = try await t.request(.GET, "/api/v1/webhook-endpoint", as: bob).json["secret"].string
            #expect(alicesSecret != bobsSecret)
            #expect(try await t.request(.GET, "/api/v1/webhook-deliveries?state=lost", as: alice).errorCode == "invalid_filter")
        }
    }

    @Test("a rotated secret signs the next deliveries; the old one no longer verifies")
    func rotatedSecret() async throws {
        try await withTestApp { t in
            let sender = t.recordWebhooks()
            let user = try await t.makeUser()
            let old = try #require(try await t.request(.GET, "/api/v1/webhook-endpoint", as: user).json["secret"].string)
            let rotated = try await t.request(.POST, "/api/v1/webhook-endpoint/rotate-secret", as: user)
            let new = try #require(rotated.json["secret"].string)
            #expect(new != old && new.hasPrefix("whsec_"))
            _ = try await t.createVideo(#"{"prompt": "Snowfall", "webhook_url": "\#(Self.hook)", "webhook_events": ["completed"]}"#, as: user)
            try await t.advance(by: 25)
            _ = try await t.dispatchWebhooks()
            let post = try #require(sender.posts(to: Self.hook).first)
            let id = post.headers["webhook-id"]!, stamp = Int(post.headers["webhook-timestamp"]!)!
            #expect(post.headers["webhook-signature"] == WebhookSigner.signature(secret: new, messageID: id, timestamp: stamp, body: post.body))
            #expect(post.headers["webhook-signature"] != WebhookSigner.signature(secret: old, messageID: id, timestamp: stamp, body: post.body))
        }
    }
}
