@testable import App
import Foundation
import NIOConcurrencyHelpers
import Vapor

/// Stands in for the receivers of outbound webhooks: records every post and answers with the
/// statuses a test queued for its URL (200 once the queue is empty), or with no answer at all.
final class RecordingWebhookSender: WebhookSender, Sendable {
    struct Post: Sendable {
        var url: String
        var headers: [String: String]
        var body: String
        var json: JSONBody { JSONBody(value: try? JSONSerialization.jsonObject(with: Data(body.utf8))) }
        var type: String? { json["type"].string }
    }

    enum Answer: Sendable {
        case status(Int)
        case noAnswer
    }

    private struct State {
        var posts: [Post] = []
        var answers: [String: [Answer]] = [:]
        var always: [String: Answer] = [:]
    }

    private let state = NIOLockedValueBox(State())

    var posts: [Post] { state.withLockedValue { $0.posts } }
    func posts(to url: String) -> [Post] { posts.filter { $0.url == url } }

    func queue(_ answers: [Answer], for url: String) { state.withLockedValue { $0.answers[url, default: []] += answers } }
    func alwaysAnswer(_ answer: Answer, for url: String) { state.withLockedValue { $0.always[url] = answer } }

    func post(url: String, headers: [(String, String)], body: String, timeout: Duration) async throws -> Int {
        let answer = state.withLockedValue { state -> Answer in
            state.posts.append(Post(url: url, headers: Dictionary(headers, uniquingKeysWith: { $1 }), body: body))
            if var queued = state.answers[url], !queued.isEmpty {
                let next = queued.removeFirst()
                state.answers[url] = queued
                return next
            }
            return state.always[url] ?? .status(200)
        }
        switch answer {
        case .status(let code): return code
        case .noAnswer: throw NoAnswer()
        }
    }

    struct NoAnswer: Error, CustomStringConvertible { var description: String { "read timed out" } }
}

extension TestContext {
    /// Public names the tests use, and names that lead inside; DNS is the outside world.
    static let testHosts: [String: [IPAddress]] = [
        "hooks.shop.test": [IPAddress("93.184.215.14")!],
        "backup.shop.test": [IPAddress("2606:2800:21f:cb07:6820:80da:af6b:8b2c")!],
        "inside.shop.test": [IPAddress("10.0.0.7")!],
        "half-inside.shop.test": [IPAddress("93.184.215.14")!, IPAddress("192.168.1.20")!],
        "metadata.shop.test": [IPAddress("169.254.169.254")!],
    ]

    /// Sends webhooks to a recorder and resolves names from `hosts`; returns the recorder.
    @discardableResult
    func recordWebhooks(hosts: [String: [IPAddress]] = TestContext.testHosts, allowPrivate: Bool = false) -> RecordingWebhookSender {
        let sender = RecordingWebhookSender()
        app.webhookSender = sender
        useWebhookHosts(hosts, allowPrivate: allowPrivate)
        return sender
    }

    func useWebhookHosts(_ hosts: [String: [IPAddress]], allowPrivate: Bool = false) {
        app.webhookTargetPolicy = WebhookTargetPolicy(allowsPrivateTargets: allowPrivate, resolve: { host in
            guard let addresses = hosts[host] else { throw WebhookTargetPolicy.Refusal.unresolvable(host: host) }
            return addresses
        })
    }

    func dispatchWebhooks() async throws -> WebhookDispatcher.PassReport {
        var logger = Logger(label: "test.webhooks")
        logger.logLevel = .warning
        return try await app.webhookDispatcher(logger: logger).runPass()
    }
}
