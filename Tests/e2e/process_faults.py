#!/usr/bin/env python3
"""Process and deployment faults, through a real nginx and real FastCGI processes: each scenario
starts its own `phim up` (demo mode, fast simulator) in its own temporary data directory.

    python3 Tests/e2e/process_faults.py --phim .build/debug/phim --repo . [--only 1,3]

1. SIGKILL of a FastCGI process (twice) during a load of creates and callbacks: quick JSON
   errors, the process comes back, nothing acknowledged is lost, retries make nothing twice,
   the money adds up.
2. Every worker restarted gracefully (SIGTERM) in turn under load, with connections queued at
   the moment of the signal: zero failed requests.
3. A stalled provider (`#stall`): creates are queued and answered at once (before the queue, the
   creates over capacity got a JSON 503), livez stays fast, and every video is sent later.
4. Slow clients (headers and bodies a byte every 0.5 s) hold no FastCGI thread; oversized bodies
   get a JSON 413.
5. The database unwritable, locked past the busy timeout, then the disk full: JSON 503s, no
   partial money movement, recovery without a restart.
6. An online backup of a 60 MB database taken under load: quick, and it restores to a database
   the ledger verifier accepts.

Runs as root (scenario 5 uses `chattr +i`, which even root cannot write through, and a tmpfs).
Standard library only. Prints one line per check, the figures of the run, then
`N passed, N failed`; exits non-zero on a failure.
"""
import argparse
import collections
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

PASSED, FAILED = [], []
FIGURES = []
# Temporary directories: removed after a clean run, kept (and named) after a failure.
TEMPORARY = []


def check(name, condition, detail=""):
    (PASSED if condition else FAILED).append(name)
    print(("ok   " if condition else "FAIL ") + name + ("" if condition or not detail else f"  ({detail})"), flush=True)
    return condition


def figure(scenario, text):
    FIGURES.append(f"{scenario}: {text}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- HTTP -------------------------------------------------------------------------------------

class Answer:
    def __init__(self, status, body, headers, seconds, error=None):
        self.status, self.body, self.headers, self.seconds, self.error = status, body, headers, seconds, error

    @property
    def code(self):
        return (self.body or {}).get("error", {}).get("code") if isinstance(self.body, dict) else None

    def __repr__(self):
        return f"<{self.status} {self.code or ''} {self.seconds:.2f}s {self.error or ''}>"


def call(port, method, path, body=None, key=None, headers=None, timeout=20, cookies=None, raw=None):
    """One request on a connection of its own. No answer (refused, reset, timed out) is status 0."""
    started = time.monotonic()
    all_headers = {"Accept-Language": "en"}
    if key:
        all_headers["Authorization"] = f"Bearer {key}"
    if cookies:
        all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=data, headers=all_headers)
        response = connection.getresponse()
        payload = response.read()
        answer_headers = {k.lower(): v for k, v in response.getheaders()}
        answer_headers["set-cookie-all"] = [v for k, v in response.getheaders() if k.lower() == "set-cookie"]
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = None
        return Answer(response.status, parsed, answer_headers, time.monotonic() - started)
    except (OSError, http.client.HTTPException) as error:
        return Answer(0, None, {}, time.monotonic() - started, f"{type(error).__name__}: {error}")
    finally:
        connection.close()


def is_json_unavailable(answer):
    """What a client gets when Phim cannot serve now: a JSON 503 that says when to come back."""
    return (answer.status == 503 and answer.code in ("service_unavailable", "service_busy")
            and answer.headers.get("retry-after", "").isdigit())


# -- Raw FastCGI to one process's socket (to know a restarted process answers) ---------------

def fastcgi_request(params, body):
    """One FastCGI request (id 1) as nginx would send it: begin, the params, then `body` as stdin."""
    def record(kind, content):
        padding = (8 - len(content) % 8) % 8
        return struct.pack(">BBHHBB", 1, kind, 1, len(content), padding, 0) + content + b"\0" * padding

    def pair(name, value):
        name, value = name.encode(), value.encode()
        return bytes([len(name)]) + bytes([len(value)]) + name + value

    return (record(1, struct.pack(">HB5x", 1, 0)) + record(4, b"".join(pair(k, v) for k, v in params.items()))
            + record(4, b"") + record(5, body))


def fastcgi_livez(socket_path, timeout=2):
    params = {"REQUEST_METHOD": "GET", "REQUEST_URI": "/api/livez", "DOCUMENT_URI": "/api/livez",
              "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1", "CONTENT_LENGTH": "0", "REQUEST_ID": "faults-probe"}
    payload = fastcgi_request(params, b"")
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(timeout)
    try:
        connection.connect(socket_path)
        connection.sendall(payload)
        output = b""
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            output += chunk
        return b"Status: 200" in output and b'"ok"' in output
    except OSError:
        return False
    finally:
        connection.close()


def fastcgi_hold(socket_path, seconds):
    """A request straight to a FastCGI socket that declares a body and sends half of it: the
    worker thread that took it waits for the rest (nginx never does this: it buffers bodies)."""
    params = {"REQUEST_METHOD": "POST", "REQUEST_URI": "/api/v1/videos/quote", "DOCUMENT_URI": "/api/v1/videos/quote",
              "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1", "CONTENT_LENGTH": "64", "CONTENT_TYPE": "application/json",
              "REQUEST_ID": "faults-held"}
    payload = fastcgi_request(params, b'{"prompt": "half')
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(socket_path)
        connection.sendall(payload)
        time.sleep(seconds)
    finally:
        connection.close()


# -- One `phim up` -----------------------------------------------------------------------------

class Account:
    def __init__(self, email, user_id, key, cookies, csrf):
        self.email, self.id, self.key, self.cookies, self.csrf = email, user_id, key, cookies, csrf


class Phim:
    """`phim up` in its own data directory, demo mode, a fast simulator and no abuse limits."""

    def __init__(self, args, name, workers=2, threads=None, data=None, extra_env=None):
        self.args, self.name, self.workers, self.threads = args, name, workers, threads
        self.home = tempfile.mkdtemp(prefix=f"phim-faults-{name}-")
        TEMPORARY.append(self.home)
        self.data = data or os.path.join(self.home, "data")
        self.port = free_port()
        self.database = os.path.join(self.data, "phim.sqlite")
        env = {k: v for k, v in os.environ.items() if k not in ("KIE_API_KEY", "DATABASE_URL", "KIE_BASE_URL", "PHIM_PUBLIC_URL")}
        env.update({
            "PHIM_SIMULATOR_DELAY_SECONDS": "2", "PHIM_CREATES_PER_MINUTE": "100000",
            "PHIM_SIGNUPS_PER_ADDRESS_PER_HOUR": "100000", "PHIM_MAX_UNFINISHED_VIDEOS": "100000",
            "PHIM_PASSWORD_HASH_COST": "minimum", "PHIM_AUTH_RATE": "6000r/m",
            # The queue sends as fast as its senders go: Kie's limits are queue_test.py's.
            "PHIM_PROVIDER_CREATES_PER_10S": "100000",
            # Lost callbacks are made up for by the reconciler within seconds, and a create whose
            # process died before it called the provider is released after 8 s, so every job ends
            # within the scenario.
            "PHIM_RECONCILE_INTERVAL_SECONDS": "1", "PHIM_STALE_AFTER_SECONDS": "3", "PHIM_UNCONFIRMED_HOLD_SECONDS": "8",
            "LOG_LEVEL": "warning",
        })
        env.update(extra_env or {})
        self.env = env
        self.process = None
        self.log_path = os.path.join(self.home, "phim.log")

    def start(self):
        command = [self.args.phim, "up", "--port", str(self.port), "--workers", str(self.workers), "--data", self.data]
        if self.threads:
            command += ["--threads", str(self.threads)]
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, cwd=self.args.repo, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if call(self.port, "GET", "/api/livez", timeout=2).status == 200 and len(self.pids()) == self.workers:
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"phim up ({self.name}) did not start; log: {self.log_path}\n{self.tail()}")

    def stop(self):
        """SIGTERM and wait; True when `phim up` stopped cleanly."""
        if not self.process or self.process.poll() is not None:
            return False
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(45)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return False
        self.log.close()
        return self.process.returncode == 0

    def tail(self, lines=15):
        with open(self.log_path, "rb") as log:
            return b"\n".join(log.read().splitlines()[-lines:]).decode(errors="replace")

    def log_lines(self, *words):
        """Lines of the service's log that contain every one of `words`."""
        with open(self.log_path, errors="replace") as log:
            return sum(1 for line in log if all(word in line for word in words))

    def socket_path(self, index):
        return os.path.join(os.path.realpath(self.data), "run", f"phim-{index}.sock")

    def pids(self):
        """{socket index: pid} of the FastCGI processes serving this data directory."""
        out = subprocess.run(["pgrep", "-af", f"fcgi --socket {os.path.realpath(self.data)}/run/phim-"],
                             capture_output=True, text=True).stdout
        found = {}
        for line in out.splitlines():
            pid, _, command = line.partition(" ")
            for part in command.split():
                if part.endswith(".sock") and "/run/phim-" in part:
                    found[int(part.rsplit("phim-", 1)[1].split(".")[0])] = int(pid)
        return found

    def wait_replaced(self, index, old_pid, timeout=20):
        """Seconds until a new process serves socket `index` and answers on it, or None."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            pid = self.pids().get(index)
            if pid and pid != old_pid and fastcgi_livez(self.socket_path(index)):
                return time.monotonic() - started
            time.sleep(0.05)
        return None

    def cli(self, *argv, env=None, cwd=None):
        return subprocess.run([self.args.phim, *argv, "--data", self.data], capture_output=True, text=True, timeout=60,
                              env=env or self.env, cwd=cwd or self.home)

    def grant(self, email, amount, reason="faults suite"):
        return self.cli("credits", "grant", "--email", email, "--amount", str(amount), "--reason", reason)

    def account(self, credits=0, admin=False):
        email = f"faults-{uuid.uuid4().hex[:10]}@example.com"
        if admin:
            made = self.cli("users", "create", "--email", email, "--password", "faults-password", "--admin")
            assert made.returncode == 0, made.stderr
        else:
            answer = call(self.port, "POST", "/api/v1/auth/register", {"email": email, "password": "faults-password"})
            assert answer.status == 201, answer
        login = call(self.port, "POST", "/api/v1/auth/login", {"email": email, "password": "faults-password"})
        assert login.status == 200, login
        cookies = {}
        for value in login.headers["set-cookie-all"]:
            name, _, rest = value.partition("=")
            cookies[name] = rest.split(";")[0]
        csrf = login.headers.get("x-csrf-token") or login.body.get("csrf_token")
        made = call(self.port, "POST", "/api/v1/api-keys", {"name": "faults"}, cookies=cookies, headers={"X-CSRF-Token": csrf})
        assert made.status == 201, made
        if credits:
            granted = self.grant(email, credits)
            assert granted.returncode == 0, granted.stderr
        return Account(email, login.body["id"], made.body["key"], cookies, csrf)

    def db(self):
        """The database, read-only: the suite looks, it never writes."""
        return sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)

    def wait_jobs_finished(self, timeout=40):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.db() as db:
                if db.execute("SELECT COUNT(*) FROM video_jobs WHERE status IN ('queued','submitting','pending','processing')").fetchone()[0] == 0:
                    return True
            time.sleep(0.5)
        return False

    def money_problems(self):
        """Per account: available = grants + deductions - prices of settled videos, nothing held;
        and no job left unfinished or ended with its hold open."""
        problems = []
        with self.db() as db:
            for user_id, email, available, held, grants, deducts, settled in db.execute("""
                SELECT u.id, u.email, u.credits_available, u.credits_held,
                  (SELECT COALESCE(SUM(available_delta), 0) FROM credit_entries WHERE user_id = u.id AND kind = 'grant'),
                  (SELECT COALESCE(SUM(available_delta), 0) FROM credit_entries WHERE user_id = u.id AND kind = 'deduct'),
                  (SELECT COALESCE(SUM(price_credits), 0) FROM video_jobs WHERE user_id = u.id AND hold_state = 'settled')
                FROM users u"""):
                if available != grants + deducts - settled or held != 0:
                    problems.append(f"{email}: available {available} held {held}, grants {grants} deductions {deducts} settled {settled}")
            unfinished = db.execute("SELECT COUNT(*) FROM video_jobs WHERE status IN ('queued','submitting','pending','processing')").fetchone()[0]
            open_holds = db.execute("SELECT COUNT(*) FROM video_jobs WHERE status IN ('completed','failed','canceled') AND hold_state = 'open'").fetchone()[0]
            bad_holds = db.execute("""SELECT COUNT(*) FROM video_jobs WHERE (status = 'completed' AND hold_state != 'settled')
                                      OR (status IN ('failed','canceled') AND hold_state = 'settled')""").fetchone()[0]
        if unfinished:
            problems.append(f"{unfinished} job(s) unfinished")
        if open_holds:
            problems.append(f"{open_holds} finished job(s) with an open hold")
        if bad_holds:
            problems.append(f"{bad_holds} job(s) whose hold does not match their end")
        return problems

    def verify_ledger(self):
        result = self.cli("ledger", "verify")
        return result.returncode == 0, (result.stdout + result.stderr).strip()[-400:]


# -- A load of creates and reads ----------------------------------------------------------------

class Load:
    """Client threads, each with an account's API key, sending a cycle of requests until told
    to stop (or a bound on time and count). Every create carries an Idempotency-Key."""

    def __init__(self, phim, accounts, threads, cycle, seconds=30, per_thread=2000, prompt="a lantern on a river"):
        self.phim, self.accounts, self.cycle, self.prompt = phim, accounts, cycle, prompt
        self.seconds, self.per_thread = seconds, per_thread
        self.answers = []       # (kind, Answer, monotonic time it was sent)
        self.creates = []       # dict(account, key, body, answer)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]

    def start(self):
        for thread in self.threads:
            thread.start()
        return self

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)

    def burst(self, count):
        """`count` creates at once beside the steady load, so that connections wait in the
        FastCGI processes' accept queues; returns their threads."""
        def one(i):
            account = self.accounts[i % len(self.accounts)]
            key, body, sent = str(uuid.uuid4()), {"prompt": f"{self.prompt} burst {i}"}, time.monotonic()
            answer = call(self.phim.port, "POST", "/api/v1/videos", body, key=account.key, headers={"Idempotency-Key": key})
            with self.lock:
                self.creates.append({"account": account, "key": key, "body": body, "answer": answer})
                self.answers.append(("create", answer, sent))
        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(count)]
        for thread in threads:
            thread.start()
        return threads

    def run(self, index):
        account = self.accounts[index % len(self.accounts)]
        port = self.phim.port
        deadline = time.monotonic() + self.seconds
        last_video = None
        for n in range(self.per_thread):
            if self.stopping.is_set() or time.monotonic() > deadline:
                return
            kind = self.cycle[n % len(self.cycle)]
            sent = time.monotonic()
            if kind == "create":
                key = str(uuid.uuid4())
                body = {"prompt": f"{self.prompt} {index}-{n}"}
                answer = call(port, "POST", "/api/v1/videos", body, key=account.key, headers={"Idempotency-Key": key})
                if answer.status in (200, 202):
                    last_video = answer.body["id"]
                with self.lock:
                    self.creates.append({"account": account, "key": key, "body": body, "answer": answer})
            elif kind == "me":
                answer = call(port, "GET", "/api/v1/me", key=account.key)
            elif kind == "list":
                answer = call(port, "GET", "/api/v1/videos?limit=5", key=account.key)
            elif kind == "video" and last_video:
                answer = call(port, "GET", f"/api/v1/videos/{last_video}", key=account.key)
            else:
                answer = call(port, "GET", "/api/healthz")
            with self.lock:
                self.answers.append((kind, answer, sent))

    def statuses(self):
        return dict(sorted(collections.Counter(a.status for _, a, _ in self.answers).items()))


# -- 1. SIGKILL during a load ---------------------------------------------------------------------

def sigkill_under_load(args):
    scenario = "1 sigkill"
    phim = Phim(args, "sigkill", workers=2).start()
    try:
        # Enough for every create the load can send (2 threads per account, 1,000 creates each).
        accounts = [phim.account(credits=20_000_000) for _ in range(3)]
        load = Load(phim, accounts, threads=6, cycle=["create", "video", "create", "me"], seconds=25).start()
        kills, restarts = [], []
        time.sleep(2.5)
        for index in (1, 2):
            pid = phim.pids()[index]
            os.kill(pid, signal.SIGKILL)
            kills.append(time.monotonic())
            restarts.append(phim.wait_replaced(index, pid))
            time.sleep(2.0)
        last_kill = kills[-1]
        time.sleep(1.5)
        load.stop()

        answers = [a for _, a, _ in load.answers]
        unanswered = [a for a in answers if a.status == 0]
        slowest = max(a.seconds for a in answers)
        errors = [a for a in answers if a.status >= 500]
        after = [a for _, a, sent in load.answers if sent > last_kill + 1 and a.status in (200, 202)]
        check("SIGKILL under load: every request answered, none slower than 5 s", not unanswered and slowest < 5,
              f"{len(unanswered)} unanswered {unanswered[:3]}, slowest {slowest:.2f} s")
        check("SIGKILL under load: what nginx could not pass is a JSON 503 with Retry-After",
              all(is_json_unavailable(a) for a in errors), [a for a in errors if not is_json_unavailable(a)][:3])
        check("SIGKILL under load: phim up started each killed process again and it answers",
              all(r is not None for r in restarts), restarts)
        check("SIGKILL under load: the load continued after the kills", len(after) > 10, len(after))

        # Creates no longer wait on the provider, so the same 25 s make half as many again.
        finished = phim.wait_jobs_finished(60)
        check("SIGKILL under load: every job finished afterwards", finished)
        with phim.db() as db:
            owners = dict(db.execute("SELECT id, user_id FROM video_jobs"))
            states = dict(db.execute("SELECT id, status || COALESCE('/' || failure_reason, '') FROM video_jobs"))
            by_key = {(user, key): vid for vid, user, key in db.execute("SELECT id, user_id, idempotency_key FROM video_jobs")}
        acknowledged = [c for c in load.creates if c["answer"].status in (200, 202)]
        lost = [c for c in acknowledged if owners.get(c["answer"].body["id"]) != c["account"].id]
        check("SIGKILL under load: every acknowledged create exists with its owner", acknowledged and not lost,
              f"{len(lost)} of {len(acknowledged)} missing")

        # Retrying with the same key: a create that was made (its answer lost or not) is answered
        # with the same video and nothing new; one that never reached the process is made once.
        unanswered_creates = [c for c in load.creates if c["answer"].status == 0 or c["answer"].status >= 500]
        refused = [c["answer"] for c in load.creates if 400 <= c["answer"].status < 500]
        check("SIGKILL under load: no create was refused for a reason of its own (4xx)", not refused, refused[:3])
        made_anyway = [c for c in unanswered_creates if (c["account"].id, c["key"]) in by_key]
        made_anyway_ends = dict(collections.Counter(states[by_key[(c["account"].id, c["key"])]] for c in made_anyway))
        with phim.db() as db:
            count_before = db.execute("SELECT COUNT(*) FROM video_jobs").fetchone()[0]
        mismatched = []
        for c in load.creates:
            existing = by_key.get((c["account"].id, c["key"]))
            if existing is None:
                continue
            answer = call(phim.port, "POST", "/api/v1/videos", c["body"], key=c["account"].key, headers={"Idempotency-Key": c["key"]})
            if answer.status != 200 or answer.body["id"] != existing or answer.headers.get("idempotent-replayed") != "true":
                mismatched.append(answer)
        with phim.db() as db:
            count_after = db.execute("SELECT COUNT(*) FROM video_jobs").fetchone()[0]
        check("SIGKILL under load: retrying every create that was made, with its key, makes nothing new",
              not mismatched and count_after == count_before, f"{mismatched[:3]}, videos {count_before} -> {count_after}")
        never_made = [c for c in unanswered_creates if (c["account"].id, c["key"]) not in by_key]
        first = [call(phim.port, "POST", "/api/v1/videos", c["body"], key=c["account"].key, headers={"Idempotency-Key": c["key"]})
                 for c in never_made]
        second = [call(phim.port, "POST", "/api/v1/videos", c["body"], key=c["account"].key, headers={"Idempotency-Key": c["key"]})
                  for c in never_made]
        with phim.db() as db:
            count_final = db.execute("SELECT COUNT(*) FROM video_jobs").fetchone()[0]
        check("SIGKILL under load: a create that never got through is made once by its retry, and only once",
              all(a.status == 202 for a in first) and all(a.status == 200 and a.body["id"] == b.body["id"] for a, b in zip(second, first))
              and count_final == count_after + len(never_made), (first[:2], second[:2], count_after, count_final))

        phim.wait_jobs_finished(30)
        ok, output = phim.verify_ledger()
        check("SIGKILL under load: phim ledger verify passes", ok, output)
        problems = phim.money_problems()
        check("SIGKILL under load: per account, credits = grants - settled prices; no job unfinished or hold left open",
              not problems, problems[:5])
        restarted = sorted(round(r, 2) for r in restarts if r is not None)
        # Callbacks the simulator could not deliver (the reconciler asked the provider instead),
        # and tasks the provider made that no job knows (the create's answer and every callback
        # naming the task were lost: Kie would bill them, the user was refunded).
        lost_callbacks = phim.log_lines("simulator callback refused") + phim.log_lines("simulator callback failed")
        with open(os.path.join(phim.data, "run", "simulator.url")) as f:
            simulator = urllib.parse.urlparse(f.read().strip())
        stats = call(simulator.port, "GET", "/_simulator/stats").body or {}
        with phim.db() as db:
            known_tasks = db.execute("SELECT COUNT(DISTINCT provider_task_id) FROM video_jobs").fetchone()[0]
        orphans = stats.get("tasks", 0) - known_tasks
        figure(scenario, f"requests {len(answers)} by status {load.statuses()}; creates {len(load.creates)} "
                         f"(acknowledged {len(acknowledged)}, unanswered {len(unanswered_creates)} of which made anyway {len(made_anyway)}, "
                         f"ended {made_anyway_ends}); "
                         f"processes killed 2, restarted {len(restarted)} (answering after {restarted} s); "
                         f"slowest answer {slowest:.2f} s; callbacks lost in the kills {lost_callbacks}; "
                         f"provider tasks no job knows {orphans}; retries replayed {len(load.creates) - len(never_made)}, made on retry {len(never_made)}; "
                         f"videos {count_final}")
    finally:
        check("SIGKILL under load: phim up stops cleanly", phim.stop(), phim.tail())


# -- 2. Graceful restart of every worker under load -------------------------------------------------

def graceful_restarts(args):
    scenario = "2 graceful restart"
    phim = Phim(args, "graceful", workers=2, threads=4).start()
    try:
        accounts = [phim.account(credits=30_000_000) for _ in range(2)]
        load = Load(phim, accounts, threads=10, cycle=["me", "create", "list", "video", "healthz", "create"], seconds=40).start()
        time.sleep(1.5)
        restarts, bursts = [], []
        for index in (1, 2):
            pid = phim.pids()[index]
            # A burst just before the signal: connections are queued when the process stops.
            bursts += load.burst(24)
            time.sleep(0.05)
            os.kill(pid, signal.SIGTERM)
            restarts.append(phim.wait_replaced(index, pid))
            time.sleep(1.0)
        time.sleep(1.0)
        load.stop()
        for thread in bursts:
            thread.join(30)
        failed = [(kind, a) for kind, a, _ in load.answers if not 200 <= a.status < 300]
        check("graceful restart of both workers in turn: phim up started each again and it answers",
              all(r is not None for r in restarts), restarts)
        check("graceful restart of both workers in turn under load: zero failed requests", not failed and len(load.answers) > 50,
              f"{len(failed)} failed of {len(load.answers)}: {failed[:4]}")
        phim.wait_jobs_finished(30)
        ok, output = phim.verify_ledger()
        check("graceful restart: phim ledger verify passes", ok, output)
        figure(scenario, f"requests {len(load.answers)} by status {load.statuses()}; failed {len(failed)}; "
                         f"processes restarted 2 (answering after {[round(r, 2) for r in restarts if r]} s)")
    finally:
        check("graceful restart: phim up stops cleanly", phim.stop(), phim.tail())


# -- 3. Every worker thread busy -------------------------------------------------------------------

def threads_busy(args):
    """A stalled provider holds no request thread: creates only queue, and the dispatcher's own
    sender threads wait on the provider (each `#stall` create is answered by the simulator after
    3 s)."""
    scenario = "3 stalled provider"
    threads, creates, per_client = 4, 12, 5
    phim = Phim(args, "busy", workers=1, threads=threads).start()
    try:
        account = phim.account(credits=1_000_000)
        probes = []
        stopping = threading.Event()

        def probe():
            for _ in range(400):
                if stopping.is_set():
                    return
                probes.append(call(phim.port, "GET", "/api/livez", timeout=20))
                time.sleep(0.05)

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        time.sleep(0.3)
        answers = []

        def create(i):
            for n in range(per_client):
                answers.append(call(phim.port, "POST", "/api/v1/videos", {"prompt": f"a slow provider #stall {i}-{n}"},
                                    key=account.key, headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=30))

        workers = [threading.Thread(target=create, args=(i,)) for i in range(creates)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(40)
        time.sleep(1.0)
        stopping.set()
        prober.join(30)

        statuses = collections.Counter(a.status for a in answers)
        times = sorted(a.seconds for a in answers)
        check(f"{creates} clients each sending {per_client} #stall creates to {threads} threads: every one accepted at once (202), "
              "none waiting on the provider", statuses == collections.Counter({202: creates * per_client}) and times[-1] < 1.0,
              f"{statuses}, slowest {times[-1]:.2f} s")
        livez = [p.seconds for p in probes]
        check("livez answers throughout", probes and all(p.status == 200 for p in probes) and max(livez) < 1.0,
              f"{len(probes)} probes, statuses {collections.Counter(p.status for p in probes)}, max {max(livez):.2f} s")
        finished = phim.wait_jobs_finished(90)
        ok, output = phim.verify_ledger()
        problems = phim.money_problems()
        check("stalled provider: every video was sent and finished, the ledger verifies", finished and ok and not problems,
              (output, problems))
        livez.sort()
        figure(scenario, f"{creates} clients x {per_client} #stall creates to 1 process x {threads} threads: {len(answers)} creates, "
                         f"by status {dict(statuses)}, answered in median {times[len(times) // 2] * 1000:.0f} ms, "
                         f"max {times[-1] * 1000:.0f} ms; livez {len(livez)} probes, median {livez[len(livez) // 2] * 1000:.0f} ms, "
                         f"max {livez[-1] * 1000:.0f} ms")
    finally:
        check("stalled provider: phim up stops cleanly", phim.stop(), phim.tail())


# -- 4. Slow clients and oversized bodies ----------------------------------------------------------

def busy_threads(pid, threads):
    """Worker threads of a FastCGI process that are not waiting in accept(2) for a connection
    (its other threads wait in sigwait or sleep; the threads carry no names to tell them by)."""
    waiting = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                if f.read().split()[0] in ("43", "288"):  # accept, accept4 (x86-64)
                    waiting += 1
        except OSError:
            pass
    return threads - waiting


def slow_clients(args):
    scenario = "4 slow clients"
    threads = 4
    phim = Phim(args, "slow", workers=1, threads=threads).start()
    try:
        account = phim.account(credits=1_000_000)
        pid = phim.pids()[1]
        idle = busy_threads(pid, threads)
        # The measure itself: a request that sent half its body straight to the socket holds one thread.
        held = threading.Thread(target=fastcgi_hold, args=(phim.socket_path(1), 3), daemon=True)
        held.start()
        time.sleep(1)
        holding = busy_threads(pid, threads)
        held.join(10)
        check("slow clients: a thread held by a request that never sends its body shows as busy (the measure works)",
              holding == 1, f"idle {idle}, holding {holding}")
        # 17 bytes: whole before the 20 half-seconds are over.
        body = json.dumps({"prompt": "slow"}, separators=(",", ":")).encode()
        header = (f"POST /api/v1/videos HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {account.key}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        connections = []
        for i in range(6):
            connection = socket.create_connection(("127.0.0.1", phim.port))
            # Half send their headers a byte at a time, half their body.
            if i % 2:
                connection.sendall(header)
            connections.append((connection, i % 2 == 1))
        samples, probes, creates = [], [], []
        started = time.monotonic()
        step = 0

        def sample():
            # Only while every slow client is still sending: the bodies are whole after 17
            # half-seconds, and are then served like any other request.
            while time.monotonic() - started < (len(body) - 1) * 0.5:
                samples.append(busy_threads(pid, threads))
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        while time.monotonic() - started < 10:
            for connection, sends_body in connections:
                data = body if sends_body else header
                if step < len(data):
                    try:
                        connection.sendall(data[step:step + 1])
                    except OSError:
                        pass
            step += 1
            probes.append(call(phim.port, "GET", "/api/livez", timeout=10))
            if step % 2 == 0:
                creates.append(call(phim.port, "POST", "/api/v1/videos", {"prompt": f"beside slow clients {step}"}, key=account.key))
            time.sleep(max(0, started + step * 0.5 - time.monotonic()))
        sampler.join(5)
        # The body senders are done (their bodies were shorter than 20 bytes): their creates went through.
        trickled = []
        for connection, sends_body in connections:
            if sends_body:
                connection.settimeout(10)
                try:
                    reply = b""
                    while b"\r\n\r\n" not in reply:
                        chunk = connection.recv(4096)
                        if not chunk:
                            break
                        reply += chunk
                    trickled.append(reply.split(b" ")[1].decode() if reply.startswith(b"HTTP/") else "none")
                except OSError as error:
                    trickled.append(str(error))
            connection.close()
        livez = sorted(p.seconds for p in probes)
        check("slow clients: livez answers throughout", all(p.status == 200 for p in probes) and livez[-1] < 1,
              f"max {livez[-1]:.2f} s, {collections.Counter(p.status for p in probes)}")
        check("slow clients: creates beside them are accepted", creates and all(a.status == 202 for a in creates), creates)
        # Unbuffered, the three slow bodies alone would hold three of the four threads all along;
        # what shows instead is our own probes and the simulator's callbacks, now and then.
        check("slow clients: no FastCGI thread is held by a slow client (nginx buffers)",
              sorted(samples)[len(samples) // 2] <= idle and max(samples) <= 2,
              f"busy threads idle {idle}, during {collections.Counter(samples)}")
        check("slow clients: a body that arrives slowly but whole is served", trickled and all(t == "202" for t in trickled), trickled)

        big = call(phim.port, "POST", "/api/v1/videos", raw=b'{"prompt":"' + b"x" * (2 << 20) + b'"}', key=account.key,
                   headers={"Content-Type": "application/json"})
        check("a body over the limit: JSON 413", big.status == 413 and big.code == "payload_too_large", big)
        chunked = socket.create_connection(("127.0.0.1", phim.port))
        chunked.settimeout(10)
        chunked.sendall((f"POST /api/v1/videos HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {account.key}\r\n"
                         "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode())
        reply = b""
        try:
            for _ in range(40):
                chunked.sendall(b"10000\r\n" + b" " * 0x10000 + b"\r\n")
        except OSError:
            pass
        try:
            while True:
                chunk = chunked.recv(65536)
                if not chunk:
                    break
                reply += chunk
        except OSError:
            pass
        chunked.close()
        head, _, payload = reply.partition(b"\r\n\r\n")
        check("a chunked body growing over the limit: JSON 413", head.startswith(b"HTTP/1.1 413") and b"payload_too_large" in payload,
              head[:80])
        upload = call(phim.port, "POST", "/api/v1/uploads", raw=b"x" * (12 << 20), key=account.key,
                      headers={"Content-Type": "multipart/form-data; boundary=x"})
        check("an upload over its limit: JSON 413", upload.status == 413 and upload.code == "payload_too_large", upload)
        figure(scenario, f"busy worker threads idle {idle}, with one slow provider call {holding}; "
                         f"6 slow connections for 10 s: busy worker threads sampled {len(samples)} times {dict(collections.Counter(samples))} "
                         f"(of {threads}); livez {len(probes)} probes, max {livez[-1] * 1000:.0f} ms; creates beside them "
                         f"{dict(collections.Counter(a.status for a in creates))}; trickled bodies {trickled}")
    finally:
        check("slow clients: phim up stops cleanly", phim.stop(), phim.tail())


# -- 5. The database unwritable, the disk full -------------------------------------------------------

def database_faults(args):
    scenario = "5 database faults"
    figures = []
    # Unwritable: on the ordinary disk, where `chattr +i` also stops writes through descriptors
    # already open (tmpfs does not). Disk full: on a small tmpfs of its own.
    database_fault(args, "unwritable", None, unwritable, writable, figures)
    database_fault(args, "locked", None, lock_database, unlock_database, figures)
    mount = tempfile.mkdtemp(prefix="phim-faults-tmpfs-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mount], check=True)
    try:
        database_fault(args, "disk full", os.path.join(mount, "data"), fill_disk, empty_disk, figures)
    finally:
        # The database goes with the mount: after a failure it is copied out first.
        if FAILED:
            shutil.copytree(mount, mount + "-kept", ignore=shutil.ignore_patterns("filler"))
            TEMPORARY.append(mount + "-kept")
        subprocess.run(["umount", "-l", mount])
        os.rmdir(mount)
    figure(scenario, "; ".join(figures))


def database_fault(args, label, data, inject, remove, figures):
    """While the fault lasts: creates, a grant by the command and by the admin API, callbacks of
    videos started just before, and reads. Then the fault goes and the same processes serve."""
    phim = Phim(args, label.replace(" ", "-"), workers=2, data=data).start()
    try:
        account = phim.account(credits=1_000_000)
        admin = phim.account(admin=True)
        pids = phim.pids()
        # Videos started just before the fault: their callbacks arrive while it lasts.
        started = [call(phim.port, "POST", "/api/v1/videos", {"prompt": f"before {label}"}, key=account.key) for _ in range(3)]

        def money():
            with phim.db() as db:
                return (db.execute("SELECT credits_available, credits_held FROM users WHERE id = ?", (account.id,)).fetchone(),
                        db.execute("SELECT COUNT(*) FROM credit_entries").fetchone()[0],
                        db.execute("SELECT COUNT(*), SUM(status = 'completed') FROM video_jobs").fetchone())

        before = money()
        handle = inject(phim)
        try:
            # The callbacks of the videos above come 2 s after their creates, while the fault lasts.
            time.sleep(2.5)
            results = {}

            def attempt(name, function):
                results[name] = function()

            attempts = [threading.Thread(target=attempt, args=(f"create {i}", lambda i=i: call(
                            phim.port, "POST", "/api/v1/videos", {"prompt": f"{label} {i}"}, key=account.key,
                            headers={"Idempotency-Key": str(uuid.uuid4())})))
                        for i in range(4)]
            attempts.append(threading.Thread(target=attempt, args=("cli", lambda: phim.grant(account.email, 5))))
            attempts.append(threading.Thread(target=attempt, args=("api", lambda: call(
                phim.port, "POST", f"/api/v1/admin/users/{account.id}/credits", {"action": "grant", "amount": 5, "reason": label},
                cookies=admin.cookies, headers={"X-CSRF-Token": admin.csrf}))))
            attempts.append(threading.Thread(target=attempt, args=("me", lambda: call(phim.port, "GET", "/api/v1/me", key=account.key))))
            for thread in attempts:
                thread.start()
            for thread in attempts:
                thread.join(30)
            creates = [results[f"create {i}"] for i in range(4)]
            cli, api, me = results["cli"], results["api"], results["me"]
            during = money()
        finally:
            remove(phim, handle)
        refused_callbacks = phim.log_lines("simulator callback refused", "status=503")
        check(f"{label}: creates get a JSON 503 service_busy with Retry-After, within 15 s",
              all(is_json_unavailable(a) and a.code == "service_busy" and a.seconds < 15 for a in creates), creates)
        check(f"{label}: the callbacks that came meanwhile were refused with 503", refused_callbacks >= 1, refused_callbacks)
        check(f"{label}: phim credits grant fails with a clear message", cli.returncode != 0 and "SQLite" in (cli.stdout + cli.stderr),
              (cli.returncode, (cli.stdout + cli.stderr)[-200:]))
        check(f"{label}: an admin grant gets a JSON 503", is_json_unavailable(api), api)
        check(f"{label}: reads keep working", me.status == 200, me)
        check(f"{label}: nothing moved while it lasted (balances, ledger entries, videos)", during == before, (before, during))
        # Recovery by itself: the same processes, within seconds.
        recovered = None
        began = time.monotonic()
        while time.monotonic() - began < 15:
            answer = call(phim.port, "POST", "/api/v1/videos", {"prompt": f"after {label}"}, key=account.key)
            if answer.status == 202:
                recovered = time.monotonic() - began
                break
            time.sleep(0.25)
        check(f"{label}: the service recovers without a restart", recovered is not None and phim.pids() == pids,
              (recovered, pids, phim.pids()))
        granted = phim.grant(account.email, 5)
        finished = phim.wait_jobs_finished(30)
        ok, output = phim.verify_ledger()
        problems = phim.money_problems()
        check(f"{label}: afterwards grants work, every job ends (the ones whose callbacks were refused too), "
              "the ledger verifies and the money adds up",
              granted.returncode == 0 and finished and ok and not problems, (granted.stderr, finished, output, problems[:3]))
        figures.append(f"{label}: creates {dict(collections.Counter(a.status for a in creates))}, "
                       f"in {max(a.seconds for a in creates):.2f} s at most, callbacks refused {refused_callbacks}, "
                       f"grant command exit {cli.returncode}, admin grant {api.status}, reads {me.status}, "
                       f"recovered after {recovered and round(recovered, 2)} s, videos started before it {[a.status for a in started]}")
    finally:
        check(f"{label}: phim up stops cleanly", phim.stop(), phim.tail())


def unwritable(phim):
    """`chattr +i`: even root cannot write the file, through descriptors already open too (chmod
    would not stop a process running as root). The -shm file stays writable: it is mapped, and a
    write fault there would be SIGBUS, not an error SQLite can report."""
    files = [phim.database, phim.database + "-wal"]
    subprocess.run(["chattr", "+i", *files], check=True)
    return files


def writable(phim, files):
    subprocess.run(["chattr", "-i", *files], check=True)


def lock_database(phim):
    """Another connection holds the write lock for longer than the busy timeout (10 s): an
    operator's long transaction, say. No data changes; the lock is given back with a rollback."""
    release = threading.Event()
    taken = threading.Event()

    def hold():
        connection = sqlite3.connect(phim.database, isolation_level=None, timeout=10)
        connection.execute("BEGIN EXCLUSIVE")
        taken.set()
        release.wait(20)
        connection.execute("ROLLBACK")
        connection.close()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    taken.wait(10)
    return release, holder


def unlock_database(phim, handle):
    release, holder = handle
    release.set()
    holder.join(10)


def fill_disk(phim):
    """Fills the tmpfs the data directory is on."""
    filler = os.path.join(os.path.dirname(phim.data), "filler")
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    for size in (1 << 20, 4096):
        try:
            while True:
                os.write(descriptor, b"\0" * size)
        except OSError:
            pass
    os.close(descriptor)
    return filler


def empty_disk(phim, filler):
    os.remove(filler)


# -- 6. Online backup under load ----------------------------------------------------------------------

def backup_under_load(args):
    scenario = "6 backup"
    phim = Phim(args, "backup", workers=2)
    # A database of a size a service reaches in production (a long audit history, 30 MB), made
    # before the service starts: a copy in small steps starts over after every write by another
    # connection, so under load only a small database would get copied.
    migrated = phim.cli("migrate")
    assert migrated.returncode == 0, migrated.stderr
    with sqlite3.connect(phim.database) as db:
        page = json.dumps({"note": "x" * 1000})
        db.executemany("INSERT INTO admin_actions (id, actor, action, target, reason, before, after, created_at) "
                       "VALUES (?, 'cli:faults', 'seed', 'history', 'an old audit entry', ?, ?, ?)",
                       ((str(uuid.uuid4()), page, page, i) for i in range(15_000)))
    size = os.path.getsize(phim.database)
    phim.start()
    try:
        accounts = [phim.account(credits=30_000_000) for _ in range(2)]
        load = Load(phim, accounts, threads=4, cycle=["create", "me", "create", "video"], seconds=40).start()
        time.sleep(3)
        with load.lock:
            acknowledged_before = [c["answer"].body["id"] for c in load.creates if c["answer"].status in (200, 202)]
        target = os.path.join(phim.home, "backup.sqlite")
        began = time.monotonic()
        try:
            backup = phim.cli("backup", "--to", target)
        except subprocess.TimeoutExpired as expired:
            backup = subprocess.CompletedProcess(expired.cmd, 1, "", "did not finish in 60 s")
        took = time.monotonic() - began
        time.sleep(1)
        load.stop()
        check("backup during a load of creates: phim backup succeeds within 5 s", backup.returncode == 0 and took < 5,
              (round(took, 2), (backup.stdout + backup.stderr)[-300:]))
        restored = os.path.join(phim.home, "restored")
        os.makedirs(restored)
        shutil.copy(target, os.path.join(restored, "phim.sqlite"))
        env = dict(phim.env, DATABASE_URL=os.path.join(restored, "phim.sqlite"))
        verify = subprocess.run([args.phim, "ledger", "verify"], capture_output=True, text=True, env=env, cwd=restored, timeout=60)
        check("the restored backup passes phim ledger verify", verify.returncode == 0, (verify.stdout + verify.stderr)[-300:])
        with sqlite3.connect(f"file:{os.path.join(restored, 'phim.sqlite')}?mode=ro", uri=True) as db:
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
            in_backup = {row[0] for row in db.execute("SELECT id FROM video_jobs")}
            backed_up = len(in_backup)
        missing = [v for v in acknowledged_before if v not in in_backup]
        check("the backup is whole and holds every video acknowledged before it began", integrity == "ok" and not missing,
              (integrity, len(missing)))
        phim.wait_jobs_finished(30)
        ok, output = phim.verify_ledger()
        check("backup: the live ledger verifies afterwards", ok, output)
        figure(scenario, f"database {size / 1e6:.0f} MB; backup took {took:.2f} s during {len(load.answers)} requests {load.statuses()}; "
                         f"{backed_up} videos in the copy ({len(acknowledged_before)} acknowledged before it began)")
    finally:
        check("backup: phim up stops cleanly", phim.stop(), phim.tail())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--phim", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--only", help="comma-separated scenario numbers (default: all)")
    args = parser.parse_args()
    args.phim = os.path.realpath(args.phim)
    if os.geteuid() != 0:
        raise SystemExit("process_faults.py runs as root: it makes the database file immutable and mounts a small tmpfs")
    scenarios = [sigkill_under_load, graceful_restarts, threads_busy, slow_clients, database_faults, backup_under_load]
    chosen = {int(n) for n in args.only.split(",")} if args.only else set(range(1, len(scenarios) + 1))
    began = time.monotonic()
    for number, scenario in enumerate(scenarios, 1):
        if number not in chosen:
            continue
        try:
            scenario(args)
        except Exception as error:  # a scenario that breaks is a failure, the others still run
            check(f"scenario {number} ({scenario.__name__}) ran to the end", False, f"{type(error).__name__}: {error}")
    print("figures:")
    for line in FIGURES:
        print("  " + line)
    print(f"  runtime {time.monotonic() - began:.0f} s")
    if FAILED:
        print("kept for a look: " + " ".join(TEMPORARY))
    else:
        for directory in TEMPORARY:
            shutil.rmtree(directory, ignore_errors=True)
    print(f"{len(PASSED)} passed, {len(FAILED)} failed")
    raise SystemExit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
