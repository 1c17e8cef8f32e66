import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts a detached POSIX thread running `body`.
///
/// The closure travels through `pthread_create`'s argument as a retained box, so the C entry
/// point captures nothing (a capturing closure there crashes the Swift 6.3 compiler, and a
/// closure written in top-level code would inherit the main actor's isolation).
public func startThread(name: String, stackSizeBytes: Int = 512 * 1024, _ body: @escaping @Sendable () -> Void) {
    let box = Unmanaged.passRetained(ThreadBody(name: name, body: body)).toOpaque()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    pthread_attr_setstacksize(&attributes, stackSizeBytes)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    var thread = pthread_t()
    let result = pthread_create(&thread, &attributes, threadEntry, box)
    pthread_attr_destroy(&attributes)
    precondition(result == 0, "pthread_create failed: \(result)")
}

private final class ThreadBody {
    /// Shown in logs; Glibc does not export pthread_setname_np to Swift.
    let name: String
    let body: @Sendable () -> Void
    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}

private func threadEntry(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let argument else { return nil }
    let box = Unmanaged<ThreadBody>.fromOpaque(argument).takeRetainedValue()
    box.body()
    return nil
}
