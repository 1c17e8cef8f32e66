import Foundation
import PhimSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The log line every request writes at the default level: one line, whatever the values hold.
final class LogTests: XCTestCase {
    /// What `body` writes to standard error.
    private func standardError(_ body: () -> Void) throws -> String {
        // Lines other tests left waiting for the 0.2 s batch go out first, not into the capture.
        Log.flush()
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        let saved = dup(2)
        dup2(ends[1], 2)
        body()
        dup2(saved, 2)
        close(saved)
        close(ends[1])
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(ends[0], &chunk, chunk.count)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        close(ends[0])
        return String(decoding: bytes, as: UTF8.self)
    }

    func testALineHasTheTimeTheLevelAndEachFieldAndNoValueCanStartAnotherLine() throws {
        let written = try standardError {
            Log.error("request", ["path": "/api/v1/videos", "note": "two words", "forged": "x\n2026-01-01T00:00:00.000Z error admin=\"yes\""])
        }
        XCTAssertEqual(written.filter { $0 == "\n" }.count, 1, written)
        let line = written.dropLast()
        let time = line.prefix(24)
        XCTAssertNotNil(time.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression), String(time))
        let stamped = try XCTUnwrap(ISOTime.parse(String(time)))
        XCTAssertLessThan(abs(stamped - Int64(Date().timeIntervalSince1970 * 1000)), 60_000, "the wall clock, in UTC")
        XCTAssertEqual(line.dropFirst(25), #"error request path=/api/v1/videos note="two words" forged="x\n2026-01-01T00:00:00.000Z error admin=\"yes\"""#)
    }
}
