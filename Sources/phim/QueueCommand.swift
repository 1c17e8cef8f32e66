import ArgumentParser
import Foundation
import PhimCore
import PhimProvider
import PhimServer
import PhimSupport

/// `phim queue`: the admission queue in front of the provider, as the admin Queue page shows it,
/// and the two limits it keeps to, changed without a restart (audited, like the page's).
struct QueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "The videos waiting to be sent to the provider, and the limits the sending keeps to.",
        subcommands: [Show.self, Limits.self], defaultSubcommand: Show.self)

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Length, oldest wait, accounts waiting, sends in the last minute and 10 s, the provider's busy answers, running tasks, the limits.")
        @Flag(help: "The report as GET /api/v1/admin/queue answers it.") var json = false
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (configuration, db, administration) = try dataOptions.operatorContext()
            let report = try administration.queueReport(queue: QueueCommand.queue(configuration), on: db)
            let now = Date().unixMillis
            if json {
                print(ModelsCommand.pretty(AdminQueueHandlers.json(report, now: now)))
                return
            }
            for line in QueueCommand.lines(report, now: now) { print(line) }
        }
    }

    struct Limits: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change the creates per 10 seconds and/or the tasks running at once the sending keeps to (Kie raises its own on request); audited.")
        @Option(name: .customLong("creates-per-10s"), help: "Creates sent to the provider in any 10 seconds (1–100000).") var createsPer10s: Int?
        @Option(name: .customLong("max-running"), help: "Tasks running at the provider at once (1–100000).") var maxRunning: Int?
        @Flag(help: "Go back to the settings' limits (PHIM_PROVIDER_CREATES_PER_10S, PHIM_PROVIDER_MAX_RUNNING).") var reset = false
        @Option var reason: String
        @OptionGroup var dataOptions: DataOptions

        func validate() throws {
            guard reset != (createsPer10s != nil || maxRunning != nil) else {
                throw ValidationError("give --creates-per-10s, --max-running or both, or --reset alone")
            }
        }

        func run() throws {
            let (configuration, db, administration) = try dataOptions.operatorContext()
            let queue = QueueCommand.queue(configuration)
            let limits = try runOperator {
                try administration.setQueueLimits(createsPer10s: createsPer10s, maxRunning: maxRunning, reset: reset, reason: reason, by: .commandLine(),
                                                  queue: queue, on: db)
            }
            print("limits: \(limits.createsPer10s) creates per 10 s, \(limits.maxRunning) running at once (audited as queue.limits)")
        }
    }

    /// The queue as the running service sees it; the report reads the database only, so the
    /// provider it is built with is never called.
    static func queue(_ configuration: Configuration) -> ProviderQueue {
        let settings = configuration.settings
        let provider = KieClient(baseURL: configuration.kieBaseURL, apiKey: configuration.kieAPIKey ?? "",
                                 uploadBaseURL: configuration.kieUploadBaseURL)
        return ProviderQueue(provider: provider, lifecycle: JobLifecycle(clock: .system, settings: settings), settings: settings, clock: .system)
    }

    static func lines(_ report: Administration.QueueReport, now: Int64) -> [String] {
        func waited(_ since: Int64) -> String { "\(max(0, now - since) / 1000) s" }
        let limits = report.limits
        var lines = [
            "queued: \(report.queued)" + (report.oldestQueuedAt.map { " (oldest waiting \(waited($0)))" } ?? ""),
            "running at the provider: \(report.running) (at most \(limits.maxRunning))",
            "sent: \(report.sentLast10Seconds) in the last 10 s (at most \(limits.createsPer10s)), \(report.sentLastMinute) in the last minute",
            "provider busy (429s met) in the last hour: \(report.busyLastHour)",
            "limits: \(limits.createsPer10s) creates per 10 s, \(limits.maxRunning) running; "
                + (limits.changedByOperator ? "set by an operator (phim audit shows who and why)"
                                            : "from the settings (PHIM_PROVIDER_CREATES_PER_10S, PHIM_PROVIDER_MAX_RUNNING, as the dispatching service has them)"),
            "paused: " + (report.pausedUntil.map { "until \(ISOTime.string($0)) (the provider answered busy)" } ?? "no"),
            "dispatching: " + (report.leaseHolder.map { "\($0)" + (report.leaseUntil.map { " (lease until \(ISOTime.string($0)))" } ?? "") }
                               ?? "no process (is phim running?)"),
        ]
        if report.accounts.isEmpty {
            lines.append("accounts waiting: none")
        } else {
            lines.append("accounts waiting (most queued first):")
            for account in report.accounts {
                lines.append("  \(account.email)  \(account.queued) queued, oldest waiting \(waited(account.oldestQueuedAt))")
            }
        }
        return lines
    }
}
