#!/usr/bin/env python3
"""The admission queue (issue 24) through a real nginx and two FastCGI processes, against the
simulator at Kie's limits (20 creates per 10 s, 40 tasks running). Each part starts its own
`phim up` (demo mode) in a temporary data directory:

    python3 Tests/e2e/queue_test.py --phim .build/debug/phim --repo . [--only 1,3]

1. A burst: 12 accounts submit 120 videos within 10 seconds. Every create answers 202 within
   100 ms, all 120 complete, none is refunded for a busy provider, the simulator never sees more
   than 20 creates in 10 s nor 40 running, and no create meets a 429.
2. The provider stalled (`#stall`: creates answered after 3 s): creates still answer 202 in
   under 100 ms and /api/livez stays fast.
3. SIGKILL of the process holding the dispatch lease while it sends a backlog: no queued job is
   lost, none is sent twice, the ledger verifies.
4. Fairness: an account that submits one video while another has 40 queued starts within two
   dispatch slots.
5. Cancel and deadlines: cancel while queued refunds at once and sends nothing; cancel after
   sending only stops waiting (charged, the video still arrives); a deadline that passes in the
   queue refunds, one that passes after sending does not.

Standard library only (and `process_faults.py` beside it for `phim up` and HTTP). Prints one line
per check, the figures of the run, then `N passed, N failed`; exits non-zero on a failure.
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import process_faults as faults  # noqa: E402  (phim up, accounts, HTTP)
from process_faults import call  # noqa: E402

PASSED, FAILED, FIGURES = [], [], []
LATENCY_BOUND = 0.100
# The simulator at Kie's limits, and Phim's queue told the same.
KIE_LIMITS = {"PHIM_SIMULATOR_RATE_LIMIT": "20", "PHIM_SIMULATOR_MAX_RUNNING": "40",
              "PHIM_PROVIDER_CREATES_PER_10S": "20", "PHIM_PROVIDER_MAX_RUNNING": "40"}


def check(name, condition, detail=""):
    (PASSED if condition else FAILED).append(name)
    print(("ok   " if condition else "FAIL ") + name + (f"  ({detail})" if detail else ""), flush=True)
    return condition


def figure(part, text):
    FIGURES.append(f"{part}: {text}")
    print(f"     {part}: {text}", flush=True)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def ms(seconds):
    return f"{seconds * 1000:.0f} ms"


class Queue(faults.Phim):
    """`phim up` with the simulator and the queue at Kie's limits."""

    def __init__(self, args, name, delay, extra_env=None):
        env = dict(KIE_LIMITS)
        env.update({"PHIM_SIMULATOR_DELAY_SECONDS": str(delay), "PHIM_RECONCILE_INTERVAL_SECONDS": "1",
                    # A send cut off by a SIGKILL reached the simulator, whose callback settles it
                    # within seconds: the hold waits longer than that.
                    "PHIM_UNCONFIRMED_HOLD_SECONDS": "30"})
        env.update(extra_env or {})
        super().__init__(args, name, workers=2, extra_env=env)

    def simulator(self):
        with open(os.path.join(self.data, "run", "simulator.url")) as f:
            url = urllib.parse.urlparse(f.read().strip())
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        try:
            connection.request("GET", "/_simulator/stats")
            return json.loads(connection.getresponse().read())
        finally:
            connection.close()

    def jobs(self, ids=None):
        """{id: row} of the videos (all, or those named)."""
        with self.db() as db:
            db.row_factory = faults.sqlite3.Row
            rows = db.execute("""SELECT id, user_id, status, hold_state, failure_reason, provider_task_id, sent_at, created_at,
                                 price_credits, stopped_waiting_at FROM video_jobs""").fetchall()
        found = {row["id"]: dict(row) for row in rows}
        return {i: found[i] for i in ids} if ids is not None else found

    def sends(self):
        with self.db() as db:
            return db.execute("SELECT job_id, sent_at, outcome FROM provider_sends ORDER BY sent_at, id").fetchall()

    def wait(self, predicate, timeout, step=0.25):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(step)
        return predicate()

    def limits(self, admin, reason="queue suite", **limits):
        answer = call(self.port, "PUT", "/api/v1/admin/queue/limits", dict(limits, reason=reason),
                      cookies=admin.cookies, headers={"X-CSRF-Token": admin.csrf})
        assert answer.status == 200, f"PUT /api/v1/admin/queue/limits: {answer} {answer.body}"

    def balance(self, account):
        return call(self.port, "GET", "/api/v1/me", key=account.key).body["credits"]


def create(phim, account, prompt, **extra):
    answer = call(phim.port, "POST", "/api/v1/videos", dict(prompt=prompt, **extra), key=account.key)
    assert answer.status == 202, f"create: {answer} {answer.body}"
    return answer


def paced_creates(phim, accounts, per_account, seconds, prompt):
    """Each account's thread sends `per_account` creates spread over `seconds`; the answers."""
    answers, lock = [], threading.Lock()

    def run(index, account):
        time.sleep(index * seconds / per_account / len(accounts))  # staggered, not in lockstep
        for n in range(per_account):
            answer = call(phim.port, "POST", "/api/v1/videos", {"prompt": f"{prompt} {index}-{n}"}, key=account.key)
            with lock:
                answers.append(answer)
            time.sleep(max(0.0, seconds / per_account - answer.seconds))

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(accounts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def finished(phim, ids):
    return all(job["status"] in ("completed", "failed", "canceled") for job in phim.jobs(ids).values())


def peaks_and_429s(phim, part):
    stats = phim.simulator()
    busy = sum(1 for _, _, outcome in phim.sends() if outcome == "busy")
    check(f"{part}: the simulator never saw more than 20 creates in 10 s nor 40 running",
          stats["peak_creates_per10s"] <= 20 and stats["peak_running"] <= 40,
          f"peak_creates_per10s {stats['peak_creates_per10s']}, peak_running {stats['peak_running']}")
    return stats, busy


# -- 1 and 2: a burst, then a stalled provider -------------------------------------------------

def burst(args):
    part = "1 burst"
    phim = Queue(args, "queue-burst", delay=3).start()
    try:
        accounts = [phim.account(credits=1_000_000) for _ in range(12)]
        began = time.monotonic()
        answers = paced_creates(phim, accounts, per_account=10, seconds=8, prompt="a lantern on a river")
        submitted_in = time.monotonic() - began
        accepted = [a for a in answers if a.status == 202]
        times = [a.seconds for a in answers]
        figure(part, f"120 creates from 12 accounts in {submitted_in:.1f} s: p50 {ms(percentile(times, 0.5))}, "
                     f"p95 {ms(percentile(times, 0.95))}, max {ms(max(times))}; statuses "
                     f"{sorted({a.status for a in answers})}")
        check(f"{part}: all 120 creates answered 202", len(accepted) == 120,
              f"{len(accepted)} 202s; others {[a for a in answers if a.status != 202][:3]}")
        check(f"{part}: every create answered within 100 ms", max(times) < LATENCY_BOUND,
              f"max {ms(max(times))}, p95 {ms(percentile(times, 0.95))}")
        ids = [a.body["id"] for a in accepted]
        queued_at_answer = sum(1 for a in accepted if a.body.get("status") == "queued")
        positions = [a.body.get("queue_position") for a in accepted if a.body.get("status") == "queued"]
        # At 20 sends per 10 s, at least 100 of the 120 cannot have been sent when they were answered.
        check(f"{part}: a queued create's answer says its place (queue_position >= 1, estimated_start_seconds)",
              queued_at_answer >= 100 and all(isinstance(p, int) and p >= 1 for p in positions)
              and all(isinstance(a.body.get("estimated_start_seconds"), int) for a in accepted if a.body.get("status") == "queued"),
              f"{queued_at_answer} answered queued")
        drained = phim.wait(lambda: finished(phim, ids), timeout=120, step=1)
        took = time.monotonic() - began
        jobs = phim.jobs(ids)
        statuses = {}
        for job in jobs.values():
            statuses[job["status"]] = statuses.get(job["status"], 0) + 1
        check(f"{part}: all 120 videos completed", drained and statuses == {"completed": 120}, f"{statuses}")
        busy_refunds = [j for j in jobs.values() if j["failure_reason"] in ("provider_busy", "provider_error")]
        check(f"{part}: none failed or was refunded for a busy provider", not busy_refunds,
              f"{len(busy_refunds)}: {[j['failure_reason'] for j in busy_refunds][:3]}")
        stats, busy = peaks_and_429s(phim, part)
        creates = stats["calls"]["create_task"]
        check(f"{part}: no create met a 429 (the simulator was called once per video, no send came back busy)",
              creates == 120 and busy == 0, f"create_task calls {creates}, busy sends {busy}")
        sent = sorted(j["sent_at"] for j in jobs.values())
        figure(part, f"{statuses.get('completed', 0)}/120 completed {took:.0f} s after the first create; sends spread over "
                     f"{(sent[-1] - sent[0]) / 1000:.1f} s ({len(sent) / max(0.001, (sent[-1] - sent[0]) / 1000 + 10) * 10:.1f} "
                     f"per 10 s over the whole run); simulator peak_creates_per10s {stats['peak_creates_per10s']}, "
                     f"peak_running {stats['peak_running']}, create_task calls {creates}; {queued_at_answer} creates answered "
                     f"`queued`, the last queue_position {positions[-1] if positions else None}")
        ok, output = phim.verify_ledger()
        check(f"{part}: the ledger verifies", ok, "" if ok else output)
        stalled(phim, accounts)
        sigkill(phim, accounts)
    finally:
        stopped = phim.stop()
        check("burst, stall, SIGKILL: phim up stops cleanly", stopped, "" if stopped else phim.tail())


def stalled(phim, accounts):
    part = "2 stall"
    stop = threading.Event()
    livez = []

    def probe():
        while not stop.is_set():
            livez.append(call(phim.port, "GET", "/api/livez", timeout=5))
            time.sleep(0.05)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        before = phim.simulator()["calls"]["create_task"]
        answers = paced_creates(phim, accounts[:4], per_account=10, seconds=5, prompt="#stall a slow provider")
        # The senders sit in 3-second creates meanwhile.
        phim.wait(lambda: phim.simulator()["calls"]["create_task"] - before >= 12, timeout=20)
        time.sleep(1)
    finally:
        stop.set()
        prober.join()
    times = [a.seconds for a in answers]
    probes = [a.seconds for a in livez]
    check(f"{part}: every create answered 202 within 100 ms while the provider stalls",
          all(a.status == 202 for a in answers) and max(times) < LATENCY_BOUND,
          f"statuses {sorted({a.status for a in answers})}, max {ms(max(times))}")
    check(f"{part}: /api/livez stayed fast (every probe 200 within 100 ms)",
          all(a.status == 200 for a in livez) and max(probes) < LATENCY_BOUND,
          f"{len(livez)} probes, max {ms(max(probes))}")
    figure(part, f"40 `#stall` creates in 5 s: p50 {ms(percentile(times, 0.5))}, max {ms(max(times))}; "
                 f"{len(livez)} livez probes meanwhile: p50 {ms(percentile(probes, 0.5))}, max {ms(max(probes))}")
    ids = [a.body["id"] for a in answers if a.status == 202]
    drained = phim.wait(lambda: finished(phim, ids), timeout=90, step=1)
    jobs = phim.jobs(ids)
    check(f"{part}: the stalled videos all completed in the end",
          drained and all(j["status"] == "completed" for j in jobs.values()),
          f"{sorted({j['status'] for j in jobs.values()})}")


# -- 3: SIGKILL of the dispatching process -------------------------------------------------------

def holder_pid(phim):
    with phim.db() as db:
        holder, until = db.execute("SELECT holder, lease_until FROM provider_dispatch WHERE id = 1").fetchone()
    # "<host>-<pid>-<random>": the pid is the second field from the end.
    return (int(holder.rsplit("-", 2)[1]) if holder else None), until


def sigkill(phim, accounts):
    part = "3 sigkill"
    # Creates that take 3 s to answer: the senders are in the middle of sends when the kill lands.
    before = phim.simulator()["calls"]["create_task"]
    answers = paced_creates(phim, accounts[:6], per_account=10, seconds=2, prompt="#stall sent while a process dies")
    ids = [a.body["id"] for a in answers if a.status == 202]
    check(f"{part}: 60 creates queued", len(ids) == 60, f"{len(ids)}")
    phim.wait(lambda: phim.simulator()["calls"]["create_task"] - before >= 3, timeout=10, step=0.05)
    pid, _ = holder_pid(phim)
    workers = phim.pids()
    index = next((i for i, p in workers.items() if p == pid), None)
    in_flight = sum(1 for j in phim.jobs(ids).values() if j["status"] == "submitting")
    queued_then = sum(1 for j in phim.jobs(ids).values() if j["status"] == "queued")
    check(f"{part}: the lease holder is one of the FastCGI processes", index is not None, f"holder pid {pid}, workers {workers}")
    if index is None:
        return
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    took_over = phim.wait(lambda: holder_pid(phim)[0] not in (None, pid), timeout=20, step=0.1)
    takeover = time.monotonic() - killed
    settled = phim.wait(lambda: finished(phim, ids), timeout=120, step=1)
    jobs = phim.jobs(ids)
    stats = phim.simulator()
    statuses = {}
    for job in jobs.values():
        key = job["status"] + (f" ({job['failure_reason']})" if job["failure_reason"] else "")
        statuses[key] = statuses.get(key, 0) + 1
    figure(part, f"killed the holder (pid {pid}, socket {index}) with {in_flight} sends in flight and {queued_then} queued; "
                 f"another process held the lease {takeover:.1f} s later; end: {statuses}")
    check(f"{part}: another process took the lease over", took_over, f"{takeover:.1f} s")
    check(f"{part}: no queued job was lost: every video was sent and ended, none is still queued",
          settled and all(j["sent_at"] for j in jobs.values()), f"{statuses}")
    completed = sum(1 for j in jobs.values() if j["status"] == "completed")
    unconfirmed = [j for j in jobs.values() if j["status"] != "completed"]
    check(f"{part}: every video completed, or (a send cut off before it reached the provider) was refunded",
          all(j["status"] == "failed" and j["failure_reason"] == "submission_unconfirmed" and j["hold_state"] == "released"
              for j in unconfirmed), f"{completed} completed, others {[(j['status'], j['failure_reason']) for j in unconfirmed][:3]}")
    with_task = {j["id"]: j["provider_task_id"] for j in phim.jobs().values() if j["provider_task_id"]}
    sends = phim.sends()
    # A send Kie refused as busy made nothing and may go again; any other send happened.
    refused = sum(1 for _, _, outcome in sends if outcome == "busy")
    made = [job for job, _, outcome in sends if outcome != "busy"]
    repeated = len(made) - len(set(made))
    creates = stats["calls"]["create_task"]
    check(f"{part}: none was sent twice (the simulator's creates = videos with a task, one task each)",
          creates - refused == len(with_task) == stats["tasks"] and len(set(with_task.values())) == len(with_task) and not repeated,
          f"create_task calls {creates} ({refused} refused busy), simulator tasks {stats['tasks']}, videos with a task {len(with_task)}, "
          f"videos sent more than once {repeated}")
    ok, output = phim.verify_ledger()
    check(f"{part}: phim ledger verify is clean", ok, "" if ok else output)
    problems = phim.money_problems()
    check(f"{part}: every account's money adds up, no hold left open", not problems, "; ".join(problems[:3]))
    peaks_and_429s(phim, part)


# -- 4 and 5: fairness, cancel and deadlines (the queue held by lowering its limits) ---------------

def fairness_and_cancels(args):
    phim = Queue(args, "queue-fair", delay=7).start()
    try:
        admin = phim.account(admin=True)
        fairness(phim, admin)
        cancels(phim, admin)
    finally:
        stopped = phim.stop()
        check("fairness, cancels: phim up stops cleanly", stopped, "" if stopped else phim.tail())


def fairness(phim, admin):
    part = "4 fairness"
    busy, newcomer = phim.account(credits=1_000_000), phim.account(credits=100_000)
    phim.limits(admin, creates_per_10s=1)
    first = [create(phim, busy, f"a burst {n}").body["id"] for n in range(41)]
    queued = sum(1 for j in phim.jobs(first).values() if j["status"] == "queued")
    one = create(phim, newcomer, "one video from someone else")
    check(f"{part}: the busy account has 40 queued when the other submits", queued >= 40, f"{queued} queued")
    check(f"{part}: the newcomer's answer says it is next (queue_position 1 or 2)",
          one.body.get("queue_position") in (1, 2), f"queue_position {one.body.get('queue_position')}, "
          f"estimated_start_seconds {one.body.get('estimated_start_seconds')}")
    phim.limits(admin, creates_per_10s=20)
    sent = phim.wait(lambda: phim.jobs([one.body["id"]])[one.body["id"]]["sent_at"], timeout=30, step=0.2)
    mine = phim.jobs([one.body["id"]])[one.body["id"]]
    ahead = [job for job, at, _ in phim.sends() if mine["sent_at"] and mine["created_at"] <= at < mine["sent_at"]]
    check(f"{part}: the newcomer's video started within two dispatch slots", sent and len(ahead) <= 2,
          f"{len(ahead)} sends between its create and its own")
    figure(part, f"{queued} queued for one account; the other's one video was sent after {len(ahead)} other send(s), "
                 f"{(mine['sent_at'] - mine['created_at']) / 1000 if mine['sent_at'] else None} s after its create "
                 f"(the limit held at 1 per 10 s, then raised to 20)")
    # Clearing the backlog is itself cancel-while-queued, for every job still waiting (the
    # queue held again first, so that none is sent between the look and the cancel).
    phim.limits(admin, creates_per_10s=1)
    left = [j for j, row in phim.jobs(first).items() if row["status"] == "queued"]
    cancels = [call(phim.port, "POST", f"/api/v1/videos/{j}/cancel", {}, key=busy.key) for j in left]
    check(f"{part}: the backlog's queued videos cancel (200, canceled)",
          all(a.status == 200 and a.body.get("status") == "canceled" for a in cancels),
          f"{len(cancels)} canceled; {[(a.status, (a.body or {}).get('status')) for a in cancels if a.status != 200 or a.body.get('status') != 'canceled'][:2]}")
    phim.wait(lambda: finished(phim, first + [one.body["id"]]), timeout=40, step=0.5)


def cancels(phim, admin):
    part = "5 cancel"
    person = phim.account(credits=100_000)
    phim.limits(admin, creates_per_10s=20, max_running=40)
    start = phim.balance(person)
    # Sent at once: one to cancel while it runs, one whose 60 s deadline passes while it runs (#slow: 70 s).
    running = create(phim, person, "a kite over the dunes")
    slow = create(phim, person, "a slow tide #slow", deadline_seconds=60)
    ids = [running.body["id"], slow.body["id"]]
    phim.wait(lambda: all(j["provider_task_id"] for j in phim.jobs(ids).values()), timeout=15, step=0.1)
    price = running.body.get("price_credits") or phim.jobs(ids)[ids[0]]["price_credits"]
    slow_price = phim.jobs(ids)[ids[1]]["price_credits"]
    stopped = call(phim.port, "POST", f"/api/v1/videos/{ids[0]}/cancel", {}, key=person.key)
    check(f"{part}: cancel after sending answers 200 with stopped_waiting true, the video unchanged",
          stopped.status == 200 and stopped.body.get("stopped_waiting") is True
          and stopped.body.get("status") in ("submitting", "pending", "processing"),
          f"{stopped.status} status {(stopped.body or {}).get('status')} stopped_waiting {(stopped.body or {}).get('stopped_waiting')}")
    after_stop = phim.balance(person)
    check(f"{part}: cancel after sending refunds nothing", after_stop == start - price - slow_price,
          f"balance {start} → {after_stop}, prices {price} + {slow_price}")

    # Hold the queue: one task may run, and the slow one runs for 70 s.
    phim.limits(admin, max_running=1)
    creates_before = phim.simulator()["calls"]["create_task"]
    queued = create(phim, person, "a lantern that never leaves")
    waiting = create(phim, person, "waits past its deadline", deadline_seconds=60)
    held = phim.balance(person)
    began = time.monotonic()
    canceled = call(phim.port, "POST", f"/api/v1/videos/{queued.body['id']}/cancel", {}, key=person.key)
    refunded_in = time.monotonic() - began
    back = phim.balance(person)
    check(f"{part}: cancel while queued answers 200 canceled and refunds at once",
          queued.body.get("status") == "queued" and canceled.status == 200 and canceled.body.get("status") == "canceled"
          and back == held + queued.body.get("price_credits", phim.jobs([queued.body['id']])[queued.body['id']]["price_credits"]),
          f"created {queued.body.get('status')}, cancel {canceled.status} {(canceled.body or {}).get('status')}, "
          f"balance {held} → {back} in {ms(refunded_in)}")

    # The deadline passes in the queue at 60 s; the slow task ends at 70 s.
    phim.wait(lambda: finished(phim, ids + [waiting.body["id"]]), timeout=100, step=1)
    jobs = phim.jobs(ids + [queued.body["id"], waiting.body["id"]])
    late, sent_slow = jobs[waiting.body["id"]], jobs[slow.body["id"]]
    check(f"{part}: a deadline that passes in the queue fails deadline_exceeded, refunded, never sent",
          late["status"] == "failed" and late["failure_reason"] == "deadline_exceeded" and late["hold_state"] == "released"
          and not late["sent_at"] and not late["provider_task_id"],
          f"{late['status']} {late['failure_reason']} hold {late['hold_state']} sent_at {late['sent_at']}")
    check(f"{part}: the canceled queued video was never sent (the simulator's creates unchanged)",
          not jobs[queued.body["id"]]["sent_at"] and phim.simulator()["calls"]["create_task"] == creates_before,
          f"create_task {creates_before} → {phim.simulator()['calls']['create_task']}")
    check(f"{part}: a deadline that passes after sending refunds nothing: the slow video completes, charged",
          sent_slow["status"] == "completed" and sent_slow["hold_state"] == "settled",
          f"{sent_slow['status']} {sent_slow['failure_reason']} hold {sent_slow['hold_state']}")
    stopped_job = jobs[ids[0]]
    check(f"{part}: the video whose waiting was stopped still completed and was charged",
          stopped_job["status"] == "completed" and stopped_job["hold_state"] == "settled" and stopped_job["stopped_waiting_at"],
          f"{stopped_job['status']} hold {stopped_job['hold_state']}")
    end = phim.balance(person)
    check(f"{part}: the balance in the end: charged for the two sent videos only", end == start - price - slow_price,
          f"{start} → {end}")
    figure(part, f"queued cancel refunded in {ms(refunded_in)}; the deadline in the queue ended it "
                 f"{late['failure_reason']}, {'sent' if late['sent_at'] else 'never sent'}; the slow video was sent "
                 f"{(sent_slow['sent_at'] - sent_slow['created_at']) / 1000:.1f} s after its create, completed; balance {start} → {end}")
    ok, output = phim.verify_ledger()
    check(f"{part}: the ledger verifies", ok, "" if ok else output)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--phim", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--only", help="comma-separated parts: 1 (burst, stall, SIGKILL), 2 (fairness, cancels)")
    args = parser.parse_args()
    args.phim = os.path.realpath(args.phim)
    parts = [burst, fairness_and_cancels]
    chosen = {int(n) for n in args.only.split(",")} if args.only else set(range(1, len(parts) + 1))
    began = time.monotonic()
    for number, part in enumerate(parts, 1):
        if number not in chosen:
            continue
        try:
            part(args)
        except Exception as error:  # a part that breaks is a failure, the others still run
            check(f"part {number} ({part.__name__}) ran to the end", False, f"{type(error).__name__}: {error}")
    print("figures:")
    for line in FIGURES:
        print("  " + line)
    print(f"  runtime {time.monotonic() - began:.0f} s")
    if FAILED:
        print("kept for a look: " + " ".join(faults.TEMPORARY))
    else:
        for directory in faults.TEMPORARY:
            shutil.rmtree(directory, ignore_errors=True)
    print(f"{len(PASSED)} passed, {len(FAILED)} failed")
    raise SystemExit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
