#!/usr/bin/env python3
"""Phim's benchmark suite: figures for every path that matters, against the bare framework on
this machine (the ceiling) and the database's raw commit rate, all measured in one run.

Usage: bench/run.py PATH_TO_PHIM (bench/run.sh builds the release binary and calls this).
BENCH_QUICK=1 uses a small data set and short runs.

What it measures, on loopback, with `phim serve` in demo mode (the simulator on the same
server) on a SQLite database pre-filled by `phim bench seed`:
  - wrk: the ceiling (GET /livez), reading one video, a gallery page, creating videos, and
    ingesting provider callbacks: requests per second, p50 and p99 latency;
  - `phim bench commit-rate`: the database's raw rate of small write transactions;
  - provider calls per completed video, with callbacks working and with all of them lost, with
    1 and with 50 browser tabs (event streams) open per user;
  - time from a callback arriving to its event leaving on the stream (p50, p99);
  - memory with 5,000 open event streams; start-up time.
"""
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
from harness import free_port, wait_healthy  # noqa: E402

PHIM = os.path.abspath(sys.argv[1])
QUICK = os.environ.get("BENCH_QUICK") == "1"
USERS, VIDEOS, WAITING = (500, 10_000, 500) if QUICK else (10_000, 200_000, 2_000)
DURATION = "5s" if QUICK else "15s"
CONNECTIONS = 64
STREAMS = 500 if QUICK else 5_000
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class Server:
    """`phim serve` on a free port, in a work folder, with the benchmark's settings."""

    def __init__(self, work, database, extra=None, name="serve"):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DATABASE_URL": database, "PHIM_DATA_DIR": os.path.join(work, "data"),
                    "LOG_LEVEL": "warning", "PHIM_CREATES_PER_MINUTE": "100000000", "PHIM_MAX_UNFINISHED_VIDEOS": "100000000",
                    "PHIM_BCRYPT_COST": "4", **(extra or {})}
        self.log = open(os.path.join(work, name + ".log"), "w")
        started = time.time()
        self.process = subprocess.Popen([PHIM, "serve", "--port", str(self.port)], env=self.env, cwd=work,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_healthy(self.base, 120):
            raise SystemExit(f"{name} did not start; see {self.log.name}")
        self.startup_seconds = time.time() - started

    def rss_mb(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            kb = int(next(line for line in status if line.startswith("VmRSS")).split()[1])
        return kb / 1024

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def call(base, method, path, body=None, key=None, timeout=30):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None, method=method)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def wrk(base, path, script=None, bench_dir=None, connections=CONNECTIONS, duration=DURATION):
    """Runs wrk and returns (requests per second, p50 ms, p99 ms, non-2xx)."""
    print(f"  wrk {script or path} …", flush=True)
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}", "--latency"]
    if script:
        command += ["-s", os.path.join(HERE, "wrk", script)]
    command.append(base + path)
    output = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "BENCH_DIR": bench_dir or ""},
                            timeout=600).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))

    def percentile(p):
        match = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return rps, percentile(50), percentile(99), int(bad.group(1)) if bad else 0


class Stream:
    """One open `GET /api/v1/events` (a browser tab), read on a thread; records when each
    video update arrives."""

    def __init__(self, base, key, on_event=None):
        host, port = base.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        self.sock.sendall((f"GET /api/v1/events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n"
                           f"Authorization: Bearer {key}\r\n\r\n").encode())
        self.on_event = on_event
        if on_event:
            threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        buffer = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                for line in event.split(b"\n"):
                    if line.startswith(b"data: "):
                        try:
                            self.on_event(json.loads(line[6:]), time.perf_counter())
                        except ValueError:
                            pass

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def callback_to_stream_latency(base, key, bench_dir, samples=200):
    """Posts progress callbacks one at a time and times each until its event arrives on an
    open stream."""
    arrivals = {}
    lock = threading.Lock()

    def on_event(payload, at):
        video = payload.get("video") or {}
        with lock:
            arrivals.setdefault((str(video.get("id")).lower(), video.get("progress")), at)

    stream = Stream(base, key, on_event)
    time.sleep(1)
    lines = open(os.path.join(bench_dir, "callbacks.txt")).read().split("\n")
    latencies = []
    for n in range(samples):
        path, task = lines[n % len(lines)].split(" ")
        video_id = path.split("/")[5]
        progress = 99 - (n // len(lines))  # above anything wrk left, so each one is news
        body = json.dumps({"code": 200, "msg": "progress", "data": {"taskId": task, "state": "generating", "progress": progress}}).encode()
        request = urllib.request.Request(base + path, data=body, method="POST", headers={"Content-Type": "application/json"})
        sent = time.perf_counter()
        urllib.request.urlopen(request, timeout=10).read()
        deadline = time.time() + 5
        while time.time() < deadline:
            with lock:
                arrived = arrivals.get((video_id, progress))
            if arrived:
                latencies.append((arrived - sent) * 1000)
                break
            time.sleep(0.0005)
    stream.close()
    latencies.sort()
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1], len(latencies), samples


def provider_calls_per_video(work, callbacks_lost, tabs, videos=20):
    """A fresh service: `videos` videos from the demo account with `tabs` streams open; returns
    recordInfo and createTask calls per completed video, and how many completed."""
    folder = tempfile.mkdtemp(dir=work)
    server = Server(folder, os.path.join(folder, "calls.sqlite"),
                    {"PHIM_SIMULATOR_DELAY_SECONDS": "3", "PHIM_RECONCILE_INTERVAL_SECONDS": "2", "PHIM_STALE_AFTER_SECONDS": "4",
                     "PHIM_SIMULATOR_CALLBACK_DROP_RATE": "1" if callbacks_lost else "0"}, name="calls")
    streams = []
    try:
        subprocess.run([PHIM, "credits", "grant", "--email", "demo@phim.local", "--amount", "10000000", "--reason", "benchmark"],
                       env=server.env, cwd=folder, capture_output=True, check=True)
        # Sign in as the demo account and make an API key (a cookie call carries the anti-forgery token).
        login = urllib.request.Request(server.base + "/api/v1/auth/login", method="POST", headers={"Content-Type": "application/json"},
                                       data=json.dumps({"email": "demo@phim.local", "password": "phim-demo"}).encode())
        response = urllib.request.urlopen(login, timeout=10)
        cookie, csrf = response.headers["Set-Cookie"].split(";")[0], response.headers["X-CSRF-Token"]
        make_key = urllib.request.Request(server.base + "/api/v1/api-keys", method="POST", data=b'{"name": "bench"}',
                                          headers={"Content-Type": "application/json", "Cookie": cookie, "X-CSRF-Token": csrf})
        key = json.loads(urllib.request.urlopen(make_key, timeout=10).read())["key"]
        for _ in range(tabs):
            streams.append(Stream(server.base, key, on_event=lambda payload, at: None))
        ids = [call(server.base, "POST", "/api/v1/videos", {"prompt": f"Provider calls {n}"}, key)["id"] for n in range(videos)]
        deadline = time.time() + 120
        while time.time() < deadline:
            done = [call(server.base, "GET", f"/api/v1/videos/{video}", key=key)["status"] for video in ids]
            if all(status in ("completed", "failed") for status in done):
                break
            time.sleep(1)
        completed = sum(1 for status in done if status == "completed")
        time.sleep(3)  # a pass or two more: any extra query would show
        stats = call(server.base, "GET", "/simulator/_simulator/stats")
        calls = stats["calls"]
        return calls["record_info"] / max(1, completed), calls["create_task"] / max(1, completed), completed, videos
    finally:
        for stream in streams:
            stream.close()
        server.stop()


def memory_with_streams(server, key, count):
    before = server.rss_mb()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count * 2 + 1000)), hard))
    streams = []
    for _ in range(count):
        streams.append(Stream(server.base, key))
    time.sleep(3)
    # Every stream got its answer head: read a little from each, so all are truly open.
    opened = 0
    for stream in streams:
        try:
            stream.sock.settimeout(5)
            if stream.sock.recv(1024).startswith(b"HTTP/1.1 200"):
                opened += 1
        except OSError:
            pass
    after = server.rss_mb()
    for stream in streams:
        stream.close()
    return before, after, opened


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    memory = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1]) / 1024 / 1024
    swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    return (f"{os.cpu_count()} × {cpu}, {memory:.0f} GiB RAM, {platform.system()} {platform.release()}; "
            f"{swift}; {wrk_version}; release build, SQLite (WAL), loopback")


def main():
    work = tempfile.mkdtemp(prefix="phim-bench-")
    bench_dir = os.path.join(work, "clients")
    database = os.path.join(work, "bench.sqlite")
    rows = []
    try:
        started = time.time()
        seeded = subprocess.run([PHIM, "bench", "seed", "--users", str(USERS), "--videos", str(VIDEOS), "--waiting", str(WAITING),
                                 "--out", bench_dir], env={**os.environ, "DATABASE_URL": database, "LOG_LEVEL": "warning"},
                                cwd=work, capture_output=True, text=True)
        if seeded.returncode != 0:
            raise SystemExit(seeded.stdout + seeded.stderr)
        print(f"seeded {USERS:,} accounts and {VIDEOS + WAITING:,} videos in {time.time() - started:.0f} s")
        key = open(os.path.join(bench_dir, "api-key.txt")).read()

        commit = subprocess.run([PHIM, "bench", "commit-rate", "--seconds", "5" if QUICK else "10"],
                                env={**os.environ, "DATABASE_URL": database, "LOG_LEVEL": "warning"}, cwd=work,
                                capture_output=True, text=True)
        commit_rate = float(re.search(r"commits_per_second ([\d.]+)", commit.stdout).group(1))

        # Long simulated jobs and no polling: created videos stay pending, and the seeded waiting
        # videos (whose tasks the simulator never made) are not queried, while wrk runs.
        server = Server(work, database, {"PHIM_SIMULATOR_DELAY_SECONDS": "3600", "PHIM_STALE_AFTER_SECONDS": "86400",
                                         "PHIM_JOB_TIMEOUT_SECONDS": "86400"})
        try:
            ceiling = wrk(server.base, "/livez")
            rows.append(("ceiling: GET /livez (the bare framework)", ceiling, None))
            # What one trivial query through Fluent and SQLite's thread pool leaves of the
            # ceiling: the most any route that reads the database can reach on this stack.
            floor = wrk(server.base, "/healthz")
            rows.append(("one database query: GET /healthz (a COUNT of the price table)", floor, floor[0] / ceiling[0]))
            read = wrk(server.base, "/", "read.lua", bench_dir)
            rows.append(("read one video: GET /api/v1/videos/{id}", read, read[0] / ceiling[0]))
            page = wrk(server.base, "/", "list.lua", bench_dir)
            rows.append(("gallery page: GET /api/v1/videos?limit=20", page, page[0] / ceiling[0]))
            callbacks = wrk(server.base, "/", "callback.lua", bench_dir)
            rows.append(("ingest callbacks: POST …/webhooks/kie/{job}/{secret}/progress", callbacks, callbacks[0] / ceiling[0]))
            creates = wrk(server.base, "/", "create.lua", bench_dir, connections=16)
            rows.append(("create videos: POST /api/v1/videos (hold, provider call, insert)", creates, creates[0] / ceiling[0]))
            print("  callback → stream latency …", flush=True)
            latency = callback_to_stream_latency(server.base, key, bench_dir)
            print(f"  {STREAMS} open streams …", flush=True)
            memory = memory_with_streams(server, key, STREAMS)
            startup = server.startup_seconds
        finally:
            server.stop()

        calls = {}
        for lost in (False, True):
            for tabs in (1, 50):
                print(f"  provider calls per video, callbacks {'lost' if lost else 'working'}, {tabs} tabs …", flush=True)
                calls[(lost, tabs)] = provider_calls_per_video(work, lost, tabs)

        report(rows, commit_rate, latency, memory, startup, calls)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(rows, commit_rate, latency, memory, startup, calls):
    creates = next(row for row in rows if row[0].startswith("create"))[1]
    lines = ["| path | requests/s | p50 ms | p99 ms | vs. ceiling | non-2xx |", "|---|---:|---:|---:|---:|---:|"]
    for name, (rps, p50, p99, bad), ratio in rows:
        lines.append(f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {'—' if ratio is None else f'{ratio:.0%}'} | {bad} |")
    lines += ["", "| measure | value | target |", "|---|---:|---|"]
    lines.append(f"| database raw commit rate (`phim bench commit-rate`) | {commit_rate:,.0f} /s | |")
    lines.append(f"| creates vs. raw commit rate | {creates[0] / commit_rate:.0%} | ≥ 50 % |")
    for (lost, tabs), (status_calls, create_calls, completed, asked) in sorted(calls.items()):
        label = f"provider status calls per completed video, callbacks {'lost' if lost else 'working'}, {tabs} tab{'s' if tabs > 1 else ''} per user"
        target = "≤ 1.0, same for 1 and 50 tabs" if not lost else "same for 1 and 50 tabs"
        lines.append(f"| {label} ({completed}/{asked} completed; {create_calls:.2f} creates per video) | {status_calls:.2f} | {target} |")
    p50, p99, got, sent = latency
    lines.append(f"| callback → event on the stream, p50 / p99 ({got}/{sent} seen) | {p50:.1f} / {p99:.1f} ms | p99 < 250 ms |")
    before, after, opened = memory
    lines.append(f"| memory with {opened:,} open event streams | {after:,.0f} MiB (idle {before:,.0f} MiB; {(after - before) * 1024 / max(1, opened):.1f} KiB per stream) | |")
    lines.append(f"| start-up time (exec → /healthz answers, {VIDEOS + WAITING:,}-video database) | {startup:.2f} s | |")
    table = "\n".join(lines)
    print(table)
    text = (f"# Benchmarks\n\nOne run of `bash bench/run.sh` ({'quick: ' if QUICK else ''}{USERS:,} accounts, {VIDEOS:,} finished and "
            f"{WAITING:,} waiting videos; wrk with 2 threads, {CONNECTIONS} connections (creates: 16), {DURATION} per path).\n\n"
            f"Machine: {machine()}.\n\nRun on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n{table}\n")
    path = os.path.join(ROOT, "BENCHMARKS.md")
    # The hand-written analysis below the table survives a new run.
    if os.path.exists(path):
        earlier = open(path).read()
        if "\n## Analysis" in earlier:
            text += earlier[earlier.index("\n## Analysis"):]
    with open(path, "w") as out:
        out.write(text)
    print("wrote BENCHMARKS.md")


if __name__ == "__main__":
    main()
