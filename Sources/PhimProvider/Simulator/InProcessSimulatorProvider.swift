// Calls a KieSimulator in-process, through the same wire encoding and parsing as the live client.
import Foundation
import PhimSupport

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
        let call = KieWire.createCall(for: request)
        let reply = request.family == .market
            ? simulator.createTask(authorization: authorization, body: call.data())
            : simulator.veoGenerate(authorization: authorization, body: call.data())
        // The task was made, but its answer "never came": what a timeout after sending looks like.
        if reply.hangs { throw ProviderError.ambiguous(detail: "simulated timeout after sending") }
        return try KieClient.readCreateReply(status: reply.status, body: reply.body)
    }

    public func taskStatus(_ id: ProviderTaskID, family: ProviderFamily) throws -> ProviderTaskStatus {
        let reply = family == .market
            ? simulator.recordInfo(authorization: authorization, taskID: id)
            : simulator.veoRecordInfo(authorization: authorization, taskID: id)
        return try KieWire.parseStatusReply(reply.body, family: family)
    }

    public func remainingCredits() throws -> Int {
        try KieWire.parseCreditReply(simulator.credit(authorization: authorization).body)
    }

    public func freshDownloadURL(for url: String) throws -> String {
        try KieWire.parseDownloadURLReply(simulator.downloadURL(authorization: authorization,
                                                                body: KieWire.downloadURLBody(for: url)).body)
    }

    public func uploadFile(_ bytes: Data, fileName: String) throws -> String {
        let upload = KieWire.fileUpload(bytes, fileName: fileName)
        return try KieWire.parseFileUploadReply(simulator.uploadStream(authorization: authorization, contentType: upload.contentType,
                                                                       body: upload.body).body)
    }

    public func priceFeed() throws -> [ProviderPriceRecord] {
        try KieWire.readPriceFeed { simulator.pricingPage(body: $0).body }
    }
}
