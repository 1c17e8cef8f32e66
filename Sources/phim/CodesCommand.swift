import ArgumentParser
import Foundation
import PhimCore
import PhimSupport

/// `phim codes`: redemption codes made in batches, listed, disabled; the same rules and audit
/// entries as the admin API's.
struct CodesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codes", abstract: "Redemption codes: make a batch, list them, disable one.",
        subcommands: [Create.self, List.self, Disable.self], defaultSubcommand: List.self)

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a batch of codes and print them (shown in full; audited as codes.create).")
        @Option(help: "Credits each code gives.") var credits: Int
        @Option(help: "How many codes (1–\(RedemptionCodes.maximumBatch)).") var count: Int
        @Option(help: "When the codes stop working (ISO 8601, e.g. 2027-01-31T23:59:59Z).") var expires: String?
        @Option(help: "How many accounts may redeem each code.") var uses = 1
        @Option(help: "A name for the batch (shown in lists and the CSV).") var label: String?
        @Option var reason: String
        @Option(help: "Also write the batch as CSV to this file.") var csv: String?
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            var expiresAt: Int64?
            if let expires {
                guard let parsed = ISOTime.parse(expires) else { throw ValidationError("--expires must be an ISO 8601 time") }
                expiresAt = parsed
            }
            let (_, db, _) = try dataOptions.operatorContext()
            let codes = RedemptionCodes(clock: .system)
            let made = try runOperator {
                try codes.create(credits: credits, count: count, expiresAt: expiresAt, maxUses: uses, label: label, reason: reason,
                                 by: .commandLine(), on: db)
            }
            for code in made { print(code.code) }
            if let csv, let batch = made.first?.batchID {
                try codes.csv(batchID: batch, on: db).write(toFile: csv, atomically: true, encoding: .utf8)
                FileHandle.standardError.write(Data("wrote \(made.count) codes to \(csv)\n".utf8))
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every code, newest first, with its uses.")
        @Option(help: "Only this batch.") var batch: String?
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, _) = try dataOptions.operatorContext()
            for code in try RedemptionCodes(clock: .system).list(batchID: batch, on: db) {
                let state = code.disabledAt != nil ? "disabled" : code.expiresAt.map { $0 <= Date().unixMillis ? "expired" : "expires \(ISOTime.string($0))" } ?? "active"
                print("\(code.code)  \(code.credits) credits  used \(code.usedCount)/\(code.maxUses)  \(state)  \(code.label ?? "")  batch \(code.batchID)")
            }
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a code from being redeemed (audited as codes.disable).")
        @Argument(help: "The code (or its id).") var code: String
        @Option var reason: String
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, _) = try dataOptions.operatorContext()
            let disabled = try runOperator { try RedemptionCodes(clock: .system).disable(code, reason: reason, by: .commandLine(), on: db) }
            print("\(disabled.code) disabled")
        }
    }
}
