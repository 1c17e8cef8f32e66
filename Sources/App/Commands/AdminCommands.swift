import Fluent
import Foundation
import Vapor

// The operator's account commands: the same actions as the admin pages, through the same
// `AccountAdministration`, recorded in the audit log as `cli:<system user>`.

extension Application {
    var administration: AccountAdministration { AccountAdministration(store: store, clock: clock, logger: logger) }
    var prices: PriceAdministration { PriceAdministration(store: store, clock: clock, logger: logger) }
    var jobAdministration: JobAdministration {
        JobAdministration(store: store, clock: clock, logger: logger, provider: provider,
                          lifecycle: jobLifecycle(logger: logger), settings: phimConfig.reconciler)
    }
}

/// Runs an operator action, turning a refusal into the command's error message (in English).
private func refusalsAsFailures<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as AppError {
        throw CommandFailure(error.message(in: .en))
    }
}

private func describe(_ user: User) -> String {
    let state = user.disabledAt == nil ? "" : "  DISABLED"
    return "\(user.email)  \(user.id?.uuidString.lowercased() ?? "")  available \(user.creditsAvailable)  held \(user.creditsHeld)"
        + (user.isAdmin ? "  admin" : "") + state
}

extension UsersCommand {
    struct List: AsyncCommand {
        struct Signature: CommandSignature {
            @Option(name: "query", help: "Only emails containing this text.") var query: String?
            @Option(name: "limit", help: "At most this many (default 50).") var limit: Int?
        }
        var help: String { "Lists accounts, newest first, with their balances." }

        func run(using context: CommandContext, signature: Signature) async throws {
            let app = context.application
            try await app.migrateSafely()
            let users = try await app.administration.search(signature.query ?? "", limit: max(1, min(signature.limit ?? 50, 10_000)))
            for user in users { context.console.print(describe(user)) }
            context.console.print("\(users.count) account(s).")
        }
    }

    struct Show: AsyncCommand {
        struct Signature: CommandSignature {
            @Option(name: "email", help: "Whose account.") var email: String?
        }
        var help: String { "Shows an account: balances, its latest ledger entries and audit entries." }

        func run(using context: CommandContext, signature: Signature) async throws {
            let app = context.application
            try await app.migrateSafely()
            let user = try await refusalsAsFailures { try await app.administration.account(email: signature.email ?? "") }
            let userID = try user.requireID()
            context.console.print(describe(user))
            let entries = try await CreditEntry.query(on: app.db).filter(\.$user.$id == userID)
                .sort(\.$createdAt, .descending).limit(20).all()
            context.console.print("Latest ledger entries:")
            for entry in entries {
                context.console.print("  \(Formatting.iso(entry.createdAt))  \(entry.kind.rawValue)  available \(entry.availableDelta)  held \(entry.heldDelta)"
                    + (entry.reason.map { "  \"\($0)\"" } ?? ""))
            }
            let actions = try await app.administration.auditLog(for: userID, limit: 20)
            context.console.print("Audit entries:")
            for action in actions { context.console.print("  " + AuditCommand.line(action)) }
        }
    }

    /// `disable` and `enable`.
    struct SetDisabled: AsyncCommand {
        let disable: Bool
        struct Signature: CommandSignature {
            @Option(name: "email", help: "Whose account.") var email: String?
            @Option(name: "reason", help: "Why; kept in the audit log (required).") var reason: String?
        }
        var help: String {
            disable ? "Disables an account: no sign-in, no API calls; its running videos still finish and settle."
                : "Enables a disabled account again."
        }

        func run(using context: CommandContext, signature: Signature) async throws {
            let app = context.application
            try await app.migrateSafely()
            let administration = app.administration
            let user = try await refusalsAsFailures {
                let user = try await administration.account(email: signature.email ?? "")
                return disable ? try await administration.disable(try user.requireID(), reason: signature.reason ?? "", by: .commandLine())
                    : try await administration.enable(try user.requireID(), reason: signature.reason ?? "", by: .commandLine())
            }
            context.console.success(describe(user))
        }
    }
}

extension CreditsCommand {
    /// `grant` and `deduct`.
    struct Move: AsyncCommand {
        let grant: Bool
        struct Signature: CommandSignature {
            @Option(name: "email", help: "Whose account.") var email: String?
            @Option(name: "amount", help: "Whole credits, more than 0.") var amount: Int?
            @Option(name: "reason", help: "Why; kept in the ledger and the audit log (required).") var reason: String?
        }
        var help: String {
            grant ? "Grants credits to an account." : "Deducts credits from an account's spendable balance (never below zero)."
        }

        func run(using context: CommandContext, signature: Signature) async throws {
            let app = context.application
            try await app.migrateSafely()
            let administration = app.administration
            let user = try await refusalsAsFailures {
                let user = try await administration.account(email: signature.email ?? "")
                let amount = signature.amount ?? 0
                return grant ? try await administration.grant(amount, to: try user.requireID(), reason: signature.reason ?? "", by: .commandLine())
                    : try await administration.deduct(amount, from: try user.requireID(), reason: signature.reason ?? "", by: .commandLine())
            }
            context.console.success("\(grant ? "Granted" : "Deducted") \(signature.amount ?? 0) credits; \(describe(user))")
        }
    }
}

/// `phim audit [--email E] [--limit N]`: the operators' actions, newest first.
struct AuditCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "email", help: "Only actions on this account.") var email: String?
        @Option(name: "limit", help: "At most this many (default 100).") var limit: Int?
    }
    var help: String { "Lists operators' actions (who, what, when, before and after)." }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        try await app.migrateSafely()
        let administration = app.administration
        var targetID: UUID?
        if let email = signature.email {
            targetID = try await refusalsAsFailures { try await administration.account(email: email) }.requireID()
        }
        let actions = try await administration.auditLog(for: targetID, limit: max(1, min(signature.limit ?? 100, 10_000)))
        for action in actions { context.console.print(Self.line(action)) }
        context.console.print("\(actions.count) action(s).")
    }

    static func line(_ action: AdminAction) -> String {
        "\(Formatting.iso(action.createdAt))  \(action.actor)  \(action.action.rawValue)  \(action.target ?? "-")  "
            + "\(action.before) → \(action.after)" + (action.reason.map { "  \"\($0)\"" } ?? "")
    }
}

extension LedgerCommand {
    /// `phim ledger export --out FILE [--since T] [--until T]`.
    struct Export: AsyncCommand {
        struct Signature: CommandSignature {
            @Option(name: "out", help: "The CSV file to write (it must not exist).") var out: String?
            @Option(name: "since", help: "First moment, ISO 8601 (default: the beginning).") var since: String?
            @Option(name: "until", help: "End, ISO 8601, not included (default: now).") var until: String?
        }
        var help: String { "Writes the credit ledger as CSV for accounting." }

        func run(using context: CommandContext, signature: Signature) async throws {
            let app = context.application
            try await app.migrateSafely()
            // A file, not standard output: log lines go there too and would spoil the CSV.
            guard let out = signature.out, !out.isEmpty else { throw CommandFailure("--out FILE is required.") }
            let since = try signature.since.map(Self.date) ?? Date(timeIntervalSince1970: 0)
            let until = try signature.until.map(Self.date) ?? app.clock.now()
            var text = ""
            let export = LedgerExport(db: app.db)
            guard !FileManager.default.fileExists(atPath: out) else { throw CommandFailure("\(out) exists already.") }
            guard FileManager.default.createFile(atPath: out, contents: nil), let handle = FileHandle(forWritingAtPath: out) else {
                throw CommandFailure("Cannot write \(out).")
            }
            defer { try? handle.close() }
            let count = try await export.write(since: since, until: until) { line in
                text += line + "\n"
                if text.utf8.count > 1 << 16 {
                    handle.write(Data(text.utf8))
                    text = ""
                }
            }
            handle.write(Data(text.utf8))
            context.console.success("Wrote \(count) ledger entries to \(out).")
        }

        static func date(_ text: String) throws -> Date {
            guard let date = try? Date(text, strategy: .iso8601) else {
                throw CommandFailure("\(text) is not an ISO 8601 time (e.g. 2026-11-01T00:00:00Z).")
            }
            return date
        }
    }
}

/// `phim prices list` and `phim prices set`: the price table the admin page edits.
struct PricesCommand: AsyncCommandGroup {
    var help: String { "Shows and changes what videos cost." }
    var commands: [String: any AnyAsyncCommand] { ["list": List(), "set": Change()] }

    struct List: AsyncCommand {
        struct Signature: CommandSignature {}
        var help: String { "Lists every price: model, length, quality, credits." }

        func run(using context: CommandContext, signature: Signature) async throws {
            let app = context.application
            try await app.migrateSafely()
            for price in try await app.prices.all() {
                context.console.print("\(PriceAdministration.label(price))  \(price.credits) credits  (changed \(Formatting.iso(price.updatedAt)))")
            }
        }
    }

    struct Change: AsyncCommand {
        struct Signature: CommandSignature {
            @Option(name: "model", help: "A model id, e.g. sora-2-text-to-video.") var model: String?
            @Option(name: "duration", help: "Seconds, e.g. 10.") var duration: Int?
            @Option(name: "quality", help: "standard or high.") var quality: String?
            @Option(name: "credits", help: "The new price in whole credits.") var credits: Int?
            @Option(name: "reason", help: "Why (optional; kept in the audit log).") var reason: String?
        }
        var help: String { "Changes one price; videos created afterwards cost the new price, earlier ones keep theirs." }

        func run(using context: CommandContext, signature: Signature) async throws {
            let app = context.application
            try await app.migrateSafely()
            let prices = app.prices
            let price = try await refusalsAsFailures {
                let row = try await prices.find(model: signature.model ?? "", durationSeconds: signature.duration ?? 0,
                                                quality: signature.quality ?? "standard")
                return try await prices.set(try row.requireID(), credits: signature.credits ?? 0, reason: signature.reason,
                                            by: .commandLine())
            }
            context.console.success("\(PriceAdministration.label(price)) now costs \(price.credits) credits.")
        }
    }
}

/// `phim jobs list|stuck|failures|reconcile`: every account's videos, as on `/admin/jobs`.
struct JobsCommand: AsyncCommandGroup {
    var help: String { "Looks at every account's videos." }
    var commands: [String: any AnyAsyncCommand] {
        ["list": List(), "stuck": Stuck(), "failures": Failures(), "reconcile": Reconcile()]
    }

    static func line(_ row: JobAdministration.Row) -> String {
        "\(row.id.uuidString.lowercased())  \(row.email)  \(row.status.rawValue)  \(row.model)  \(row.priceCredits) credits  "
            + "created \(Formatting.iso(row.createdAt))  last news \(row.lastHeardAt.map(Formatting.iso) ?? "-")"
            + (row.failureReason.map { "  \($0.rawValue)" } ?? "") + (row.deletedAt == nil ? "" : "  (deleted)")
    }

    struct List: AsyncCommand {
        struct Signature: CommandSignature {
            @Option(name: "state", help: "submitting, pending, processing, completed, failed or canceled.") var state: String?
            @Option(name: "model", help: "A model id, e.g. sora-2-text-to-video.") var model: String?
            @Option(name: "hours", help: "Only videos created in the last N hours.") var hours: Int?
            @Option(name: "limit", help: "At most this many (default 100).") var limit: Int?
        }
        var help: String { "Lists every account's videos, newest first." }

        func run(using context: CommandContext, signature: Signature) async throws {
            let app = context.application
            try await app.migrateSafely()
            var filter = JobAdministration.Filter()
            if let raw = signature.state {
                guard let status = JobStatus(rawValue: raw) else { throw CommandFailure("--state must be one of \(JobStatus.allCases.map(\.rawValue).joined(separator: ", ")).") }
                filter.status = status
            }
            if let raw = signature.model {
                guard let model = VideoModel(rawValue: raw) else { throw CommandFailure("--model must be one of \(VideoModel.allCases.map(\.rawValue).joined(separator: ", ")).") }
                filter.model = model
            }
            if let hours = signature.hours {
                guard hours > 0 else { throw CommandFailure("--hours must be above 0.") }
                filter.hours = hours
            }
            let rows = try await app.jobAdministration.list(filter, limit: max(1, min(signature.limit ?? 100, 10_000)))
            for row in rows { context.console.print(JobsCommand.line(row)) }
            context.console.print("\(rows.count) video(s).")
        }
    }

    struct Stuck: AsyncCommand {
        struct Signature: CommandSignature {}
        var help: String { "Unfinished videos with no news from the provider for longer than the reconciler allows." }

        func run(using context: CommandContext, signature: Signature) async throws {
            let app = context.application
            try await app.migrateSafely()
            let jobs = app.jobAdministration
            let rows = try await jobs.stuck()
            for row in rows { context.console.print(JobsCommand.line(row)) }
            context.console.print("\(rows.count) stuck video(s) (no news for more than \(Int(jobs.stuckAfter)) s).")
        }
    }

    struct Failures: AsyncCommand {
        struct Signature: CommandSignature {
            @Option(name: "hours", help: "The last N hours (default 24).") var hours: Int?
        }
        var help: String { "Failed videos grouped by reason and provider code." }

        func run(using context: CommandContext, signature: Signature) async throws {
            let app = context.application
            try await app.migrateSafely()
            let hours = signature.hours ?? 24
            guard hours > 0 else { throw CommandFailure("--hours must be above 0.") }
            let groups = try await app.jobAdministration.failures(hours: hours)
            for group in groups {
                context.console.print("\(group.count)  \(group.failureReason?.rawValue ?? "-")  code \(group.providerFailCode ?? "-")  e.g. \(group.example ?? "-")")
            }
            context.console.print("\(groups.map(\.count).reduce(0, +)) failed video(s) in the last \(hours) h.")
        }
    }

    struct Reconcile: AsyncCommand {
        struct Signature: CommandSignature {
            @Option(name: "id", help: "The video's id.") var id: String?
        }
        var help: String { "Asks the provider about one video now and applies the answer." }

        func run(using context: CommandContext, signature: Signature) async throws {
            let app = context.application
            try await app.migrateSafely()
            guard let id = signature.id.flatMap(UUID.init(uuidString:)) else { throw CommandFailure("--id must be a video id.") }
            let jobs = app.jobAdministration
            let result = try await refusalsAsFailures { try await jobs.reconcileNow(id, by: .commandLine()) }
            switch result {
            case .finished(let status): context.console.print("Already \(status.rawValue); nothing to ask.")
            case .noTask: throw CommandFailure("The provider never confirmed this video's task; it cannot be looked up without its id.")
            case .askedRecently(let seconds): throw CommandFailure("Asked less than an interval ago; try again in \(seconds) s.")
            case .queried(let before, let after, let state):
                context.console.success("Provider says \(state); the video went from \(before.rawValue) to \(after.rawValue).")
            case .queryFailed(let message): throw CommandFailure("The provider could not be asked: \(message)")
            }
        }
    }
}

extension ProviderCommand {
    /// `phim provider health`: the provider's last hour and its balance, as on `/admin/provider`.
    struct Health: AsyncCommand {
        struct Signature: CommandSignature {}
        var help: String {
            "Calls, errors and latency to the provider over the last hour (all instances), the last success and error, and the balance; exits non-zero when the balance is low or unreadable."
        }

        func run(using context: CommandContext, signature: Signature) async throws {
            let app = context.application
            try await app.migrateSafely()
            let health = ProviderHealth(store: app.store, clock: app.clock, provider: app.provider, callLog: app.providerCallLog,
                                        lowBalance: app.phimConfig.providerLowBalance)
            let report = try await health.report(checkBalance: true)
            if report.calls.isEmpty { context.console.print("No calls to the provider in the last hour.") }
            for call in report.calls {
                let p95 = call.p95AtMostMilliseconds.map { "<= \($0) ms" } ?? "> 10 s"
                context.console.print("\(call.call): \(call.count) calls, \(String(format: "%.1f", call.errorRate * 100)) % errors, "
                    + "average \(call.averageMilliseconds) ms, p95 \(p95), slowest \(call.maxMilliseconds) ms"
                    + (call.errorsByOutcome.isEmpty ? "" : "; " + call.errorsByOutcome.map { "\($0.outcome) x \($0.count)" }.joined(separator: ", ")))
            }
            context.console.print("Last success: \(report.lastSuccess.map(Formatting.iso) ?? "never"); last error: "
                + (report.lastError.map { "\(Formatting.iso($0.at)) \($0.outcome)" } ?? "never"))
            guard let balance = report.balance else {
                throw CommandFailure("Could not read the provider balance: \(report.balanceError ?? "unknown error")")
            }
            context.console.print("Balance: \(balance) credits" + (report.previousBalance.map { " (\(balance - $0.credits) since \(Formatting.iso($0.checkedAt)))" } ?? ""))
            if report.isBalanceLow {
                throw CommandFailure("The provider balance (\(balance)) is below \(report.lowBalance) credits (PHIM_PROVIDER_LOW_BALANCE).")
            }
        }
    }
}

/// `phim styles list` and `phim styles set`: the style presets the studio shows as chips.
struct StylesCommand: AsyncCommandGroup {
    var help: String { "Shows and edits the style presets (chips that add words to a prompt)." }
    var commands: [String: any AnyAsyncCommand] { ["list": List(), "set": Change()] }

    struct List: AsyncCommand {
        struct Signature: CommandSignature {}
        var help: String { "Lists every style preset, in the studio's order." }

        func run(using context: CommandContext, signature: Signature) async throws {
            let app = context.application
            try await app.migrateSafely()
            for style in try await StylePresetAdministration(store: app.store, clock: app.clock, logger: app.logger).all() {
                context.console.print("\(style.position)  \(style.key)  \(style.nameVi) / \(style.nameEn)  \"\(style.promptText)\""
                    + (style.enabled ? "" : "  (off)"))
            }
        }
    }

    struct Change: AsyncCommand {
        struct Signature: CommandSignature {
            @Option(name: "key", help: "The preset's key (a-z, 0-9, dashes); a new key adds a preset.") var key: String?
            @Option(name: "name-vi", help: "Its name in Vietnamese.") var nameVi: String?
            @Option(name: "name-en", help: "Its name in English.") var nameEn: String?
            @Option(name: "text", help: "The words it adds to a prompt.") var text: String?
            @Option(name: "position", help: "Its place among the chips (lower first).") var position: Int?
            @Option(name: "enabled", help: "true to show it, false to hide it.") var enabled: String?
        }
        var help: String { "Adds a style preset or changes the fields given." }

        func run(using context: CommandContext, signature: Signature) async throws {
            let app = context.application
            try await app.migrateSafely()
            var enabled: Bool?
            if let raw = signature.enabled {
                guard let value = Bool(raw.lowercased()) else { throw CommandFailure("--enabled must be true or false.") }
                enabled = value
            }
            let styles = StylePresetAdministration(store: app.store, clock: app.clock, logger: app.logger)
            let change = StylePresetAdministration.Change(nameVi: signature.nameVi, nameEn: signature.nameEn, promptText: signature.text,
                                                         position: signature.position, enabled: enabled)
            let style = try await refusalsAsFailures { try await styles.save(key: signature.key ?? "", change, by: .commandLine()) }
            context.console.success("\(style.key): \(style.nameVi) / \(style.nameEn) adds \"\(style.promptText)\"" + (style.enabled ? "" : " (off)"))
        }
    }
}
