import ArgumentParser
import Foundation
import PhimCore
import PhimSupport

/// `phim packages`: the credit packages people buy by bank transfer, listed, set and disabled;
/// the same rules and audit entries as the admin API's.
struct PackagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "packages", abstract: "Top-up packages: list them, create or change one, stop selling one.",
        subcommands: [List.self, Set.self, Disable.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every package, in the order people see them, disabled ones too.")
        @Flag(help: "As JSON, one object a package in an array.") var json = false
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, _) = try dataOptions.operatorContext()
            let packages = try TopupPackages.list(includeDisabled: true, on: db)
            if json {
                print(JSON.array(packages.map { package in
                    .object([("id", .string(package.id)), ("name_vi", .string(package.nameVI)), ("name_en", .string(package.nameEN)),
                             ("amount_vnd", .int(package.amountVND)), ("credits", .int(package.credits)),
                             ("enabled", .bool(package.isEnabled)), ("sort_order", .int(package.sortOrder)),
                             ("updated_at", .string(ISOTime.string(package.updatedAt)))])
                }).serialized())
                return
            }
            for package in packages {
                print("\(package.id)  \(package.amountVND) VND  \(package.credits) credits  \(package.isEnabled ? "enabled" : "disabled")  order \(package.sortOrder)  \(package.nameVI) / \(package.nameEN)")
            }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or replace a package (audited as packages.set).")
        @Argument(help: "The package id: 1–32 of a-z, 0-9 and dashes.") var id: String
        @Option(name: .customLong("name-vi"), help: "Its name in Vietnamese.") var nameVI: String
        @Option(name: .customLong("name-en"), help: "Its name in English.") var nameEN: String
        @Option(name: .customLong("price-vnd"), help: "The price in VND (10,000 to 100,000,000).") var priceVND: Int
        @Option(help: "The credits it gives.") var credits: Int
        @Flag(help: "Keep it out of sale.") var disabled = false
        @Option(help: "Its position in the list (smaller first); unchanged when omitted.") var order: Int?
        @Option var reason: String
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, _) = try dataOptions.operatorContext()
            let saved = try runOperator {
                try TopupPackages.set(id: id, .init(nameVI: nameVI, nameEN: nameEN, amountVND: priceVND, credits: credits,
                                                    isEnabled: !disabled, sortOrder: order),
                                      reason: reason, by: .commandLine(), clock: .system, on: db)
            }
            print("\(saved.id)  \(saved.amountVND) VND  \(saved.credits) credits  \(saved.isEnabled ? "enabled" : "disabled")")
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop selling a package (audited as packages.disable); orders placed keep it.")
        @Argument(help: "The package id.") var id: String
        @Option var reason: String
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, _) = try dataOptions.operatorContext()
            let package = try runOperator { try TopupPackages.disable(id: id, reason: reason, by: .commandLine(), clock: .system, on: db) }
            print("\(package.id) disabled")
        }
    }
}
