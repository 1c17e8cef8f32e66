import App
import Logging
import Vapor

// Start-up only: read the environment, pick the command, build and run the application.
var env = try Environment.detect()
// LOG_FORMAT=json: one JSON object per line, for log collectors; else Vapor's console lines.
let logsJSON = ProcessInfo.processInfo.environment["LOG_FORMAT"]?.lowercased() == "json"
try LoggingSystem.bootstrap(from: &env) { level in
    let console = Terminal()
    return { label in
        RedactingLogHandler(wrapping: logsJSON ? JSONLogHandler(label: label, level: level)
                                               : ConsoleLogger(label: label, console: console, level: level))
    }
}

let command = env.arguments.dropFirst().first
// `phim simulator --port P` is `serve` for an application that is only the simulator.
let isStandaloneSimulator = command == "simulator"
if isStandaloneSimulator { env.arguments[1] = "serve" }
let isServing = command == nil || command == "serve" || command?.hasPrefix("-") == true

let config: AppConfig
do {
    config = try AppConfig.fromEnvironment(runsBackgroundWorkers: isServing)
} catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(2)
}

let app = try await Application.make(env)
do {
    if isStandaloneSimulator {
        let publicURL = ProcessInfo.processInfo.environment["PHIM_SIMULATOR_PUBLIC_URL"]
        try await configureStandaloneSimulator(app, config, publicURL: publicURL)
    } else {
        try await configure(app, config)
    }
} catch {
    app.logger.report(error: error)
    try? await app.asyncShutdown()
    exit(1)
}
do {
    try await app.execute()
} catch {
    // The command system has already printed the error.
    try? await app.asyncShutdown()
    exit(1)
}
try await app.asyncShutdown()
