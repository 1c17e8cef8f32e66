// Kie's public price feed on the simulator (no auth): the count and the pages of records.
import Foundation
import PhimSupport

extension KieSimulator {
    /// `GET /client/v1/model-pricing/count`: `data {all, image, video, music, chat}`.
    public func pricingCount() -> Reply {
        let total = priceRecords().count
        return envelope(code: 200, msg: "success", data: .object([
            ("all", .int(total)), ("image", .int(0)), ("video", .int(total)), ("music", .int(0)), ("chat", .int(0)),
        ]))
    }

    /// `POST /client/v1/model-pricing/page` `{pageNum, pageSize, interfaceType?}`: `data {records, total, pages}`,
    /// `pageSize` capped at 100. The simulator serves only video models, so another type has none.
    public func pricingPage(body: Data) -> Reply {
        var request: JSON = .object([])
        if !body.isEmpty {
            guard let parsed = JSON.parse(body), case .object = parsed else {
                lock.withLock { counts.pricing += 1 }
                return envelope(code: 400, msg: "Invalid request body")
            }
            request = parsed
        }
        var records = priceRecords()
        for name in ["pageNum", "pageSize"] {
            if let value = request[name], !value.isNull, (value.intValue ?? 0) < 1 {
                return envelope(code: 400, msg: "\(name): expected a positive integer")
            }
        }
        if let type = request["interfaceType"], !type.isNull {
            guard let text = type.stringValue else { return envelope(code: 400, msg: "interfaceType: expected a string") }
            if !text.isEmpty, text != "video" { records = [] }
        }
        let pageNum = request["pageNum"]?.intValue ?? 1
        let pageSize = min(request["pageSize"]?.intValue ?? SimulatorPriceFeed.defaultPageSize, SimulatorPriceFeed.maxPageSize)
        let start = min(records.count, (pageNum - 1).multipliedReportingOverflow(by: pageSize).overflow
            ? records.count : (pageNum - 1) * pageSize)
        let page = records[start..<min(records.count, start + pageSize)]
        return envelope(code: 200, msg: "success", data: .object([
            ("records", .array(page.map(\.json))), ("total", .int(records.count)),
            ("pages", .int((records.count + pageSize - 1) / pageSize)),
        ]))
    }

    /// The feed as it stands: paused models left out, overrides applied. Counts one pricing call.
    private func priceRecords() -> [SimulatorPriceFeed.Record] {
        let (paused, overrides) = lock.withLock { () -> (Set<String>, [String: Double]) in
            counts.pricing += 1
            return (settings.pausedModels, settings.priceOverrides)
        }
        return SimulatorPriceFeed.records(isPaused: { KieModelRules.isSora($0) || paused.contains($0) }, overrides: overrides)
    }
}
