// Veo 3.1's own API on the simulator: generate, record-info and its callback, in Veo's shapes (not the Market's).
import Foundation
import PhimSupport

extension KieSimulator {
    /// `POST /api/v1/veo/generate`: a flat body checked against Veo's rules; the same auth,
    /// paused ids, rate limit, faults, prompt tags and billing as a Market create.
    public func veoGenerate(authorization: String?, body: Data) -> Reply {
        create(family: .veo, authorization: authorization, body: body)
    }

    /// `GET /api/v1/veo/record-info?taskId=`: `successFlag` 0 while waiting or generating, 1 success,
    /// 2 failed (a content-policy rejection), 3 created but generation failed.
    public func veoRecordInfo(authorization: String?, taskID: String?) -> Reply {
        lock.withLock {
            counts.veoRecordInfo += 1
            if let denied = checkAuthorization(authorization) { return denied }
            guard let task = queried(taskID, family: .veo) else { return envelope(code: 422, msg: "recordInfo is null") }
            let now = clock.now()
            var response: JSON = .null, errorCode: JSON = .null, errorMessage: JSON = .null, completeTime: JSON = .null
            let successFlag: Int
            switch (state(of: task, at: now), task.outcome) {
            case (.success, _):
                successFlag = 1
                response = .object([("taskId", .string(task.id))] + veoResultFields(of: task))
                completeTime = .int64(finishedMillis(of: task))
            case (.fail, .fail(let failure)):
                successFlag = failure.isRejection ? 2 : 3
                errorCode = .int(failure.veoCode)
                errorMessage = .string(failure.message)
                completeTime = .int64(finishedMillis(of: task))
            default:
                successFlag = 0
            }
            return envelope(code: 200, msg: "success", data: .object([
                ("taskId", .string(task.id)), ("paramJson", .string(task.rawParam)), ("completeTime", completeTime),
                ("response", response), ("successFlag", .int(successFlag)), ("errorCode", errorCode),
                ("errorMessage", errorMessage), ("createTime", .int64(task.createdAt.unixMillis)), ("fallbackFlag", .bool(false)),
            ]))
        }
    }

    /// The completion callback Veo posts: `info` holds the videos on success; on failure the
    /// envelope's code is 501 (400 for a content-policy rejection or a bad image) and `info` is null.
    func veoCallbackBody(for task: SimulatedTask) -> Data {
        let code: Int, msg: String, info: JSON
        switch task.outcome {
        case .success:
            (code, msg, info) = (200, "Veo3.1 video generated successfully.", .object(veoResultFields(of: task)))
        case .fail(let failure):
            (code, msg, info) = (failure.veoCode, failure.message, .null)
        }
        let data = JSON.object([("taskId", .string(task.id)), ("info", info), ("fallbackFlag", .bool(false))])
        return JSON.object([("code", .int(code)), ("msg", .string(msg)), ("data", data)]).data()
    }

    /// `resultUrls` (a real array, unlike the Market's `resultJson` text), `originUrls` and the resolution.
    private func veoResultFields(of task: SimulatedTask) -> [(String, JSON)] {
        let urls = JSON.array([.string(resultURL(of: task))])
        return [("resultUrls", urls), ("originUrls", urls), ("resolution", .string("720p"))]
    }
}
