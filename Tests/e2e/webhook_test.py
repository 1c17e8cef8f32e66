#!/usr/bin/env python3
"""Outbound webhooks end to end: `phim up` posts to a real HTTP receiver on this machine, and the
receiver checks every signature with an independent Standard Webhooks implementation (the
`standardwebhooks` package from PyPI).

Starts its own `phim up` (demo mode, private targets allowed since the receiver is on loopback,
a short retry schedule) and checks: per-video and account deliveries arrive signed, a receiver
that answers 500 twice gets the same message a third time, the delivery log shows each attempt,
a replay resends the same message and replays past the hourly limit are refused, a name is
resolved by the dispatcher and the delivery pinned to its address, a failed video is announced
with its refund, a rotated secret signs what follows, and no secret reaches the log. Prints
`N passed, N failed`.

    python3 Tests/e2e/webhook_test.py --phim PATH_TO_PHIM
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError
except ImportError:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "standardwebhooks"], check=True)
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smoke import Client  # noqa: E402

PASSED, FAILED = [], []


def check(name, condition, detail=""):
    (PASSED if condition else FAILED).append(name)
    print(("ok   " if condition else "FAIL ") + name + ("" if condition or not detail else f"  ({detail})"), flush=True)
    return condition


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """Records every post. `/flaky` answers 500 to the first two attempts of each message."""

    def __init__(self):
        self.posts = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.posts.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                    earlier = sum(1 for post in receiver.posts
                                  if post["path"] == self.path and post["headers"].get("webhook-id") == self.headers.get("webhook-id"))
                status = 500 if self.path == "/flaky" and earlier <= 2 else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path):
        with self.lock:
            return [post for post in self.posts if post["path"] == path]

    def wait(self, path, condition, seconds=40):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if condition(self.at(path)):
                return True
            time.sleep(0.1)
        return False


def typed(posts, kind):
    return [post for post in posts if json.loads(post["body"]).get("type") == kind]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--phim", required=True)
    args = parser.parse_args()
    receiver = Receiver()
    work = tempfile.mkdtemp(prefix="phim-webhooks-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Kie sends these models no progress callbacks: the start of generation is seen by the
    # reconciler's poll, so jobs take 4 s and go quiet after 1 s.
    env = {**os.environ, "PHIM_SIMULATOR_DELAY_SECONDS": "4", "PHIM_RECONCILE_INTERVAL_SECONDS": "1", "PHIM_STALE_AFTER_SECONDS": "1",
           "PHIM_PASSWORD_HASH_COST": "minimum", "LOG_LEVEL": "debug", "LOG_FORMAT": "json",
           "PHIM_WEBHOOK_ALLOW_PRIVATE_TARGETS": "1", "PHIM_WEBHOOK_RETRY_SCHEDULE": "1,1,1", "PHIM_WEBHOOK_REPLAYS_PER_HOUR": "3"}
    log_path = os.path.join(work, "phim.log")
    log = open(log_path, "w")
    up = subprocess.Popen([args.phim, "up", "--port", str(port), "--data", os.path.join(work, "data")], env=env, stdout=log, stderr=log)
    try:
        for _ in range(150):
            try:
                if Client(base).request("GET", "/api/livez")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        client = Client(base)
        status, _, _, _ = client.request("POST", "/api/v1/auth/login", {"email": "demo@phim.local", "password": "phim-demo"})
        check("the demo account signs in", status == 200)

        status, endpoint, response, _ = client.request("GET", "/api/v1/webhook-endpoint")
        secret = (endpoint or {}).get("secret", "")
        check("the account has a whsec_ signing secret, never cached", status == 200 and secret.startswith("whsec_")
              and response.getheader("Cache-Control") == "no-store", endpoint)
        verifier = Webhook(secret)
        status, endpoint, _, _ = client.request("PUT", "/api/v1/webhook-endpoint", {"url": receiver.url("/account"), "events": ["completed", "failed"]})
        check("an account endpoint is set with an event filter", status == 200 and endpoint.get("events") == ["completed", "failed"], endpoint)

        status, video, response, _ = client.request("POST", "/api/v1/videos", {"prompt": "A kite over the sea", "webhook_url": receiver.url("/flaky")})
        check("a video with its own webhook_url is accepted", status == 202, video)
        create_request_id = response.getheader("X-Request-ID")
        got_three = receiver.wait("/flaky", lambda posts: len(typed(posts, "video.completed")) >= 3)
        completed = typed(receiver.at("/flaky"), "video.completed")
        check("after two 500s the completion is sent a third time", got_three and len(completed) == 3, len(completed))
        check("all three attempts carry the same webhook-id and body",
              len({post["headers"].get("webhook-id") for post in completed}) == 1 and len({post["body"] for post in completed}) == 1)
        check("the start of generation was announced too", len(typed(receiver.at("/flaky"), "video.started")) >= 1)

        failures = []
        for post in receiver.at("/flaky"):
            try:
                verifier.verify(post["body"], post["headers"])
            except WebhookVerificationError as error:
                failures.append(str(error))
        check("standardwebhooks verifies every delivery's signature", receiver.at("/flaky") and not failures, failures)
        tampered = completed[0]["body"].replace(b"completed", b"c0mpleted") if completed else b""
        try:
            verifier.verify(tampered, completed[0]["headers"] if completed else {})
            check("a tampered body fails verification", False)
        except (WebhookVerificationError, IndexError, KeyError):
            check("a tampered body fails verification", True)
        payload = json.loads(completed[0]["body"]) if completed else {"data": {}}
        check("the payload is the completed video", payload["data"].get("id") == video["id"]
              and payload["data"].get("status") == "completed" and payload["data"].get("video_url", "").startswith("http"), payload)

        check("the account endpoint gets the completion once (and not the start)",
              receiver.wait("/account", lambda posts: len(typed(posts, "video.completed")) >= 1) and len(receiver.at("/account")) == 1)
        try:
            verifier.verify(receiver.at("/account")[0]["body"], receiver.at("/account")[0]["headers"])
            check("the account delivery verifies", True)
        except (WebhookVerificationError, IndexError) as error:
            check("the account delivery verifies", False, error)

        time.sleep(0.5)  # the third attempt's record is written after the answer
        status, log_page, _, _ = client.request("GET", f"/api/v1/webhook-deliveries?video_id={video['id']}&state=delivered")
        flaky = [d for d in (log_page or {}).get("data", []) if d["url"] == receiver.url("/flaky") and d["event"] == "video.completed"]
        check("the delivery log shows the completion delivered after 3 attempts", status == 200 and len(flaky) == 1
              and flaky[0]["attempts"] == 3, log_page)
        if flaky:
            status, detail, _, _ = client.request("GET", f"/api/v1/webhook-deliveries/{flaky[0]['id']}")
            codes = [attempt.get("status_code") for attempt in detail.get("attempt_log", [])]
            check("its attempt log reads 500, 500, 204", codes == [500, 500, 204], codes)
            status, replayed, _, _ = client.request("POST", f"/api/v1/webhook-deliveries/{flaky[0]['id']}/replay")
            check("a replay is accepted", status == 202 and replayed.get("state") == "pending", replayed)
            check("the replay arrives with the same webhook-id",
                  receiver.wait("/flaky", lambda posts: len(typed(posts, "video.completed")) >= 4)
                  and typed(receiver.at("/flaky"), "video.completed")[-1]["headers"].get("webhook-id") == flaky[0]["webhook_id"])
            # PHIM_WEBHOOK_REPLAYS_PER_HOUR=3: two more are accepted, the fourth is refused and changes nothing.
            statuses = [client.request("POST", f"/api/v1/webhook-deliveries/{flaky[0]['id']}/replay")[0] for _ in range(2)]
            receiver.wait("/flaky", lambda posts: len(typed(posts, "video.completed")) >= 5)
            time.sleep(0.5)
            _, before, _, _ = client.request("GET", f"/api/v1/webhook-deliveries/{flaky[0]['id']}")
            status, refused, response, _ = client.request("POST", f"/api/v1/webhook-deliveries/{flaky[0]['id']}/replay")
            _, after, _, _ = client.request("GET", f"/api/v1/webhook-deliveries/{flaky[0]['id']}")
            check("the replay past the hourly limit is a 429 too_many_replays with Retry-After, and changes nothing",
                  statuses == [202, 202] and status == 429 and (refused or {}).get("error", {}).get("code") == "too_many_replays"
                  and int(response.getheader("Retry-After") or 0) >= 1
                  and (before or {}).get("state") == (after or {}).get("state") == "delivered"
                  and len((before or {}).get("attempt_log", [])) == len((after or {}).get("attempt_log", [])), (statuses, status, refused))

        # A name, not an address: the dispatcher resolves it (the C library's resolver) and pins the connection to its answer.
        named = f"http://localhost:{receiver.port}/named"
        status, by_name, _, _ = client.request("POST", "/api/v1/videos", {"prompt": "A lantern by name", "webhook_url": named,
                                                                        "webhook_events": ["completed"]})
        check("a webhook URL with a host name is delivered through the dispatcher's own lookup",
              status == 202 and receiver.wait("/named", lambda posts: len(posts) >= 1)
              and receiver.at("/named")[0]["headers"].get("host") == f"localhost:{receiver.port}", by_name)

        status, failing, _, _ = client.request("POST", "/api/v1/videos", {"prompt": "Storm clouds #fail"})
        check("the account endpoint hears of a failure, with the refund",
              receiver.wait("/account", lambda posts: any(json.loads(p["body"])["data"]["id"] == failing.get("id") for p in typed(posts, "video.failed")))
              and json.loads(typed(receiver.at("/account"), "video.failed")[-1]["body"])["data"]["credits_refunded"] is True)

        status, rotated, _, _ = client.request("POST", "/api/v1/webhook-endpoint/rotate-secret")
        new_secret = (rotated or {}).get("secret", secret)
        check("the secret can be rotated", status == 200 and new_secret != secret)
        status, third, _, _ = client.request("POST", "/api/v1/videos", {"prompt": "A quiet harbour"})
        arrived = receiver.wait("/account", lambda posts: any(json.loads(p["body"])["data"]["id"] == third.get("id") for p in posts))
        post = [p for p in receiver.at("/account") if json.loads(p["body"])["data"]["id"] == third.get("id")]
        try:
            Webhook(new_secret).verify(post[0]["body"], post[0]["headers"])
            check("deliveries after a rotation are signed with the new secret", arrived)
        except (WebhookVerificationError, IndexError) as error:
            check("deliveries after a rotation are signed with the new secret", False, error)

        log.flush()
        text = open(log_path).read()
        check("neither signing secret appears in the debug log", secret not in text and new_secret not in text)
        records = []
        lines = [line for line in text.splitlines() if line.startswith("{")]
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                pass
        check("with LOG_FORMAT=json the service's log lines are JSON objects", lines and len(records) == len(lines))
        followed = [r for r in records if r.get("origin_request_id") == create_request_id and r.get("job_id") == video["id"]]
        check("the create's X-Request-ID follows its job to completion", create_request_id
              and any(r.get("status") == "completed" for r in followed), (create_request_id, followed[:2]))
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(40)
        except subprocess.TimeoutExpired:
            up.kill()
        receiver.server.shutdown()
        if FAILED:
            print(open(log_path).read()[-3000:])
    print(f"{len(PASSED)} passed, {len(FAILED)} failed")
    raise SystemExit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
