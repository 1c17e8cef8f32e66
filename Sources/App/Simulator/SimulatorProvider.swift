import Foundation

/// Calls a `KieSimulator` in-process, through the same wire encoding and parsing as the live
/// client, minus the socket. Tests and the fault-injection runs use it; `serve` in demo mode
/// goes through real HTTP instead (`KieClient` → `SimulatorRoutes`).
public struct SimulatorProvider: VideoProvider {
    public let simulator: KieSimulator
    let apiKey: String

    public init(simulator: KieSimulator, apiKey: String = "simulator") {
        self.simulator = simulator
        self.apiKey = apiKey
    }

    public func createTask(_ request: ProviderTaskRequest) async throws -> ProviderTaskID {
        let body = try JSONEncoder().encode(KieWire.createTaskBody(for: request))
        let reply = await simulator.createTask(authorization: "Bearer \(apiKey)", body: body)
        let taskID = try KieWire.parseCreateReply(reply.body)
        if reply.hangs { throw ProviderError.ambiguous(detail: "simulated timeout after sending") }
        return taskID
    }

    public func taskStatus(_ id: ProviderTaskID) async throws -> ProviderTaskStatus {
        let reply = await simulator.recordInfo(authorization: "Bearer \(apiKey)", taskID: id)
        return try KieWire.parseRecordInfoReply(reply.body)
    }

    public func remainingCredits() async throws -> Int {
        let reply = await simulator.credit(authorization: "Bearer \(apiKey)")
        return try KieWire.parseCreditReply(reply.body)
    }

    public func freshDownloadURL(for url: String) async throws -> String {
        let reply = await simulator.downloadURL(authorization: "Bearer \(apiKey)", body: try KieWire.downloadURLBody(for: url))
        return try KieWire.parseDownloadURLReply(reply.body)
    }
}
