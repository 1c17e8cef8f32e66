import Foundation
import PhimSupport

/// The schema, as numbered steps run in order, all pending ones in one transaction. The number of the
/// last step applied is kept in `PRAGMA user_version`, so every process opening the file brings
/// it up to date exactly once (the write lock makes concurrent starters wait, then skip).
///
/// Times are Unix milliseconds; credits are integers; flags are 0/1.
public enum Migrations {
    public static let steps: [String] = [
        // 1: accounts, sessions, keys, uploads, prices, video jobs and the credit ledger.
        """
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            is_admin INTEGER NOT NULL DEFAULT 0,
            credits_available INTEGER NOT NULL DEFAULT 0 CHECK (credits_available >= 0),
            credits_held INTEGER NOT NULL DEFAULT 0 CHECK (credits_held >= 0),
            feed_version INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            disabled_at INTEGER
        );
        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            csrf_token TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        );
        CREATE INDEX sessions_by_user ON sessions(user_id);
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            key_prefix TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        );
        CREATE INDEX api_keys_by_user ON api_keys(user_id, created_at);
        CREATE TABLE uploads (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            storage_key TEXT NOT NULL UNIQUE,
            content_type TEXT NOT NULL,
            byte_size INTEGER NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE prices (
            model TEXT NOT NULL,
            duration_seconds INTEGER NOT NULL,
            quality TEXT NOT NULL,
            credits INTEGER NOT NULL CHECK (credits > 0),
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (model, duration_seconds, quality)
        );
        CREATE TABLE video_jobs (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            mode TEXT NOT NULL,
            model TEXT NOT NULL,
            prompt TEXT NOT NULL,
            aspect_ratio TEXT NOT NULL,
            duration_seconds INTEGER NOT NULL,
            quality TEXT NOT NULL,
            upload_id TEXT REFERENCES uploads(id),
            image_url TEXT,
            price_credits INTEGER NOT NULL,
            idempotency_key TEXT,
            request_fingerprint TEXT NOT NULL,
            request_id TEXT,
            status TEXT NOT NULL,
            progress INTEGER NOT NULL DEFAULT 0,
            hold_state TEXT NOT NULL,
            callback_secret_hash TEXT NOT NULL,
            provider_task_id TEXT,
            provider_state TEXT,
            video_url TEXT,
            watermark_video_url TEXT,
            failure_reason TEXT,
            provider_fail_code TEXT,
            provider_fail_message TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            finished_at INTEGER,
            last_heard_at INTEGER,
            last_queried_at INTEGER,
            next_check_at INTEGER,
            deadline_at INTEGER,
            deleted_at INTEGER,
            feed_version INTEGER NOT NULL DEFAULT 0,
            UNIQUE (user_id, idempotency_key)
        );
        CREATE INDEX video_jobs_gallery ON video_jobs(user_id, created_at DESC, id DESC);
        CREATE INDEX video_jobs_by_status ON video_jobs(user_id, status);
        CREATE INDEX video_jobs_feed ON video_jobs(user_id, feed_version);
        CREATE INDEX video_jobs_due ON video_jobs(status, next_check_at);
        CREATE TABLE credit_entries (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            job_id TEXT REFERENCES video_jobs(id),
            kind TEXT NOT NULL,
            available_delta INTEGER NOT NULL,
            held_delta INTEGER NOT NULL,
            reason TEXT,
            unique_key TEXT UNIQUE,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX credit_entries_by_user ON credit_entries(user_id, created_at DESC);
        CREATE INDEX credit_entries_by_job ON credit_entries(job_id);
        """,
        // 2: the audit log of operators' actions, written in the same transaction as each action.
        """
        CREATE TABLE admin_actions (
            id TEXT PRIMARY KEY,
            actor_id TEXT REFERENCES users(id),
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target_user_id TEXT REFERENCES users(id),
            target TEXT,
            reason TEXT,
            before TEXT NOT NULL,
            after TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX admin_actions_by_time ON admin_actions(created_at DESC);
        CREATE INDEX admin_actions_by_target ON admin_actions(target_user_id, created_at DESC);
        CREATE INDEX users_by_created ON users(created_at DESC);
        """,
        // 3: style presets, the chips above the prompt (seeded by `StylePresets.seedDefaults`).
        """
        CREATE TABLE style_presets (
            key TEXT PRIMARY KEY,
            name_vi TEXT NOT NULL,
            name_en TEXT NOT NULL,
            prompt_text TEXT NOT NULL,
            position INTEGER NOT NULL,
            enabled INTEGER NOT NULL DEFAULT 1,
            updated_at INTEGER NOT NULL
        );
        """,
        // 4: sharing (a public link per shared video) and fresh download links for old results.
        """
        ALTER TABLE video_jobs ADD COLUMN share_token TEXT;
        ALTER TABLE video_jobs ADD COLUMN shared_at INTEGER;
        ALTER TABLE video_jobs ADD COLUMN fresh_url TEXT;
        ALTER TABLE video_jobs ADD COLUMN fresh_url_until INTEGER;
        CREATE UNIQUE INDEX video_jobs_by_share_token ON video_jobs(share_token) WHERE share_token IS NOT NULL;
        """,
        // 5: abuse limits, counted per key and fixed window (keys stored as digests).
        """
        CREATE TABLE rate_limit_counters (
            bucket TEXT NOT NULL,
            window_start INTEGER NOT NULL,
            hits INTEGER NOT NULL,
            PRIMARY KEY (bucket, window_start)
        );
        """,
        // 6: each process's counters (requests, provider calls, callbacks), kept per process so
        // a scrape through any process sums them all and a restart loses nothing.
        """
        CREATE TABLE metric_counters (
            process TEXT NOT NULL,
            name TEXT NOT NULL,
            labels TEXT NOT NULL,
            value INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (process, name, labels)
        );
        """,
        // 7: provider calls tallied per minute by every process (for provider health), and the
        // last success and error seen.
        """
        CREATE TABLE provider_call_minutes (
            minute INTEGER NOT NULL,
            process TEXT NOT NULL,
            call TEXT NOT NULL,
            outcome TEXT NOT NULL,
            calls INTEGER NOT NULL,
            micros_total INTEGER NOT NULL,
            micros_max INTEGER NOT NULL,
            PRIMARY KEY (minute, process, call, outcome)
        );
        CREATE TABLE provider_last_events (
            kind TEXT PRIMARY KEY,
            at INTEGER NOT NULL,
            call TEXT NOT NULL,
            detail TEXT NOT NULL
        );
        """,
        // 8: outbound webhooks: each account's secret and endpoint, the delivery log with every
        // attempt, and a video's own webhook_url and event filter.
        """
        CREATE TABLE webhook_endpoints (
            user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            url TEXT,
            events TEXT,
            secret TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        );
        CREATE TABLE webhook_deliveries (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            job_id TEXT NOT NULL REFERENCES video_jobs(id),
            message_id TEXT NOT NULL UNIQUE,
            event_type TEXT NOT NULL,
            url TEXT NOT NULL,
            payload TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER,
            claim TEXT,
            last_attempt_at INTEGER,
            last_status_code INTEGER,
            last_error TEXT,
            created_at INTEGER NOT NULL,
            delivered_at INTEGER
        );
        CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at);
        CREATE INDEX webhook_deliveries_by_user ON webhook_deliveries(user_id);
        CREATE INDEX webhook_deliveries_by_job ON webhook_deliveries(user_id, job_id);
        CREATE TABLE webhook_attempts (
            id INTEGER PRIMARY KEY,
            delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
            attempted_at INTEGER NOT NULL,
            status_code INTEGER,
            error TEXT,
            duration_ms INTEGER NOT NULL
        );
        CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts(delivery_id, id);
        ALTER TABLE video_jobs ADD COLUMN webhook_url TEXT;
        ALTER TABLE video_jobs ADD COLUMN webhook_events TEXT;
        """,
        // 9: views of shared videos, counted per video and day without storing who viewed.
        """
        CREATE TABLE share_views (
            job_id TEXT NOT NULL REFERENCES video_jobs(id),
            day INTEGER NOT NULL,
            views INTEGER NOT NULL,
            PRIMARY KEY (job_id, day)
        );
        ALTER TABLE video_jobs ADD COLUMN share_views INTEGER NOT NULL DEFAULT 0;
        """,
        // 10: the provider balance as each provider reconciliation saw it, so the next can say how far it moved.
        """
        CREATE TABLE provider_balance_checks (
            checked_at INTEGER NOT NULL,
            credits INTEGER NOT NULL
        );
        """,
        // 11: the reconciler's passes look up unfinished jobs by age and by deadline through an
        // index (they read every unfinished job's row before: profiled at a tenth of the FastCGI
        // process's time while thousands of videos were being made).
        """
        CREATE INDEX video_jobs_by_status_age ON video_jobs(status, created_at);
        CREATE INDEX video_jobs_deadlines ON video_jobs(deadline_at) WHERE deadline_at IS NOT NULL;
        """,
        // 12: the model catalog (Kie withdrew Sora 2): models and their prices as data, which
        // replace the `prices` table (`ModelCatalog.adoptLegacyPrices` moves its rows, then drops
        // it). A video records its resolution, sound, and the provider's family, model id, list
        // price and actual charge; Sora's `quality` becomes its resolution, and its ratios the
        // catalog's ("landscape" is 16:9).
        """
        CREATE TABLE models (
            id TEXT PRIMARY KEY,
            definition TEXT NOT NULL,
            position INTEGER NOT NULL,
            enabled INTEGER NOT NULL DEFAULT 1,
            is_default INTEGER NOT NULL DEFAULT 0,
            retired INTEGER NOT NULL DEFAULT 0,
            unavailable_since INTEGER,
            unavailable_reason TEXT,
            recheck_at INTEGER,
            last_accepted_at INTEGER,
            last_refused_at INTEGER,
            last_refusal TEXT,
            updated_at INTEGER NOT NULL
        );
        CREATE UNIQUE INDEX models_single_default ON models(is_default) WHERE is_default = 1;
        CREATE TABLE model_prices (
            model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            duration_seconds INTEGER NOT NULL,
            resolution TEXT NOT NULL,
            audio INTEGER NOT NULL,
            credits INTEGER NOT NULL CHECK (credits > 0),
            provider_millicredits INTEGER,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (model_id, duration_seconds, resolution, audio)
        );
        ALTER TABLE video_jobs ADD COLUMN resolution TEXT NOT NULL DEFAULT '';
        ALTER TABLE video_jobs ADD COLUMN audio INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE video_jobs ADD COLUMN provider_family TEXT NOT NULL DEFAULT 'market';
        ALTER TABLE video_jobs ADD COLUMN provider_model TEXT;
        ALTER TABLE video_jobs ADD COLUMN provider_list_millicredits INTEGER;
        ALTER TABLE video_jobs ADD COLUMN provider_consumed_millicredits INTEGER;
        UPDATE video_jobs SET resolution = quality, audio = 1, provider_model = model,
          provider_list_millicredits = 1000 * CASE
            WHEN model LIKE 'sora-2-pro-%' AND quality = 'high' THEN CASE duration_seconds WHEN 15 THEN 630 ELSE 330 END
            WHEN model LIKE 'sora-2-pro-%' THEN CASE duration_seconds WHEN 15 THEN 270 ELSE 150 END
            WHEN model LIKE '%-stable' THEN CASE duration_seconds WHEN 15 THEN 40 ELSE 35 END
            ELSE CASE duration_seconds WHEN 15 THEN 45 ELSE 30 END END;
        UPDATE video_jobs SET aspect_ratio = '16:9' WHERE aspect_ratio = 'landscape';
        UPDATE video_jobs SET aspect_ratio = '9:16' WHERE aspect_ratio = 'portrait';
        ALTER TABLE video_jobs DROP COLUMN quality;
        CREATE INDEX video_jobs_completions ON video_jobs(model, finished_at) WHERE status = 'completed';
        CREATE TABLE provider_model_minutes (
            minute INTEGER NOT NULL,
            process TEXT NOT NULL,
            model TEXT NOT NULL,
            outcome TEXT NOT NULL,
            calls INTEGER NOT NULL,
            PRIMARY KEY (minute, process, model, outcome)
        );
        """,
        // 13: upload limits and the expiry sweep look uploads up by owner and age, and videos by upload.
        """
        CREATE INDEX uploads_by_user ON uploads(user_id, created_at);
        CREATE INDEX uploads_by_age ON uploads(created_at);
        CREATE INDEX video_jobs_by_upload ON video_jobs(upload_id) WHERE upload_id IS NOT NULL;
        """,
        // 14: the admission queue (Kie allows 20 creates per 10 s and caps running tasks): a job
        // is held and queued at once and sent later by the dispatcher. `sent_at` is when the
        // provider was given it (every older job was sent when made); a send is journaled in
        // `provider_sends`, whose last 10 seconds are the window the limit counts; accounts take
        // turns (`dispatch_turns`); one row holds the dispatcher's lease, a pause after Kie's 429,
        // the operators' limits, and the limits of the dispatching process's settings (what
        // `phim queue` shows when no operator set them).
        """
        ALTER TABLE video_jobs ADD COLUMN sent_at INTEGER;
        ALTER TABLE video_jobs ADD COLUMN dispatch_after INTEGER;
        ALTER TABLE video_jobs ADD COLUMN dispatch_attempts INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE video_jobs ADD COLUMN stopped_waiting_at INTEGER;
        UPDATE video_jobs SET sent_at = created_at;
        CREATE INDEX video_jobs_queued ON video_jobs(user_id, created_at) WHERE status = 'queued';
        CREATE INDEX video_jobs_by_status_sent ON video_jobs(status, sent_at);
        CREATE TABLE provider_sends (
            id INTEGER PRIMARY KEY,
            job_id TEXT NOT NULL,
            sent_at INTEGER NOT NULL,
            outcome TEXT NOT NULL DEFAULT 'sending'
        );
        CREATE INDEX provider_sends_by_time ON provider_sends(sent_at);
        CREATE TABLE dispatch_turns (
            user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            last_sent_at INTEGER NOT NULL
        );
        CREATE TABLE provider_dispatch (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            holder TEXT,
            lease_until INTEGER NOT NULL DEFAULT 0,
            paused_until INTEGER NOT NULL DEFAULT 0,
            creates_per_10s INTEGER CHECK (creates_per_10s > 0),
            max_running INTEGER CHECK (max_running > 0),
            settings_creates_per_10s INTEGER,
            settings_max_running INTEGER
        );
        INSERT INTO provider_dispatch (id) VALUES (1);
        """,
        // 15: redemption codes an operator makes in batches; each account redeems a code once
        // (`redeem_uses` is unique per code and account), and `used_count` never passes `max_uses`.
        """
        CREATE TABLE redeem_codes (
            id TEXT PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            credits INTEGER NOT NULL CHECK (credits > 0),
            max_uses INTEGER NOT NULL DEFAULT 1 CHECK (max_uses >= 1),
            used_count INTEGER NOT NULL DEFAULT 0 CHECK (used_count >= 0 AND used_count <= max_uses),
            expires_at INTEGER,
            disabled_at INTEGER,
            batch_id TEXT NOT NULL,
            label TEXT,
            created_by TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX redeem_codes_by_batch ON redeem_codes(batch_id);
        CREATE INDEX redeem_codes_by_time ON redeem_codes(created_at DESC);
        CREATE TABLE redeem_uses (
            code_id TEXT NOT NULL REFERENCES redeem_codes(id),
            user_id TEXT NOT NULL REFERENCES users(id),
            credits INTEGER NOT NULL,
            used_at INTEGER NOT NULL,
            UNIQUE (code_id, user_id)
        );
        """,
        // 16: top-ups by bank transfer. Packages an operator sells; orders a person places (the package
        // snapshotted, a unique payment code); every bank notification journaled once per (provider,
        // transaction id) before any decision; notifications that credit nothing automatically wait in
        // `payment_reviews` for an operator. An order is credited once: ledger key `topup:<order>`.
        """
        CREATE TABLE topup_packages (
            id TEXT PRIMARY KEY,
            name_vi TEXT NOT NULL,
            name_en TEXT NOT NULL,
            amount_vnd INTEGER NOT NULL CHECK (amount_vnd > 0),
            credits INTEGER NOT NULL CHECK (credits > 0),
            enabled INTEGER NOT NULL DEFAULT 1,
            sort_order INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        );
        CREATE TABLE topup_orders (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            package_id TEXT NOT NULL REFERENCES topup_packages(id),
            package_name_vi TEXT NOT NULL,
            package_name_en TEXT NOT NULL,
            code TEXT NOT NULL UNIQUE,
            amount_vnd INTEGER NOT NULL CHECK (amount_vnd > 0),
            credits INTEGER NOT NULL CHECK (credits > 0),
            status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'expired', 'canceled', 'review')),
            bank_bin TEXT NOT NULL,
            bank_account TEXT NOT NULL,
            bank_account_name TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            paid_at INTEGER,
            notification_id TEXT
        );
        CREATE INDEX topup_orders_by_user ON topup_orders(user_id, created_at DESC);
        CREATE INDEX topup_orders_by_status ON topup_orders(status, expires_at);
        CREATE TABLE bank_notifications (
            id TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            provider_txn_id TEXT NOT NULL,
            direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
            amount_vnd INTEGER NOT NULL,
            account TEXT,
            code TEXT,
            content TEXT,
            reference TEXT,
            transaction_time TEXT,
            raw TEXT NOT NULL,
            received_at INTEGER NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('credited', 'review', 'ignored')),
            order_id TEXT REFERENCES topup_orders(id),
            credited_at INTEGER,
            UNIQUE (provider, provider_txn_id)
        );
        CREATE INDEX bank_notifications_by_time ON bank_notifications(received_at DESC);
        CREATE INDEX bank_notifications_by_credit ON bank_notifications(credited_at) WHERE credited_at IS NOT NULL;
        CREATE TABLE payment_reviews (
            id TEXT PRIMARY KEY,
            notification_id TEXT NOT NULL UNIQUE REFERENCES bank_notifications(id),
            reason TEXT NOT NULL,
            order_id TEXT REFERENCES topup_orders(id),
            amount_vnd INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'credited', 'attached', 'refunded')),
            credited_user_id TEXT REFERENCES users(id),
            credits INTEGER,
            resolved_by TEXT,
            resolved_at INTEGER,
            resolution_note TEXT,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX payment_reviews_open ON payment_reviews(status, created_at);
        """,
    ]

    /// Applies the steps this file has not seen yet, then adds the shipped models the catalog
    /// lacks (priced at `creditsPerProviderCredit`). Returns how many steps ran.
    @discardableResult
    public static func run(on db: Database, creditsPerProviderCredit: Double = Settings.defaultCreditsPerProviderCredit) throws -> Int {
        try db.write {
            let applied = try db.first("PRAGMA user_version")?.int(0) ?? 0
            let now = Date().unixMillis
            if applied < steps.count {
                for number in applied..<steps.count {
                    try db.execute(steps[number])
                }
                try db.execute("PRAGMA user_version = \(steps.count)")
                try StylePresets.seedDefaults(on: db)
            }
            try TopupPackages.seedDefaults(at: now, on: db)
            let added = try ModelCatalog.addShipped(creditsPerProviderCredit: creditsPerProviderCredit, at: now, on: db)
            if applied < steps.count { try ModelCatalog.adoptLegacyPrices(at: now, on: db) }
            if !added.isEmpty, applied > 0 { Log.info("models added to the catalog", ["models": added.joined(separator: ", ")]) }
            return steps.count - applied
        }
    }
}
