import Foundation
import PhimCore
import PhimSupport

/// Work a FastCGI process does besides answering requests: the reconciler, on its own thread
/// with its own database connection. Several processes may each run one; the per-job claim in
/// the database keeps provider queries to one per job per interval in total.
public enum BackgroundLoops {
    public static func startReconciler(app: App, databasePath: String) {
        let interval = app.settings.reconcileIntervalSeconds
        startThread(name: "reconciler") {
            var database: Database?
            var prunedAt: Int64 = 0
            while true {
                do {
                    if database == nil { database = try Database(path: databasePath) }
                    let report = try app.reconciler().runPass(on: database!)
                    Metrics.shared.count("phim_reconciler_passes_total")
                    if report.queried > 0 { Metrics.shared.count("phim_reconciler_queries_total", by: Int64(report.queried)) }
                    if report != Reconciler.PassReport() {
                        Log.info("reconcile pass", ["queried": String(report.queried), "updated": String(report.updated),
                                                    "failures": String(report.queryFailures), "timed_out": String(report.timedOut),
                                                    "unconfirmed": String(report.unconfirmedReleased),
                                                    "deadlines": String(report.deadlinesPassed)])
                    }
                } catch {
                    Log.error("reconcile pass failed", ["error": "\(error)"])
                }
                // Ended rate-limit windows, once an hour: their rows would otherwise stay for ever.
                if app.clock.nowMillis() - prunedAt >= 3_600_000, let db = database {
                    prunedAt = app.clock.nowMillis()
                    do { try RateLimiter(clock: app.clock).prune(on: db) } catch { Log.warning("rate-limit pruning failed", ["error": "\(error)"]) }
                }
                // Passes are cheap when nothing is due (an indexed read); a job is asked about
                // only when its own check time comes, so passing often costs no provider calls.
                app.clock.sleep(min(interval, 5))
            }
        }
    }
}

extension BackgroundLoops {
    /// Copies the write-ahead log into the database file once a second, so no request does it
    /// while holding the write lock (profiled: a tenth of a create's CPU, and an fsync under the
    /// lock every 1,000 pages). Passive: it waits for no reader or writer. Each process runs
    /// one; two at once just find less to copy.
    public static func startCheckpointer(databasePath: String) {
        startThread(name: "checkpointer") {
            var database: Database?
            while true {
                Thread.sleep(forTimeInterval: 1)
                do {
                    if database == nil { database = try Database(path: databasePath) }
                    try database!.checkpoint()
                } catch {
                    Log.warning("checkpoint failed", ["error": "\(error)"])
                }
            }
        }
    }

    /// Reads the provider account's balance every hour and warns in the log when it runs low,
    /// before creates start failing with the provider's 402.
    public static func startBalanceCheck(app: App) {
        startThread(name: "balance-check") {
            while true {
                do {
                    let balance = try app.provider.remainingCredits()
                    if balance < app.settings.providerLowBalance {
                        Log.warning("provider balance is low", ["credits": String(balance), "threshold": String(app.settings.providerLowBalance)])
                    }
                } catch {
                    Log.warning("could not read the provider balance", ["error": "\(error)"])
                }
                Thread.sleep(forTimeInterval: 3_600)
            }
        }
    }
}

extension BackgroundLoops {
    /// Sends queued webhooks on a thread of its own with its own database connection: passes
    /// back to back while there is work, else one a second. Every process runs one; the claim in
    /// the database keeps any attempt to one process.
    public static func startWebhookDispatcher(app: App, databasePath: String) {
        startThread(name: "webhooks") {
            var database: Database?
            let dispatcher = WebhookDispatcher(sender: HTTPWebhookSender(), settings: app.settings, clock: app.clock)
            var prunedAt = Date.distantPast
            while true {
                var busy = false
                do {
                    if database == nil { database = try Database(path: databasePath) }
                    // Finished deliveries past PHIM_WEBHOOK_DELIVERY_RETENTION_DAYS, once an hour.
                    if app.clock.now().timeIntervalSince(prunedAt) >= 3_600 {
                        prunedAt = app.clock.now()
                        let pruned = try dispatcher.pruneFinishedDeliveries(on: database!)
                        if pruned > 0 { Log.info("old webhook deliveries pruned", ["count": String(pruned)]) }
                    }
                    let report = try dispatcher.runPass(on: database!)
                    for (outcome, count) in report.outcomes {
                        Metrics.shared.count("phim_webhook_attempts_total", [("outcome", outcome)], by: Int64(count))
                    }
                    busy = report.attempted > 0
                } catch {
                    Log.error("webhook pass failed", ["error": "\(error)"])
                }
                if !busy { app.clock.sleep(1) }
            }
        }
    }
}

extension BackgroundLoops {
    /// Writes the share pages' views every two seconds (one transaction each) and deletes
    /// expired uploads every five minutes, on a thread of its own with its own connection.
    /// Every process runs one; each writes only its own views, and a deleted upload is deleted once.
    public static func startHousekeeping(app: App, databasePath: String) {
        startThread(name: "housekeeping") {
            var database: Database?
            var nextUploadSweep = Date()
            var nextTopupExpiry = Date()
            while true {
                Thread.sleep(forTimeInterval: 2)
                do {
                    if database == nil { database = try Database(path: databasePath) }
                    try ShareViewCounter.shared.flush(on: database!)
                    if Date() >= nextUploadSweep {
                        nextUploadSweep = Date().addingTimeInterval(300)
                        while try app.uploads.deleteExpired(on: database!) > 0 {}
                    }
                    // Unpaid top-up orders past their time, every 30 s (reads of the orders expire them too).
                    if Date() >= nextTopupExpiry {
                        nextTopupExpiry = Date().addingTimeInterval(30)
                        try TopupOrders(settings: app.settings.payments, clock: app.clock).expireDue(on: database!)
                    }
                } catch {
                    Log.warning("housekeeping pass failed", ["error": "\(error)"])
                }
            }
        }
    }

    /// At shutdown: the views counted since the last flush are written, not lost.
    public static func flushShareViews(databasePath: String) {
        do {
            let written = try ShareViewCounter.shared.flush(on: Database(path: databasePath))
            if written > 0 { Log.info("share views written at shutdown", ["views": String(written)]) }
        } catch {
            Log.error("could not write share views at shutdown", ["error": "\(error)", "views": String(ShareViewCounter.shared.unwritten)])
        }
    }
}
