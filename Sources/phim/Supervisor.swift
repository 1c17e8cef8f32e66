import Foundation
import PhimSupport
#if canImport(Glibc)
import Glibc
#endif

/// Starts child processes and starts them again when they die, until told to stop.
final class Supervisor: @unchecked Sendable {
    private struct Child {
        var name: String
        var pid: pid_t
        var stopSignal: Int32
    }

    private let children = Locked<[String: Child]>([:])
    private let stopping = Locked(false)

    func keep(name: String, path: String, arguments: [String], environment: [String: String], stopSignal: Int32 = SIGTERM) {
        guard let pid = spawn(path: path, arguments: arguments, environment: environment) else {
            Log.error("could not start", ["process": name, "path": path])
            return
        }
        children.withLock { $0[name] = Child(name: name, pid: pid, stopSignal: stopSignal) }
        startThread(name: "watch-\(name)") { [self] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            if stopping.current { return }
            Log.error("process exited; starting it again", ["process": name, "pid": String(pid), "status": String(status)])
            usleep(300_000)
            if !stopping.current { keep(name: name, path: path, arguments: arguments, environment: environment, stopSignal: stopSignal) }
        }
    }

    /// Sends each child its stop signal and waits for all of them (then SIGKILL).
    func stopAll(timeoutSeconds: Double) {
        stopping.withLock { $0 = true }
        let all = children.current.values
        for child in all { kill(child.pid, child.stopSignal) }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        for child in all {
            while kill(child.pid, 0) == 0, Date() < deadline { usleep(50_000) }
            if kill(child.pid, 0) == 0 { kill(child.pid, SIGKILL) }
        }
    }

    private func spawn(path: String, arguments: [String], environment: [String: String]) -> pid_t? {
        var pid: pid_t = 0
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        // Children start with the default signal mask and handlers (ours blocks SIGTERM/SIGINT).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGINT)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        defer { posix_spawnattr_destroy(&attributes) }
        let result = posix_spawn(&pid, path, nil, &attributes, argv, envp)
        return result == 0 ? pid : nil
    }
}
