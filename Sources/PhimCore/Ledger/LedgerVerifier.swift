import Foundation

/// Recomputes every balance from the ledger and checks every job's hold, code use and top-up, for
/// `phim ledger verify` and the tests. Any finding means money was created or lost.
public enum LedgerVerifier {
    public struct Report: Sendable {
        public var usersChecked = 0
        public var jobsChecked = 0
        public var problems: [String] = []
        public var isClean: Bool { problems.isEmpty }
    }

    public static func verify(on db: Database) throws -> Report {
        try db.read {
            var report = Report()
            // Balances against the sums of their entries.
            let balances = try db.query("""
                SELECT u.id, u.email, u.credits_available, u.credits_held,
                       COALESCE(SUM(e.available_delta), 0), COALESCE(SUM(e.held_delta), 0)
                FROM users u LEFT JOIN credit_entries e ON e.user_id = u.id GROUP BY u.id
                """)
            for row in balances {
                report.usersChecked += 1
                if row.int(2) != row.int(4) || row.int(3) != row.int(5) {
                    report.problems.append("\(row.string(1)): balance \(row.int(2))/\(row.int(3)) but ledger says \(row.int(4))/\(row.int(5))")
                }
            }
            // Every job: one hold of its price; an open hold only while unfinished; a closed one
            // has exactly one settle (completed) or one release (failed, canceled).
            let jobs = try db.query("""
                SELECT j.id, j.status, j.hold_state, j.price_credits,
                  (SELECT COUNT(*) FROM credit_entries e WHERE e.job_id = j.id AND e.kind = 'hold' AND e.held_delta = j.price_credits),
                  (SELECT COUNT(*) FROM credit_entries e WHERE e.job_id = j.id AND e.kind = 'settle'),
                  (SELECT COUNT(*) FROM credit_entries e WHERE e.job_id = j.id AND e.kind = 'release')
                FROM video_jobs j
                """)
            for row in jobs {
                report.jobsChecked += 1
                let id = row.string(0), status = row.string(1), hold = row.string(2)
                let holds = row.int(4), settles = row.int(5), releases = row.int(6)
                if holds != 1 { report.problems.append("job \(id): \(holds) holds of its price") }
                let expected: (String, Int, Int) = switch status {
                case "completed": ("settled", 1, 0)
                case "failed", "canceled": ("released", 0, 1)
                default: ("open", 0, 0)
                }
                if hold != expected.0 || settles != expected.1 || releases != expected.2 {
                    report.problems.append("job \(id) (\(status)): hold \(hold), \(settles) settles, \(releases) releases")
                }
            }
            // Every code's uses: counted on the code, and each credited once, for the code's credits.
            let codes = try db.rows("""
                SELECT c.code, c.used_count, (SELECT COUNT(*) FROM redeem_uses u WHERE u.code_id = c.id) AS uses
                FROM redeem_codes c
                """)
            for row in codes where row.int("used_count") != row.int("uses") {
                report.problems.append("code \(row.string("code")): used_count \(row.int("used_count")) but \(row.int("uses")) uses")
            }
            let uses = try db.rows("""
                SELECT c.code, u.user_id, u.credits,
                  (SELECT COUNT(*) FROM credit_entries e WHERE e.unique_key = 'redeem:' || u.code_id || ':' || u.user_id
                     AND e.kind = 'redeem' AND e.user_id = u.user_id AND e.available_delta = u.credits) AS credited,
                  (SELECT COUNT(*) FROM credit_entries e WHERE e.kind = 'redeem' AND e.unique_key = 'redeem:' || u.code_id || ':' || u.user_id) AS entries
                FROM redeem_uses u JOIN redeem_codes c ON c.id = u.code_id
                """)
            for row in uses where row.int("credited") != 1 || row.int("entries") != 1 {
                report.problems.append("code \(row.string("code")) for \(row.string("user_id")): \(row.int("credited")) credits of \(row.int("credits"))")
            }
            let orphans = try db.firstRow("""
                SELECT COUNT(*) AS n FROM credit_entries e WHERE e.kind = 'redeem'
                AND NOT EXISTS (SELECT 1 FROM redeem_uses u WHERE e.unique_key = 'redeem:' || u.code_id || ':' || u.user_id)
                """)?.int("n") ?? 0
            if orphans > 0 { report.problems.append("\(orphans) redeem entries without a recorded use") }
            // Every paid order: one top-up entry `topup:<order>` of its credits to its owner, or (paid
            // through the review queue) none, and an operator's credit to its owner for its money.
            let orders = try db.rows("""
                SELECT o.code, o.credits,
                  (SELECT COUNT(*) FROM credit_entries e WHERE e.unique_key = 'topup:' || o.id AND e.kind = 'topup'
                     AND e.user_id = o.user_id AND e.available_delta = o.credits) AS credited,
                  (SELECT COUNT(*) FROM credit_entries e WHERE e.kind = 'topup' AND e.unique_key = 'topup:' || o.id) AS entries,
                  (SELECT COUNT(*) FROM payment_reviews r WHERE r.order_id = o.id AND r.status = 'credited'
                     AND r.credited_user_id = o.user_id) AS reviewed
                FROM topup_orders o WHERE o.status = 'paid'
                """)
            for row in orders where !(row.int("credited") == 1 && row.int("entries") == 1) && !(row.int("entries") == 0 && row.int("reviewed") > 0) {
                report.problems.append("order \(row.string("code")) (paid): \(row.int("credited")) credits of \(row.int("credits")) in \(row.int("entries")) entries")
            }
            // Every top-up entry: a paid order's, or an operator's credit from a resolved review, for that amount and account.
            let strays = try db.rows("""
                SELECT e.unique_key, e.user_id, e.available_delta FROM credit_entries e WHERE e.kind = 'topup'
                AND NOT EXISTS (SELECT 1 FROM topup_orders o WHERE e.unique_key = 'topup:' || o.id AND o.status = 'paid'
                                AND o.user_id = e.user_id AND o.credits = e.available_delta)
                AND NOT EXISTS (SELECT 1 FROM payment_reviews r WHERE e.unique_key = 'topup-review:' || r.id AND r.status = 'credited'
                                AND r.credited_user_id = e.user_id AND r.credits = e.available_delta)
                """)
            for row in strays {
                report.problems.append("top-up entry \(row.optionalString("unique_key") ?? "(no key)") of \(row.int("available_delta")) to \(row.string("user_id")): no paid order or credited review")
            }
            let uncredited = try db.firstRow("""
                SELECT COUNT(*) AS n FROM bank_notifications WHERE outcome = 'credited' AND credited_at IS NULL
                """)?.int("n") ?? 0
            if uncredited > 0 { report.problems.append("\(uncredited) credited bank notifications without credited_at") }
            return report
        }
    }
}
