#!/usr/bin/env python3
"""Kills `phim serve` with SIGKILL in the middle of a burst of creates and callbacks, and checks
that no acknowledged create and no credit is lost.

The provider is a standalone `phim simulator` (as the real provider outlives our process), so
callbacks keep coming while the service is down and its reconciler has tasks to ask about
afterwards. While the burst runs, `phim backup` copies the live database, and the copy must
pass `phim ledger verify` on its own. After the restart: every create that was answered 2xx
exists, every job ends terminal, `phim ledger verify` passes, and the balance equals the grant
minus the price of every completed job.

Usage: scripts/crash_test.py PATH_TO_PHIM
"""
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request

from harness import Checks, Processes, free_port, wait_healthy

PHIM = os.path.abspath(sys.argv[1])
GRANT = 10_000_000
check = Checks()


def call(base, method, path, key=None, body=None, headers=None, timeout=10):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def main():
    processes = Processes(PHIM, "phim-crash-")
    work = processes.work
    sim_port, port = free_port(), free_port()
    sim, base = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{port}"
    database = os.path.join(work, "phim.sqlite")
    env = {"DATABASE_URL": database, "PHIM_DATA_DIR": os.path.join(work, "data"), "PHIM_BCRYPT_COST": "4",
           "KIE_API_KEY": "crash-key", "KIE_BASE_URL": sim, "PHIM_PUBLIC_URL": base,
           "PHIM_RECONCILE_INTERVAL_SECONDS": "1", "PHIM_STALE_AFTER_SECONDS": "2", "LOG_LEVEL": "notice",
           "PHIM_CREATES_PER_MINUTE": "1000000", "PHIM_MAX_UNFINISHED_VIDEOS": "1000000"}
    try:
        processes.start(["simulator", "--port", str(sim_port)],
                        {"PHIM_SIMULATOR_DELAY_SECONDS": "0.6", "PHIM_SIMULATOR_FAILURE_RATE": "0.2",
                         "PHIM_SIMULATOR_API_KEY": "crash-key", "PHIM_SIMULATOR_SEED": "7", "LOG_LEVEL": "error"}, "simulator.log")
        processes.start(["serve", "--port", str(port)], env, "serve-1.log")
        check("simulator and service start", wait_healthy(sim) and wait_healthy(base))
        processes.run(["users", "create", "--email", "crash@phim.test", "--password", "crash-password"], env)
        processes.run(["credits", "grant", "--email", "crash@phim.test", "--amount", str(GRANT), "--reason", "crash test"], env)
        # An API key needs no session, so the same key works after the restart.
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        login = urllib.request.Request(base + "/api/v1/auth/login", method="POST", headers={"Content-Type": "application/json"},
                                       data=json.dumps({"email": "crash@phim.test", "password": "crash-password"}).encode())
        token = opener.open(login, timeout=10).headers["X-CSRF-Token"]
        make_key = urllib.request.Request(base + "/api/v1/api-keys", method="POST", data=b"{}",
                                          headers={"Content-Type": "application/json", "X-CSRF-Token": token})
        key = json.loads(opener.open(make_key, timeout=10).read())["key"]

        acknowledged, lock, stop = {}, threading.Lock(), threading.Event()
        def burst(worker):
            index = 0
            while not stop.is_set():
                index += 1
                idempotency = f"w{worker}-{index}"
                try:
                    status, video = call(base, "POST", "/api/v1/videos", key, {"prompt": f"Crash test {idempotency}"},
                                         {"Idempotency-Key": idempotency}, timeout=5)
                except Exception:
                    continue  # the service is gone: this create was never acknowledged
                if status in (200, 202):
                    with lock:
                        acknowledged[video["id"]] = idempotency
        workers = [threading.Thread(target=burst, args=(n,), daemon=True) for n in range(8)]
        for worker in workers:
            worker.start()
        time.sleep(2.5)
        backup = os.path.join(work, "backup.sqlite")
        backed_up = processes.run(["backup", "--to", backup], env)
        check("phim backup copies the database while creates and callbacks run", backed_up.returncode == 0,
              backed_up.stdout + backed_up.stderr)
        time.sleep(1.5)
        serve = processes.running[1]
        serve.send_signal(signal.SIGKILL)
        serve.wait()
        killed_at = len(acknowledged)
        time.sleep(0.5)
        stop.set()
        for worker in workers:
            worker.join()
        print(f"        {killed_at} creates acknowledged before SIGKILL")
        check("the burst made progress before the kill", killed_at >= 20, killed_at)

        copy_verified = processes.run(["ledger", "verify"], {**env, "DATABASE_URL": backup})
        check("the backup is consistent on its own (ledger verify on the copy)", copy_verified.returncode == 0,
              copy_verified.stdout + copy_verified.stderr)
        check("the backup refuses to overwrite a file", processes.run(["backup", "--to", backup], env).returncode != 0)

        processes.start(["serve", "--port", str(port)], env, "serve-2.log")
        check("the service restarts on the same database", wait_healthy(base))
        missing = [video for video in acknowledged if call(base, "GET", f"/api/v1/videos/{video}", key)[0] != 200]
        check(f"all {len(acknowledged)} acknowledged creates are present after the restart", not missing, missing[:5])

        deadline, unfinished = time.time() + 90, None
        while time.time() < deadline:
            videos, cursor = [], None
            while True:
                status, page = call(base, "GET", "/api/v1/videos?limit=100" + (f"&cursor={cursor}" if cursor else ""), key)
                videos += page.get("data", [])
                cursor = page.get("next_cursor")
                if not cursor:
                    break
            unfinished = [v["id"] for v in videos if v["status"] not in ("completed", "failed", "canceled")]
            if not unfinished:
                break
            time.sleep(1)
        check("every job ends terminal after the restart", not unfinished, f"{len(unfinished or [])} unfinished")
        states = {}
        for video in videos:
            states[video["status"]] = states.get(video["status"], 0) + 1
        print(f"        {len(videos)} jobs: {states}")

        verified = processes.run(["ledger", "verify"], env)
        check("phim ledger verify passes after the crash", verified.returncode == 0, verified.stdout + verified.stderr)
        settled = sum(v["price_credits"] for v in videos if v["status"] == "completed")
        status, me = call(base, "GET", "/api/v1/me", key)
        check("balance = grant - price of every completed job, nothing on hold",
              me.get("credits") == GRANT - settled and me.get("credits_on_hold") == 0, (me, GRANT - settled))
    finally:
        processes.stop(show_logs=check.failed > 0)
    return check.summary("crash")


if __name__ == "__main__":
    sys.exit(main())
