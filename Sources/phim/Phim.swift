import ArgumentParser
import Foundation
import PhimCore
import PhimProvider
import PhimServer
import PhimSupport

/// `phim`: the FastCGI process, the local launcher, the provider simulator and the operators'
/// commands. Every command uses the database `phim up` uses when given the same `--data` (or
/// `DATABASE_URL`).
@main
struct Phim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phim",
        abstract: "Phim: a self-hostable studio for AI video generation.",
        subcommands: [Up.self, FastCGI.self, Migrate.self, Users.self, Credits.self, Ledger.self, ModelsCommand.self, Styles.self, Jobs.self, ProviderCommand.self, Audit.self, QueueCommand.self,
                      CodesCommand.self,
                      PackagesCommand.self,
                      Backup.self, Simulator.self, PaymentsCommand.self])

    static func main() {
        // Line by line even into a pipe or a file, so `phim up`'s banner shows beside the logs.
        setvbuf(stdout, nil, _IOLBF, 0)
        main(nil)
    }
}

/// Options every command that touches the database shares.
struct DataOptions: ParsableArguments {
    @Option(help: "Data directory: the database (phim.sqlite unless DATABASE_URL names a file), uploads, sockets.")
    var data: String?

    func load(port: Int = 8080) throws -> Configuration {
        Crypto.initialize()
        HTTPClient.globalInit()
        return try Configuration.load(dataDirectory: data, port: port)
    }

    /// Opens the database and brings its schema up to date.
    func openDatabase(_ configuration: Configuration) throws -> Database {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let db = try Database(path: configuration.databasePath)
        try Migrations.run(on: db, creditsPerProviderCredit: configuration.settings.creditsPerProviderCredit)
        return db
    }
}

struct FastCGI: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fcgi", abstract: "Run the FastCGI process on a unix socket (nginx passes /api/* to it).")

    @Option(help: "The unix socket to listen on.") var socket: String
    @Option(help: "Worker threads: requests served at once.") var threads = 8
    @Option(help: "The public port, for the default PHIM_PUBLIC_URL.") var port = 8080
    @OptionGroup var dataOptions: DataOptions

    func run() throws {
        FastCGIServer.blockTerminationSignals()
        let configuration = try dataOptions.load(port: port)
        try Demo.refuseUnaskedDemoMode(configuration)
        // glibc gives freed memory back to the system at every chance by default; the worker
        // threads' arenas then shrank and grew again on every request (profiled: `madvise` from
        // `free` was a twentieth of a create's CPU). Up to 64 MiB of free memory stays.
        FastCGIServer.keepFreedMemory(bytes: 64 << 20)
        Database.deferCheckpoints(path: configuration.databasePath)
        let db = try dataOptions.openDatabase(configuration)
        let (provider, simulator) = try Demo.provider(for: configuration)
        let app = App(settings: configuration.settings, provider: provider, hasher: configuration.passwordHasher())
        try Demo.prepareAccount(configuration, accounts: app.accounts, on: db)
        BackgroundLoops.startReconciler(app: app, databasePath: configuration.databasePath)
        BackgroundLoops.startWebhookDispatcher(app: app, databasePath: configuration.databasePath)
        Metrics.shared.startFlushing(databasePath: configuration.databasePath)
        BackgroundLoops.startBalanceCheck(app: app)
        BackgroundLoops.startCheckpointer(databasePath: configuration.databasePath)
        BackgroundLoops.startHousekeeping(app: app, databasePath: configuration.databasePath)
        let dispatcher = Dispatcher(app: app, databasePath: configuration.databasePath)
        dispatcher.start()
        let server = FastCGIServer(app: app, options: .init(socketPath: socket, threads: max(1, threads),
                                                             databasePath: configuration.databasePath))
        try server.run()
        dispatcher.stop(waitingUpTo: 10)
        BackgroundLoops.flushShareViews(databasePath: configuration.databasePath)
        simulator?.server.stop()
    }
}

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or update the tables (safe to repeat).")
    @OptionGroup var dataOptions: DataOptions

    func run() throws {
        let configuration = try dataOptions.load()
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let ran = try Migrations.run(on: Database(path: configuration.databasePath),
                                     creditsPerProviderCredit: configuration.settings.creditsPerProviderCredit)
        print("database \(configuration.databasePath): \(ran) migration(s) applied, schema version \(Migrations.steps.count)")
    }
}

struct Users: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Accounts.", subcommands: [Create.self, List.self, Show.self, Disable.self, Enable.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make an account (audited).",
                                                        discussion: "Without --password, the password is read from standard input: typed without echo at a terminal, or the first line of a pipe.")
        @Option var email: String
        @Option(help: "Visible to other users in the process list and kept in shell history: prefer standard input.") var password: String?
        @Flag(help: "Make it an operator's account.") var admin = false
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let password = try self.password ?? PasswordInput.read(prompt: "Password for \(email): ")
            let configuration = try dataOptions.load()
            let db = try dataOptions.openDatabase(configuration)
            let accounts = Accounts(hasher: configuration.passwordHasher(), clock: .system)
            let user = try runOperator {
                try accounts.register(email: email, password: password, isAdmin: admin, auditedBy: .commandLine(), on: db)
            }
            print("created \(user.email) (\(user.id))\(admin ? ", administrator" : "")")
        }
    }
}

struct Credits: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Credits.", subcommands: [Grant.self, Deduct.self])

    struct Grant: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Grant credits to an account (recorded in the ledger and the audit log with the reason).")
        @Option var email: String
        @Option var amount: Int
        @Option var reason: String
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, administration) = try dataOptions.operatorContext()
            let after = try runOperator {
                try administration.move(.grant, amount: amount, email: email, reason: reason, by: .commandLine(), on: db)
            }
            print("granted \(amount) credits to \(after.email); available \(after.creditsAvailable), on hold \(after.creditsHeld)")
        }
    }
}

struct Ledger: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The credit ledger.", subcommands: [Verify.self, Export.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Recompute every balance from the ledger and check every job's hold; exit non-zero on any mismatch.")
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let configuration = try dataOptions.load()
            let db = try dataOptions.openDatabase(configuration)
            let report = try LedgerVerifier.verify(on: db)
            for problem in report.problems { print("MISMATCH \(problem)") }
            print("ledger: \(report.usersChecked) accounts, \(report.jobsChecked) videos checked, \(report.problems.count) problem(s)")
            if !report.isClean { throw ExitCode(1) }
        }
    }
}

struct Simulator: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the Kie provider simulator on its own (point KIE_BASE_URL at it).")
    @Option(help: "Port on 127.0.0.1.") var port = 8090

    func run() throws {
        FastCGIServer.blockTerminationSignals()
        Crypto.initialize()
        HTTPClient.globalInit()
        let running = try Demo.startSimulator(port: port, mediaBaseURL: nil)
        print("provider simulator on \(running.baseURL) (videos at \(running.simulator.mediaBaseURL))")
        _ = FastCGIServer.waitForTerminationSignal()
        running.dispatcher.stop()
        running.server.stop()
    }
}
