#!/usr/bin/env python3
"""End-to-end checks of the built `phim` binary over real HTTP, as an operator runs it.

Starts `phim serve` in demo mode (simulator on the same server, SQLite file) and a second
service that uses the live Kie client against a standalone `phim simulator`, then walks the
main paths: sign in, text- and image-to-video, a failure refund, an oversize upload, the
operator commands, and `phim ledger verify`. Both services log at `trace`, the most verbose
level, and their logs are searched for every secret the run used. Prints 'N passed, N failed'
at the end.

Usage: scripts/smoke.py PATH_TO_PHIM
"""
import csv
import http.cookiejar
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request

from harness import Checks, Processes, free_port, png, stream_upload, wait_healthy

PHIM = os.path.abspath(sys.argv[1])
check = Checks()


class Client:
    def __init__(self, base):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.headers = {}

    def call(self, method, path, body=None, headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if body is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in {**self.headers, **(headers or {})}.items():
            request.add_header(name, value)
        try:
            with self.opener.open(request, timeout=30) as response:
                payload = response.read()
                self.last_headers = response.headers
                # Signing in hands out the session's anti-forgery token; cookie calls send it back.
                if response.headers.get("X-CSRF-Token"):
                    self.headers["X-CSRF-Token"] = response.headers["X-CSRF-Token"]
                return response.status, json.loads(payload) if payload[:1] in (b"{", b"[") else payload
        except urllib.error.HTTPError as error:
            payload = error.read()
            self.last_headers = error.headers
            try:
                return error.code, json.loads(payload)
            except ValueError:
                return error.code, payload


def wait_for(client, video_id, states, seconds=30):
    deadline = time.time() + seconds
    video = None
    while time.time() < deadline:
        _, video = client.call("GET", f"/api/v1/videos/{video_id}")
        if video.get("status") in states:
            return video
        time.sleep(0.25)
    return video


def multipart(field, filename, content, content_type):
    boundary = "smoke-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def main():
    processes = Processes(PHIM, "phim-smoke-")
    work = processes.work
    fast = {"PHIM_SIMULATOR_DELAY_SECONDS": "1.5", "PHIM_RECONCILE_INTERVAL_SECONDS": "1",
            "PHIM_STALE_AFTER_SECONDS": "3", "PHIM_BCRYPT_COST": "4", "LOG_LEVEL": "trace"}
    # Every secret this run uses, to be searched for in the logs at the end.
    demo_password, simulator_key, live_key = "demo-Secret-4711", "sim-Secret-0815", "kie-live-Secret-2468"
    secrets = {"the demo password": demo_password, "the provider key (demo)": simulator_key,
               "the provider key (live)": live_key, "an operator's password": "operator-Secret-pass",
               "a user's password": "live-Secret-password"}
    try:
        # 1. Demo mode: the simulator on the same server.
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        demo_env = {**fast, "PHIM_CREATES_PER_MINUTE": "100", "PHIM_MAX_UNFINISHED_VIDEOS": "50",
                    "DATABASE_URL": os.path.join(work, "demo.sqlite"), "PHIM_DATA_DIR": os.path.join(work, "data"),
                    "PHIM_DEMO_PASSWORD": demo_password, "PHIM_SIMULATOR_API_KEY": simulator_key}
        processes.start(["serve", "--port", str(port)], demo_env, "serve.log")
        check("demo server answers /healthz", wait_healthy(base))
        log = processes.log("serve.log")
        check("the demo account is named in the log, its chosen password is not",
              "demo@phim.local" in log and demo_password not in log)

        client = Client(base)
        status, me = client.call("POST", "/api/v1/auth/login", {"email": "demo@phim.local", "password": demo_password})
        check("demo account signs in", status == 200 and me.get("credits") == 100000, me)
        secrets["the session cookie"] = next(cookie.value for cookie in client.cookies if cookie.name == "phim_session")
        secrets["the anti-forgery token"] = client.headers["X-CSRF-Token"]
        status, key = client.call("POST", "/api/v1/api-keys", {"name": "smoke"})
        secrets["an API key"] = key.get("key")
        keyed = Client(base)
        keyed.headers["Authorization"] = f"Bearer {key.get('key')}"
        status, me = keyed.call("GET", "/api/v1/me")
        check("an API key works", status == 200 and me.get("email") == "demo@phim.local", me)

        status, video = client.call("POST", "/api/v1/videos", {"prompt": "A lighthouse in a storm", "aspect_ratio": "portrait"},
                                    headers={"Idempotency-Key": "smoke-1"})
        check("text-to-video is accepted", status == 202 and video.get("status") == "pending", video)
        done = wait_for(client, video["id"], {"completed", "failed"})
        check("text-to-video completes through callbacks", done.get("status") == "completed", done)
        with urllib.request.urlopen(urllib.request.Request(done["video_url"], headers={"Range": "bytes=0-1023"}), timeout=10) as response:
            check("the video URL serves an MP4 with range support", response.status == 206 and response.headers["Content-Type"] == "video/mp4")

        # Live updates: a server-sent event stream shows a new video through to completion.
        stream_request = urllib.request.Request(base + "/api/v1/events", headers={"Accept": "text/event-stream"})
        stream = client.opener.open(stream_request, timeout=30)
        check("the event stream opens", stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream"))
        status, live_video = client.call("POST", "/api/v1/videos", {"prompt": "Watched live"})
        seen, deadline = [], time.time() + 20
        while time.time() < deadline and "completed" not in seen:
            line = stream.readline().decode()
            if line.startswith("data: "):
                payload = json.loads(line[6:])
                if (payload.get("video") or {}).get("id") == live_video["id"]:
                    seen.append(payload["video"]["status"])
        stream.close()
        check("the stream shows the video go pending, processing, completed", seen[:1] == ["pending"] and seen[-1:] == ["completed"] and "processing" in seen, seen)

        status, replay = client.call("POST", "/api/v1/videos", {"prompt": "A lighthouse in a storm", "aspect_ratio": "portrait"},
                                     headers={"Idempotency-Key": "smoke-1"})
        check("a retry with the same key returns the same video", status == 200 and replay.get("id") == video["id"], replay)

        status, failing = client.call("POST", "/api/v1/videos", {"prompt": "This one breaks #fail"})
        failed = wait_for(client, failing["id"], {"completed", "failed"})
        check("#fail fails and is refunded", failed.get("status") == "failed" and failed.get("credits_refunded") is True, failed)

        image = png(64, 36)
        body, headers = multipart("file", "frame.png", image, "image/png")
        status, upload = client.call("POST", "/api/v1/uploads", raw=body, headers=headers)
        check("an image uploads", status == 201, upload)
        status, i2v = client.call("POST", "/api/v1/videos", {"mode": "image_to_video", "prompt": "It comes alive", "upload_id": upload["id"]})
        finished = wait_for(client, i2v["id"], {"completed", "failed"})
        check("image-to-video completes", finished.get("status") == "completed", finished)

        body, headers = multipart("file", "huge.png", image + bytes(100_000_000), "image/png")
        status, error = client.call("POST", "/api/v1/uploads", raw=body, headers=headers)
        check("a 100 MB upload is refused with 413 image_too_large", status == 413 and error.get("error", {}).get("code") == "image_too_large", (status, error))
        # Without a Content-Length the limit is enforced as the body streams in.
        status, error, let_in = stream_upload(base, "/api/v1/uploads", {**headers, "Authorization": f"Bearer {secrets['an API key']}"}, body)
        # (The kernel's socket buffers, several MB on loopback, count as let in.)
        check("a 100 MB chunked upload is cut off with 413 image_too_large long before its end",
              status == 413 and error.get("error", {}).get("code") == "image_too_large" and let_in < 40_000_000,
              (status, error, let_in))
        body, headers = multipart("file", "frame.png", image + b"<script>alert(1)</script>", "image/png")
        status, error = client.call("POST", "/api/v1/uploads", raw=body, headers=headers)
        check("an image with a script after its end is refused with 422 invalid_image", status == 422 and error.get("error", {}).get("code") == "invalid_image", (status, error))

        status, me = client.call("GET", "/api/v1/me")
        check("balance after three successes and one refund", me.get("credits") == 100000 - 3 * 7000 and me.get("credits_on_hold") == 0, me)

        # Metrics: answered on loopback, refused through a proxy (X-Forwarded-For) without a token.
        with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
            metrics = response.read().decode()
        check("/metrics answers a local scraper with the job and credit figures",
              'phim_jobs_count{state="completed"} 3' in metrics and 'phim_credits_total{movement="settled"} 21000' in metrics,
              [line for line in metrics.splitlines() if line.startswith(("phim_jobs_count", "phim_credits_total"))])
        try:
            urllib.request.urlopen(urllib.request.Request(base + "/metrics", headers={"X-Forwarded-For": "203.0.113.9"}), timeout=10)
            proxied = 200
        except urllib.error.HTTPError as error:
            proxied = error.code
        check("/metrics through a proxy without a token is 404", proxied == 404, proxied)

        # 2. The operator's commands, on the same database file while the server runs.
        def phim(*args):
            return processes.run(args, demo_env)

        created = phim("users", "create", "--email", "ops@phim.test", "--password", secrets["an operator's password"], "--admin")
        check("phim users create", created.returncode == 0, created.stdout + created.stderr)
        granted = phim("credits", "grant", "--email", "ops@phim.test", "--amount", "5000", "--reason", "smoke test")
        check("phim credits grant", granted.returncode == 0 and "5000" in granted.stdout, granted.stdout + granted.stderr)
        refused = phim("credits", "grant", "--email", "nobody@phim.test", "--amount", "5", "--reason", "x")
        check("phim credits grant refuses an unknown account", refused.returncode != 0)
        # A burst: 30 videos at once, their callbacks due close together, all confirmed with the
        # simulator on this same server while it posts more of them.
        phim("credits", "grant", "--email", "demo@phim.local", "--amount", "300000", "--reason", "burst")
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(30) as pool:
            burst = list(pool.map(lambda n: Client.call(client, "POST", "/api/v1/videos", {"prompt": f"Burst {n}"}), range(30)))
        check("30 creates at once are accepted", all(status == 202 for status, _ in burst), [status for status, _ in burst])
        finished = [wait_for(client, video["id"], {"completed", "failed"}, seconds=20) for _, video in burst if isinstance(video, dict) and "id" in video]
        check("all 30 complete through their callbacks within 20 s",
              len(finished) == 30 and all(video.get("status") == "completed" for video in finished),
              [video.get("status") for video in finished])

        verified = phim("ledger", "verify")
        check("phim ledger verify passes", verified.returncode == 0, verified.stdout + verified.stderr)

        # The admin console's commands: the same actions, in the same audit log.
        deducted = phim("credits", "deduct", "--email", "ops@phim.test", "--amount", "1200", "--reason", "smoke correction")
        check("phim credits deduct", deducted.returncode == 0 and "available 3800" in deducted.stdout, deducted.stdout + deducted.stderr)
        overdrawn = phim("credits", "deduct", "--email", "ops@phim.test", "--amount", "999999", "--reason", "too much")
        check("phim credits deduct refuses more than the balance", overdrawn.returncode != 0 and "3,800 available" in overdrawn.stdout + overdrawn.stderr,
              overdrawn.stdout + overdrawn.stderr)
        unexplained = phim("credits", "grant", "--email", "ops@phim.test", "--amount", "5")
        check("phim credits grant requires a reason", unexplained.returncode != 0)
        listed = phim("users", "list", "--query", "ops@")
        check("phim users list finds the account with its balance", "ops@phim.test" in listed.stdout and "available 3800" in listed.stdout,
              listed.stdout)
        disabled = phim("users", "disable", "--email", "demo@phim.local", "--reason", "smoke")
        status, answer = keyed.call("GET", "/api/v1/videos")
        check("phim users disable: the account's API calls are refused (403 account_disabled)",
              disabled.returncode == 0 and status == 403 and answer.get("error", {}).get("code") == "account_disabled", (status, answer))
        signed_out, _ = client.call("GET", "/api/v1/videos")
        check("disabling signs the account's open session out", signed_out == 401, signed_out)
        enabled = phim("users", "enable", "--email", "demo@phim.local", "--reason", "smoke done")
        status, _ = keyed.call("GET", "/api/v1/videos")
        relogged, _ = client.call("POST", "/api/v1/auth/login", {"email": "demo@phim.local", "password": demo_password})
        check("phim users enable: the account works again", enabled.returncode == 0 and status == 200 and relogged == 200, (status, relogged))
        audit = phim("audit")
        check("phim audit lists the five actions (grants included) with who, before and after",
              audit.returncode == 0 and "5 action(s)" in audit.stdout and "account.disable" in audit.stdout
              and '{"credits_available":5000} → {"credits_available":3800}' in audit.stdout, audit.stdout)
        export_path = os.path.join(work, "ledger.csv")
        exported = phim("ledger", "export", "--out", export_path)
        with open(export_path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        by_email = {}
        for row in rows:
            by_email[row["email"]] = by_email.get(row["email"], 0) + int(row["available_delta"])
        check("phim ledger export writes every entry; the operator's rows sum to the balance",
              exported.returncode == 0 and len(rows) > 60 and by_email.get("ops@phim.test") == 3800, (exported.stdout, len(rows), by_email))

        # Every callback lost: the reconciler's polls alone finish the video, one query each.
        lost_port = free_port()
        lost_base = f"http://127.0.0.1:{lost_port}"
        processes.start(["serve", "--port", str(lost_port)],
                        {**fast, "DATABASE_URL": os.path.join(work, "lost.sqlite"), "PHIM_DATA_DIR": os.path.join(work, "lost-data"),
                         "PHIM_SIMULATOR_CALLBACK_DROP_RATE": "1"}, "lost.log")
        check("a demo server that loses every callback starts", wait_healthy(lost_base))
        lost = Client(lost_base)
        lost.call("POST", "/api/v1/auth/login", {"email": "demo@phim.local", "password": "phim-demo"})
        status, unheard = lost.call("POST", "/api/v1/videos", {"prompt": "Nobody calls back"})
        finished = wait_for(lost, unheard.get("id"), {"completed", "failed"}, seconds=30)
        _, stats = lost.call("GET", "/simulator/_simulator/stats")
        check("with every callback lost, polling completes the video with one status query",
              finished.get("status") == "completed" and stats["calls"]["callbacks_dropped"] >= 1 and stats["calls"]["record_info"] == 1,
              (finished.get("status"), stats))

        # 3. The live Kie client against a standalone simulator.
        sim_port, live_port = free_port(), free_port()
        processes.start(["simulator", "--port", str(sim_port)], {**fast, "PHIM_SIMULATOR_API_KEY": live_key}, "simulator.log")
        check("standalone simulator answers /healthz", wait_healthy(f"http://127.0.0.1:{sim_port}"))
        live_env = {**fast, "DATABASE_URL": os.path.join(work, "live.sqlite"), "PHIM_DATA_DIR": os.path.join(work, "live-data"),
                    "KIE_API_KEY": live_key, "KIE_BASE_URL": f"http://127.0.0.1:{sim_port}",
                    "PHIM_PUBLIC_URL": f"http://127.0.0.1:{live_port}"}
        processes.start(["serve", "--port", str(live_port)], live_env, "live.log")
        check("a service with KIE_API_KEY starts", wait_healthy(f"http://127.0.0.1:{live_port}"))
        processes.run(["users", "create", "--email", "live@phim.test", "--password", secrets["a user's password"]], live_env)
        processes.run(["credits", "grant", "--email", "live@phim.test", "--amount", "7000", "--reason", "smoke"], live_env)
        live = Client(f"http://127.0.0.1:{live_port}")
        live.call("POST", "/api/v1/auth/login", {"email": "live@phim.test", "password": secrets["a user's password"]})
        status, live_video = live.call("POST", "/api/v1/videos", {"prompt": "Through the real client"})
        check("the live client creates a task at the simulator", status == 202, live_video)
        live_done = wait_for(live, live_video["id"], {"completed", "failed"})
        check("the simulator's callback completes it", live_done.get("status") == "completed", live_done)
        status, broke = live.call("POST", "/api/v1/videos", {"prompt": "Out of credits"})
        check("a create beyond the balance is 402", status == 402 and broke["error"]["code"] == "insufficient_credits", broke)
        reconciled = processes.run(["provider", "reconcile", "--hours", "1"], live_env)
        check("phim provider reconcile finds the settled video billed by the provider, no differences",
              reconciled.returncode == 0 and "1 charged (7000 credits)" in reconciled.stdout and "1 success" in reconciled.stdout
              and "No differences" in reconciled.stdout and "provider credits now" in reconciled.stdout,
              reconciled.stdout + reconciled.stderr)
        # The serve process writes its provider-call tallies every 10 s.
        deadline = time.time() + 20
        while True:
            health = processes.run(["provider", "health"], live_env)
            if "create: 1 calls" in health.stdout or time.time() > deadline:
                break
            time.sleep(2)
        check("phim provider health: the create and status calls of the last hour, the last success and the balance",
              health.returncode == 0 and "create: 1 calls, 0.0 % errors" in health.stdout and "Last success: 20" in health.stdout
              and "Balance: " in health.stdout, health.stdout + health.stderr)
        low = processes.run(["provider", "health"], {**live_env, "PHIM_PROVIDER_LOW_BALANCE": "100000000"})
        check("phim provider health exits non-zero when the balance is low", low.returncode != 0 and "below 100000000" in low.stdout + low.stderr,
              low.stdout + low.stderr)
        prices = processes.run(["prices", "set", "--model", "sora-2-text-to-video", "--duration", "10", "--quality", "standard",
                                "--credits", "7500", "--reason", "smoke"], live_env)
        listed = processes.run(["prices", "list"], live_env)
        check("phim prices set changes one price, and prices list shows it",
              prices.returncode == 0 and "sora-2-text-to-video 10s standard  7500 credits" in listed.stdout, prices.stdout + listed.stdout)
        jobs = processes.run(["jobs", "list", "--state", "completed"], live_env)
        stuck = processes.run(["jobs", "stuck"], live_env)
        check("phim jobs list and jobs stuck", jobs.returncode == 0 and live_video["id"].lower() in jobs.stdout and "1 video(s)." in jobs.stdout
              and "0 stuck video(s)" in stuck.stdout, jobs.stdout + stuck.stdout)

        # 4. No secret in any log, though every service logged at trace.
        logs = {name: processes.log(name) for name in ("serve.log", "simulator.log", "live.log")}
        check("the logs were written at trace level", all("TRACE" in text for text in logs.values()),
              {name: len(text) for name, text in logs.items()})
        for what, value in secrets.items():
            found = [name for name, text in logs.items() if value and value in text]
            check(f"{what} appears in no log", not found, found)
        callback_secret = re.compile(r"/webhooks/kie/[0-9a-fA-F-]{36}/(?!\[redacted\])[A-Za-z0-9_-]{8,}")
        leaked = [name for name, text in logs.items() if callback_secret.search(text)]
        check("no job's callback secret appears in any log", not leaked, leaked)
    finally:
        processes.stop(show_logs=check.failed > 0)
    return check.summary("smoke")


if __name__ == "__main__":
    sys.exit(main())
