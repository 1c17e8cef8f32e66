import Foundation
import Logging
import NIOConcurrencyHelpers

/// Writes each log event as one JSON object per line (`LOG_FORMAT=json`), for log collectors:
/// `time`, `level`, `label`, `message`, and every metadata key as a field of its own, such as
/// `request-id`, `job_id` and `origin_request_id` (the request that created the job), so one
/// query follows a video from its create through callbacks to completion.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private static let output = NIOLockedValueBox(FileHandle.standardOutput)

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: String] = [:]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            fields[key] = value.description
        }
        if let error = event.error { fields["error"] = "\(error)" }
        fields["time"] = Self.timestamp(Date())
        fields["level"] = event.level.rawValue
        fields["label"] = label
        fields["message"] = event.message.description
        fields["source"] = "\(event.file.split(separator: "/").last ?? ""):\(event.line)"
        guard var line = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        line.append(0x0A)
        Self.output.withLockedValue { $0.write(line) }
    }

    private static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
