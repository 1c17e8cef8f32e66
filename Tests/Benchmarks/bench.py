#!/usr/bin/env python3
"""Phim's benchmark suite: every row of the report from one run, on loopback.

Called by Tests/Benchmarks/run.sh (which builds the binaries); by hand:
    bench.py --phim BIN --bench BIN [--vapor BIN] [--build-seconds S] [--quick] [--log-levels | --creates]

The new stack runs as `phim up` (nginx, one FastCGI process of 8 threads, the provider
simulator) on a database that `PhimBench seed` filled with 10,000 accounts and 200,000 finished
videos. The Vapor version (git bb3d1aa), when given, runs as `phim serve` on a database its own
`phim bench seed` filled the same way, after the new stack has stopped: the two never share the
two cores.
"""
import argparse
import asyncio
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REPORT = os.path.join(HERE, "REPORT.md")
TICKS = os.sysconf("SC_CLK_TCK")

options = None  # the parsed command line


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def http(base, method, path, body=None, headers=None, timeout=30):
    """One JSON call; returns (status, parsed body, headers)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None, response.headers
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None, error.headers


# ---------------------------------------------------------------------------------------------
# Processes: CPU ticks, resident memory and threads from /proc.

def children(pid):
    """Every descendant of pid."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            kids = open(f"/proc/{parent}/task/{parent}/children").read().split()
        except OSError:
            continue
        for kid in map(int, kids):
            found.append(kid)
            frontier.append(kid)
    return found


def command_of(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total


def status_field(pid, name):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def rss_mib(pids):
    return sum(status_field(pid, "VmRSS") for pid in pids) / 1024


class Sampler:
    """Largest resident size of some processes, sampled every 100 ms while a row runs."""

    def __init__(self, pids):
        self.pids, self.peak, self.running = pids, 0.0, True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while self.running:
            self.peak = max(self.peak, rss_mib(self.pids))
            time.sleep(0.1)

    def stop(self):
        self.running = False
        self.thread.join()
        return self.peak


# ---------------------------------------------------------------------------------------------
# wrk

class Row:
    def __init__(self, name, rps, p50, p99, bad, errors):
        self.name, self.rps, self.p50, self.p99, self.bad, self.errors = name, rps, p50, p99, bad, errors


def wrk(name, url, script=None, connections=64, bench_dir=""):
    print(f"  {name} …", flush=True)
    command = ["wrk", "-t2", f"-c{connections}", f"-d{options.duration}s", "--latency"]
    if script:
        command += ["-s", os.path.join(HERE, "wrk", script)]
    command.append(url)
    output = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "BENCH_DIR": bench_dir},
                            timeout=options.duration + 120).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not found:
        raise SystemExit(f"wrk printed no rate for {name}:\n{output}")

    def percentile(p):
        match = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    row = Row(name, float(found.group(1)), percentile(50), percentile(99), int(bad.group(1)) if bad else 0,
              errors.group(1).strip() if errors else "")
    print(f"    {row.rps:,.0f}/s p50 {row.p50:.2f} ms p99 {row.p99:.2f} ms non-2xx {row.bad} {row.errors}", flush=True)
    return row


# ---------------------------------------------------------------------------------------------
# The new stack

class PhimUp:
    """`phim up` from the repository root on a data folder; its processes by kind."""

    def __init__(self, data, extra=None, name="up"):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data = data
        # As shipped: the default log level (`info`, a line per request) unless `extra` says otherwise.
        self.env = {**os.environ, "PHIM_PASSWORD_HASH_COST": "minimum",
                    "PHIM_CREATES_PER_MINUTE": "100000000", "PHIM_MAX_UNFINISHED_VIDEOS": "100000000"}
        self.env.pop("KIE_API_KEY", None)
        self.env.pop("LOG_LEVEL", None)
        self.env.update(extra or {})
        self.log = open(os.path.join(os.path.dirname(data), name + ".log"), "w")
        self.process = subprocess.Popen([options.phim, "up", "--port", str(self.port), "--data", data], cwd=ROOT, env=self.env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_for(self.base + "/api/healthz", 120):
            self.stop()
            raise SystemExit(f"phim up did not start; see {self.log.name}")
        time.sleep(0.5)

    def fastcgi(self):
        return [pid for pid in children(self.process.pid) if " fcgi " in command_of(pid)]

    def serving(self):
        """nginx and the FastCGI processes: what a browser's request costs."""
        return [pid for pid in children(self.process.pid) if " fcgi " in command_of(pid) or "nginx" in command_of(pid)]

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def ceiling_nginx(work):
    """A bare nginx with the same worker settings whose only answer is `return 200`."""
    prefix = os.path.join(work, "ceiling")
    os.makedirs(os.path.join(prefix, "temp"), exist_ok=True)
    port = free_port()
    user = "user root;\n" if os.geteuid() == 0 else ""
    with open(os.path.join(prefix, "nginx.conf"), "w") as conf:
        conf.write(f"""{user}worker_processes 2;
daemon off;
pid {prefix}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/temp/body;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    proxy_temp_path {prefix}/temp/proxy;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
""")
    process = subprocess.Popen(["nginx", "-p", prefix, "-c", os.path.join(prefix, "nginx.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    if not wait_for(f"http://127.0.0.1:{port}/", 20):
        raise SystemExit("the ceiling nginx did not start")
    return process, f"http://127.0.0.1:{port}/"


# ---------------------------------------------------------------------------------------------
# Browser tabs: each polls the change feed as the studio does (every 1.5 s while visible).

async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length, chunked = 0, False
    for line in lines[1:]:
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "content-length":
            length = int(value)
        elif key == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, (await reader.readexactly(length)) if length else b""
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return status, body
        body += (await reader.readexactly(size + 2))[:-2]


class Tabs:
    """N open studio tabs spread over some accounts, polling `/api/v1/videos/changes`. Records
    when each tab first saw each (video, progress)."""

    def __init__(self, port, sessions, count, interval=1.5):
        self.port, self.sessions, self.count, self.interval = port, sessions, count, interval
        self.seen = {}          # (video id, progress) → [perf_counter of each tab's first sight]
        self.polls = 0
        self.failures = 0
        self.stopping = False

    async def tab(self, owner, token):
        await asyncio.sleep(random.random() * self.interval)  # tabs opened at different moments
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        headers = f"Host: 127.0.0.1\r\nCookie: phim_session={token}\r\n\r\n"
        writer.write(f"GET /api/v1/videos?limit=24 HTTP/1.1\r\n{headers}".encode())
        status, body = await read_response(reader)
        version = json.loads(body)["version"] if status == 200 else 0
        mine = set()
        while not self.stopping:
            writer.write(f"GET /api/v1/videos/changes?after={version} HTTP/1.1\r\n{headers}".encode())
            status, body = await read_response(reader)
            now = time.perf_counter()
            self.polls += 1
            if status == 200:
                changes = json.loads(body)
                version = changes["version"]
                for video in changes["videos"]:
                    mark = (video["id"], video["progress"])
                    if mark not in mine:
                        mine.add(mark)
                        self.seen.setdefault(mark, []).append(now)
            elif status != 304:
                self.failures += 1
            await asyncio.sleep(self.interval)
        writer.close()

    async def run_with(self, body):
        tasks = [asyncio.create_task(self.tab(*self.sessions[n % len(self.sessions)])) for n in range(self.count)]
        try:
            return await body()
        finally:
            self.stopping = True
            await asyncio.gather(*tasks, return_exceptions=True)


async def post_callback(port, path, task, progress):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps({"code": 200, "msg": "progress", "data": {"taskId": task, "state": "generating", "progress": progress}}).encode()
    writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                 f"Connection: close\r\n\r\n".encode() + body)
    status, _ = await read_response(reader)
    writer.close()
    return status


def live_updates(up, bench_dir, tabs_count):
    """Row 7: what `tabs_count` open tabs cost nginx and the FastCGI process (CPU over a
    measured window, threads, memory), and how long a callback takes to reach the tabs."""
    sessions = [line.split() for line in open(os.path.join(bench_dir, "tabs.txt")).read().split("\n") if line]
    owners_tabs = {}
    for n in range(tabs_count):
        owners_tabs[sessions[n % len(sessions)][0]] = owners_tabs.get(sessions[n % len(sessions)][0], 0) + 1
    callbacks = [line.split() for line in open(os.path.join(bench_dir, "callbacks.txt")).read().split("\n") if line]
    callbacks = [c for c in callbacks if c[2] in owners_tabs]
    random.Random(7).shuffle(callbacks)
    tabs = Tabs(up.port, [(owner, token) for owner, token in sessions], tabs_count)
    serving = up.serving()
    fastcgi = up.fastcgi()
    result = {}

    async def body():
        await asyncio.sleep(tabs.interval + 3)   # every tab open and polling
        idle_rss = rss_mib(fastcgi)
        polls_before, ticks_before, started = tabs.polls, cpu_ticks(serving), time.time()
        sent = []
        window = 20.0 if not options.quick else 6.0
        count = int(window * 10)
        for n in range(count):
            path, task, owner, video = callbacks[n % len(callbacks)][:4]
            at = time.perf_counter()
            status = await post_callback(up.port, path, task, 99)
            sent.append((video, at, owner, status))
            await asyncio.sleep(max(0, started + (n + 1) * window / count - time.time()))
        elapsed = time.time() - started
        ticks = cpu_ticks(serving) - ticks_before
        result["cpu_core"] = ticks / TICKS / elapsed
        result["poll_rate"] = (tabs.polls - polls_before) / elapsed
        result["rss"] = rss_mib(fastcgi)
        result["rss_nginx"] = rss_mib([pid for pid in serving if pid not in fastcgi])
        result["threads"] = sum(status_field(pid, "Threads") for pid in fastcgi)
        await asyncio.sleep(tabs.interval + 1)  # the last callbacks reach their tabs
        delays, missing = [], 0
        for video, at, owner, status in sent:
            sights = tabs.seen.get((video, 99), [])
            delays += [(seen - at) * 1000 for seen in sights]
            missing += owners_tabs[owner] - len(sights)
        delays.sort()
        result.update(delays=delays, missing=missing, callbacks=len(sent),
                      rejected=sum(1 for s in sent if s[3] != 200), idle_rss=idle_rss)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, tabs_count * 2 + 1024)), hard))
    asyncio.run(tabs.run_with(body))
    result["failures"] = tabs.failures
    return result


def idle_cost(up, seconds):
    """CPU of nginx and the FastCGI process with no one connected, over the same window."""
    serving = up.serving()
    before, started = cpu_ticks(serving), time.time()
    time.sleep(seconds)
    return (cpu_ticks(serving) - before) / TICKS / (time.time() - started)


def provider_calls(work, callbacks_lost, tabs_count, videos=20):
    """Row 10: a fresh `phim up` in demo mode (3 s simulated jobs), `videos` creates with
    `tabs_count` tabs open on the account; provider calls per finished video from /api/metrics."""
    data = tempfile.mkdtemp(dir=work, prefix="calls-")
    up = PhimUp(os.path.join(data, "data"), {"PHIM_SIMULATOR_DELAY_SECONDS": "3", "PHIM_RECONCILE_INTERVAL_SECONDS": "2",
                                             "PHIM_STALE_AFTER_SECONDS": "4",
                                             "PHIM_SIMULATOR_CALLBACK_DROP_RATE": "1" if callbacks_lost else "0"}, name="calls")
    try:
        subprocess.run([options.phim, "credits", "grant", "--email", "demo@phim.local", "--amount", "10000000", "--reason", "benchmark",
                        "--data", up.data], env=up.env, check=True, capture_output=True)
        status, _, headers = http(up.base, "POST", "/api/v1/auth/login", {"email": "demo@phim.local", "password": "phim-demo"})
        assert status == 200, status
        cookies = "; ".join(value.split(";")[0] for value in headers.get_all("Set-Cookie"))
        token = re.search(r"phim_session=([^;]+)", cookies).group(1)
        csrf = headers["X-CSRF-Token"]
        _, made, _ = http(up.base, "POST", "/api/v1/api-keys", {"name": "bench"}, {"Cookie": cookies, "X-CSRF-Token": csrf})
        key = {"Authorization": "Bearer " + made["key"]}
        tabs = Tabs(up.port, [("demo", token)], tabs_count)
        outcome = {}

        async def body():
            await asyncio.sleep(2)
            loop = asyncio.get_running_loop()
            ids = []
            for n in range(videos):
                status, video, _ = await loop.run_in_executor(None, lambda n=n: http(up.base, "POST", "/api/v1/videos",
                                                                                    {"prompt": f"Provider calls {n}"}, key))
                assert status == 202, (status, video)
                ids.append(video["id"])
            deadline = time.time() + 120
            while time.time() < deadline:
                _, page, _ = await loop.run_in_executor(None, lambda: http(up.base, "GET", "/api/v1/videos?limit=100", headers=key))
                states = {v["id"]: v["status"] for v in page["data"]}
                if all(states.get(i) in ("completed", "failed") for i in ids):
                    break
                await asyncio.sleep(1)
            outcome["completed"] = sum(1 for i in ids if states.get(i) == "completed")
            await asyncio.sleep(4)  # two more reconciler passes: an extra query would show
            outcome["polls"] = tabs.polls

        asyncio.run(tabs.run_with(body))
        with urllib.request.urlopen(up.base + "/api/metrics", timeout=10) as response:
            text = response.read().decode()
        calls = {}
        for line in text.splitlines():
            match = re.match(r'phim_provider_calls_total\{call="([^"]+)",outcome="([^"]+)"\} (\d+)', line)
            if match:
                calls[match.group(1)] = calls.get(match.group(1), 0) + int(match.group(3))
        outcome["calls"] = calls
        outcome["videos"] = videos
        return outcome
    finally:
        up.stop()


# ---------------------------------------------------------------------------------------------
# The Vapor version

class VaporServe:
    def __init__(self, work, database, extra=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DATABASE_URL": database, "PHIM_DATA_DIR": os.path.join(work, "data"), "LOG_LEVEL": "warning",
                    "PHIM_CREATES_PER_MINUTE": "100000000", "PHIM_MAX_UNFINISHED_VIDEOS": "100000000", "PHIM_BCRYPT_COST": "4",
                    "PHIM_SIMULATOR_DELAY_SECONDS": "3600", "PHIM_STALE_AFTER_SECONDS": "86400", "PHIM_JOB_TIMEOUT_SECONDS": "86400",
                    **(extra or {})}
        self.env.pop("KIE_API_KEY", None)
        self.log = open(os.path.join(work, "vapor.log"), "w")
        self.process = subprocess.Popen([options.vapor, "serve", "--port", str(self.port)], env=self.env, cwd=work,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_for(self.base + "/healthz", 120):
            raise SystemExit(f"the Vapor version did not start; see {self.log.name}")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def vapor_rows(work):
    folder = os.path.join(work, "vapor")
    os.makedirs(folder)
    database = os.path.join(folder, "bench.sqlite")
    clients = os.path.join(folder, "clients")
    env = {**os.environ, "DATABASE_URL": database, "LOG_LEVEL": "warning"}
    print("== the Vapor version (git bb3d1aa)", flush=True)
    started = time.time()
    subprocess.run([options.vapor, "bench", "seed", "--users", str(options.users), "--videos", str(options.videos),
                    "--waiting", str(options.waiting_users * options.waiting_per_user), "--out", clients],
                   env=env, cwd=folder, check=True, capture_output=True)
    print(f"  seeded in {time.time() - started:.0f} s", flush=True)
    commit = subprocess.run([options.vapor, "bench", "commit-rate", "--seconds", str(options.commit_seconds)],
                            env=env, cwd=folder, capture_output=True, text=True, check=True)
    commit_rate = float(re.search(r"commits_per_second ([\d.]+)", commit.stdout).group(1))
    server = VaporServe(folder, database)
    rows = {}
    try:
        # Its seed keeps only the first account's key: the creates' 100 accounts get theirs as a
        # person would, by signing in and making one.
        keys = []
        for n in range(options.waiting_users):
            status, _, headers = http(server.base, "POST", "/api/v1/auth/login", {"email": f"bench{n}@phim.test", "password": "bench-password"})
            assert status == 200, f"Vapor sign-in: {status}"
            cookies = "; ".join(value.split(";")[0] for value in headers.get_all("Set-Cookie"))
            status, made, _ = http(server.base, "POST", "/api/v1/api-keys", {"name": "bench"}, {"Cookie": cookies, "X-CSRF-Token": headers["X-CSRF-Token"]})
            assert status in (200, 201), f"Vapor key: {status} {made}"
            keys.append(made["key"])
        with open(os.path.join(clients, "keys.txt"), "w") as out:
            out.write("\n".join(keys))
        pids = [server.process.pid]
        sampler = Sampler(pids)
        idle = rss_mib(pids)
        rows["ceiling"] = wrk("Vapor: GET /livez", server.base + "/livez")
        rows["read_key"] = wrk("Vapor: GET /api/v1/videos/{id} (API key)", server.base + "/", "read-key.lua", bench_dir=clients)
        rows["gallery"] = wrk("Vapor: GET /api/v1/videos?limit=24", server.base + "/", "gallery.lua", bench_dir=clients)
        rows["callbacks"] = wrk("Vapor: progress callbacks", server.base + "/", "callback.lua", bench_dir=clients)
        rows["creates"] = wrk("Vapor: POST /api/v1/videos", server.base + "/", "create.lua", connections=16, bench_dir=clients)
        peak = sampler.stop()
    finally:
        server.stop()
    return {"rows": rows, "commit_rate": commit_rate, "rss_idle": idle, "rss_peak": peak}


# ---------------------------------------------------------------------------------------------

# Simulated jobs outlast the run and nothing is due, so only the benchmark's requests load it.
QUIET_JOBS = {"PHIM_SIMULATOR_DELAY_SECONDS": "3600", "PHIM_STALE_AFTER_SECONDS": "86400", "PHIM_JOB_TIMEOUT_SECONDS": "86400"}
# A create answers once its video is queued; the dispatcher sends it. The bench's simulator has no
# rate limit, so the queue's limits are lifted too: the drain after the creates is then the
# dispatcher's own rate (what Kie's 20 per 10 s would allow is said beside it).
QUEUE_UNLIMITED = {"PHIM_PROVIDER_CREATES_PER_10S": "100000", "PHIM_PROVIDER_MAX_RUNNING": "100000"}
KIE_SENDS_PER_SECOND = 2.0


def creates_and_drain(up, clients):
    """Row 9: the creates' 202s (wrk), then how long the dispatcher took to send every video they
    queued: the sends' rate from the first to the last."""
    database = os.path.join(up.data, "phim.sqlite")

    def read(sql, *binds):
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
            return db.execute(sql, binds).fetchone()

    began_ms = int(time.time() * 1000)
    row = wrk("POST /api/v1/videos", up.base + "/", "create.lua", connections=16, bench_dir=clients)
    wrk_ended = time.monotonic()
    queued_at_end = read("SELECT COUNT(*) FROM video_jobs WHERE status = 'queued'")[0]
    while read("SELECT COUNT(*) FROM video_jobs WHERE status = 'queued'")[0] and time.monotonic() - wrk_ended < 600:
        time.sleep(0.2)
    drained_after = time.monotonic() - wrk_ended
    made, sent, first, last = read("""SELECT (SELECT COUNT(*) FROM video_jobs WHERE created_at >= ?1),
                                      COUNT(*), MIN(sent_at), MAX(sent_at) FROM provider_sends WHERE sent_at >= ?1""", began_ms)
    span = max(0.001, ((last or 0) - (first or 0)) / 1000)
    row.drain = {"created": made, "queued_at_end": queued_at_end, "sent": sent, "span": span, "rate": sent / span,
                 "drained_after": drained_after}
    print(f"    {made:,} videos queued, {queued_at_end:,} still queued when wrk ended; {sent:,} sent over {span:.1f} s "
          f"({sent / span:,.0f}/s; Kie's limit: {KIE_SENDS_PER_SECOND:.0f}/s); queue empty {drained_after:.1f} s after wrk", flush=True)
    return row


def creates_lines(livez, creates):
    """Row 9 with the queue: the 202s against livez, and the drain."""
    d = creates.drain
    return "\n".join([
        "| # | measure | value |", "|---|---|---|",
        f"| 3 | `GET /api/livez` | {livez.rps:,.0f}/s, p50 {livez.p50:.2f} ms, p99 {livez.p99:.2f} ms |",
        f"| 9 | creates `POST /api/v1/videos` (hold and queue, answered 202; 16 connections, 100 accounts) | {creates.rps:,.0f}/s, "
        f"p50 {creates.p50:.2f} ms, p99 {creates.p99:.2f} ms, **{creates.rps / livez.rps:.2f} of livez**"
        f"{f'; {creates.bad} non-2xx' if creates.bad else ''} |",
        f"| 9 | … the dispatcher's drain of the {d['created']:,} videos queued ({d['queued_at_end']:,} still queued when wrk ended) | "
        f"{d['sent']:,} sent in {d['span']:.1f} s = {d['rate']:,.0f}/s, queue empty {d['drained_after']:.1f} s after wrk; "
        f"at Kie's 20 per 10 s they would take {d['sent'] / KIE_SENDS_PER_SECOND / 3600:.1f} h |"])


def creates_only(work):
    """`--creates`: only row 9 (and livez, for the ratio) on a small seed (about a minute)."""
    data, clients = os.path.join(work, "phim", "data"), os.path.join(work, "phim", "clients")
    os.makedirs(data)
    subprocess.run([options.bench, "seed", "--database", os.path.join(data, "phim.sqlite"), "--users", "500", "--videos", "10000",
                    "--waiting-users", "20", "--waiting-per-user", "20", "--out", clients], capture_output=True, text=True, check=True)
    up = PhimUp(data, {**QUIET_JOBS, **QUEUE_UNLIMITED})
    try:
        livez = wrk("GET /api/livez", up.base + "/api/livez")
        creates = creates_and_drain(up, clients)
    finally:
        up.stop()
    print(creates_lines(livez, creates))


def log_level_lines(pairs):
    """Rows 16: the default log level against `LOG_LEVEL=warning`, per request kind; pairs of
    (name, default-level rows, warning rows)."""
    lines = ["| # | request | default level (`info`) req/s | `LOG_LEVEL=warning` req/s | default ÷ warning | target |",
             "|---|---|---:|---:|---:|---|"]
    for name, default, quiet in pairs:
        a, b = sum(r.rps for r in default) / len(default), sum(r.rps for r in quiet) / len(quiet)
        lines.append(f"| 16 | {name} | {a:,.0f} | {b:,.0f} | {a / b:.2f} | ≥ 0.90 — {'met' if a / b >= 0.90 else '**missed**'} |")
    return "\n".join(lines)


def log_levels_only(work):
    """`--log-levels`: only rows 16, alternating the two levels twice on a small seed (about 3 minutes)."""
    data, clients = os.path.join(work, "phim", "data"), os.path.join(work, "phim", "clients")
    os.makedirs(data)
    subprocess.run([options.bench, "seed", "--database", os.path.join(data, "phim.sqlite"), "--users", "500", "--videos", "10000",
                    "--waiting-users", "20", "--waiting-per-user", "20", "--out", clients], capture_output=True, text=True, check=True)
    measured = {level: {"livez": [], "read_key": []} for level in ("info", "warning")}
    for _ in range(2):
        for level in ("info", "warning"):
            up = PhimUp(data, {**QUIET_JOBS, **({"LOG_LEVEL": "warning"} if level == "warning" else {})}, name="up-" + level)
            try:
                measured[level]["livez"].append(wrk(f"GET /api/livez ({level})", up.base + "/api/livez"))
                measured[level]["read_key"].append(wrk(f"GET /api/v1/videos/{{id}} (API key, {level})", up.base + "/", "read-key.lua", bench_dir=clients))
            finally:
                up.stop()
    print(log_level_lines([("`GET /api/livez`", measured["info"]["livez"], measured["warning"]["livez"]),
                           ("`GET /api/v1/videos/{id}` (API key)", measured["info"]["read_key"], measured["warning"]["read_key"])]))


SEPAY_KEY = "bench-sepay-key-" + "5" * 16
PAYMENT_ORDERS = 60_000


def payments_at(work, level):
    """Rows 17 at one log level: SePay's notifications through nginx, each a new transfer paying
    its own order, then only redeliveries; and that every order was credited once."""
    data, new_dir, repeat_dir = (os.path.join(work, level, name) for name in ("data", "new", "repeat"))
    for folder in (data, new_dir, repeat_dir):
        os.makedirs(folder)
    up = PhimUp(data, {**QUIET_JOBS, "PHIM_SEPAY_API_KEY": SEPAY_KEY, **({"LOG_LEVEL": "warning"} if level == "warning" else {})},
                name="up-" + level)
    database = os.path.join(data, "phim.sqlite")
    try:
        # The orders go straight into the database: the API lets an account have 5 unpaid at once.
        alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
        with sqlite3.connect(database, timeout=30) as db:
            user = db.execute("SELECT id FROM users WHERE email = 'demo@phim.local'").fetchone()[0]
            now = int(time.time() * 1000)
            codes = []
            for number in range(PAYMENT_ORDERS):
                suffix, rest = "", number
                for _ in range(6):
                    suffix, rest = alphabet[rest % len(alphabet)] + suffix, rest // len(alphabet)
                codes.append("PHIM" + suffix)
            db.executemany("""INSERT INTO topup_orders (id, user_id, package_id, package_name_vi, package_name_en, code, amount_vnd,
                                credits, status, bank_bin, bank_account, bank_account_name, created_at, expires_at)
                              VALUES (?, ?, 'starter', 'Gói Khởi đầu', 'Starter', ?, 50000, 50000, 'pending', '970436', '1234567890',
                                      'PHIM DEMO', ?, ?)""",
                           [(f"bench-order-{n}", user, code, now, now + 86_400_000) for n, code in enumerate(codes)])
        for folder in (new_dir, repeat_dir):
            with open(os.path.join(folder, "key.txt"), "w") as f:
                f.write(SEPAY_KEY + "\n")
        bodies = [json.dumps({"id": 1_000_000 + n, "gateway": "Vietcombank", "transactionDate": "2026-12-07 10:00:00",
                              "accountNumber": "1234567890", "code": None, "content": f"{code} chuyen tien", "transferType": "in",
                              "transferAmount": 50000, "accumulated": 0, "subAccount": None, "referenceCode": f"FT{n}",
                              "description": ""}) for n, code in enumerate(codes)]
        with open(os.path.join(new_dir, "sepay.txt"), "w") as f:
            f.write("\n".join(bodies) + "\n")

        def counts():
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
                return db.execute("""SELECT (SELECT COUNT(*) FROM bank_notifications),
                                            (SELECT COUNT(*) FROM bank_notifications WHERE outcome = 'credited'),
                                            (SELECT COUNT(*) FROM credit_entries WHERE kind = 'topup')""").fetchone()
        def settled():
            """The counts once the posts wrk left in flight are answered."""
            last = counts()
            while True:
                time.sleep(0.5)
                now = counts()
                if now == last:
                    return now
                last = now
        fresh = wrk(f"POST /api/v1/payments/sepay, new transfers ({level})", up.base + "/", "sepay.lua", connections=16, bench_dir=new_dir)
        journaled, credited, entries = settled()
        if journaled >= PAYMENT_ORDERS:
            raise SystemExit("every prepared transfer was posted: raise PAYMENT_ORDERS so the row measures new ones only")
        # The redeliveries: exactly the transfers journaled (the two threads did not reach the same line).
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
            posted = [int(row[0]) - 1_000_000 for row in db.execute("SELECT provider_txn_id FROM bank_notifications")]
        with open(os.path.join(repeat_dir, "sepay.txt"), "w") as f:
            f.write("\n".join(bodies[n] for n in posted) + "\n")
        repeats = wrk(f"POST /api/v1/payments/sepay, redeliveries ({level})", up.base + "/", "sepay.lua", connections=16, bench_dir=repeat_dir)
        after = settled()
    finally:
        up.stop()
    verified = subprocess.run([options.phim, "ledger", "verify", "--data", data], capture_output=True, text=True)
    once = journaled == credited == entries and after == (journaled, credited, entries) and verified.returncode == 0
    print(f"    {journaled:,} transfers journaled, {credited:,} orders credited, {entries:,} top-up entries; after the redeliveries "
          f"{after[0]:,} / {after[1]:,} / {after[2]:,}; ledger verify {'clean' if verified.returncode == 0 else 'FAILED'}", flush=True)
    return {"new": fresh, "repeat": repeats, "credited": credited, "once": once}


def payments_only(work):
    """`--payments`: only rows 17, the default log level and `LOG_LEVEL=warning` in one run (about a minute)."""
    measured = {level: payments_at(work, level) for level in ("info", "warning")}
    info, quiet = measured["info"], measured["warning"]
    lines = ["| # | request | default level (`info`) | `LOG_LEVEL=warning` | default ÷ warning |", "|---|---|---|---|---:|"]
    for key, label in (("new", "SePay notification, a new transfer paying its order (journal, match, credit)"),
                       ("repeat", "SePay notification, a redelivery (journal hit, nothing else)")):
        a, b = info[key], quiet[key]
        lines.append(f"| 17 | {label} | {a.rps:,.0f}/s, p50 {a.p50:.2f} ms, p99 {a.p99:.2f} ms{f', {a.bad} non-2xx' if a.bad else ''} | "
                     f"{b.rps:,.0f}/s, p50 {b.p50:.2f} ms, p99 {b.p99:.2f} ms{f', {b.bad} non-2xx' if b.bad else ''} | {a.rps / b.rps:.2f} |")
    lines.append(f"| 17 | each order credited exactly once, the redeliveries credited nothing, `phim ledger verify` clean | "
                 f"{'yes' if info['once'] else '**no**'} ({info['credited']:,} orders) | {'yes' if quiet['once'] else '**no**'} "
                 f"({quiet['credited']:,} orders) | |")
    print("\n".join(lines))


def new_stack(work):
    data = os.path.join(work, "phim", "data")
    clients = os.path.join(work, "phim", "clients")
    os.makedirs(data)
    print("== the FastCGI stack", flush=True)
    seeded = subprocess.run([options.bench, "seed", "--database", os.path.join(data, "phim.sqlite"), "--users", str(options.users),
                             "--videos", str(options.videos), "--waiting-users", str(options.waiting_users),
                             "--waiting-per-user", str(options.waiting_per_user), "--out", clients],
                            capture_output=True, text=True, check=True)
    print("  " + seeded.stdout.strip(), flush=True)
    commit = subprocess.run([options.bench, "commit-rate", "--database", os.path.join(data, "phim.sqlite"),
                             "--seconds", str(options.commit_seconds)], capture_output=True, text=True, check=True)
    commit_rate = float(re.search(r"commits_per_second ([\d.]+)", commit.stdout).group(1))
    print(f"  raw commit rate {commit_rate:,.0f}/s", flush=True)

    nginx, ceiling_url = ceiling_nginx(work)
    try:
        ceiling = wrk("nginx return 200", ceiling_url)
    finally:
        nginx.terminate()
        nginx.wait()

    # Simulated jobs outlast the run and nothing is due, so only the benchmark's requests load it.
    up = PhimUp(data, {**QUIET_JOBS, **QUEUE_UNLIMITED})
    rows = {"ceiling": ceiling}
    try:
        fastcgi = up.fastcgi()
        rss_idle = rss_mib(fastcgi)
        sampler = Sampler(fastcgi)
        rows["static"] = wrk("nginx static page (/)", up.base + "/")
        rows["livez"] = wrk("GET /api/livez", up.base + "/api/livez")
        rows["healthz"] = wrk("GET /api/healthz", up.base + "/api/healthz")
        rows["read_key"] = wrk("GET /api/v1/videos/{id} (API key)", up.base + "/", "read-key.lua", bench_dir=clients)
        rows["read_cookie"] = wrk("GET /api/v1/videos/{id} (cookie)", up.base + "/", "read-cookie.lua", bench_dir=clients)
        rows["gallery"] = wrk("GET /api/v1/videos?limit=24", up.base + "/", "gallery.lua", bench_dir=clients)
        rows["callbacks"] = wrk("progress callbacks", up.base + "/", "callback.lua", bench_dir=clients)
        rss_peak = sampler.stop()
        print(f"  {options.tabs} open tabs …", flush=True)
        idle_cpu = idle_cost(up, 5)
        tabs = live_updates(up, clients, options.tabs)
        tabs["idle_cpu"] = idle_cpu
        sampler = Sampler(fastcgi)
        rows["creates"] = creates_and_drain(up, clients)
        rss_peak = max(rss_peak, sampler.stop())
        restarts = [pid for pid in up.fastcgi() if pid not in fastcgi]
    finally:
        up.stop()
    quiet = PhimUp(data, {**QUIET_JOBS, "LOG_LEVEL": "warning"}, name="up-warning")
    try:
        rows["livez_warning"] = wrk("GET /api/livez (LOG_LEVEL=warning)", quiet.base + "/api/livez")
        rows["read_key_warning"] = wrk("GET /api/v1/videos/{id} (API key, LOG_LEVEL=warning)", quiet.base + "/", "read-key.lua", bench_dir=clients)
    finally:
        quiet.stop()
    verify = subprocess.run([options.phim, "ledger", "verify", "--data", data], capture_output=True, text=True)
    calls = {}
    for lost in (False, True):
        for count in (1, 50):
            print(f"  provider calls per video: callbacks {'lost' if lost else 'working'}, {count} tab(s) …", flush=True)
            calls[(lost, count)] = provider_calls(work, lost, count)
    return {"rows": rows, "commit_rate": commit_rate, "rss_idle": rss_idle, "rss_peak": rss_peak, "tabs": tabs,
            "calls": calls, "ledger": verify.stdout.strip() or verify.stderr.strip(), "restarted": bool(restarts)}


def percentile(values, p):
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    memory = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1]) / 1024 / 1024
    swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip().replace("nginx version: ", "")
    return f"{os.cpu_count()} × {cpu}, {memory:.0f} GiB, Linux {platform.release()}; {swift}; {nginx}; wrk 4.1.0; SQLite (WAL), loopback"


def report(new, vapor):
    r = new["rows"]
    livez = r["livez"].rps

    def line(number, name, row, against=None, target=None):
        ratio = f"{row.rps / against:.2f}" if against else ""
        met = ""
        if target is not None and against:
            met = "met" if row.rps / against >= target else "**missed**"
        errors = f"{row.bad} non-2xx" if row.bad else ""
        if row.errors:
            errors = (errors + "; " if errors else "") + "socket errors: " + row.errors
        return (f"| {number} | {name} | {row.rps:,.0f} | {row.p50:.2f} | {row.p99:.2f} | {ratio} | "
                f"{'' if target is None else f'≥ {target:.2f} of row 3 — {met}'} | {errors} |")

    lines = ["| # | row | req/s | p50 ms | p99 ms | ÷ row 3 | target | errors |", "|---|---|---:|---:|---:|---:|---|---|"]
    lines.append(line(1, "nginx `return 200` (bare nginx, same worker settings)", r["ceiling"]))
    lines.append(line(2, "nginx static page from `public/` (`/`, the studio)", r["static"]))
    lines.append(line(3, "`GET /api/livez` (nginx → FastCGI → nginx, no database)", r["livez"]))
    lines.append(line(4, "`GET /api/healthz` (one query)", r["healthz"], livez))
    lines.append(line("5a", "`GET /api/v1/videos/{id}`, API key (one of 2,020 of the account's videos)", r["read_key"], livez, 0.80))
    lines.append(line("5b", "`GET /api/v1/videos/{id}`, session cookie", r["read_cookie"], livez, 0.80))
    lines.append(line(6, "gallery page `GET /api/v1/videos?limit=24`", r["gallery"], livez, 0.50))
    lines.append(line(8, "callback ingestion (progress callbacks, 2,000 waiting videos)", r["callbacks"], livez))
    lines.append(line(9, "creates `POST /api/v1/videos` (hold and queue, answered before the send; 16 connections, 100 accounts)", r["creates"], livez, 0.20))
    table = "\n".join(lines)
    table += "\n\nEvery row above runs at the default log level, as shipped (a line per request). The same two reads with `LOG_LEVEL=warning`:\n\n"
    table += log_level_lines([("`GET /api/livez`", [r["livez"]], [r["livez_warning"]]),
                              ("`GET /api/v1/videos/{id}` (API key)", [r["read_key"]], [r["read_key_warning"]])])

    t = new["tabs"]
    p50, p99 = percentile(t["delays"], 50), percentile(t["delays"], 99)
    measures = ["| # | measure | value | target |", "|---|---|---|---|"]
    measures.append(f"| 7 | {options.tabs:,} open tabs polling the change feed every 1.5 s ({t['poll_rate']:,.0f} polls/s): "
                    f"CPU of nginx + the FastCGI process | {t['cpu_core']:.2f} of one core (idle: {t['idle_cpu']:.2f}) | "
                    f"< 1 core — {'met' if t['cpu_core'] < 1 else '**missed**'} |")
    measures.append(f"| 7 | … threads of the FastCGI process (fixed pool; no tab holds one) | {t['threads']} | |")
    memory = t['rss'] + t['rss_nginx']
    measures.append(f"| 7 | … resident memory, FastCGI process + nginx, with the tabs open | {t['rss']:.0f} + {t['rss_nginx']:.0f} MiB "
                    f"(FastCGI before: {t['idle_rss']:.0f} MiB) | < 200 MB — {'met' if memory < 190 else '**missed**'} |")
    measures.append(f"| 7 | … callback → tab sees it, p50 / p99 ({len(t['delays']):,} sightings of {t['callbacks']} callbacks; "
                    f"{t['missing']} missed, {t['rejected']} callbacks refused, {t['failures']} failed polls) | "
                    f"{p50:,.0f} / {p99:,.0f} ms | p99 < 2 s (polling) — {'met' if p99 < 2000 and t['missing'] == 0 else '**missed**'} |")
    measures.append(f"| 9 | raw SQLite commit rate, same file, 8 threads through `Database.write` | {new['commit_rate']:,.0f} /s | |")
    measures.append(f"| 9 | creates ÷ raw commit rate | {r['creates'].rps / new['commit_rate']:.2f} | |")
    d = r["creates"].drain
    measures.append(f"| 9 | … the dispatcher's drain of the {d['created']:,} videos the creates queued (no rate limit at the simulator "
                    f"or in the queue) | {d['sent']:,} sent at {d['rate']:,.0f}/s, queue empty {d['drained_after']:.1f} s after wrk "
                    f"(Kie's 20 per 10 s: {d['sent'] / KIE_SENDS_PER_SECOND / 3600:.1f} h) | |")
    for (lost, count), c in sorted(new["calls"].items()):
        done = max(1, c["completed"])
        status_calls = c["calls"].get("record_info", 0)
        per = status_calls / done
        creates = c["calls"].get("create_task", 0) / done
        measures.append(f"| 10 | provider status queries per finished video, callbacks {'**lost**' if lost else 'working'}, "
                        f"{count} tab{'s' if count > 1 else ''} ({c['completed']}/{c['videos']} finished; {creates:.2f} creates per video; "
                        f"{c['polls']} tab polls; other calls: {', '.join(f'{k} {v}' for k, v in sorted(c['calls'].items()) if k not in ('record_info', 'create_task')) or 'none'}) | {per:.2f} | ≤ 1.0 — {'met' if per <= 1.0 and c['completed'] == c['videos'] else '**missed**'} |")
    measures.append(f"| 11 | resident memory of the FastCGI process (8 threads), idle / peak under load | "
                    f"{new['rss_idle']:.0f} / {new['rss_peak']:.0f} MiB | |")
    if options.build_seconds:
        measures.append(f"| 12 | clean release build (`swift build -c release --product phim`, new scratch folder, 2 cores) | "
                        f"{options.build_seconds:.0f} s | < 120 s — {'met' if options.build_seconds < 120 else '**missed**'} |")
    measures.append(f"| | ledger after the run (`phim ledger verify`) | {new['ledger']} | no problem |")
    if new["restarted"]:
        measures.append("| | **a FastCGI process died during the run and was restarted** | | never |")
    table += "\n\n" + "\n".join(measures)

    if vapor:
        v = vapor["rows"]
        side = ["| row | FastCGI stack req/s (p50 / p99 ms) | Vapor version req/s (p50 / p99 ms) | new ÷ old | target |",
                "|---|---:|---:|---:|---|"]

        def pair(name, new_row, old_row, target=1.0):
            ratio = new_row.rps / old_row.rps
            return (f"| {name} | {new_row.rps:,.0f} ({new_row.p50:.1f} / {new_row.p99:.1f}) | {old_row.rps:,.0f} "
                    f"({old_row.p50:.1f} / {old_row.p99:.1f}) | {ratio:.1f}× | ≥ {target:g}× — {'met' if ratio >= target else '**missed**'} |")
        side.append(f"| ceiling (`/api/livez` behind nginx; Vapor: `/livez`, no proxy) | {r['livez'].rps:,.0f} | {v['ceiling'].rps:,.0f} | "
                    f"{r['livez'].rps / v['ceiling'].rps:.1f}× | |")
        side.append(pair("read one video (API key)", r["read_key"], v["read_key"]))
        side.append(pair("gallery page (limit=24)", r["gallery"], v["gallery"]))
        side.append(pair("progress callbacks", r["callbacks"], v["callbacks"]))
        side.append(pair("creates (16 connections, 100 accounts)", r["creates"], v["creates"], 10.0))
        side.append(f"| raw commit rate (each one's own tool, 8 / 16 writers) | {new['commit_rate']:,.0f} | {vapor['commit_rate']:,.0f} | "
                    f"{new['commit_rate'] / vapor['commit_rate']:.1f}× | |")
        side.append(f"| resident memory idle / peak (one process) | {new['rss_idle']:.0f} / {new['rss_peak']:.0f} MiB | "
                    f"{vapor['rss_idle']:.0f} / {vapor['rss_peak']:.0f} MiB | | |")
        if options.vapor_build_seconds:
            side.append(f"| clean release build | {options.build_seconds:.0f} s | {options.vapor_build_seconds:.0f} s | | |")
        table += "\n\n## Side by side with the Vapor version (git bb3d1aa), same run\n\n" + "\n".join(side)

    print(table)
    quick = " (quick: small data, short runs — not for the record)" if options.quick else ""
    text = (f"# Benchmark report\n\nOne run of `bash Tests/Benchmarks/run.sh`{quick}: {options.users:,} accounts, {options.videos:,} "
            f"finished and {options.waiting_users * options.waiting_per_user:,} waiting videos; `wrk -t2 -c64 -d{options.duration}s` "
            f"per row (creates: 16 connections); `phim up` defaults: nginx with 2 workers, one FastCGI process with 8 threads.\n\n"
            f"Machine: {machine()}. wrk, nginx, the FastCGI process and the simulator share the two cores.\n\n"
            f"Run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n## The rows\n\n{table}\n")
    # The analysis below the tables is written by hand and survives a new run.
    if os.path.exists(REPORT):
        earlier = open(REPORT).read()
        if "\n## Analysis" in earlier:
            text += earlier[earlier.index("\n## Analysis"):]
    target = REPORT if not options.quick else os.path.join(options.work, "REPORT.md")
    with open(target, "w") as out:
        out.write(text)
    print(f"wrote {target}")


def main():
    global options
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phim", required=True)
    parser.add_argument("--bench", required=True, help="the PhimBench binary")
    parser.add_argument("--vapor", help="the Vapor version's phim binary (skipped when absent)")
    parser.add_argument("--build-seconds", type=float)
    parser.add_argument("--vapor-build-seconds", type=float)
    parser.add_argument("--quick", action="store_true", help="small data, short runs: to try the suite")
    parser.add_argument("--log-levels", action="store_true", help="only rows 16: the default log level against LOG_LEVEL=warning")
    parser.add_argument("--creates", action="store_true", help="only row 9 (with livez, for the ratio) on a small seed")
    parser.add_argument("--payments", action="store_true", help="only rows 17: SePay notifications at both log levels")
    options = parser.parse_args()
    for name in ("phim", "bench", "vapor"):
        if getattr(options, name):
            setattr(options, name, os.path.abspath(getattr(options, name)))
    options.users, options.videos, options.waiting_users, options.waiting_per_user = \
        (500, 10_000, 20, 20) if options.quick else (10_000, 200_000, 100, 20)
    options.duration = 3 if options.quick else 10
    options.commit_seconds = 2 if options.quick else 5
    options.tabs = 100 if options.quick else 1_000
    options.work = tempfile.mkdtemp(prefix="phim-bench-")
    print(f"work folder {options.work}", flush=True)
    try:
        if options.log_levels:
            return log_levels_only(options.work)
        if options.creates:
            return creates_only(options.work)
        if options.payments:
            return payments_only(options.work)
        new = new_stack(options.work)
        vapor = vapor_rows(options.work) if options.vapor else None
        report(new, vapor)
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(options.work, ignore_errors=True)


if __name__ == "__main__":
    main()
