import Fluent
import Foundation
import Vapor

// The operator's account commands: the same actions as the admin pages, through the same
// `AccountAdministration`, recorded in the audit log as `cli:<system user>`.

extension Application {
    var administration: AccountAdministration { AccountAdministration(store: store, clock: clock, logger: logger) }
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
        "\(Formatting.iso(action.createdAt))  \(action.actor)  \(action.action.rawValue)  \(action.targetEmail ?? "-")  "
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
