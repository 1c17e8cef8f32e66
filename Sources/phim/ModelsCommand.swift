import ArgumentParser
import Foundation
import PhimCore
import PhimProvider
import PhimServer
import PhimSupport

/// `phim models`: the catalog of video models, changed without a rebuild. Every change is
/// audited with its reason, like the admin Models page's.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "The video models Phim offers: options, prices, availability.",
        subcommands: [List.self, Show.self, Enable.self, Disable.self, SetPrice.self, SetDefault.self, Recheck.self,
                      Import.self, Export.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every model with its state and price range.")
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, _) = try dataOptions.operatorContext()
            let now = Date().unixMillis
            for model in try ModelCatalog.all(on: db) {
                print(ModelsCommand.line(model, now: now))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One model: its provider ids, options, state and every price row.")
        @Argument var id: String
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, _) = try dataOptions.operatorContext()
            guard let model = try ModelCatalog.find(id, on: db) else { throw ValidationError("no model \(id)") }
            let now = Date().unixMillis
            print(ModelsCommand.line(model, now: now))
            print("  \(model.name.vi) / \(model.name.en)")
            print("  \(model.description.en)")
            print("  family \(model.wire.family.rawValue); " + model.modes.map { "\($0.rawValue): \(model.wire.providerModels[$0]!)" }.joined(separator: ", "))
            print("  lengths \(model.wire.duration.values.map { "\($0) s" }.joined(separator: ", ")); ratios \(model.wire.aspectRatio.values.joined(separator: ", ")); "
                  + "resolutions \(model.wire.resolution.ids.joined(separator: ", ")); sound \(model.wire.audio.policy.rawValue)")
            let availability = model.availability
            if let since = availability.unavailableSince {
                print("  unavailable since \(ISOTime.string(since)): \(availability.reason ?? "")"
                      + (availability.recheckAt.map { "; tried again after \(ISOTime.string($0))" } ?? ""))
            }
            if let accepted = availability.lastAcceptedAt { print("  last accepted by the provider \(ISOTime.string(accepted))") }
            for price in model.prices {
                let kie = price.providerCredits.map { "  (Kie \(ModelsCommand.decimal($0)))" } ?? ""
                print("  \(price.durationSeconds) s  \(price.resolution)  \(price.audio ? "sound" : "silent")  \(price.credits) credits\(kie)")
            }
        }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Offer a model to people.")
        @Argument var id: String
        @Option var reason: String
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, administration) = try dataOptions.operatorContext()
            let model = try runOperator { try administration.setModelEnabled(id, true, reason: reason, by: .commandLine(), on: db) }
            print(ModelsCommand.line(model, now: Date().unixMillis))
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop offering a model (its videos keep their name and price).")
        @Argument var id: String
        @Option var reason: String
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, administration) = try dataOptions.operatorContext()
            let model = try runOperator { try administration.setModelEnabled(id, false, reason: reason, by: .commandLine(), on: db) }
            print(ModelsCommand.line(model, now: Date().unixMillis))
        }
    }

    struct SetPrice: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-price", abstract: "Change one price row; videos already made keep the price they were held at.")
        @Argument var id: String
        @Option var duration: Int
        @Option var resolution: String
        @Option(help: "on or off") var audio: String
        @Option var credits: Int
        @Option var reason: String
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            guard let sound = ["on": true, "off": false, "true": true, "false": false][audio.lowercased()] else {
                throw ValidationError("--audio is on or off")
            }
            let (_, db, administration) = try dataOptions.operatorContext()
            _ = try runOperator {
                try administration.setModelPrice(id, duration: duration, resolution: resolution.lowercased(), audio: sound, credits: credits,
                                                 reason: reason, by: .commandLine(), on: db)
            }
            print("\(id) \(duration) s \(resolution.lowercased()) \(sound ? "sound" : "silent"): \(credits) credits")
        }
    }

    struct SetDefault: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-default", abstract: "The model a request that names none gets.")
        @Argument var id: String
        @Option var reason: String
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, administration) = try dataOptions.operatorContext()
            let model = try runOperator { try administration.setDefaultModel(id, reason: reason, by: .commandLine(), on: db) }
            print(ModelsCommand.line(model, now: Date().unixMillis))
        }
    }

    struct Recheck: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget that the provider refused a model: the next create tries it again.")
        @Argument var id: String
        @Option var reason: String
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, administration) = try dataOptions.operatorContext()
            let model = try runOperator { try administration.recheckModel(id, reason: reason, by: .commandLine(), on: db) }
            print(ModelsCommand.line(model, now: Date().unixMillis))
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add or replace models from a catalog file (the format `export` writes); all of it or nothing.")
        @Argument(help: "The catalog file (JSON); - reads standard input.") var file: String
        @Option var reason: String
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (configuration, db, administration) = try dataOptions.operatorContext()
            let data: Data
            if file == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let read = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
                data = read
            }
            let models: [CatalogModel]
            do {
                models = try ModelCatalog.parseFile(data, creditsPerProviderCredit: configuration.settings.creditsPerProviderCredit)
            } catch let problem as WireSpec.Problem {
                throw ValidationError("\(file): \(problem)")
            }
            let result = try runOperator { try administration.importModels(models, reason: reason, by: .commandLine(), on: db) }
            print("added: \(result.added.isEmpty ? "none" : result.added.joined(separator: ", "))")
            print("updated: \(result.updated.isEmpty ? "none" : result.updated.joined(separator: ", "))")
            if !result.unchanged.isEmpty { print("unchanged: \(result.unchanged.joined(separator: ", "))") }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the catalog as a file `import` reads.")
        @Option(help: "Only these models (repeat the option).") var model: [String] = []
        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let (_, db, _) = try dataOptions.operatorContext()
            let models = try ModelCatalog.all(on: db).filter { model.isEmpty || self.model.contains($0.id) }
            guard !models.isEmpty else { throw ValidationError("no such model") }
            print(ModelsCommand.pretty(ModelCatalog.fileJSON(models)))
        }
    }

    /// One line: id, state, provider ids, prices from–to.
    static func line(_ model: CatalogModel, now: Int64) -> String {
        var state: [String] = []
        if model.isDefault { state.append("DEFAULT") }
        if model.retired { state.append("retired") } else if !model.enabled { state.append("disabled") }
        if model.availability.isUnavailable(at: now) { state.append("UNAVAILABLE: \(model.availability.reason ?? "")") }
        let range = model.priceRange.map { "\($0.lowerBound)–\($0.upperBound) credits" } ?? "no prices"
        let ids = Array(Set(model.wire.providerModels.values)).sorted().joined(separator: " + ")
        return "\(model.id)  \(ids)  \(range)" + (state.isEmpty ? "" : "  " + state.joined(separator: "  "))
    }

    static func decimal(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.2f", value).replacingOccurrences(of: #"0+$"#, with: "", options: .regularExpression)
    }

    /// Indented JSON for people (keys sorted; `import` reads any order).
    static func pretty(_ json: JSON) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: json.data()),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return json.serialized() }
        return String(decoding: data, as: UTF8.self)
    }
}
