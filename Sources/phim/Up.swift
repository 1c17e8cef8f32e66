import ArgumentParser
import Foundation
import PhimCore
import PhimServer
import PhimSupport
#if canImport(Glibc)
import Glibc
#endif

/// `phim up`: the whole service on this machine, in the foreground. nginx in a private prefix
/// under the data directory (127.0.0.1:PORT, root `public/`, `/api/*` to the FastCGI sockets),
/// N FastCGI processes sharing one SQLite file, and in demo mode the provider simulator.
/// A FastCGI process that dies is started again; Ctrl-C or SIGTERM stops everything.
struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run Phim locally: nginx, the FastCGI process(es) and, in demo mode, the provider simulator. Run from the repository root.")

    @Option(help: "Port nginx listens on (127.0.0.1).") var port = 8080
    @Option(help: "FastCGI processes (nginx balances over them; one SQLite file for all).") var workers = 1
    @Option(help: "Worker threads per FastCGI process.") var threads = 8
    @OptionGroup var dataOptions: DataOptions

    func run() throws {
        FastCGIServer.blockTerminationSignals()
        signal(SIGPIPE, SIG_IGN)
        // One stream for the whole service: this process's log lines, the FastCGI processes'
        // and nginx's errors all go to standard output (the children inherit both descriptors).
        dup2(1, 2)
        let configuration = try dataOptions.load(port: port)
        let root = FileManager.default.currentDirectoryPath
        guard FileManager.default.fileExists(atPath: "\(root)/public/index.html"),
              FileManager.default.fileExists(atPath: "\(root)/nginx/phim-up.conf.template")
        else { throw ValidationError("run phim up from the repository root (public/ and nginx/ are read from there)") }
        guard let nginx = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ValidationError("nginx is not installed (Debian: apt-get install nginx-light)")
        }

        // The schema and the demo account exist before any process serves.
        let db = try dataOptions.openDatabase(configuration)
        let accounts = Accounts(hasher: PasswordHasher(cost: configuration.passwordCost), clock: .system)
        var environment = ProcessInfo.processInfo.environment
        var simulator: Demo.RunningSimulator?
        let created = try Demo.prepareAccount(configuration, accounts: accounts, on: db)
        if configuration.isDemo {
            let simulatorPort = Int(environment["PHIM_SIMULATOR_PORT"] ?? "") ?? 0
            simulator = try Demo.startSimulator(port: simulatorPort, mediaBaseURL: "\(configuration.settings.publicBaseURL)/simulator/media")
            environment["PHIM_SIMULATOR_URL"] = simulator!.baseURL
            // `phim up` is the zero-setup demo: its FastCGI processes are told so.
            environment["PHIM_DEMO"] = "1"
            // The demo's "simulate the transfer" posts to SePay's route with this key, like SePay would.
            if (environment["PHIM_SEPAY_API_KEY"] ?? "").isEmpty {
                environment["PHIM_SEPAY_API_KEY"] = "demo-" + UUID().uuidString.lowercased()
            }
            print("""
                Demo mode (no KIE_API_KEY): the provider simulator stands in for Kie AI.
                Demo account\(created ? " created" : ""): \(configuration.demoEmail) / \(configuration.demoPassword) (\(Demo.startingCredits) credits at creation)
                """)
        }

        let run = "\(configuration.dataDirectory)/run"
        let prefix = "\(configuration.dataDirectory)/nginx"
        for directory in [run, "\(prefix)/conf", "\(prefix)/temp", "\(prefix)/logs", configuration.settings.uploadsDirectory] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let sockets = (1...max(1, workers)).map { "\(run)/phim-\($0).sock" }
        // Where this run's simulator answers, for operator commands run beside it (`phim jobs reconcile`).
        let simulatorFile = "\(run)/simulator.url"
        try? FileManager.default.removeItem(atPath: simulatorFile)
        if let simulator { try simulator.baseURL.write(toFile: simulatorFile, atomically: true, encoding: .utf8) }
        try NginxTemplate.render(root: root, prefix: prefix, port: port, sockets: sockets,
                                 uploads: configuration.settings.uploadsDirectory,
                                 simulatorURL: simulator?.baseURL)

        let executable = CommandLine.arguments[0].hasPrefix("/") ? CommandLine.arguments[0] : (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let supervisor = Supervisor()
        for (index, socket) in sockets.enumerated() {
            supervisor.keep(name: "fcgi-\(index + 1)", path: executable,
                            arguments: ["fcgi", "--socket", socket, "--threads", String(threads), "--port", String(port),
                                        "--data", configuration.dataDirectory],
                            environment: environment)
        }
        // nginx waits until the sockets exist, so its first requests find a listener.
        let deadline = Date().addingTimeInterval(15)
        while !sockets.allSatisfy({ FileManager.default.fileExists(atPath: $0) }), Date() < deadline { usleep(50_000) }
        supervisor.keep(name: "nginx", path: nginx, arguments: ["-p", prefix, "-c", "\(prefix)/conf/nginx.conf"],
                        environment: environment, stopSignal: SIGQUIT)
        print("Phim is running at http://127.0.0.1:\(port)  (\(sockets.count) FastCGI process(es), database \(configuration.databasePath)); Ctrl-C stops it.")

        let received = FastCGIServer.waitForTerminationSignal()
        Log.info("phim up: stopping", ["signal": String(received)])
        supervisor.stopAll(timeoutSeconds: 40)
        simulator?.dispatcher.stop()
        simulator?.server.stop()
        Log.info("phim up: stopped")
    }
}

/// Fills nginx/phim-up.conf.template for this run.
enum NginxTemplate {
    static func render(root: String, prefix: String, port: Int, sockets: [String], uploads: String, simulatorURL: String?) throws {
        var text = try String(contentsOfFile: "\(root)/nginx/phim-up.conf.template", encoding: .utf8)
        // Started as root, nginx would run its workers as `nobody`, who may not be able to read
        // a checkout in a private home directory; run them as the user who started `phim up`.
        let user = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "nobody"
        let group = getgrgid(getegid()).map { String(cString: $0.pointee.gr_name) } ?? "nogroup"
        var simulatorLocation = ""
        if let simulatorURL {
            // The simulator's sample videos, same origin as the pages (the CSP allows 'self'). Only
            // its media: its API (task records carry the callback URLs and their secrets) stays on
            // loopback, reached by the FastCGI processes directly.
            simulatorLocation = """
                    location /simulator/media/ {
                        proxy_pass \(simulatorURL)/media/;
                        proxy_buffering off;
                    }
            """
        }
        let values: [String: String] = [
            "USER_LINE": geteuid() == 0 ? "user \(user) \(group);" : "",
            "PREFIX": prefix, "PORT": String(port), "PUBLIC_ROOT": "\(root)/public", "NGINX_DIR": "\(root)/nginx",
            "UPLOADS_ROOT": uploads, "AUTH_RATE": ProcessInfo.processInfo.environment["PHIM_AUTH_RATE"] ?? "60r/m",
            // max_fails=0: a process that is restarting is retried on the next request, never
            // shut out for fail_timeout while the others answer.
            "UPSTREAM_SERVERS": sockets.map { "        server unix:\($0) max_fails=0;" }.joined(separator: "\n"),
            "SIMULATOR_LOCATION": simulatorLocation,
        ]
        for (key, value) in values { text = text.replacingOccurrences(of: "{{\(key)}}", with: value) }
        try text.write(toFile: "\(prefix)/conf/nginx.conf", atomically: true, encoding: .utf8)
    }
}
