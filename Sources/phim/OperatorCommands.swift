import ArgumentParser
import Foundation
import PhimCore
import PhimProvider
import PhimServer
import PhimSupport

/// The operators' commands: the same actions as the admin API, audited as `cli:<user>`.
extension DataOptions {
    /// The database and an administration acting as the shell's user.
    func operatorContext() throws -> (Configuration, Database, Administration) {
        let configuration = try load()
        return (configuration, try openDatabase(configuration), Administration(clock: .system))
    }
}

/// Turns a domain refusal into a readable command-line error.
func runOperator<Result>(_ body: () throws -> Result) throws -> Result {
    do {
        return try body()
    } catch let error as AppError {
        throw ValidationError(Messages.message(for: error, in: .en))
    }
}

/// A password from standard input, so it is not left in the process list or shell history:
/// typed without echo at a terminal, or the first line of a pipe.
enum PasswordInput {
    static func read(prompt: String) throws -> String {
        guard isatty(STDIN_FILENO) == 1 else {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw ValidationError("no password: give --password or one line on standard input")
            }
            return line
        }
        FileHandle.standardError.write(Data(prompt.utf8))
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        let line = readLine(strippingNewline: true)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
        FileHandle.standardError.write(Data("\n".utf8))
        guard let line, !line.isEmpty else { throw ValidationError("no password given") }
        return line
    }
}

func describe(_ user: User) -> String {
    "\(user.email)  available \(user.creditsAvailable)  on hold \(user.creditsHeld)\(user.isAdmin ? "  admin" : "")\(user.isDisabled ? "  DISABLED" : "")"
}

extension Users {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Accounts whose email contains TEXT, newest first, with balances and marks.")
        @Option(help: "Part of an email.") var query = ""
        @Option var limit = 50
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, administration) = try dataOptions.operatorContext()
            let accounts = try administration.search(query, limit: max(1, min(limit, 1000)), on: db)
            for account in accounts { print(describe(account.user)) }
            print("\(accounts.count) account(s)")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One account: balances, its latest ledger entries and the audit entries about it.")
        @Option var email: String
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, administration) = try dataOptions.operatorContext()
            let user = try runOperator { try administration.account(email: email, on: db) }
            print(describe(user))
            print("ledger (newest first):")
            for entry in try CreditLedger.entries(userID: user.id, limit: 20, beforeRowID: nil, on: db).entries {
                print("  \(ISOTime.string(entry.createdAt))  \(entry.kind)  available \(entry.availableDelta)  held \(entry.heldDelta)  \(entry.reason ?? entry.jobID ?? "")")
            }
            print("audit:")
            for entry in try administration.auditLog(userID: user.id, limit: 20, on: db) {
                print("  \(ISOTime.string(entry.createdAt))  \(entry.action) by \(entry.actor): \(entry.before) → \(entry.after)  (\(entry.reason ?? ""))")
            }
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop an account from signing in or using its API keys; its running videos still finish.")
        @Option var email: String
        @Option var reason: String
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, administration) = try dataOptions.operatorContext()
            let user = try runOperator {
                try administration.setDisabled(true, userID: try administration.account(email: email, on: db).id, reason: reason,
                                               by: .commandLine(), on: db)
            }
            print("disabled: \(describe(user))")
        }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a disabled account back in.")
        @Option var email: String
        @Option var reason: String
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, administration) = try dataOptions.operatorContext()
            let user = try runOperator {
                try administration.setDisabled(false, userID: try administration.account(email: email, on: db).id, reason: reason,
                                               by: .commandLine(), on: db)
            }
            print("enabled: \(describe(user))")
        }
    }
}

extension Credits {
    struct Deduct: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take credits from the spendable balance (never below zero, never from credits on hold).")
        @Option var email: String
        @Option var amount: Int
        @Option var reason: String
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, administration) = try dataOptions.operatorContext()
            let user = try runOperator {
                try administration.move(.deduct, amount: amount, email: email, reason: reason, by: .commandLine(), on: db)
            }
            print("deducted \(amount): \(describe(user))")
        }
    }
}

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The audit log: every operator action, who, what, before and after, and why.")
    @Option(help: "Only actions on this account.") var email: String?
    @Option var limit = 100
    @OptionGroup var dataOptions: DataOptions

    func run() throws {
        let (_, db, administration) = try dataOptions.operatorContext()
        let userID = try email.map { email in try runOperator { try administration.account(email: email, on: db).id } }
        for entry in try administration.auditLog(userID: userID, limit: max(1, min(limit, 10_000)), on: db) {
            print("\(ISOTime.string(entry.createdAt))  \(entry.actor)  \(entry.action)  \(entry.target ?? "")  \(entry.before) → \(entry.after)  \(entry.reason ?? "")")
        }
    }
}

extension Ledger {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The ledger as CSV for accounting, oldest first (formula-like cells escaped).")
        @Option(help: "The CSV file to write.") var out: String
        @Option(help: "From this time (ISO 8601, or a date).") var since: String?
        @Option(help: "Until this time, exclusive.") var until: String?
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let sinceMillis = try since.map { text in
                guard let value = ISOTime.parse(text) else { throw ValidationError("--since: not an ISO 8601 time") }
                return value
            }
            let untilMillis = try until.map { text in
                guard let value = ISOTime.parse(text) else { throw ValidationError("--until: not an ISO 8601 time") }
                return value
            }
            let (_, db, _) = try dataOptions.operatorContext()
            guard FileManager.default.createFile(atPath: out, contents: nil), let file = FileHandle(forWritingAtPath: out) else {
                throw ValidationError("cannot write \(out)")
            }
            defer { try? file.close() }
            var lines = -1
            try LedgerExport.export(since: sinceMillis, until: untilMillis, on: db) { chunk in
                lines += chunk.components(separatedBy: "\r\n").count - 1
                try file.write(contentsOf: Data(chunk.utf8))
            }
            print("wrote \(lines) entries to \(out)")
        }
    }
}

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A consistent copy of the database, taken while the service runs (SQLite's backup API).")
    @Option(help: "The file to write (must not exist).") var to: String
    @OptionGroup var dataOptions: DataOptions

    func run() throws {
        let (_, db, _) = try dataOptions.operatorContext()
        // Made here, owner-only, before SQLite writes into it: the copy holds what the database
        // holds (password hashes, webhook secrets), whatever the umask says.
        let created = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard created >= 0 else {
            throw ValidationError(errno == EEXIST ? "\(to) exists; choose a new file" : "cannot create \(to): \(String(cString: strerror(errno)))")
        }
        close(created)
        try db.backup(to: to)
        let copy = try Database(path: to)
        let report = try LedgerVerifier.verify(on: copy)
        print("backup written to \(to): \(report.usersChecked) accounts, \(report.jobsChecked) videos, ledger \(report.isClean ? "consistent" : "INCONSISTENT")")
        if !report.isClean { throw ExitCode(1) }
    }
}

struct Styles: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The style presets the studio shows as chips above the prompt.",
                                                    subcommands: [List.self, Set.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every preset in the studio's order, switched off ones marked.")
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, _) = try dataOptions.operatorContext()
            for preset in try StylePresets.all(includeDisabled: true, on: db) {
                print("\(preset.position)  \(preset.key)  \(preset.nameVi) / \(preset.nameEn)  \"\(preset.promptText)\"\(preset.isEnabled ? "" : "  (off)")")
            }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a preset (a new key needs both names and its words) or change one.")
        @Option var key: String
        @Option var nameVi: String?
        @Option var nameEn: String?
        @Option var text: String?
        @Option var position: Int?
        @Option var enabled: Bool?
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, _) = try dataOptions.operatorContext()
            let saved = try runOperator {
                try StylePresets.save(key: key, .init(nameVi: nameVi, nameEn: nameEn, promptText: text, position: position, isEnabled: enabled),
                                      by: .commandLine(), clock: .system, on: db)
            }
            print("\(saved.key): \(saved.nameVi) / \(saved.nameEn), \"\(saved.promptText)\", position \(saved.position)\(saved.isEnabled ? "" : ", off")")
        }
    }
}

struct Jobs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Every account's videos.",
                                                    subcommands: [List.self, Stuck.self, Failures.self, Reconcile.self])

    static func line(_ listed: JobAdministration.Listed) -> String {
        let video = listed.video
        return "\(ISOTime.string(video.createdAt))  \(video.id)  \(video.status.rawValue)\(video.deletedAt != nil ? " (deleted)" : "")  "
            + "\(video.model) \(video.durationSeconds)s  \(video.priceCredits) cr  \(listed.ownerEmail)"
            + (video.failureReason.map { "  \($0.rawValue)" } ?? "")
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Videos newest first, deleted ones marked.")
        @Option var state: String?
        @Option var model: String?
        @Option var hours: Int?
        @Option var limit = 100
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let state = try self.state.map { raw in
                guard let value = JobStatus(rawValue: raw) else { throw ValidationError("--state: one of \(JobStatus.allCases.map(\.rawValue).joined(separator: ", "))") }
                return value
            }
            let (configuration, db, _) = try dataOptions.operatorContext()
            if let model, try ModelCatalog.find(model, on: db) == nil { throw ValidationError("--model: no model \(model) (phim models list)") }
            let videos = try JobAdministration(clock: .system, settings: configuration.settings)
                .list(state: state, model: model, hours: hours, limit: max(1, min(limit, 10_000)), on: db)
            videos.forEach { print(Jobs.line($0)) }
            print("\(videos.count) video(s)")
        }
    }

    struct Stuck: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unfinished videos with no news from the provider for longer than the reconciler allows.")
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (configuration, db, _) = try dataOptions.operatorContext()
            let videos = try JobAdministration(clock: .system, settings: configuration.settings).stuck(limit: 1000, on: db)
            videos.forEach { print(Jobs.line($0) + "  last heard \($0.lastHeardAt.map(ISOTime.string) ?? "never")") }
            print("\(videos.count) stuck video(s)")
        }
    }

    struct Failures: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Failed videos grouped by reason and provider code, with an example message.")
        @Option var hours = 24
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (configuration, db, _) = try dataOptions.operatorContext()
            for group in try JobAdministration(clock: .system, settings: configuration.settings).failures(hours: max(1, hours), on: db) {
                print("\(group.count)×  \(group.reason)  code \(group.providerCode ?? "-")  latest \(ISOTime.string(group.latestAt))  \(group.example ?? "")")
            }
        }
    }

    struct Reconcile: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ask the provider about one video now and apply the answer (at most once per reconcile interval).")
        @Option var id: String
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            var (configuration, db, _) = try dataOptions.operatorContext()
            let (provider, simulator) = try ProviderCommand.provider(&configuration)
            defer { simulator?.server.stop() }
            let app = App(settings: configuration.settings, provider: provider)
            let (video, result) = try runOperator {
                try JobAdministration(clock: .system, settings: configuration.settings)
                    .reconcile(videoID: id, provider: app.provider, lifecycle: app.lifecycle, by: .commandLine(), on: db)
            }
            print("\(result)\n\(Jobs.line(video))")
        }
    }
}

struct ProviderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "provider", abstract: "The video provider.",
                                                    subcommands: [Health.self, Check.self, Reconcile.self])

    /// The provider the operator's commands ask: in demo mode, the simulator of the `phim up`
    /// running on the same data directory (its tasks live there).
    static func provider(_ configuration: inout Configuration) throws -> (any VideoProvider, Demo.RunningSimulator?) {
        if configuration.isDemo, configuration.simulatorURL == nil,
           let url = try? String(contentsOfFile: "\(configuration.dataDirectory)/run/simulator.url", encoding: .utf8) {
            configuration.simulatorURL = url
        }
        return try Demo.provider(for: configuration)
    }

    struct Reconcile: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hold every video of a period against its task at the provider (Kie bills a success, not a failure) and list the differences; exits non-zero when a user was charged for a task the provider did not bill.")
        @Option(help: "The last N hours (default 24).") var hours: Int?
        @Option(help: "From this time (ISO 8601 or a date).") var since: String?
        @Option(help: "Until this time (default now).") var until: String?
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            var (configuration, db, _) = try dataOptions.operatorContext()
            let (provider, simulator) = try ProviderCommand.provider(&configuration)
            defer { simulator?.server.stop() }
            let untilMillis = try until.map { text in
                guard let value = ISOTime.parse(text) else { throw ValidationError("--until: not an ISO 8601 time") }
                return value
            } ?? Date().unixMillis + 1
            let sinceMillis = try since.map { text in
                guard let value = ISOTime.parse(text) else { throw ValidationError("--since: not an ISO 8601 time") }
                return value
            } ?? untilMillis - Int64(max(1, hours ?? 24)) * 3_600_000
            let report = try ProviderReconciliation(provider: provider, clock: .system).run(since: sinceMillis, until: untilMillis, on: db)
            print("videos \(ISOTime.string(report.since)) – \(ISOTime.string(report.until)): \(report.lines.count); "
                  + "settled credits \(report.settledCredits); tasks the provider billed \(report.providerBilled)")
            for verdict in ProviderReconciliation.Verdict.allCases {
                let count = report.lines.filter { $0.verdict == verdict }.count
                if count > 0 { print("  \(verdict.rawValue): \(count)") }
            }
            for line in report.differences {
                print("DIFF \(line.verdict.rawValue)  \(line.videoID)  \(line.hold.rawValue)  provider: \(line.providerAnswer)  \(line.priceCredits) cr")
            }
            if let balance = report.balanceNow {
                let moved = report.previousBalance.map { "; \(balance - $0.credits) since \(ISOTime.string($0.checkedAt))" } ?? ""
                print("provider balance: \(balance) credits\(moved)")
            } else {
                print("provider balance: unreadable (\(report.balanceError ?? "unknown"))")
            }
            if !report.overcharges.isEmpty { throw ExitCode(1) }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Is the provider ready for the catalog? The balance; per offered model, what its last real create answered; Kie's public price list next to each price row, differences flagged. Starts no billable task; exits non-zero when a model is unavailable or a price differs.")
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            var (configuration, db, _) = try dataOptions.operatorContext()
            let (provider, simulator) = try ProviderCommand.provider(&configuration)
            defer { simulator?.server.stop() }
            let report = try ProviderCheck(provider: provider, clock: .system).run(on: db)
            print(report.balance.map { "provider balance: \($0) credits" } ?? "provider balance: unreadable (\(report.balanceError ?? "unknown"))")
            if let error = report.feedError { print("Kie's price list: unreadable (\(error)); prices not compared") }
            var unavailable = 0
            for line in report.models {
                let ids = line.model.modes.map { line.model.wire.providerModels[$0]! }
                let state: String
                switch line.liveness {
                case .live(let since): state = "live (accepted a create \(ISOTime.string(since)))"
                case .unavailable(let since, let reason, let recheck):
                    unavailable += 1
                    state = "UNAVAILABLE since \(ISOTime.string(since)): \(reason ?? "")" + (recheck.map { "; tried again after \(ISOTime.string($0))" } ?? "")
                case .neverTried: state = "never tried"
                }
                print("\(line.model.id)  \(Array(Set(ids)).sorted().joined(separator: " + "))  \(state)")
                for price in line.prices {
                    let row = "  \(price.price.durationSeconds) s  \(price.price.resolution)  \(price.price.audio ? "sound" : "silent")  \(price.price.credits) credits"
                    let ours = price.price.providerCredits.map { "Kie list \(ModelsCommand.decimal($0))" } ?? "no Kie price recorded"
                    let feed = price.feedCredits.map { "Kie now \(ModelsCommand.decimal($0))" } ?? "not in Kie's list"
                    print("\(price.differs ? "DIFF" : "    ")\(row)  (\(ours); \(feed))")
                }
            }
            print("\(report.models.count) model(s); \(unavailable) unavailable; \(report.differences) price row(s) differ from Kie's list")
            if unavailable > 0 || report.differences > 0 || report.balance == nil { throw ExitCode(1) }
        }
    }

    struct Health: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Calls, error rate by kind and latency over the last hour (every process), the last success and error, and the provider balance; exits non-zero when the balance is low or unreadable (for a cron check).")
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            var (configuration, db, _) = try dataOptions.operatorContext()
            let (provider, simulator) = try ProviderCommand.provider(&configuration)
            defer { simulator?.server.stop() }
            let report = try ProviderHealth.report(provider: provider, lowBalance: configuration.settings.providerLowBalance, on: db)
            print("last hour: \(report.calls) calls, \(report.failures) failed (\(String(format: "%.1f", report.errorRate * 100)) %), "
                  + "average \(String(format: "%.0f", report.averageMilliseconds)) ms, slowest \(String(format: "%.0f", report.slowestMilliseconds)) ms")
            for (outcome, calls) in report.byOutcome { print("  \(outcome): \(calls)") }
            for line in report.createsByModel { print("  creates of \(line.model) (24 h): \(line.calls), \(line.errors) refused or failed") }
            for model in report.unavailableModels {
                print("  model \(model.id) UNAVAILABLE since \(model.availability.unavailableSince.map(ISOTime.string) ?? "?"): \(model.availability.reason ?? "")")
            }
            print("last success: \(report.lastSuccess.map { "\(ISOTime.string($0.at)) \($0.call)" } ?? "none")")
            print("last error: \(report.lastError.map { "\(ISOTime.string($0.at)) \($0.call): \($0.detail)" } ?? "none")")
            if let balance = report.balance {
                print("provider balance: \(balance) credits\(report.isBalanceLow ? "  LOW (below \(report.lowBalanceThreshold))" : "")")
            } else {
                print("provider balance: unreadable (\(report.balanceError ?? "unknown"))")
            }
            if report.isBalanceLow { throw ExitCode(1) }
        }
    }
}
