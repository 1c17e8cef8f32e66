// Calls a KieSimulator in-process, through the same wire encoding and parsing as the live client.
import Foundation

/// The live client minus the socket: the request is encoded and the reply parsed by `KieWire`
/// exactly as `KieClient` does, so unit tests of the domain exercise the wire format without
/// ports or threads. Demo mode goes through real HTTP instead (`KieClient` → `SimulatorServer`).
///
/// Unlike `KieClient` it does not retry reads: nothing transient lies between it and the simulator.
public struct InProcessSimulatorProvider: VideoProvider {
    public let simulator: KieSimulator
    let apiKey: String

    public init(simulator: KieSimulator, apiKey: String = "simulator") {
        self.simulator = simulator
        self.apiKey = apiKey
    }

    private var authorization: String { "Bearer \(apiKey)" }

    public func createTask(_ request: ProviderTaskRequest) throws -> ProviderTaskID {
        let reply = simulator.createTask(authorization: authorization, body: KieWire.createTaskBody(for: request).data())
        // The task was made, but its answer "never came": what a timeout after sending looks like.
        if reply.hangs { throw ProviderError.ambiguous(detail: "simulated timeout after sending") }
        return try KieClient.readCreateReply(status: reply.status, body: reply.body)
    }

    public func taskStatus(_ id: ProviderTaskID) throws -> ProviderTaskStatus {
        try KieWire.parseRecordInfoReply(simulator.recordInfo(authorization: authorization, taskID: id).body)
    }

    public func remainingCredits() throws -> Int {
        try KieWire.parseCreditReply(simulator.credit(authorization: authorization).body)
    }

    public func freshDownloadURL(for url: String) throws -> String {
        try KieWire.parseDownloadURLReply(simulator.downloadURL(authorization: authorization,
                                                                body: KieWire.downloadURLBody(for: url)).body)
    }
}
