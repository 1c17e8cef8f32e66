import Fluent
import SQLKit
import Vapor

extension Application {
    /// The operator's commands beside `serve`: `migrate`, `users create|list|show|disable|enable`,
    /// `credits grant|deduct`, `prices list|set`, `jobs list|stuck|failures|reconcile`, `styles list|set`, `ledger verify|export`, `audit`, `backup`, `provider reconcile`. (`simulator` is set up in `main.swift`, as it needs no database.)
    func registerCommands() {
        asyncCommands.use(MigrateCommand(), as: "migrate")
        asyncCommands.use(UsersCommand(), as: "users")
        asyncCommands.use(CreditsCommand(), as: "credits")
        asyncCommands.use(LedgerCommand(), as: "ledger")
        asyncCommands.use(PricesCommand(), as: "prices")
        asyncCommands.use(JobsCommand(), as: "jobs")
        asyncCommands.use(StylesCommand(), as: "styles")
        asyncCommands.use(AuditCommand(), as: "audit")
        asyncCommands.use(BackupCommand(), as: "backup")
        asyncCommands.use(ProviderCommand(), as: "provider")
        asyncCommands.use(BenchCommand(), as: "bench")
    }
}

/// Brings the database schema up to date; safe to run again.
struct MigrateCommand: AsyncCommand {
    struct Signature: CommandSignature {}
    var help: String { "Creates or updates the database tables." }

    func run(using context: CommandContext, signature: Signature) async throws {
        try await context.application.migrateSafely()
        context.console.success("Database is up to date.")
    }
}

struct UsersCommand: AsyncCommandGroup {
    var help: String { "Manages accounts." }
    var commands: [String: any AnyAsyncCommand] {
        ["create": CreateUser(), "list": List(), "show": Show(),
         "disable": SetDisabled(disable: true), "enable": SetDisabled(disable: false)]
    }

    struct CreateUser: AsyncCommand {
        struct Signature: CommandSignature {
            @Option(name: "email", help: "The account's email address.") var email: String?
            @Option(name: "password", help: "At least 8 characters.") var password: String?
            @Flag(name: "admin", help: "Make the account an operator.") var admin: Bool
        }
        var help: String { "Creates an account." }

        func run(using context: CommandContext, signature: Signature) async throws {
            let app = context.application
            try await app.migrateSafely()
            let email = try AuthController.validEmail(signature.email)
            let password = try AuthController.validPassword(signature.password)
            let user = User(email: email, passwordHash: try await app.password.async.hash(password),
                            isAdmin: signature.admin, createdAt: app.clock.now())
            do {
                try await user.create(on: app.db)
            } catch let error as any DatabaseError where error.isConstraintFailure {
                throw CommandFailure("An account with the email \(email) exists already.")
            }
            context.console.success("Created \(signature.admin ? "operator" : "user") \(email) (\(try user.requireID())).")
        }
    }
}

struct CreditsCommand: AsyncCommandGroup {
    var help: String { "Moves credits." }
    var commands: [String: any AnyAsyncCommand] { ["grant": Move(grant: true), "deduct": Move(grant: false)] }
}

struct LedgerCommand: AsyncCommandGroup {
    var help: String { "Checks and exports the credit ledger." }
    var commands: [String: any AnyAsyncCommand] { ["verify": Verify(), "export": Export()] }

    struct Verify: AsyncCommand {
        struct Signature: CommandSignature {}
        var help: String { "Recomputes every balance from the ledger; exits non-zero on any mismatch." }

        func run(using context: CommandContext, signature: Signature) async throws {
            let app = context.application
            try await app.migrateSafely()
            let report = try await LedgerVerifier(db: app.db).verify()
            context.console.print("Checked \(report.usersChecked) users, \(report.jobsChecked) jobs, \(report.entriesChecked) ledger entries.")
            guard report.isConsistent else {
                for problem in report.problems { context.console.error(problem) }
                throw CommandFailure("The ledger does not match: \(report.problems.count) problem(s).")
            }
            context.console.success("Ledger OK: every balance equals the sum of its entries.")
        }
    }
}

/// `phim backup --to FILE`: a consistent copy of the SQLite database, taken while `serve` runs.
///
/// `VACUUM INTO` reads the whole database in one read transaction, so the copy is one moment's
/// state (with WAL, writers carry on meanwhile), and writes it compacted to a new file.
struct BackupCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "to", help: "The new file to write (it must not exist).") var to: String?
    }
    var help: String { "Writes a consistent copy of the SQLite database while the service runs." }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        guard case .sqliteFile(let path) = app.phimConfig.database else {
            throw CommandFailure("backup copies a SQLite database; for PostgreSQL use pg_dump, which takes a consistent snapshot too.")
        }
        guard let target = signature.to?.trimmingCharacters(in: .whitespaces), !target.isEmpty else {
            throw CommandFailure("--to FILE is required.")
        }
        guard FileManager.default.fileExists(atPath: path) else { throw CommandFailure("There is no database at \(path).") }
        guard !FileManager.default.fileExists(atPath: target) else {
            throw CommandFailure("\(target) exists already; backup never overwrites a file.")
        }
        let started = ContinuousClock.now
        try await (app.db as! any SQLDatabase).raw("VACUUM INTO \(bind: target)").run()
        let size = (try? FileManager.default.attributesOfItem(atPath: target)[.size] as? Int) ?? 0
        context.console.success("Backed up \(path) to \(target) (\(size) bytes) in \(started.duration(to: .now)).")
    }
}

struct ProviderCommand: AsyncCommandGroup {
    var help: String { "Checks the video provider: its health, and Phim's books against it." }
    var commands: [String: any AnyAsyncCommand] { ["reconcile": Reconcile(), "health": Health()] }

    /// `phim provider reconcile`: what our ledger settled and refunded over a period against
    /// what the provider says about each task, and its balance movement since the last run.
    struct Reconcile: AsyncCommand {
        struct Signature: CommandSignature {
            @Option(name: "hours", help: "The period: the last N hours (default 24).") var hours: Int?
            @Option(name: "since", help: "The period's start, ISO 8601 (e.g. 2026-11-01T00:00:00Z); instead of --hours.") var since: String?
            @Option(name: "until", help: "The period's end, ISO 8601 (default now).") var until: String?
        }
        var help: String {
            "Compares the videos of a period with the provider's tasks and lists the differences; exits non-zero if a user was charged for a task the provider did not bill."
        }

        func run(using context: CommandContext, signature: Signature) async throws {
            let app = context.application
            try await app.migrateSafely()
            func date(_ text: String?, _ name: String) throws -> Date? {
                guard let text else { return nil }
                guard let date = ISO8601DateFormatter().date(from: text) else {
                    throw CommandFailure("--\(name) must be an ISO 8601 time such as 2026-11-01T00:00:00Z.")
                }
                return date
            }
            let until = try date(signature.until, "until") ?? app.clock.now()
            if let hours = signature.hours, hours <= 0 { throw CommandFailure("--hours must be a whole number above 0.") }
            let since = try date(signature.since, "since") ?? until.addingTimeInterval(-3600 * Double(signature.hours ?? 24))
            guard since < until else { throw CommandFailure("The period is empty: --since must come before --until.") }

            let report = try await ProviderReconciliation(db: app.db, provider: app.provider, clock: app.clock)
                .run(since: since, until: until)
            let console = context.console
            let iso = ISO8601DateFormatter()
            console.print("Provider reconciliation \(iso.string(from: since)) … \(iso.string(from: until))")
            console.print("Phim:     \(report.lines.count) videos: \(report.count(.settled)) charged (\(report.settledCredits) credits), "
                + "\(report.count(.released)) refunded, \(report.count(.open)) still running")
            let byAnswer = Dictionary(grouping: report.lines, by: { $0.provider.summary }).mapValues(\.count)
            console.print("Provider: " + byAnswer.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
            if let now = report.balanceNow {
                var line = "Balance:  \(now) provider credits now"
                if let previous = report.previousBalance {
                    line += "; \(previous.credits) at \(iso.string(from: previous.checkedAt)) (moved \(now - previous.credits))"
                }
                console.print(line)
            } else {
                console.warning("Balance:  could not be read (\(report.balanceError ?? "unknown error"))")
            }
            let differences = report.differences
            if differences.isEmpty {
                console.success("No differences: every settled video was billed by the provider, every refunded one was not.")
                return
            }
            console.print("Differences (\(differences.count)):")
            for line in differences {
                console.print("  \(line.videoID.uuidString.lowercased())  \(iso.string(from: line.createdAt))  "
                    + "\(line.hold.rawValue) \(line.priceCredits)  provider: \(line.provider.summary)  task \(line.providerTaskID ?? "-")  "
                    + "\(line.failure?.rawValue ?? "")  → \(line.verdict.rawValue)")
            }
            if !report.overcharges.isEmpty {
                throw CommandFailure("\(report.overcharges.count) video(s) were charged although the provider did not bill them.")
            }
        }
    }
}

/// `phim bench …`: what `bench/run.sh` needs from inside the service.
struct BenchCommand: AsyncCommandGroup {
    var help: String { "Benchmark helpers (used by bench/run.sh)." }
    var commands: [String: any AnyAsyncCommand] { ["seed": BenchSeedCommand(), "commit-rate": BenchCommitRateCommand()] }
}

/// A command's error for the operator, printed as is.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
