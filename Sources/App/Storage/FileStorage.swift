import Foundation
import NIOCore

/// Where uploaded reference images are kept. The provider fetches them by URL, so every
/// instance must be able to serve every file: one machine uses the local disk; several machines
/// share a volume mounted at `PHIM_DATA_DIR` (see the README).
protocol FileStorage: Sendable {
    /// Stores `data` under `key` (e.g. `uploads/<id>.png`), replacing nothing: keys are fresh ids.
    func write(_ data: ByteBuffer, key: String) async throws
    /// The file's location on disk, for streaming it back; `nil` when there is no such file.
    func localPath(forKey key: String) -> String?
}

/// Files under a directory on the local disk.
struct LocalDiskStorage: FileStorage {
    let root: URL

    init(directory: String) {
        root = URL(fileURLWithPath: directory, isDirectory: true).standardizedFileURL
    }

    func write(_ data: ByteBuffer, key: String) async throws {
        let target = try url(forKey: key)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        // Written to a temporary name first, so a reader never sees half a file.
        let temporary = target.deletingLastPathComponent().appendingPathComponent(".\(UUID().uuidString).part")
        try Data(buffer: data).write(to: temporary)
        try FileManager.default.moveItem(at: temporary, to: target)
    }

    func localPath(forKey key: String) -> String? {
        guard let url = try? url(forKey: key), FileManager.default.fileExists(atPath: url.path) else { return nil }
        return url.path
    }

    /// Keys are made by Phim, but a key read from a URL is checked to stay inside `root`.
    private func url(forKey key: String) throws -> URL {
        let url = root.appendingPathComponent(key).standardizedFileURL
        guard url.path.hasPrefix(root.path + "/"), !key.contains("..") else {
            throw CocoaError(.fileReadInvalidFileName)
        }
        return url
    }
}
