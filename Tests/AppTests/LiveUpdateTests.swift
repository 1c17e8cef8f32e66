@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

@Suite("Live updates")
struct LiveUpdateTests {
    /// Collects a stream's events until `count` arrived or a second passed.
    static func collect(_ stream: AsyncStream<JobEvent>, count: Int) async -> [JobEvent] {
        await withTaskGroup(of: [JobEvent]?.self) { group in
            group.addTask {
                var events: [JobEvent] = []
                for await event in stream {
                    events.append(event)
                    if events.count == count { break }
                }
                return events
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(5))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? []
        }
    }

    @Test("a user's listeners hear every change to their jobs, from callbacks and creates, and nothing of others'")
    func eventsReachOnlyTheOwner() async throws {
        try await withTestApp { t in
            let alice = try await t.makeUser()
            let bob = try await t.makeUser()
            let stream = t.app.jobEvents.subscribe(userID: alice.id)
            let video = try await t.createTextVideo(as: alice)
            _ = try await t.createTextVideo(as: bob)
            try await t.advance(by: 5)
            try await t.advance(by: 20)
            let events = await Self.collect(stream, count: 3)
            #expect(events.map(\.status) == [.pending, .processing, .completed])
            #expect(events.allSatisfy { $0.jobID == video && $0.userID == alice.id })
        }
    }

    @Test("on PostgreSQL, a change made by one instance reaches listeners on another",
          .enabled(if: isTestingOnPostgres))
    func eventsCrossInstances() async throws {
        try await withTestApp { t in
            // A second instance on the same database.
            let other = try await Application.make(.testing)
            other.logger.logLevel = .warning
            other.clock = t.clock.appClock
            try await configure(other, t.app.phimConfig)
            let (listening, continuation) = AsyncStream.makeStream(of: Void.self)
            let onListening: @Sendable () -> Void = { continuation.yield() }
            let startedHere = t.app.startEventRelay(onListening: onListening)
            let relayHere = try #require(startedHere)
            let startedThere = other.startEventRelay()
            let relayThere = try #require(startedThere)
            var ready = listening.makeAsyncIterator()
            _ = await ready.next()

            let user = try await t.makeUser()
            let stream = t.app.jobEvents.subscribe(userID: user.id)
            let video = try await t.createTextVideo(as: user)
            let taskID = try #require(try await t.job(video).providerTaskID)
            // The callback lands on the other instance.
            try await other.jobLifecycle(logger: other.logger)
                .apply(.init(taskID: taskID, state: .success, resultURLs: ["https://cdn.test/v.mp4"]), toJob: video, source: .callback)

            let events = await Self.collect(stream, count: 2)
            #expect(events.map(\.status) == [.pending, .completed])
            relayHere.cancel()
            relayThere.cancel()
            await relayHere.value
            await relayThere.value
            try await other.asyncShutdown()
        }
    }
}
