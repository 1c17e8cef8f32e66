#!/usr/bin/env python3
"""End-to-end checks of Phim through a real nginx and real FastCGI processes (`phim up`).

Run by Tests/run.sh against `phim up --workers 2` in demo mode with a fast simulator:
    python3 Tests/e2e/smoke.py --base-url http://127.0.0.1:PORT --data DATA_DIR --phim PATH
Standard library only. Prints one line per check and `N passed, N failed`; exits non-zero on failure.
"""
import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid
import struct
import zlib

PASSED, FAILED = [], []


def check(name, condition, detail=""):
    (PASSED if condition else FAILED).append(name)
    print(("ok   " if condition else "FAIL ") + name + ("" if condition or not detail else f"  ({detail})"), flush=True)
    return condition


class Client:
    """A tiny HTTP client that keeps cookies and the anti-forgery token, or sends an API key."""

    def __init__(self, base, key=None, language="vi"):
        parsed = urllib.parse.urlparse(base)
        self.host, self.port = parsed.hostname, parsed.port
        self.key, self.cookies, self.csrf, self.language = key, {}, None, language

    def request(self, method, path, body=None, headers=None, raw=None, content_type=None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        all_headers = {"Accept-Language": self.language}
        if self.key:
            all_headers["Authorization"] = f"Bearer {self.key}"
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.csrf and method not in ("GET", "HEAD"):
            all_headers["X-CSRF-Token"] = self.csrf
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        if content_type:
            all_headers["Content-Type"] = content_type
        all_headers.update(headers or {})
        connection.request(method, path, body=data, headers=all_headers)
        response = connection.getresponse()
        payload = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                cookie_value = rest.split(";")[0]
                if cookie_value:
                    self.cookies[name] = cookie_value
                else:
                    self.cookies.pop(name, None)
        if response.getheader("X-CSRF-Token"):
            self.csrf = response.getheader("X-CSRF-Token")
        connection.close()
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = None
        return response.status, parsed, response, payload


def png_bytes(width=8, height=8):
    raw = b"".join(b"\x00" + bytes([200, 80, 40] * width) for _ in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def multipart(field, filename, content, content_type):
    boundary = "phimboundary" + uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def wait_for(client, video_id, states=("completed", "failed", "canceled"), timeout=30):
    deadline = time.time() + timeout
    video = None
    while time.time() < deadline:
        _, video, _, _ = client.request("GET", f"/api/v1/videos/{video_id}")
        if video and video.get("status") in states:
            return video
        time.sleep(0.25)
    return video


def new_account(base, args, credits=0):
    email = f"smoke-{uuid.uuid4().hex[:10]}@example.com"
    client = Client(base)
    status, _, _, _ = client.request("POST", "/api/v1/auth/register", {"email": email, "password": "smoke-password"})
    assert status == 201, status
    status, _, _, _ = client.request("POST", "/api/v1/auth/login", {"email": email, "password": "smoke-password"})
    assert status == 200, status
    if credits:
        subprocess.run([args.phim, "credits", "grant", "--email", email, "--amount", str(credits), "--reason", "smoke test",
                        "--data", args.data], check=True, capture_output=True)
    return email, client


def simulator_stats(data):
    """What the demo's provider simulator saw (its address is in the data directory)."""
    with open(os.path.join(data, "run", "simulator.url")) as f:
        url = urllib.parse.urlparse(f.read().strip())
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    connection.request("GET", "/_simulator/stats")
    return json.loads(connection.getresponse().read())


def worker_pids(data):
    out = subprocess.run(["pgrep", "-f", f"fcgi --socket {os.path.realpath(data)}/run/phim-"], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def uploads_views_and_health(base, args, anonymous):
    """Issue 23: strict images, the multipart field by its name, share views written in batches and
    kept over a restart, healthz without accounts, metrics only from this machine with no proxy header."""
    status, body, _, _ = anonymous.request("GET", "/api/healthz")
    check("healthz says nothing about accounts", status == 200 and body == {"status": "ok", "database": "ok"}, body)
    status, _, _, text = anonymous.request("GET", "/api/metrics")
    check("metrics answer a scraper on this machine through nginx", status == 200 and b"phim_http_requests_total" in text)
    for header, value in (("X-Forwarded-For", "203.0.113.9"), ("Forwarded", "for=203.0.113.9"), ("X-Real-IP", "127.0.0.1"),
                          ("Host", "rebind.attacker.example")):
        status, body, _, _ = anonymous.request("GET", "/api/metrics", headers={header: value})
        check(f"metrics with {header}: a JSON 404", status == 404 and body and body["error"]["code"] == "not_found", status)

    _, owner = new_account(base, args, credits=20_000)
    uploads = os.path.join(args.data, "uploads")
    files_before = len(os.listdir(uploads)) if os.path.isdir(uploads) else 0
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    probe = png_bytes()[:-12] + chunk(b"tEXt", b"Comment\0" + b"a" * 9_900_000) + chunk(b"IEND", b"")
    body, content_type = multipart("file", "a.png", probe, "image/png")
    status, refused, _, _ = owner.request("POST", "/api/v1/uploads", raw=body, content_type=content_type)
    check("a PNG that is a 9.9 MB text chunk: 422 image_metadata_too_large", status == 422
          and refused["error"]["code"] == "image_metadata_too_large", refused)
    bad_crc = bytearray(png_bytes())
    bad_crc[-1] ^= 1
    body, content_type = multipart("file", "a.png", bytes(bad_crc), "image/png")
    status, refused, _, _ = owner.request("POST", "/api/v1/uploads", raw=body, content_type=content_type)
    check("a PNG with a wrong chunk checksum: 422 invalid_image", status == 422 and refused["error"]["code"] == "invalid_image", refused)
    boundary = "phimb" + uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="other"; filename="file"\r\n\r\n').encode() + png_bytes() \
        + f"\r\n--{boundary}--\r\n".encode()
    status, refused, _, _ = owner.request("POST", "/api/v1/uploads", raw=body, content_type=f"multipart/form-data; boundary={boundary}")
    check('a part named "other" with filename="file" is not the file: 400 file_required', status == 400
          and refused["error"]["code"] == "file_required", refused)
    check("refused uploads leave no file", (len(os.listdir(uploads)) if os.path.isdir(uploads) else 0) == files_before)

    status, video, _, _ = owner.request("POST", "/api/v1/videos", {"prompt": "a kite over the dunes"})
    done = wait_for(owner, video["id"]) if status == 202 else video
    status, shared, _, _ = owner.request("POST", f"/api/v1/videos/{video['id']}/share")
    path = urllib.parse.urlparse(shared["url"]).path if status == 200 else "/v/none"
    for _ in range(5):
        anonymous.request("GET", path)
    anonymous.request("GET", path + "/embed")
    deadline, views = time.time() + 10, None
    while time.time() < deadline:
        views = owner.request("GET", f"/api/v1/videos/{video['id']}")[1]["share_views"]
        if views == 6:
            break
        time.sleep(0.2)
    check("six views of a shared page are counted within a flush", done and done["status"] == "completed" and views == 6, views)
    pids = worker_pids(args.data)
    for _ in range(4):
        anonymous.request("GET", path)
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 20
    current = worker_pids(args.data)
    while time.time() < deadline and (len(current) < 2 or set(current) & set(pids)):
        time.sleep(0.2)
        current = worker_pids(args.data)
    deadline, after = time.time() + 10, None
    while time.time() < deadline:
        status, after, _, _ = owner.request("GET", f"/api/v1/videos/{video['id']}")
        if status == 200:
            break
        time.sleep(0.2)
    check("views counted just before a restart are written at shutdown", (after or {}).get("share_views") == 10, after)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--phim", required=True)
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    anonymous = Client(base)

    # The two halves of the shape: nginx's static pages and the FastCGI process.
    status, body, response, _ = anonymous.request("GET", "/api/livez")
    check("livez answered by the FastCGI process", status == 200 and body == {"status": "ok"})
    check("every answer has a request id", bool(response.getheader("X-Request-ID")))
    status, body, _, _ = anonymous.request("GET", "/api/healthz")
    check("healthz reads the database", status == 200 and body.get("database") == "ok")
    status, _, response, page = anonymous.request("GET", "/")
    csp = response.getheader("Content-Security-Policy") or ""
    check("nginx serves the dashboard with a strict CSP", status == 200 and b"<html" in page.lower() and "script-src 'self'" in csp)
    status, _, _, _ = anonymous.request("GET", "/signin")
    check("pages resolve without .html", status == 200)
    status, body, _, _ = anonymous.request("GET", "/api/v1/nope")
    check("unknown API route is a JSON 404", status == 404 and body["error"]["code"] == "not_found")
    status, body, _, _ = anonymous.request("GET", "/api/v1/me")
    check("no credentials: 401 unauthenticated", status == 401 and body["error"]["code"] == "unauthenticated")
    status, body, _, _ = Client(base, key="phim_forged").request("GET", "/api/v1/videos")
    check("forged key: 401", status == 401)

    # The demo account makes videos; the simulator finishes them.
    demo = Client(base)
    status, me, _, _ = demo.request("POST", "/api/v1/auth/login", {"email": "demo@phim.local", "password": "phim-demo"})
    check("demo account signs in", status == 200 and me["is_admin"] is False, me)
    status, body, _, _ = demo.request("POST", "/api/v1/api-keys", {"name": "no token"}, headers={"X-CSRF-Token": "wrong"})
    check("cookie change without the anti-forgery token: 403", status == 403 and body["error"]["code"] == "csrf_failed")
    status, catalog, _, _ = anonymous.request("GET", "/api/v1/models")
    shipped = ["seedance-2-mini", "grok-imagine", "kling-3.0", "wan-3.0", "veo-3.1-fast", "veo-3.1-lite"]
    check("the catalog lists the shipped models, Seedance 2 Mini the default, each with its prices",
          status == 200 and [m["id"] for m in catalog["models"]][:6] == shipped
          and [m["id"] for m in catalog["models"] if m["default"]] == ["seedance-2-mini"]
          and all(m["prices"] and m["available"] for m in catalog["models"]), catalog)
    check("retired Sora 2 models are named, not offered",
          any(w["id"] == "sora-2-text-to-video" and w["retired"] for w in catalog["withdrawn"]))
    status, body, _, _ = demo.request("POST", "/api/v1/videos", {"prompt": "x", "model": "sora-2-text-to-video"})
    check("a create naming Sora 2: 410 model_retired naming the replacements", status == 410
          and body["error"]["code"] == "model_retired" and "kling-3.0" in body["error"]["replacements"], body)

    _, before, _, _ = demo.request("GET", "/api/v1/me")
    key = str(uuid.uuid4())
    status, video, response, _ = demo.request("POST", "/api/v1/videos", {"prompt": "A paper boat on a puddle at dusk"},
                                               headers={"Idempotency-Key": key})
    check("create answers 202, queued or already sent", status == 202 and video["status"] in ("queued", "submitting", "pending"), video)
    status, again, response, _ = demo.request("POST", "/api/v1/videos", {"prompt": "A paper boat on a puddle at dusk"},
                                               headers={"Idempotency-Key": key})
    check("retry with the same Idempotency-Key: same video", status == 200 and again["id"] == video["id"]
          and response.getheader("Idempotent-Replayed") == "true")
    done = wait_for(demo, video["id"])
    check("video completes through the callback", done and done["status"] == "completed" and done["video_url"], done)
    check("the owner sees the provider's task id", bool(done and done.get("provider_task_id")))
    check("receipt: settled at the price held", done and done["receipt"]["state"] == "settled"
          and [e["kind"] for e in done["receipt"]["entries"]] == ["hold", "settle"])
    media = urllib.parse.urlparse(done["video_url"])
    status, _, response, clip = anonymous.request("GET", media.path, headers={"Range": "bytes=0-99"})
    check("the sample video plays from the simulator through nginx", status == 206 and len(clip) == 100
          and response.getheader("Content-Type") == "video/mp4")

    status, failing, _, _ = demo.request("POST", "/api/v1/videos", {"prompt": "a storm at sea #fail"})
    failed = wait_for(demo, failing["id"])
    check("#fail fails with a reason and is refunded", failed["status"] == "failed" and failed["credits_refunded"]
          and failed["failure"]["message"], failed)
    _, after, _, _ = demo.request("GET", "/api/v1/me")
    check("balance moved by exactly one video", before["credits"] - after["credits"] == done["price_credits"]
          and after["credits_on_hold"] == 0, (before, after))

    # Image to video: the upload is stored on disk and served by nginx to the provider.
    body, content_type = multipart("file", "boat.png", png_bytes(), "image/png")
    status, upload, _, _ = demo.request("POST", "/api/v1/uploads", raw=body, content_type=content_type)
    check("upload accepted", status == 201 and upload["content_type"] == "image/png", upload)
    status, _, response, served = anonymous.request("GET", urllib.parse.urlparse(upload["url"]).path)
    check("nginx serves the uploaded image", status == 200 and served == png_bytes())
    body, content_type = multipart("file", "x.png", b"GIF89a not really", "image/png")
    status, refused, _, _ = demo.request("POST", "/api/v1/uploads", raw=body, content_type=content_type)
    check("not an image: 415 with a code", status == 415 and refused["error"]["code"] == "unsupported_image_type")
    uploads_before = simulator_stats(args.data)["calls"]["uploads"]
    status, i2v, _, _ = demo.request("POST", "/api/v1/videos", {"prompt": "the boat sails away", "upload_id": upload["id"],
                                                                "aspect_ratio": "9:16", "duration": 15})
    finished = wait_for(demo, i2v["id"]) if status == 202 else i2v
    check("image-to-video completes", status == 202 and finished["status"] == "completed"
          and finished["mode"] == "image_to_video" and "portrait" in finished["video_url"], finished)
    check("PHIM_PUBLIC_URL on loopback: the image reached the model through Kie's file upload API",
          simulator_stats(args.data)["calls"]["uploads"] == uploads_before + 1)

    # Every shipped model, in every mode it offers, end to end through nginx (Veo through its own API).
    _, maker = new_account(base, args, credits=200_000)
    body, content_type = multipart("file", "frame.png", png_bytes(16, 9), "image/png")
    _, frame, _, _ = maker.request("POST", "/api/v1/uploads", raw=body, content_type=content_type)
    made = []
    for model in catalog["models"][:6]:
        for mode in model["modes"]:
            request = {"prompt": f"a lantern festival, {model['id']}", "model": model["id"]}
            if mode == "image_to_video":
                request["upload_id"] = frame["id"]
            status, video, _, _ = maker.request("POST", "/api/v1/videos", request)
            made.append((model, mode, status, video))
    for model, mode, status, video in made:
        finished = wait_for(maker, video["id"]) if status == 202 else video
        cheapest = min(p["credits"] for p in model["prices"]
                       if p["duration"] == model["durations"][0] and p["resolution"] == model["resolutions"][0])
        check(f"{model['id']} {mode}: made, charged its price, and it plays", status == 202 and finished["status"] == "completed"
              and finished["model"] == model["id"] and finished["mode"] == mode and finished["price_credits"] == cheapest
              and anonymous.request("GET", urllib.parse.urlparse(finished["video_url"]).path, headers={"Range": "bytes=0-9"})[0] == 206,
              finished)

    # Live feed: 304 while nothing changes, the change after a callback.
    _, listing, _, _ = demo.request("GET", "/api/v1/videos?limit=5")
    version = listing["version"]
    status, _, _, _ = demo.request("GET", f"/api/v1/videos/changes?after={version}")
    check("change feed: 304 when nothing changed", status == 304)
    status, slow, _, _ = demo.request("POST", "/api/v1/videos", {"prompt": "a quick one"})
    seen = None
    deadline = time.time() + 20
    while time.time() < deadline:
        status, changes, _, _ = demo.request("GET", f"/api/v1/videos/changes?after={version}")
        if status == 200:
            version = changes["version"]
            for v in changes["videos"]:
                if v["id"] == slow["id"] and v["status"] == "completed":
                    seen = v
        if seen:
            break
        time.sleep(0.3)
    check("change feed reports the finished video", seen is not None)
    status, _, _, _ = demo.request("DELETE", f"/api/v1/videos/{slow['id']}")
    status2, gone, _, _ = demo.request("GET", f"/api/v1/videos/{slow['id']}")
    check("delete hides the video at once", status == 204 and status2 == 404 and gone["error"]["code"] == "video_not_found")

    # Privacy across accounts.
    _, stranger = new_account(base, args)
    status, body, _, _ = stranger.request("GET", f"/api/v1/videos/{done['id']}")
    status_missing, missing, _, _ = stranger.request("GET", f"/api/v1/videos/{uuid.uuid4()}")
    check("another user's video is a 404 like a missing one", status == 404 and status_missing == 404
          and body["error"] == missing["error"])
    status, body, _, _ = stranger.request("POST", "/api/v1/videos", {"prompt": "no money"})
    check("no credits: 402 with what is needed", status == 402 and body["error"]["needed"] == 4500)

    # 50 creates at once through nginx, spread over both FastCGI processes, on a balance for 10.
    email, racer = new_account(base, args, credits=45_000)
    _, made_key, _, _ = racer.request("POST", "/api/v1/api-keys", {"name": "race"})
    results = []
    lock = threading.Lock()

    def create():
        status, _, _, _ = Client(base, key=made_key["key"]).request("POST", "/api/v1/videos", {"prompt": "race #slow"})
        with lock:
            results.append(status)

    threads = [threading.Thread(target=create) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _, racer_me, _, _ = racer.request("GET", "/api/v1/me")
    check("50 simultaneous creates on a balance for 10 across two processes: exactly 10",
          results.count(202) == 10 and results.count(402) == 40 and racer_me["credits"] == 0
          and racer_me["credits_on_hold"] == 45_000, (sorted(results), racer_me))
    check("two FastCGI processes are serving", len(worker_pids(args.data)) == 2, worker_pids(args.data))

    # The FastCGI process under abuse: oversized bodies, a client that goes away, SIGTERM mid-request.
    status, body, _, _ = demo.request("POST", "/api/v1/videos", raw=b"{" + b" " * (2 << 20) + b"}", content_type="application/json")
    check("a body over the limit: JSON 413", status == 413 and body and body["error"]["code"] == "payload_too_large")
    for _ in range(20):
        raw = socket.create_connection((anonymous.host, anonymous.port))
        raw.sendall(b"GET /api/v1/videos?limit=100 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + made_key["key"].encode() + b"\r\n\r\n")
        raw.close()
    status, _, _, _ = anonymous.request("GET", "/api/livez")
    check("clients that go away mid-answer harm nothing", status == 200 and len(worker_pids(args.data)) == 2)

    pids = worker_pids(args.data)
    outcome = {}

    def slow_create():
        outcome["status"], outcome["body"], _, _ = demo.request("POST", "/api/v1/videos", {"prompt": "a slow provider #stall"})

    thread = threading.Thread(target=slow_create)
    thread.start()
    time.sleep(1.0)
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    thread.join(30)
    check("SIGTERM during a request: the request completes", outcome.get("status") == 202, outcome)
    deadline = time.time() + 20
    current = worker_pids(args.data)
    while time.time() < deadline and (len(current) < 2 or set(current) & set(pids)):
        time.sleep(0.2)
        current = worker_pids(args.data)
    status, _, _, _ = anonymous.request("GET", "/api/livez")
    check("stopped processes exit and phim up starts them again", status == 200 and len(current) == 2
          and not set(current) & set(pids), (pids, current))

    uploads_views_and_health(base, args, anonymous)

    ledger = subprocess.run([args.phim, "ledger", "verify", "--data", args.data], capture_output=True, text=True)
    check("phim ledger verify passes while the service runs", ledger.returncode == 0, ledger.stdout + ledger.stderr)

    print(f"{len(PASSED)} passed, {len(FAILED)} failed")
    raise SystemExit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
