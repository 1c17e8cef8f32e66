#!/usr/bin/env python3
"""Two `phim serve` instances on one PostgreSQL, working as one.

Starts a standalone `phim simulator` that loses a share of its callbacks, and two instances A
and B on the same database whose PHIM_PUBLIC_URL points at each other, so every callback for
a job created on A lands on B and the other way round. Then:

- creates 200 jobs for 10 users through both instances at once (10 of them slow, so that the
  reconciler asks about them many times);
- fires 20 simultaneous creates through both for a user whose balance covers 5;
- watches one user's live event stream on A while the callbacks land on B;
- waits until every job is terminal, runs `phim ledger verify`, and reads from the simulator
  how often it was asked about each task.

Prints the figures and 'N passed, N failed'. Needs TEST_DATABASE_URL (scripts/test.sh starts a
private PostgreSQL and sets it).

Usage: scripts/multi_instance.py PATH_TO_PHIM
"""
import concurrent.futures
import http.cookiejar
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

from harness import Checks, Processes, free_port, wait_healthy

PHIM = os.path.abspath(sys.argv[1])
DATABASE_URL = os.environ["TEST_DATABASE_URL"]
RECONCILE_INTERVAL = 2.0
JOBS = 200
USERS = 10
check = Checks()


def call(base, method, path, body=None, token=None, cookies=None, headers=None):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies)) if cookies is not None else urllib.request.build_opener()
    try:
        with opener.open(request, timeout=60) as response:
            if cookies is not None and response.headers.get("X-CSRF-Token"):
                cookies.csrf_token = response.headers["X-CSRF-Token"]  # sent back with cookie changes
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def main():
    processes = Processes(PHIM, "phim-multi-")
    schema = "multi_" + uuid.uuid4().hex[:12]
    sim_port, port_a, port_b = free_port(), free_port(), free_port()
    sim, base_a, base_b = (f"http://127.0.0.1:{p}" for p in (sim_port, port_a, port_b))
    common = {"DATABASE_URL": DATABASE_URL, "PHIM_DATABASE_SCHEMA": schema, "PHIM_BCRYPT_COST": "4",
              "KIE_API_KEY": "multi-key", "KIE_BASE_URL": sim, "PHIM_DATA_DIR": os.path.join(processes.work, "shared-data"),
              "PHIM_RECONCILE_INTERVAL_SECONDS": str(RECONCILE_INTERVAL), "PHIM_STALE_AFTER_SECONDS": "4",
              "LOG_LEVEL": "notice",
              # This test is about money and races, not the per-account creation limits.
              "PHIM_CREATES_PER_MINUTE": "100000", "PHIM_MAX_UNFINISHED_VIDEOS": "100000"}
    def phim(*args):
        return processes.run(args, common)

    try:
        processes.start(["simulator", "--port", str(sim_port)],
              {"PHIM_SIMULATOR_DELAY_SECONDS": "3", "PHIM_SIMULATOR_CALLBACK_DROP_RATE": "0.3",
               "PHIM_SIMULATOR_FAILURE_RATE": "0.1", "PHIM_SIMULATOR_SEED": "42", "PHIM_SIMULATOR_API_KEY": "multi-key",
               "LOG_LEVEL": "error"}, "simulator.log")
        # Both instances start at once on an empty schema: the migration lock lets one migrate.
        processes.start(["serve", "--port", str(port_a)], {**common, "PHIM_PUBLIC_URL": base_b}, "a.log")
        processes.start(["serve", "--port", str(port_b)], {**common, "PHIM_PUBLIC_URL": base_a}, "b.log")
        check("simulator and both instances start (migrating once)",
              wait_healthy(sim) and wait_healthy(base_a) and wait_healthy(base_b))

        tokens = []
        for index in range(USERS + 1):
            email = f"user{index}@multi.test"
            phim("users", "create", "--email", email, "--password", "multi-password")
            phim("credits", "grant", "--email", email, "--amount", str(35_000 if index == USERS else 7_000 * (JOBS // USERS)),
                 "--reason", "multi-instance test")
            jar = http.cookiejar.CookieJar()
            call(base_a, "POST", "/api/v1/auth/login", {"email": email, "password": "multi-password"}, cookies=jar)
            status, key = call(base_b, "POST", "/api/v1/api-keys", {"name": "multi"}, cookies=jar,  # the A session works on B
                               headers={"X-CSRF-Token": getattr(jar, "csrf_token", "")})
            tokens.append(key.get("key"))
        check("sessions made on A work on B", all(tokens), tokens)

        # The sign-in limit's counters are in the shared database: guesses spread over both
        # instances add up.
        phim("users", "create", "--email", "guessed@multi.test", "--password", "multi-password")
        guesses = [call(base, "POST", "/api/v1/auth/login", {"email": "guessed@multi.test", "password": "wrong-guess"})[0]
                   for base in [base_a, base_b] * 2 + [base_a]]
        status, body = call(base_b, "POST", "/api/v1/auth/login", {"email": "guessed@multi.test", "password": "multi-password"})
        check("five wrong passwords spread over A and B lock the account on both",
              guesses == [401] * 5 and status == 429 and body.get("error", {}).get("code") == "too_many_login_attempts",
              (guesses, status, body))

        # A live stream on A for user 0, read in the background.
        stream_events, stream_errors = [], []
        stream_request = urllib.request.Request(base_a + "/api/v1/events", headers={"Authorization": f"Bearer {tokens[0]}"})
        stream = urllib.request.urlopen(stream_request, timeout=120)

        def read_stream():
            try:
                for raw in stream:
                    line = raw.decode()
                    if line.startswith("data: "):
                        video = json.loads(line[6:]).get("video")
                        if video:
                            stream_events.append((video["id"], video["status"]))
            except Exception as error:
                stream_errors.append(repr(error))
        threading.Thread(target=read_stream, daemon=True).start()

        started = time.time()

        def create(index):
            base = base_a if index % 2 == 0 else base_b
            # One in twenty takes ten times longer, so the reconciler asks about it again and again.
            prompt = f"Multi-instance clip {index}" + (" #slow" if index % 20 == 0 else "")
            return base, call(base, "POST", "/api/v1/videos", {"prompt": prompt}, token=tokens[index % USERS])

        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            created = list(pool.map(create, range(JOBS)))
            tight = list(pool.map(lambda i: call(base_a if i % 2 else base_b, "POST", "/api/v1/videos",
                                                 {"prompt": f"Tight {i}"}, token=tokens[USERS]), range(20)))
        accepted = [body["id"] for _, (status, body) in created if status == 202]
        created_on_a = {body["id"] for base, (status, body) in created if status == 202 and base == base_a}
        check(f"{JOBS} creates through both instances are accepted", len(accepted) == JOBS,
              [s for _, (s, _) in created if s != 202][:5])
        tight_statuses = sorted(status for status, _ in tight)
        check("20 simultaneous creates on a balance for 5 make exactly 5 jobs, across instances",
              tight_statuses.count(202) == 5 and tight_statuses.count(402) == 15, tight_statuses)

        # Wait until every job is terminal.
        def unfinished():
            count = 0
            for token in tokens:
                cursor = ""
                while True:
                    _, page = call(base_b, "GET", f"/api/v1/videos?limit=100{cursor}", token=token)
                    count += sum(1 for v in page["data"] if v["status"] not in ("completed", "failed", "canceled"))
                    if not page.get("next_cursor"):
                        break
                    cursor = "&cursor=" + page["next_cursor"]
            return count
        deadline = time.time() + 120
        remaining = unfinished()
        while remaining and time.time() < deadline:
            time.sleep(1)
            remaining = unfinished()
        elapsed = time.time() - started
        check("every job ends terminal", remaining == 0, f"{remaining} unfinished")

        verified = phim("ledger", "verify")
        check("phim ledger verify passes", verified.returncode == 0, verified.stdout + verified.stderr)
        print("   ", verified.stdout.strip().splitlines()[0] if verified.stdout else "")

        # The stream on A saw completions of jobs whose callbacks landed on B.
        time.sleep(1)
        finished_on_stream = {vid for vid, status in stream_events if status in ("completed", "failed")}
        user0_on_a = {vid for vid in created_on_a if vid in {v for v, _ in stream_events}}
        check("a browser on A hears about jobs finished by callbacks on B",
              len(finished_on_stream & created_on_a) > 0, (len(stream_events), len(user0_on_a), stream_errors))
        stream.close()

        with urllib.request.urlopen(sim + "/_simulator/stats", timeout=10) as response:
            stats = json.loads(response.read())
        calls = stats["calls"]
        gap = stats.get("shortest_query_gap_seconds")
        # A claim moves a job's next check one interval ahead before asking, so two asks about one
        # job are an interval apart; the measured gap can be a few ms short of it, the time the
        # earlier ask spent on its way.
        check("the provider was asked about each job at most once per reconcile interval",
              gap is None or gap >= RECONCILE_INTERVAL - 0.25, gap)
        print(f"    figures: {JOBS + 5} jobs finished in {elapsed:.1f} s; callbacks sent {calls['callbacks_queued']}, "
              f"lost {calls['callbacks_dropped']}; createTask {calls['create_task']}, recordInfo {calls['record_info']} "
              f"({calls['record_info'] / (JOBS + 5):.2f} per job, {stats['record_info_per_queried_task']:.2f} per queried job); "
              f"shortest gap between two queries about one job {gap if gap is not None else '-'} s "
              f"(interval {RECONCILE_INTERVAL} s)")
    finally:
        processes.stop(show_logs=check.failed > 0)
    return check.summary("multi-instance")

if __name__ == "__main__":
    sys.exit(main())
