import Fluent
import Foundation
import SQLKit

/// Recomputes every balance from the ledger and checks every job's hold, for
/// `phim ledger verify` and for tests. Reads only.
struct LedgerVerifier {
    let db: any Database

    struct Report: Sendable {
        var usersChecked = 0
        var jobsChecked = 0
        var entriesChecked = 0
        var problems: [String] = []
        var isConsistent: Bool { problems.isEmpty }
    }

    func verify() async throws -> Report {
        var report = Report()
        let sql = db as! any SQLDatabase // both supported drivers are SQL databases

        // 1. Each user's cached balances equal the sums of their entries.
        struct Sums: Decodable { var user_id: UUID; var available: Int?; var held: Int?; var entries: Int }
        let sums = try await sql.raw("""
            SELECT user_id, CAST(SUM(available_delta) AS BIGINT) AS available, CAST(SUM(held_delta) AS BIGINT) AS held,
                   COUNT(*) AS entries
            FROM credit_entries GROUP BY user_id
            """).all(decoding: Sums.self)
        let sumsByUser = Dictionary(uniqueKeysWithValues: sums.map { ($0.user_id, $0) })
        for user in try await User.query(on: db).all() {
            report.usersChecked += 1
            let id = try user.requireID()
            let available = sumsByUser[id]?.available ?? 0
            let held = sumsByUser[id]?.held ?? 0
            report.entriesChecked += sumsByUser[id]?.entries ?? 0
            if user.creditsAvailable != available {
                report.problems.append("user \(user.email): available \(user.creditsAvailable) but ledger sums to \(available)")
            }
            if user.creditsHeld != held {
                report.problems.append("user \(user.email): on hold \(user.creditsHeld) but ledger sums to \(held)")
            }
            if user.creditsAvailable < 0 || user.creditsHeld < 0 {
                report.problems.append("user \(user.email): negative balance")
            }
        }

        // 2. Each job has one hold of its price, and is closed exactly as its state says.
        struct JobEntry: Decodable { var job_id: UUID; var kind: String; var count: Int; var held: Int? }
        let jobEntries = try await sql.raw("""
            SELECT job_id, kind, COUNT(*) AS count, CAST(SUM(held_delta) AS BIGINT) AS held
            FROM credit_entries WHERE job_id IS NOT NULL GROUP BY job_id, kind
            """).all(decoding: JobEntry.self)
        var entriesByJob: [UUID: [String: JobEntry]] = [:]
        for entry in jobEntries { entriesByJob[entry.job_id, default: [:]][entry.kind] = entry }

        for job in try await VideoJob.query(on: db).all() {
            report.jobsChecked += 1
            let id = try job.requireID()
            let entries = entriesByJob.removeValue(forKey: id) ?? [:]
            let name = "job \(id.uuidString.lowercased()) (\(job.status.rawValue))"
            guard let hold = entries["hold"], hold.count == 1, hold.held == job.priceCredits else {
                report.problems.append("\(name): expected one hold of \(job.priceCredits)")
                continue
            }
            let settles = entries["settle"]?.count ?? 0
            let releases = entries["release"]?.count ?? 0
            switch (job.status, settles, releases) {
            case (.completed, 1, 0) where job.holdState == .settled: break
            case (.failed, 0, 1) where job.holdState == .released, (.canceled, 0, 1) where job.holdState == .released: break
            case (let status, 0, 0) where !status.isTerminal && job.holdState == .open: break
            default:
                report.problems.append("\(name): hold \(job.holdState.rawValue), \(settles) settle(s), \(releases) release(s)")
            }
        }
        for orphan in entriesByJob.keys {
            report.problems.append("ledger entries for unknown job \(orphan.uuidString.lowercased())")
        }
        return report
    }
}
