#!/usr/bin/env python3
"""Outbound webhooks end to end: the built `phim` binary posts to a real HTTP receiver, and the
receiver checks every signature with an independent Standard Webhooks implementation (the
`standardwebhooks` package from PyPI).

Runs `phim serve` in demo mode with private targets allowed (the receiver is on loopback) and
a short retry schedule, then checks: per-video and account deliveries arrive signed, a receiver
that answers 500 twice gets the same message a third time, the delivery log shows each attempt,
a replay resends the same message, a failed video is announced with its refund. A second
server, with the default policy, refuses loopback targets. Prints 'N passed, N failed'.

Usage: scripts/webhook_test.py PATH_TO_PHIM
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from harness import Checks, Processes, free_port, wait_healthy
from smoke import Client

PHIM = os.path.abspath(sys.argv[1])
check = Checks()


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
                    receiver.posts.append({"path": self.path, "headers": dict(self.headers), "body": body})
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

    def wait(self, path, condition, seconds=30):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if condition(self.at(path)):
                return True
            time.sleep(0.1)
        return False


def typed(posts, kind):
    return [post for post in posts if json.loads(post["body"]).get("type") == kind]


def main():
    receiver = Receiver()
    processes = Processes(PHIM, "phim-webhooks-")
    work = processes.work
    common = {"PHIM_SIMULATOR_DELAY_SECONDS": "1.5", "PHIM_RECONCILE_INTERVAL_SECONDS": "1", "PHIM_BCRYPT_COST": "4",
              "LOG_LEVEL": "debug", "LOG_FORMAT": "json"}
    try:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        processes.start(["serve", "--port", str(port)],
                        {**common, "DATABASE_URL": os.path.join(work, "a.sqlite"), "PHIM_DATA_DIR": os.path.join(work, "a"),
                         "PHIM_WEBHOOK_ALLOW_PRIVATE_TARGETS": "1", "PHIM_WEBHOOK_RETRY_SCHEDULE": "1,1,1"}, "serve.log")
        check("the server answers /healthz", wait_healthy(base))
        client = Client(base)
        status, _ = client.call("POST", "/api/v1/auth/login", {"email": "demo@phim.local", "password": "phim-demo"})
        check("the demo account signs in", status == 200)

        status, endpoint = client.call("GET", "/api/v1/webhook-endpoint")
        secret = endpoint.get("secret", "")
        check("the account has a whsec_ signing secret", status == 200 and secret.startswith("whsec_"), endpoint)
        verifier = Webhook(secret)
        status, endpoint = client.call("PUT", "/api/v1/webhook-endpoint", {"url": receiver.url("/account"), "events": ["completed", "failed"]})
        check("an account endpoint is set with an event filter", status == 200 and endpoint.get("events") == ["completed", "failed"], endpoint)

        status, video = client.call("POST", "/api/v1/videos", {"prompt": "A kite over the sea", "webhook_url": receiver.url("/flaky")})
        check("a video with its own webhook_url is accepted", status == 202, video)
        create_request_id = client.last_headers.get("X-Request-ID")
        got_three = receiver.wait("/flaky", lambda posts: len(typed(posts, "video.completed")) >= 3)
        completed = typed(receiver.at("/flaky"), "video.completed")
        check("after two 500s the completion is sent a third time", got_three and len(completed) == 3, len(completed))
        check("all three attempts carry the same webhook-id and body",
              len({post["headers"].get("webhook-id") for post in completed}) == 1 and len({post["body"] for post in completed}) == 1)
        started = typed(receiver.at("/flaky"), "video.started")
        check("the start of generation was announced too", len(started) >= 1)

        verified, failures = 0, []
        for post in receiver.at("/flaky"):
            try:
                verifier.verify(post["body"], post["headers"])
                verified += 1
            except WebhookVerificationError as error:
                failures.append(str(error))
        check("standardwebhooks verifies every delivery's signature", verified == len(receiver.at("/flaky")) and not failures, failures)
        tampered = completed[0]["body"].replace(b"completed", b"c0mpleted")
        try:
            verifier.verify(tampered, completed[0]["headers"])
            check("a tampered body fails verification", False)
        except WebhookVerificationError:
            check("a tampered body fails verification", True)
        payload = json.loads(completed[0]["body"])
        check("the payload is the completed video", payload["data"]["id"] == video["id"] and payload["data"]["status"] == "completed"
              and payload["data"]["video_url"].startswith("http"), payload)

        check("the account endpoint gets the completion once (and not the start)",
              receiver.wait("/account", lambda posts: len(typed(posts, "video.completed")) >= 1)
              and len(receiver.at("/account")) == 1)
        try:
            verifier.verify(receiver.at("/account")[0]["body"], receiver.at("/account")[0]["headers"])
            check("the account delivery verifies", True)
        except WebhookVerificationError as error:
            check("the account delivery verifies", False, error)

        time.sleep(0.5)  # the third attempt's record is written after the answer
        status, log = client.call("GET", f"/api/v1/webhook-deliveries?video_id={video['id']}&state=delivered")
        flaky = [d for d in log.get("data", []) if d["url"] == receiver.url("/flaky") and d["event"] == "video.completed"]
        check("the delivery log shows the completion delivered after 3 attempts",
              status == 200 and len(flaky) == 1 and flaky[0]["attempts"] == 3, log)
        if flaky:
            status, detail = client.call("GET", f"/api/v1/webhook-deliveries/{flaky[0]['id']}")
            codes = [attempt.get("status_code") for attempt in detail.get("attempt_log", [])]
            check("its attempt log reads 500, 500, 204", codes == [500, 500, 204], codes)
            status, replayed = client.call("POST", f"/api/v1/webhook-deliveries/{flaky[0]['id']}/replay")
            check("a replay is accepted", status == 202 and replayed.get("state") == "pending", replayed)
            check("the replay arrives with the same webhook-id",
                  receiver.wait("/flaky", lambda posts: len(typed(posts, "video.completed")) >= 4)
                  and typed(receiver.at("/flaky"), "video.completed")[-1]["headers"].get("webhook-id") == flaky[0]["webhook_id"])

        status, failing = client.call("POST", "/api/v1/videos", {"prompt": "Storm clouds #fail"})
        check("the account endpoint hears of a failure, with the refund",
              receiver.wait("/account", lambda posts: any(json.loads(p["body"])["data"]["id"] == failing.get("id") for p in typed(posts, "video.failed")))
              and json.loads(typed(receiver.at("/account"), "video.failed")[-1]["body"])["data"]["credits_refunded"] is True)

        status, rotated = client.call("POST", "/api/v1/webhook-endpoint/rotate-secret")
        check("the secret can be rotated", status == 200 and rotated.get("secret", secret) != secret)
        log = processes.log("serve.log")
        check("neither signing secret appears in the debug log (SQL binds included)",
              secret not in log and rotated.get("secret", "-") not in log and "whsec_[redacted]" in log)

        # Structured logs: one JSON object per line, and the create's request id follows the job.
        lines = [line for line in log.splitlines() if line.strip()]
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                pass
        check("with LOG_FORMAT=json every log line is a JSON object", lines and len(records) == len(lines),
              [line for line in lines if not line.startswith("{")][:3])
        followed = [r for r in records if r.get("origin_request_id") == create_request_id and r.get("job_id", "").lower() == video["id"].lower()]
        check("the create's X-Request-ID follows its job through the callbacks to completion",
              create_request_id and any(r.get("request-id") == create_request_id for r in records)
              and any(r.get("status") == "completed" for r in followed), (create_request_id, followed[:2]))

        # The default policy: loopback targets are refused before anything is held.
        strict_port = free_port()
        strict_base = f"http://127.0.0.1:{strict_port}"
        processes.start(["serve", "--port", str(strict_port)],
                        {**common, "DATABASE_URL": os.path.join(work, "b.sqlite"), "PHIM_DATA_DIR": os.path.join(work, "b")}, "strict.log")
        check("a server with the default policy answers", wait_healthy(strict_base))
        strict = Client(strict_base)
        strict.call("POST", "/api/v1/auth/login", {"email": "demo@phim.local", "password": "phim-demo"})
        _, before = strict.call("GET", "/api/v1/me")
        for target in (receiver.url("/account"), f"http://localhost:{receiver.port}/x", "http://169.254.169.254/latest/meta-data/"):
            status, answer = strict.call("POST", "/api/v1/videos", {"prompt": "Nope", "webhook_url": target})
            check(f"{target} is refused", status == 422 and answer["error"]["code"] == "webhook_url_not_allowed", answer)
        _, after = strict.call("GET", "/api/v1/me")
        check("nothing was held for the refused creates", before.get("credits") == after.get("credits"), (before, after))
    finally:
        processes.stop(show_logs=check.failed > 0)
        receiver.server.shutdown()
    return check.summary("webhooks")


if __name__ == "__main__":
    sys.exit(main())
