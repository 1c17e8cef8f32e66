#!/usr/bin/env python3
"""Hostile input against Phim's API through nginx: schemathesis on the served OpenAPI document,
then raw abuse over sockets and http.client. One line per check; exits non-zero on any failure.

    python3 Tests/e2e/api_fuzz.py --base-url http://127.0.0.1:8080

Needs a running `phim up` (demo mode). Every request goes to the base URL's host; the suite's own
requests come from a loopback address of their own (127.x.y.z), so the per-address limits they
trip (sign-in failures, sign-ups) are not shared with the other suites or with earlier runs.
"""

import argparse
import calendar
import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

PASSED = 0
FAILED = 0


def check(name, ok, detail=""):
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print(f"ok    {name}", flush=True)
    else:
        FAILED += 1
        print(f"FAIL  {name}{': ' + detail if detail else ''}", flush=True)
    return ok


# ---------------------------------------------------------------------------------------------
# Transport

class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-cased name -> list of values
        self.body = body

    def header(self, name):
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def code(self):
        data = self.json()
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            return data["error"].get("code")
        return None

    def __repr__(self):
        return f"{self.status} {self.body[:160]!r}"


class ServerGone(Exception):
    """Several requests in a row got no answer at all: the rest of the run would only wait."""


class Client:
    """http.client through nginx, from a loopback source address of the suite's own. A request
    that gets no answer (refused, reset, timed out) comes back as status 0."""

    def __init__(self, host, port, source):
        self.host, self.port, self.source = host, port, source
        self.unanswered = 0

    def request(self, method, path, body=None, headers=None, timeout=15):
        try:
            answer = self._request(method, path, body, headers, timeout)
            self.unanswered = 0
            return answer
        except (OSError, http.client.HTTPException) as error:
            self.unanswered += 1
            if self.unanswered >= 5:
                raise ServerGone(f"{method} {path}: {error!r}")
            return Answer(0, {}, f"no answer: {error!r}".encode())

    def _request(self, method, path, body, headers, timeout):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout, source_address=(self.source, 0))
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers = {"Content-Type": "application/json", **(headers or {})}
            connection.putrequest(method, path, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                connection.putheader(name, value)
            if body is not None:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            data = response.read()
            headers_out = {}
            for name, value in response.getheaders():
                headers_out.setdefault(name.lower(), []).append(value)
            return Answer(response.status, headers_out, data)
        finally:
            connection.close()

    def raw(self, data, timeout=8, shut_write=False):
        """Sends bytes as they are; returns (status or None, whole answer bytes, seconds taken).
        nginx may close the connection before reading everything: that is an answer too."""
        started = time.monotonic()
        sock = socket.create_connection((self.host, self.port), timeout=timeout, source_address=(self.source, 0))
        chunks = []
        try:
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
            if shut_write:
                sock.shutdown(socket.SHUT_WR)
            while time.monotonic() - started < timeout:
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    break
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and answer_complete(b"".join(chunks)):
                    break
        finally:
            sock.close()
        whole = b"".join(chunks)
        match = re.match(rb"HTTP/1\.[01] (\d{3})", whole)
        return (int(match.group(1)) if match else None), whole, time.monotonic() - started


def answer_complete(data):
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if length:
        return len(body) >= int(length.group(1))
    if re.search(rb"(?im)^transfer-encoding:\s*chunked", head):
        return body.endswith(b"0\r\n\r\n")
    return re.match(rb"HTTP/1\.[01] (1\d\d|204|304)", head) is not None


def fastcgi_pids(port):
    """The `phim fcgi` processes behind this `phim up` (all of them when none names the port)."""
    try:
        listed = subprocess.run(["pgrep", "-f", "fcgi --socket"], capture_output=True, text=True, timeout=10).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return set()
    mine, every = set(), set()
    for pid in listed:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"fcgi" not in argv or b"--socket" not in argv:
            continue
        every.add(int(pid))
        if b"--port" in argv and argv[argv.index(b"--port") + 1:argv.index(b"--port") + 2] == [str(port).encode()]:
            mine.add(int(pid))
    return mine or every


# ---------------------------------------------------------------------------------------------
# Accounts

def sign_in(client, email, password):
    """Returns (cookie header, csrf token) or raises."""
    answer = client.request("POST", "/api/v1/auth/login", {"email": email, "password": password})
    if answer.status != 200:
        raise RuntimeError(f"sign-in as {email}: {answer!r}")
    cookies = []
    for line in answer.headers.get("set-cookie", []):
        cookies.append(line.split(";", 1)[0])
    return "; ".join(cookies), answer.header("x-csrf-token")


def make_account(client):
    email = f"fuzz-{uuid.uuid4().hex[:12]}@example.com"
    password = "fuzz-" + uuid.uuid4().hex
    answer = client.request("POST", "/api/v1/auth/register", {"email": email, "password": password})
    if answer.status != 201:
        raise RuntimeError(f"sign-up: {answer!r}")
    cookie, csrf = sign_in(client, email, password)
    answer = client.request("POST", "/api/v1/api-keys", {"name": "api_fuzz"}, {"Cookie": cookie, "X-CSRF-Token": csrf})
    if answer.status != 201:
        raise RuntimeError(f"API key: {answer!r}")
    return {"email": email, "password": password, "cookie": cookie, "csrf": csrf, "key": answer.json()["key"],
            "key_id": answer.json()["id"]}


# ---------------------------------------------------------------------------------------------
# Schemathesis

SCHEMATHESIS_LAUNCHER = """
import sys
import urllib3.connection
import schemathesis
# Every request from the suite's own loopback address (see the module's docstring).
_source = sys.argv.pop(1)
_init = urllib3.connection.HTTPConnection.__init__
def _bound(self, *args, **kwargs):
    kwargs["source_address"] = (_source, 0)
    _init(self, *args, **kwargs)
urllib3.connection.HTTPConnection.__init__ = _bound
# With the demo account's credits, every video asks the simulator to fail, so it is refunded.
if sys.argv.pop(1) == "refund":
    @schemathesis.hook
    def before_call(context, case, **kwargs):
        if isinstance(case.body, dict) and isinstance(case.body.get("prompt"), str):
            case.body["prompt"] = case.body["prompt"][:4990] + " #fail"
from schemathesis.cli import schemathesis as main
sys.argv[0] = "schemathesis"
main()
"""


def ensure_schemathesis():
    try:
        import schemathesis  # noqa: F401
        return True
    except ImportError:
        print("installing schemathesis (pip)", flush=True)
        result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "schemathesis"],
                                capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            print(result.stdout[-2000:], result.stderr[-2000:])
            return False
        return True


def run_schemathesis(label, base_url, source, key, options, budget_seconds, log_path, refund=False):
    """Runs schemathesis in a child process; returns the number of cases it tried."""
    # Not `unsupported_method`: nginx answers TRACE itself, with a 405 that has no Allow header.
    checks = ",".join(["not_a_server_error", "status_code_conformance", "content_type_conformance",
                       "response_headers_conformance", "response_schema_conformance", "missing_required_header", "ignored_auth"])
    with tempfile.TemporaryDirectory(prefix="phim-fuzz-") as workdir:
        # One worker: hypothesis describes strategies with ast.parse, which CPython 3.11 cannot run in two threads at once.
        command = [sys.executable, "-c", SCHEMATHESIS_LAUNCHER, source, "refund" if refund else "-",
                   "run", f"{base_url}/api/v1/openapi.json", "--header", f"Authorization: Bearer {key}",
                   "--checks", checks, "--workers", "1", "--request-timeout", "15", "--generation-database", "none",
                   "--no-color", *options]
        started = time.monotonic()
        try:
            result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=budget_seconds)
            output, returncode = result.stdout + result.stderr, result.returncode
        except subprocess.TimeoutExpired as error:
            output = error.stdout.decode(errors="replace") if isinstance(error.stdout, bytes) else (error.stdout or "")
            returncode = None
        seconds = time.monotonic() - started
    if log_path:
        with open(log_path, "a") as f:
            f.write(f"===== {label}\n{output}\n")
    generated = re.search(r"(\d+) generated", output)
    cases = int(generated.group(1)) if generated else 0
    print(f"schemathesis ({label}): {cases} cases in {seconds:.0f} s", flush=True)
    if not check(f"schemathesis ({label}) finished within {budget_seconds} s", returncode is not None):
        return cases
    summary = output[output.find("=== FAILURES ==="):] if "=== FAILURES ===" in output else output
    check(f"schemathesis ({label}): no 5xx; every status, content type, header and body as documented",
          returncode == 0 and cases > 0, f"exit {returncode}\n{summary[-8000:]}")
    return cases


# ---------------------------------------------------------------------------------------------
# The document against the answers the suite itself gets

class Document:
    def __init__(self, doc):
        self.doc = doc
        try:
            import jsonschema
            self.jsonschema = jsonschema
        except ImportError:
            self.jsonschema = None

    def operation(self, method, template):
        return self.doc["paths"].get(template, {}).get(method.lower())

    def conforms(self, method, template, answer):
        """Whether the status is documented for the operation and the body matches its schema."""
        op = self.operation(method, template)
        if op is None:
            return False, f"{method} {template} is not in the document"
        documented = op["responses"].get(str(answer.status))
        if documented is None:
            return False, f"status {answer.status} is not documented for {method} {template}"
        if "$ref" in documented:
            documented = self.doc["components"]["responses"][documented["$ref"].rsplit("/", 1)[1]]
        content = documented.get("content")
        if not content:
            return (not answer.body), f"status {answer.status} documents no body, got {answer.body[:100]!r}"
        media = (answer.header("content-type") or "").split(";")[0].strip()
        if media not in content:
            return False, f"content type {media!r} not documented ({list(content)})"
        if media != "application/json" or self.jsonschema is None:
            return True, ""
        schema = {**content[media]["schema"], "components": self.doc["components"]}
        try:
            self.jsonschema.validate(answer.json(), schema, cls=self.jsonschema.Draft202012Validator)
        except self.jsonschema.ValidationError as error:
            return False, f"body does not match the schema: {error.message[:300]}"
        return True, ""


ROUTE_LINE = re.compile(r'Route\("([A-Z]+)", "([^"]+)"')


def routes_in_source():
    """Every (method, path) in Routes.swift, with `:name` written `{}` for comparison."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Sources", "PhimServer", "Routes.swift")
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    return {(method, re.sub(r":[^/]+", "{}", route)) for method, route in ROUTE_LINE.findall(text)}


def document_routes(doc):
    found = set()
    for template, item in doc["paths"].items():
        for method in item:
            if method in ("get", "post", "put", "delete", "patch"):
                found.add((method.upper(), re.sub(r"\{[^}]+\}", "{}", template)))
    return found


# ---------------------------------------------------------------------------------------------
# Hostile input

# A 1x1 PNG, the smallest whole image the upload accepts.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d49444154789c63f8cfc0f01f00050001ff89993d1d0000000049454e44ae426082")

def is_our_error(answer, status, code):
    return answer.status == status and answer.code() == code


def from_nginx(whole):
    """Whether a raw answer is nginx's own (Phim's carry X-Request-ID)."""
    head = whole.partition(b"\r\n\r\n")[0].lower()
    return b"\r\nx-request-id:" not in head


class Run:
    """What every section needs: the client, the accounts, the document."""

    def __init__(self, client, fresh, demo, document):
        self.client, self.fresh, self.demo, self.document = client, fresh, demo, document
        self.auth = {"Authorization": f"Bearer {fresh['key']}"}
        self.demo_auth = {"Cookie": demo["cookie"], "X-CSRF-Token": demo["csrf"]}
        self.host = f"Host: 127.0.0.1:{client.port}\r\n".encode()
        self.key_line = f"Authorization: Bearer {fresh['key']}\r\n".encode()

    def raw_request(self, method, target, headers=b"", body=None):
        length = b"" if body is None else b"Content-Length: %d\r\n" % len(body)
        return method + b" " + target + b" HTTP/1.1\r\n" + self.host + headers + length + b"Connection: close\r\n\r\n" + (body or b"")


def expect(name, answer, allowed, code=None):
    """A check that the answer's status is one of `allowed` (and its error code `code`)."""
    return check(name, answer.status in allowed and (code is None or answer.code() == code), repr(answer))


def create_demo_video(run, body, headers):
    """A create as the demo account, waiting once (up to a minute) when an earlier run spent this
    minute's creates (`PHIM_CREATES_PER_MINUTE`)."""
    answer = run.client.request("POST", "/api/v1/videos", body, headers)
    wait = ((answer.json() or {}).get("error") or {}).get("retry_after_seconds", 0)
    if is_our_error(answer, 429, "rate_limited") and 0 < wait <= 65:
        print(f"wait  {wait} s: the demo account's creates for this minute are spent", flush=True)
        time.sleep(wait + 1)
        answer = run.client.request("POST", "/api/v1/videos", body, headers)
    return answer


def abuse(run):
    for section in (access, stored_script, callbacks, webhook_targets, raw_protocol, bytes_everywhere, multipart_uploads,
                    traversal, content_types, nesting_and_numbers, sizes_and_methods):
        section(run)


def access(run):
    """Forged keys and cookies, and the anti-forgery token."""
    client, fresh, auth = run.client, run.fresh, run.auth
    for label, value in (("forged key", "Bearer phim_" + "A" * 43), ("empty bearer", "Bearer "),
                         ("basic auth", "Basic ZGVtb0BwaGltLmxvY2FsOnBoaW0tZGVtbw=="),
                         ("key with spaces and quotes", 'Bearer phim_x" OR "1"="1'),
                         ("another user's key prefix", "Bearer " + fresh["key"][:12]),
                         ("key with non-ASCII", "Bearer phim_\u00e9\u00e8".encode().decode("latin-1")),
                         ("very long key", "Bearer phim_" + "x" * 4000)):
        answer = client.request("GET", "/api/v1/me", headers={"Authorization": value})
        expect(f"{label} is refused (401 unauthenticated)", answer, {401}, "unauthenticated")
    for label, cookie in (("forged session cookie", "phim_session=" + "B" * 43),
                          ("empty session cookie", "phim_session="),
                          ("session cookie with quotes", 'phim_session="x"; phim_csrf=y'),
                          ("many session cookies", "; ".join(f"phim_session={i}" for i in range(200)))):
        answer = client.request("GET", "/api/v1/me", headers={"Cookie": cookie})
        expect(f"{label} is refused (401 unauthenticated)", answer, {401}, "unauthenticated")
    answer = client.request("GET", "/api/v1/me", headers={"Cookie": fresh["cookie"]})
    check("the real session cookie reads without the token (GET)", answer.status == 200, repr(answer))
    keys_before = client.request("GET", "/api/v1/api-keys", headers=auth).body
    answer = client.request("POST", "/api/v1/api-keys", {"name": "csrf"}, {"Cookie": fresh["cookie"]})
    check("a cookie-authenticated change without X-CSRF-Token: 403 csrf_failed", is_our_error(answer, 403, "csrf_failed"), repr(answer))
    answer = client.request("POST", "/api/v1/api-keys", {"name": "csrf"}, {"Cookie": fresh["cookie"], "X-CSRF-Token": "0" * 43})
    check("a cookie-authenticated change with a wrong X-CSRF-Token: 403 csrf_failed", is_our_error(answer, 403, "csrf_failed"), repr(answer))
    answer = client.request("DELETE", f"/api/v1/api-keys/{fresh['key_id']}", headers={"Cookie": fresh["cookie"], "X-CSRF-Token": ""})
    check("a cookie-authenticated revoke with an empty X-CSRF-Token: 403 csrf_failed", is_our_error(answer, 403, "csrf_failed"), repr(answer))
    keys_after = client.request("GET", "/api/v1/api-keys", headers=auth).body
    check("the refused changes made nothing (the key list is unchanged)", keys_before == keys_after, keys_after[:300].decode(errors="replace"))
    answer = client.request("POST", "/api/v1/api-keys", {"name": "x"}, {"Cookie": fresh["cookie"], "X-CSRF-Token": fresh["csrf"]})
    revoked = answer.json() or {}
    client.request("DELETE", f"/api/v1/api-keys/{revoked.get('id')}", headers=auth)
    answer = client.request("GET", "/api/v1/me", headers={"Authorization": f"Bearer {revoked.get('key')}"})
    check("a revoked key is refused at once (401)", is_our_error(answer, 401, "unauthenticated"), repr(answer))
    answer = client.request("GET", "/api/v1/admin/users", headers=auth)
    check("the operators' API does not exist for a user (404 not_found)", is_our_error(answer, 404, "not_found"), repr(answer))
    # nginx limits sign-in on the normalized path; the app must not take another spelling of it.
    for path in ("/api/v1/auth/login/", "/api//v1/auth/login", "/api/v1/auth//login", "/api/v1/auth/register/"):
        answer = client.request("POST", path, {"email": fresh["email"], "password": fresh["password"]})
        expect(f"sign-in under another spelling ({path}) is no route: 404 not_found, past no limit", answer, {404}, "not_found")


def stored_script(run):
    """A script in a prompt is stored and returned as JSON text; the answers match the document."""
    client, demo, document, auth = run.client, run.demo, run.document, run.auth
    prompt = "<img src=x onerror=alert(1)> \"quoted\" & </script> #fail"
    demo_headers = {"Cookie": demo["cookie"], "X-CSRF-Token": demo["csrf"], "Idempotency-Key": "fuzz-" + uuid.uuid4().hex}
    created = create_demo_video(run, {"prompt": prompt, "duration": 10}, demo_headers)
    video = created.json() or {}
    check("stored-script prompt: the create is accepted (202)", created.status == 202, repr(created))
    check("stored-script prompt: answered as application/json",
          (created.header("content-type") or "").startswith("application/json"), str(created.header("content-type")))
    check("stored-script prompt: '<', '>' and '&' escaped in the JSON text",
          b"<" not in created.body and b">" not in created.body and b"\\u003cimg src=x onerror=alert(1)\\u003e" in created.body,
          created.body[:300].decode(errors="replace"))
    check("stored-script prompt: stored and returned verbatim", video.get("prompt") == prompt.strip(), repr(video.get("prompt")))
    check("API answers carry X-Content-Type-Options: nosniff", created.header("x-content-type-options") == "nosniff",
          str(created.header("x-content-type-options")))
    ok, detail = document.conforms("POST", "/api/v1/videos", created)
    check("the create's 202 matches the document", ok, detail)
    replay = client.request("POST", "/api/v1/videos", {"prompt": prompt, "duration": 10}, demo_headers)
    check("a retry with the same Idempotency-Key: 200, the same video, Idempotent-Replayed",
          replay.status == 200 and (replay.json() or {}).get("id") == video.get("id")
          and replay.header("idempotent-replayed") == "true", repr(replay))
    ok, detail = document.conforms("POST", "/api/v1/videos", replay)
    check("the replay's 200 matches the document", ok, detail)
    reused = client.request("POST", "/api/v1/videos", {"prompt": prompt + " other", "duration": 10}, demo_headers)
    check("the same key with another body: 422 idempotency_key_reused", is_our_error(reused, 422, "idempotency_key_reused"), repr(reused))
    if video.get("id"):
        demo_auth = {"Cookie": demo["cookie"], "X-CSRF-Token": demo["csrf"]}
        shown = client.request("GET", f"/api/v1/videos/{video['id']}", headers=demo_auth)
        check("stored-script prompt: read back verbatim, escaped", (shown.json() or {}).get("prompt") == prompt.strip()
              and b"<" not in shown.body, repr(shown))
        ok, detail = document.conforms("GET", "/api/v1/videos/{videoID}", shown)
        check("GET /api/v1/videos/{id} matches the document", ok, detail)
        listed = client.request("GET", "/api/v1/videos?limit=5", headers=demo_auth)
        ok, detail = document.conforms("GET", "/api/v1/videos", listed)
        check("GET /api/v1/videos matches the document", ok, detail)
        version = (listed.json() or {}).get("version", 0)
        changes = client.request("GET", f"/api/v1/videos/changes?after={max(0, version - 1)}", headers=demo_auth)
        ok, detail = document.conforms("GET", "/api/v1/videos/changes", changes)
        check("the change feed's 200 matches the document", ok and changes.status == 200, detail or repr(changes))
        same = client.request("GET", f"/api/v1/videos/changes?after={version}", headers=demo_auth)
        check("the change feed: 304 with no body when nothing changed (or 200 as documented)",
              (same.status == 304 and not same.body) or document.conforms("GET", "/api/v1/videos/changes", same)[0], repr(same))
        canceled = client.request("POST", f"/api/v1/videos/{video['id']}/cancel", headers=demo_auth)
        ok, detail = document.conforms("POST", "/api/v1/videos/{videoID}/cancel", canceled)
        check("cancel answers as documented (200, or 409 once started)", ok and canceled.status in (200, 409), detail or repr(canceled))
        media = client.request("GET", f"/api/v1/videos/{video['id']}/media", headers=demo_auth)
        check("media of an unfinished video: 404 video_not_found", is_our_error(media, 404, "video_not_found"), repr(media))
        removed = client.request("DELETE", f"/api/v1/videos/{video['id']}", headers=demo_auth)
        check("the demo video is hidden again (204)", removed.status == 204, repr(removed))
        ledger = client.request("GET", "/api/v1/credits/transactions?limit=3", headers=demo_auth)
        ok, detail = document.conforms("GET", "/api/v1/credits/transactions", ledger)
        check("GET /api/v1/credits/transactions matches the document", ok, detail)
    quote = client.request("POST", "/api/v1/videos/quote", {"prompt": prompt}, auth)
    ok, detail = document.conforms("POST", "/api/v1/videos/quote", quote)
    check("the quote matches the document", ok and quote.status == 200, detail or repr(quote))
    broke = client.request("POST", "/api/v1/videos", {"prompt": "a cat"}, auth)
    check("a create without credits: 402 insufficient_credits with needed and available",
          is_our_error(broke, 402, "insufficient_credits") and "needed" in broke.json()["error"], repr(broke))


def webhook_targets(run):
    """Webhook URLs that lead into Phim's own network (SSRF) are refused, in every spelling."""
    client, document, auth = run.client, run.document, run.auth
    if document.operation("PUT", "/api/v1/webhook-endpoint"):
        refused = ("invalid_webhook_url", "webhook_url_not_allowed", "webhook_url_unresolvable")
        targets = ["http://127.0.0.1:%d/api/livez" % client.port, "http://127.1/", "http://2130706433/", "http://0x7f000001/",
                   "http://0177.0.0.1/", "http://0/", "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/",
                   "http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::]/", "http://[fe80::1%25lo]/", "http://[::]/",
                   "http://169.254.169.254/latest/meta-data/", "http://[::ffff:a9fe:a9fe]/", "http://2852039166/",
                   "http://[fd00:ec2::254]/", "http://localhost/", "http://LOCALHOST./", "http://a.localhost/",
                   "http://metadata.google.internal/", "http://10.0.0.1/", "http://100.64.0.1/", "http://172.16.0.1/",
                   "http://192.168.1.1/", "http://%31%32%37.0.0.1/", "http://127.0.0.1%00.example.com/", "http://example.com%00@127.0.0.1/",
                   "http://user:pass@example.com/", "http://127.0.0.1\\@example.com/", "http://1.1.1.1%2f@127.0.0.1/",
                   "file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "ftp://example.com/", "javascript:alert(1)",
                   "http:///x", "http://exa mple.com/", "http://\u2460\u2461\u2466.0.0.1/", "http://" + "a" * 2000 + ".com/"]
        bad = []
        for target in targets:
            answer = client.request("PUT", "/api/v1/webhook-endpoint", {"url": target}, auth)
            if answer.status != 422 or answer.code() not in refused:
                bad.append(f"{target[:50]!r}: {answer!r}")
            answer = client.request("POST", "/api/v1/videos/quote", {"prompt": "x", "webhook_url": target}, auth)
            if answer.status != 422 or answer.code() not in refused:
                bad.append(f"quote {target[:50]!r}: {answer!r}")
        check(f"webhook URLs into Phim's own network refused ({len(targets)} forms, endpoint and create): 422", not bad,
              "; ".join(bad[:5]))
        endpoint = client.request("GET", "/api/v1/webhook-endpoint", headers=auth).json() or {}
        check("after them the account has no webhook endpoint", "secret" in endpoint and endpoint.get("url") is None, repr(endpoint)[:200])


def raw_protocol(run):
    """Malformed and huge requests over raw sockets: nginx may refuse them, Phim never answers 5xx, nothing hangs."""
    client = run.client
    host = run.host
    raw_cases = [
        ("garbage request line", b"GARBAGE\r\n\r\n"),
        ("HTTP/0.9 request", b"GET /api/livez\r\n"),
        ("unknown HTTP version (nginx: 505)", b"GET /api/livez HTTP/9.9\r\n" + host + b"\r\n"),
        ("header without a colon", b"GET /api/v1/me HTTP/1.1\r\n" + host + b"NoColonHere\r\nConnection: close\r\n\r\n"),
        ("header name with spaces", b"GET /api/v1/me HTTP/1.1\r\n" + host + b"Bad Name: x\r\nConnection: close\r\n\r\n"),
        ("folded header (obs-fold)", b"GET /api/v1/me HTTP/1.1\r\n" + host + b"Authorization: Bearer\r\n phim_x\r\nConnection: close\r\n\r\n"),
        ("64 KB header value", b"GET /api/v1/me HTTP/1.1\r\n" + host + b"X-Big: " + b"a" * 65536 + b"\r\nConnection: close\r\n\r\n"),
        ("64 KB cookie", b"GET /api/v1/me HTTP/1.1\r\n" + host + b"Cookie: phim_session=" + b"c" * 65536 + b"\r\nConnection: close\r\n\r\n"),
        ("7 KB Authorization", b"GET /api/v1/me HTTP/1.1\r\n" + host + b"Authorization: Bearer " + b"k" * 7000 + b"\r\nConnection: close\r\n\r\n"),
        ("300 headers", b"GET /api/v1/me HTTP/1.1\r\n" + host + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 200) for i in range(300)) + b"Connection: close\r\n\r\n"),
        ("100 KB request target", b"GET /api/v1/videos?cursor=" + b"z" * 100000 + b" HTTP/1.1\r\n" + host + b"Connection: close\r\n\r\n"),
        ("non-numeric Content-Length", b"POST /api/v1/auth/login HTTP/1.1\r\n" + host + b"Content-Length: abc\r\nConnection: close\r\n\r\n{}"),
        ("negative Content-Length", b"POST /api/v1/auth/login HTTP/1.1\r\n" + host + b"Content-Length: -1\r\nConnection: close\r\n\r\n{}"),
        ("two different Content-Lengths", b"POST /api/v1/auth/login HTTP/1.1\r\n" + host + b"Content-Length: 2\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{}"),
        ("huge Content-Length", b"POST /api/v1/auth/login HTTP/1.1\r\n" + host + b"Content-Length: 99999999999999999999\r\nConnection: close\r\n\r\n{}"),
        ("chunked with a bad chunk size", b"POST /api/v1/auth/login HTTP/1.1\r\n" + host + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
        ("chunked and Content-Length together", b"POST /api/v1/auth/login HTTP/1.1\r\n" + host + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
        ("unknown Transfer-Encoding (nginx: 501)", b"POST /api/v1/auth/login HTTP/1.1\r\n" + host + b"Transfer-Encoding: gzip, zz\r\nConnection: close\r\n\r\n"),
        ("NUL byte in a header value", b"GET /api/v1/me HTTP/1.1\r\n" + host + b"Authorization: Bearer phim_\x00x\r\nConnection: close\r\n\r\n"),
        ("NUL byte in the path", b"GET /api/v1/me\x00/x HTTP/1.1\r\n" + host + b"Connection: close\r\n\r\n"),
        ("CR alone in a header", b"GET /api/v1/me HTTP/1.1\r\n" + host + b"X-A: b\rInjected: c\r\nConnection: close\r\n\r\n"),
        ("missing Host on HTTP/1.1", b"GET /api/livez HTTP/1.1\r\nConnection: close\r\n\r\n"),
        ("absolute-form target to another host", b"GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\n" + host + b"Connection: close\r\n\r\n"),
        ("unknown method", b"FROB /api/v1/me HTTP/1.1\r\n" + host + b"Connection: close\r\n\r\n"),
        ("lower-case method", b"get /api/livez HTTP/1.1\r\n" + host + b"Connection: close\r\n\r\n"),
    ]
    for label, data in raw_cases:
        status, whole, seconds = client.raw(data)
        # nginx itself refuses a protocol it does not speak with 501 or 505; those never reach Phim.
        refused_by_nginx = status in (501, 505) and from_nginx(whole)
        check(f"raw: {label}: {status or 'closed'} in {seconds:.1f} s, never a 5xx from Phim",
              (status is None or status < 500 or refused_by_nginx) and seconds < 8, f"status {status}: {whole[:200]!r}")
    # A new address each run: wrong passwords count against the account for 15 minutes.
    login = b'{"email":"nobody-%s@example.com","password":"wrong-password"}' % uuid.uuid4().hex[:12].encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(login[i:i + 7]), login[i:i + 7]) for i in range(0, len(login), 7)) + b"0\r\n\r\n"
    status, whole, _ = client.raw(b"POST /api/v1/auth/login HTTP/1.1\r\n" + host + b"Content-Type: application/json\r\n"
                                  b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked)
    check("raw: a chunked body reaches Phim whole (401 invalid_credentials)", status == 401 and b"invalid_credentials" in whole,
          f"status {status}: {whole[-200:]!r}")
    # Half a request, then the client stops sending: nginx must let go at once, not hang.
    for label, data in (("headers cut off", b"GET /api/v1/me HTTP/1.1\r\n" + host + b"X-Half: "),
                        ("body shorter than Content-Length",
                         b"POST /api/v1/auth/login HTTP/1.1\r\n" + host + b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"email\":")):
        status, whole, seconds = client.raw(data, shut_write=True)
        check(f"raw: {label}, then EOF: closed in {seconds:.1f} s, never 5xx",
              (status is None or status < 500) and seconds < 8, f"status {status}: {whole[:200]!r}")


def bytes_everywhere(run):
    """Non-UTF-8 and NUL bytes, raw and percent-encoded, in every field."""
    client, fresh, auth = run.client, run.fresh, run.auth
    key_line, raw_request = run.key_line, run.raw_request
    json_type = b"Content-Type: application/json\r\n"
    byte_cases = [
        ("raw 0xFF in the path", raw_request(b"GET", b"/api/v1/videos/\xff\xfe", key_line), {404}),
        ("raw 0xFF in the query", raw_request(b"GET", b"/api/v1/videos?cursor=\xff\xfe&limit=\xc0", key_line), {400}),
        ("raw 0xFF in an Idempotency-Key", raw_request(b"POST", b"/api/v1/videos", key_line + b"Idempotency-Key: k\xff\xfe\r\n" + json_type, b"{}"), {400}),
        ("raw 0xFF in Accept-Language", raw_request(b"GET", b"/api/v1/styles", b"Accept-Language: \xff\xfe, en;q=\xc0\r\n"), {200}),
        ("raw 0xFF in the session cookie", raw_request(b"GET", b"/api/v1/me", b"Cookie: phim_session=\xff\xfe\xc0\xaf\r\n"), {401}),
        ("raw 0xFF in the X-CSRF-Token", raw_request(b"POST", b"/api/v1/api-keys", b"Cookie: " + fresh["cookie"].encode() + b"\r\nX-CSRF-Token: \xff\xfe\r\n"), {403}),
        ("raw 0xFF in the Authorization key", raw_request(b"GET", b"/api/v1/me", b"Authorization: Bearer phim_\xff\xfe\r\n"), {401}),
        ("raw 0xFF in Content-Type", raw_request(b"POST", b"/api/v1/videos/quote", key_line + b"Content-Type: application/\xffjson\r\n", b"{}"), {415}),
        ("invalid UTF-8 inside a JSON string", raw_request(b"POST", b"/api/v1/auth/login", json_type, b'{"email":"a\xff\xfe@b.c","password":"\xc0\xaf"}'), {400, 401}),
        ("raw NUL inside a JSON string", raw_request(b"POST", b"/api/v1/videos/quote", key_line + json_type, b'{"prompt":"a\x00b"}'), {400, 422}),
        ("raw 0xFF in a multipart file name", raw_request(b"POST", b"/api/v1/uploads", key_line + b"Content-Type: multipart/form-data; boundary=b\r\n",
                                                          b'--b\r\nContent-Disposition: form-data; name="file"; filename="\xff\x00.png"\r\n\r\n' + PNG + b"\r\n--b--\r\n"), {201}),
    ]
    for label, data, allowed in byte_cases:
        status, whole, seconds = client.raw(data)
        by_nginx = status == 400 and from_nginx(whole)
        check(f"bytes: {label}: {status}{' (nginx)' if by_nginx else ''}",
              (status in allowed or by_nginx) and seconds < 8, f"status {status}: {whole[:200]!r}")

    percent_cases = [
        ("GET", "/api/v1/videos/%FF%FE", 404, "video_not_found"),
        ("GET", "/api/v1/videos/%00", 404, "video_not_found"),
        ("GET", "/api/v1/videos/%C0%AF", 404, "video_not_found"),
        ("DELETE", "/api/v1/api-keys/%00%FF", 404, "api_key_not_found"),
        ("POST", "/api/v1/videos/%00/cancel", 404, "video_not_found"),
        ("GET", "/api/v1/videos?cursor=%FF%00", 400, "invalid_cursor"),
        ("GET", "/api/v1/videos?limit=%00", 400, "invalid_limit"),
        ("GET", "/api/v1/videos/changes?after=%FF", 400, "invalid_cursor"),
        ("GET", "/api/v1/videos/changes?after=1%00", 400, "invalid_cursor"),
        ("GET", "/api/v1/credits/transactions?cursor=%00", 400, "invalid_cursor"),
        ("GET", "/api/v1/videos?%FF=%FF&%00", 200, None),
        ("POST", "/api/v1/webhooks/kie/%00/%FF", 404, "not_found"),
        ("POST", "/api/v1/webhooks/kie/%FF%FE/%00%00/progress", 404, "not_found"),
        ("GET", "/v/%00%FF", 404, None),
        ("GET", "/v/%FF/media", 404, "video_not_found"),
    ]
    for method, path, status, code in percent_cases:
        answer = client.request(method, path, b"{}" if method == "POST" else None, auth)
        # nginx decodes the path to match locations and refuses an encoded NUL itself (400).
        by_nginx = "%00" in path.split("?")[0] and answer.status == 400 and answer.header("x-request-id") is None
        check(f"percent-encoded bytes: {method} {path}: {answer.status}{' (nginx)' if by_nginx else ''}",
              by_nginx or (answer.status == status and (code is None or answer.code() == code)), repr(answer))

    json_cases = [
        ("NUL in an email", "/api/v1/auth/register", {"email": "a\u0000@b.co", "password": "password123"}, {422}, "invalid_email"),
        ("NUL in a password", "/api/v1/auth/register", {"email": f"n{uuid.uuid4().hex[:8]}@b.co", "password": "pass\u0000word123"}, {422}, "password_invalid"),
        ("NUL in a prompt", "/api/v1/videos/quote", {"prompt": "a\u0000b"}, {422}, "prompt_invalid_characters"),
        ("C1 control in a prompt", "/api/v1/videos/quote", {"prompt": "a\u0085b\u009b"}, {422}, "prompt_invalid_characters"),
        ("lone surrogate in a prompt", "/api/v1/videos/quote", '{"prompt":"a\\ud800b"}', {400, 422}, None),
        ("NUL in a key name", "/api/v1/api-keys", {"name": "k\u0000"}, {422}, "invalid_name"),
        ("NUL in a model", "/api/v1/videos/quote", {"prompt": "x", "model": "sora-2-text-to-video\u0000"}, {422}, "unknown_model"),
        ("NUL in an upload id", "/api/v1/videos/quote", {"prompt": "x", "upload_id": "\u0000"}, {404}, "upload_not_found"),
        ("NUL in a JSON key", "/api/v1/videos/quote", {"prompt": "x", "\u0000": 1}, {200}, None),
        ("BOM before the JSON", "/api/v1/videos/quote", b"\xef\xbb\xbf{\"prompt\":\"x\"}", {200, 400}, None),
        ("UTF-16 JSON", "/api/v1/videos/quote", '{"prompt":"x"}'.encode("utf-16"), {200, 400}, None),
        ("5,001-character prompt", "/api/v1/videos/quote", {"prompt": "x" * 5001}, {422}, "prompt_too_long"),
        ("emoji prompt", "/api/v1/videos/quote", {"prompt": "\U0001F3AC" * 5000}, {200}, None),
    ]
    for label, path, body, allowed, code in json_cases:
        data = body if isinstance(body, bytes) else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        answer = client.request("POST", path, data, {**auth, "Content-Type": "application/json"})
        check(f"JSON: {label}: {answer.status}", answer.status in allowed and (code is None or answer.code() == code), repr(answer))


def multipart_uploads(run):
    """Multipart with odd part headers (non-ASCII bytes in them crashed the old stack), odd boundaries and odd images."""
    client, auth, host, key_line = run.client, run.auth, run.host, run.key_line
    def multipart(parts, boundary=b"fuzzb0undary"):
        body = b""
        for headers, content in parts:
            body += b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + content + b"\r\n"
        return body + b"--" + boundary + b"--\r\n"

    upload_cases = [
        ("non-ASCII bytes in the part headers (the old stack's crash)",
         multipart([(b'Content-Disposition: form-data; name="file"; filename="\xe1\xba\xa3nh \xff\xfe.png"\r\nContent-Type: image/png\r\nX-\xc3\xa9: \xff', PNG)]), {201}, None),
        ("NUL bytes in the file name",
         multipart([(b'Content-Disposition: form-data; name="file"; filename="a\x00.png\x00.php"', PNG)]), {201}, None),
        ("Latin-1 bytes in the header name",
         multipart([(b'Content-Disposition\xe9: form-data; name="file"', PNG)]), {400}, "file_required"),
        ("a path in the file name",
         multipart([(b'Content-Disposition: form-data; name="file"; filename="../../../etc/passwd"', PNG)]), {201}, None),
        ("percent-encoded traversal in filename*",
         multipart([(b"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''..%2F..%2Fphim.sqlite%00", PNG)]), {201}, None),
        ("a 60 KB part header",
         multipart([(b'Content-Disposition: form-data; name="file"; filename="' + b"\xc3\xa9" * 30000 + b'"', PNG)]), {201}, None),
        ("a part without headers", multipart([(b"", PNG)]), {400}, "file_required"),
        ("no file part", multipart([(b'Content-Disposition: form-data; name="other"', PNG)]), {400}, "file_required"),
        ("an empty file", multipart([(b'Content-Disposition: form-data; name="file"', b"")]), {400}, "file_required"),
        ("headers never end", b"--fuzzb0undary\r\nContent-Disposition: form-data; name=\"file\"\r\n" + PNG, {400}, "file_required"),
        ("no closing delimiter", b"--fuzzb0undary\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n" + PNG, {400}, "file_required"),
        ("only the closing delimiter", b"--fuzzb0undary--\r\n", {400}, "file_required"),
        ("the boundary inside the image", multipart([(b'Content-Disposition: form-data; name="file"', PNG[:20] + b"--fuzzb0undary" + PNG[20:])]), {400, 415, 422}, None),
        ("an HTML file called .png", multipart([(b'Content-Disposition: form-data; name="file"; filename="x.png"\r\nContent-Type: image/png', b"<script>alert(1)</script>")]), {415}, "unsupported_image_type"),
        ("a cut-off PNG", multipart([(b'Content-Disposition: form-data; name="file"', PNG[:40])]), {422}, "invalid_image"),
        ("data after the PNG", multipart([(b'Content-Disposition: form-data; name="file"', PNG + b"<?php ?>")]), {422}, "invalid_image"),
        ("10,000 parts", multipart([(b'Content-Disposition: form-data; name="p"', b"x")] * 10000), {400}, "file_required"),
    ]
    for label, body, allowed, code in upload_cases:
        answer = client.request("POST", "/api/v1/uploads", body, {**auth, "Content-Type": "multipart/form-data; boundary=fuzzb0undary"})
        check(f"multipart: {label}: {answer.status}", answer.status in allowed and (code is None or answer.code() == code), repr(answer))
        if answer.status == 201:
            stored = answer.json() or {}
            url = urllib.parse.urlsplit(stored.get("url", ""))
            check(f"multipart: {label}: stored under a name of Phim's own",
                  re.fullmatch(r"/files/[A-Za-z0-9_-]+\.png", url.path or "") is not None, stored.get("url", ""))
    for label, content_type in (("a boundary of 71 characters", "multipart/form-data; boundary=" + "b" * 71),
                                ("no boundary", "multipart/form-data"),
                                ("an empty boundary", 'multipart/form-data; boundary=""'),
                                ("JSON", "application/json"), ("no content type at all", None)):
        headers = dict(auth)
        if content_type:
            headers["Content-Type"] = content_type
        answer = client.request("POST", "/api/v1/uploads", multipart([(b'Content-Disposition: form-data; name="file"', PNG)]), headers)
        check(f"multipart: {label}: 415 unsupported_media_type", is_our_error(answer, 415, "unsupported_media_type"), repr(answer))
    answer = client.request("POST", "/api/v1/uploads", multipart([(b'Content-Disposition: form-data; name="file"', PNG)]),
                            {**auth, "Content-Type": "multipart/form-data; boundary=\u00e9\u00e8".encode().decode("latin-1")})
    check("multipart: non-ASCII in the boundary (matches no delimiter): 400 file_required", is_our_error(answer, 400, "file_required"), repr(answer))
    answer = client.request("POST", "/api/v1/uploads", b"", {**auth, "Content-Type": "multipart/form-data; boundary=x"})
    check("multipart: an empty body: 400 file_required", is_our_error(answer, 400, "file_required"), repr(answer))
    status, whole, _ = client.raw(b"POST /api/v1/uploads HTTP/1.1\r\n" + host + key_line
                                  + b"Content-Type: multipart/form-data; boundary=\xff\xfe\r\nContent-Length: 4\r\nConnection: close\r\n\r\n--\r\n")
    check("multipart: raw non-UTF-8 bytes in the boundary: 4xx", status is not None and 400 <= status < 500, f"{status}: {whole[:200]!r}")
    answer = client.request("POST", "/api/v1/uploads", b"\0" * (12 << 20), {**auth, "Content-Type": "multipart/form-data; boundary=x"})
    check("multipart: a 12 MB body: 413 payload_too_large", is_our_error(answer, 413, "payload_too_large"), repr(answer))


def traversal(run):
    """Encoded dot-segments and NULs against nginx's locations and /api/: nothing leaks."""
    client, host, key_line = run.client, run.host, run.key_line
    traversal = ["/files/..%2F..%2Fphim.sqlite", "/files/%2e%2e/phim.sqlite", "/files/%2e%2e%2fphim.sqlite", "/files/../phim.sqlite",
                 "/files/..%5C..%5Cphim.sqlite", "/files/%2e%2e/%2e%2e/etc/passwd", "/files/x.png%00.sqlite", "/files/%00",
                 "/..%2F..%2F..%2Fetc%2Fpasswd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/api/..%2F..%2F..%2Fetc%2Fpasswd",
                 "/api/v1/videos/..%2F..%2F..%2Fetc%2Fpasswd", "/api/v1/videos/%2e%2e", "/api/v1/videos/%2e%2e/%2e%2e/me",
                 "/api/v1/%2e%2e/v1/me", "/api/%00", "/api/v1/me%00", "/api/v1/me/%2e", "/v/..%2F..%2Fetc%2Fpasswd",
                 "/v/%2e%2e/%2e%2e/phim.sqlite", "/simulator/..%2F..%2Fphim.sqlite", "/nginx/conf/nginx.conf",
                 "/../../../../etc/passwd", "/public/../Sources/PhimServer/Routes.swift", "/.git/config", "/phim.sqlite",
                 "/api/v1/openapi.json/..%2F..%2F..%2Fetc%2Fpasswd"]
    for path in traversal:
        status, whole, seconds = client.raw(f"GET {path} HTTP/1.1\r\n".encode() + host + key_line + b"Connection: close\r\n\r\n")
        leaked = any(marker in whole for marker in (b"root:x:0:0", b"SQLite format 3", b"[core]", b"import Foundation", b"worker_processes"))
        check(f"traversal: {path}: {status}, nothing leaked", status is not None and status < 500 and status != 200 and not leaked,
              f"status {status}: {whole[:200]!r}")


def content_types(run):
    """Bodies with the wrong content type, and bodies that are not a JSON object."""
    client, auth = run.client, run.auth
    wrong_types = [("text/plain", b'{"prompt":"x"}'), ("application/x-www-form-urlencoded", b"prompt=x"),
                   ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nx\r\n--x--\r\n'),
                   ("application/xml", b"<prompt>x</prompt>"), ("text/html", b"<img src=x onerror=alert(1)>"), ("jsonx", b"{}")]
    for content_type, body in wrong_types:
        answer = client.request("POST", "/api/v1/videos/quote", body, {**auth, "Content-Type": content_type})
        check(f"wrong content type {content_type.split(';')[0]}: 415 unsupported_media_type",
              is_our_error(answer, 415, "unsupported_media_type"), repr(answer))
    for body in (b"<prompt>x</prompt>", b"{", b'{"prompt":', b"null", b"[]", b'"x"', b"1e999", b"{}{}", b"\xff\xfe"):
        answer = client.request("POST", "/api/v1/videos/quote", body, {**auth, "Content-Type": "application/json"})
        check(f"not a JSON object {body[:12]!r}: 400 invalid_json", is_our_error(answer, 400, "invalid_json"), repr(answer))


def nesting_and_numbers(run):
    """Deeply nested JSON, and huge and odd numbers in bodies and query strings."""
    client, auth = run.client, run.auth
    for depth in (100, 1000, 10000, 200000):
        nested = '{"prompt":"x","mode":' + "[" * depth + "]" * depth + "}"
        answer = client.request("POST", "/api/v1/videos/quote", nested.encode(), {**auth, "Content-Type": "application/json"})
        expect(f"nested JSON, depth {depth}: 4xx", answer, {400, 413, 422})
        nested = "{\"a\":" * depth + "1" + "}" * depth
        answer = client.request("POST", "/api/v1/auth/login", nested.encode(), {"Content-Type": "application/json"})
        expect(f"nested objects to sign-in, depth {depth}: 4xx", answer, {400, 401, 413, 429})

    numbers = ["1e308", "-1e308", "1e400", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
               "1.5", "-0", "0.0000001", "1" * 400, "10.0000000000000001", "NaN", "Infinity", "0x10", '"10"', "true", "null", "[]", "{}"]
    for value in numbers:
        for field in ("duration", "deadline_seconds"):
            body = f'{{"prompt":"x","{field}":{value}}}'.encode()
            answer = client.request("POST", "/api/v1/videos/quote", body, {**auth, "Content-Type": "application/json"})
            expect(f"{field}={value[:24]}: 4xx or 200", answer, {200, 400, 422})
        body = f'{{"prompt":"x","variants":{value}}}'.encode()
        answer = client.request("POST", "/api/v1/videos/batch", body, {**auth, "Content-Type": "application/json"})
        expect(f"variants={value[:24]}: 4xx", answer, {400, 402, 422})
    for query in ("limit=99999999999999999999", "limit=-1", "limit=0", "limit=1e3", "limit=+5", "limit=%2B5", "cursor=1.9e18.x",
                  "cursor=-1.00000000-0000-0000-0000-000000000000", "cursor=9223372036854775807.ffffffff-ffff-ffff-ffff-ffffffffffff"):
        answer = client.request("GET", f"/api/v1/videos?{query}", headers=auth)
        expect(f"GET /api/v1/videos?{query}: 200 or 400", answer, {200, 400})
    for after in ("9223372036854775807", "9223372036854775808", "-1", "0", "1e3", "+1", "00000000000000000000000001"):
        answer = client.request("GET", f"/api/v1/videos/changes?after={after}", headers=auth)
        expect(f"change feed after={after}: 200, 304 or 400", answer, {200, 304, 400})
    for cursor in ("9223372036854775807", "9223372036854775808", "0", "-5", "1.5"):
        answer = client.request("GET", f"/api/v1/credits/transactions?cursor={cursor}", headers=auth)
        expect(f"transactions cursor={cursor}: 200 or 400", answer, {200, 400})
    answer = client.request("POST", "/api/v1/webhooks/kie/" + str(uuid.uuid4()) + "/x",
                            b'{"code":1e999,"data":{"taskId":"t","progress":1e308,"failCode":1e300}}', {"Content-Type": "application/json"})
    expect("a callback with huge numbers to an unknown job: 404", answer, {404})


def sizes_and_methods(run):
    """Bodies over the limit, and methods a path does not take."""
    client, auth = run.client, run.auth
    answer = client.request("POST", "/api/v1/videos/quote", b"{" + b" " * (2 << 20) + b"}", {**auth, "Content-Type": "application/json"})
    check("a 2 MB JSON body: 413 payload_too_large (JSON)", is_our_error(answer, 413, "payload_too_large"), repr(answer))
    for method, path, allowed in (("PATCH", "/api/v1/me", {405}), ("PUT", "/api/v1/videos", {405}), ("OPTIONS", "/api/v1/videos", {405}),
                                  ("TRACE", "/api/v1/me", {405}), ("DELETE", "/api/livez", {405}), ("GET", "/api/v1/nope", {404}),
                                  ("HEAD", "/api/v1/me", {200}), ("HEAD", "/api/v1/videos/changes?after=0", {200, 304})):
        answer = client.request(method, path, headers=auth)
        expect(f"{method} {path}: {sorted(allowed)}", answer, allowed)
    answer = client.request("PATCH", "/api/v1/me", headers=auth)
    check("a 405 from Phim names the methods the path takes (Allow: GET, HEAD)",
          is_our_error(answer, 405, "method_not_allowed") and answer.header("allow") == "GET, HEAD", f"{answer!r} Allow: {answer.header('allow')}")
    answer = client.request("PATCH", f"/api/v1/videos/{uuid.uuid4()}", headers=auth)
    check("... each method once (Allow: GET, DELETE, HEAD)", answer.header("allow") == "GET, DELETE, HEAD", f"Allow: {answer.header('allow')}")
    answer = client.request("PATCH", "/api/v1/admin/users", headers=auth)
    check("a wrong method on the operators' API is 404 too: it does not exist for a user",
          is_our_error(answer, 404, "not_found") and answer.header("allow") is None, repr(answer))


def callbacks(run):
    """Hostile callbacks to a real job with its real secret. Only the provider knows the secret;
    in demo mode the simulator's records (served through nginx at /simulator/) carry it."""
    client, demo_auth = run.client, run.demo_auth
    created = create_demo_video(run, {"prompt": "callback probe #slow #fail"}, demo_auth)
    video = created.json() or {}
    task = video.get("provider_task_id")
    record = client.request("GET", f"/simulator/api/v1/jobs/recordInfo?taskId={urllib.parse.quote(task or '')}",
                            headers={"Authorization": "Bearer any"}) if task else None
    try:
        callback = urllib.parse.urlsplit(json.loads(record.json()["data"]["param"])["callBackUrl"]).path
    except (AttributeError, KeyError, TypeError, ValueError):
        print(f"skip  hostile callbacks to a real job: no demo video or simulator record ({created!r})", flush=True)
        if video.get("id"):
            client.request("DELETE", f"/api/v1/videos/{video['id']}", headers=demo_auth)
        return
    other = f"{uuid.uuid4().hex}"
    bodies = [
        b"", b"x", b"[]", b"null", b'"taskId"', b"{}", b'{"data":null}', b'{"data":[]}', b'{"data":"x"}', b"\xff\xfe\x00",
        ("{\"a\":" * 600 + "1" + "}" * 600).encode(),
        {"data": {"taskId": other, "state": "success"}},
        {"data": {"taskId": 12345, "state": "success"}},
        {"data": {"taskId": "t" * 100000, "state": "fail"}},
        {"data": {"taskId": task + "\u0000", "state": "success"}},
        {"task_id": task, "state": "success"},
        {"code": 200, "data": {"taskId": task, "state": "success",
                               "resultJson": json.dumps({"resultUrls": ["javascript:alert(1)", "http://169.254.169.254/"]})}},
        {"code": 200, "data": {"taskId": task, "state": "success", "resultJson": {"resultUrls": [1, None, {}, []] * 1000}}},
        {"code": 200, "data": {"taskId": task, "state": "success", "resultJson": "[[[[[[[[" * 100}},
        {"code": 501, "data": {"taskId": task, "state": "success"}},
        {"code": "501", "msg": "\u0000\ud7ff", "data": {"taskId": task, "state": "fail", "failCode": 1e300, "failMsg": ["x"]}},
        {"data": {"taskId": task, "state": "fail", "failCode": {"a": 1}, "failMsg": "<img src=x onerror=alert(1)>" * 1000}},
        {"data": {"taskId": task, "state": "\U0001F3AC", "progress": "50%"}},
        {"data": {"taskId": task, "state": "SUCCESS", "progress": -1}},
        {"data": {"taskId": task, "state": None, "progress": 1e308}},
        {"data": {"taskId": task, "progress": "1e999"}},
        {"data": {"taskId": task, "progress": "9223372036854775808"}},
        {"data": {"taskId": task, "progress": 9223372036854775807}},
        {"data": {"taskId": task, "param": "{\"callBackUrl\":\"http://evil/\"}", "state": "generating"}},
    ]
    answers = []
    for body in bodies:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        for suffix in ("", "/progress"):
            headers = {"Content-Type": random.choice(["application/json", "text/plain", "application/x-www-form-urlencoded"]),
                       "X-Webhook-Timestamp": "\u00ff" * 3, "X-Webhook-Signature": "A" * 44}
            answers.append((data[:60], suffix, client.request("POST", callback + suffix, data, headers)))
    bad = [(d, s, a) for d, s, a in answers if a.status not in (200, 400, 422)]
    check(f"hostile callbacks to a real job ({len(answers)}): each 200, 400 invalid_json or 422 task_mismatch", not bad,
          "; ".join(f"{d!r}{s}: {a!r}" for d, s, a in bad[:5]))
    wrong = client.request("POST", callback[:-1] + ("A" if callback[-1] != "A" else "B"), b"{}")
    check("a callback with the secret off by one character: 404 not_found", is_our_error(wrong, 404, "not_found"), repr(wrong))
    shown = client.request("GET", f"/api/v1/videos/{video['id']}", headers=demo_auth).json() or {}
    kinds = sorted(entry["kind"] for entry in (shown.get("receipt") or {}).get("entries", []))
    check("forged callbacks moved no money and set no video URL (one hold, nothing settled)",
          shown.get("status") != "completed" and shown.get("video_url") is None and kinds in (["hold"], ["hold", "release"]),
          f"status {shown.get('status')}, video_url {shown.get('video_url')}, ledger {kinds}")
    if shown.get("status") == "pending":
        client.request("POST", f"/api/v1/videos/{video['id']}/cancel", headers=demo_auth)
    client.request("DELETE", f"/api/v1/videos/{video['id']}", headers=demo_auth)


def tidy_demo(client, demo, demo_key, since):
    """Cancels and hides the demo videos the run made (refunding what is still held) and revokes its key."""
    headers = {"Authorization": f"Bearer {demo_key['key']}"}
    tidied = 0
    for _ in range(20):
        page = client.request("GET", "/api/v1/videos?limit=100", headers=headers).json() or {}
        mine = [v for v in page.get("data", []) if v.get("prompt", "").endswith("#fail")
                and calendar.timegm(time.strptime(v["created_at"][:19], "%Y-%m-%dT%H:%M:%S")) >= since - 5]
        if not mine:
            break
        for video in mine:
            if video["status"] == "pending":
                client.request("POST", f"/api/v1/videos/{video['id']}/cancel", headers=headers)
            client.request("DELETE", f"/api/v1/videos/{video['id']}", headers=headers)
            tidied += 1
    client.request("DELETE", f"/api/v1/api-keys/{demo_key['id']}", headers={"Cookie": demo["cookie"], "X-CSRF-Token": demo["csrf"]})
    answer = client.request("GET", "/api/v1/me", headers=headers)
    check(f"the demo videos made by schemathesis are hidden ({tidied}) and its key revoked", answer.status == 401, repr(answer))


def fuzz(args, client, base_url, source, fresh, demo):
    """schemathesis twice: every operation as a fresh account, then the video operations with the demo account's credits."""
    if not check("schemathesis is installed", ensure_schemathesis()):
        return
    import schemathesis
    seed = args.seed if args.seed is not None else random.randint(1, 2**31)
    print(f"schemathesis {schemathesis.__version__}, seed {seed}, at most {args.max_examples} cases per operation and phase",
          flush=True)
    if args.schemathesis_log:
        open(args.schemathesis_log, "w").close()
    common = ["--max-examples", str(args.max_examples), "--seed", str(seed)]
    total = run_schemathesis("every operation, a fresh account, valid and invalid input", base_url, source, fresh["key"],
                             [*common, "--mode", "all", "--phases", "examples,coverage,fuzzing,stateful"],
                             args.schemathesis_seconds, args.schemathesis_log)
    # The video operations again with credits, so they answer more than 402 and 404: every
    # video made asks the simulator to fail (refunded), and the suite hides them afterwards.
    demo_key = client.request("POST", "/api/v1/api-keys", {"name": "api_fuzz (revoked at the end)"},
                              {"Cookie": demo["cookie"], "X-CSRF-Token": demo["csrf"]}).json() or {}
    if check("an API key for the demo account", "key" in demo_key, repr(demo_key)):
        run_started = time.time()
        total += run_schemathesis("video operations, the demo account's credits", base_url, source, demo_key["key"],
                                  [*common, "--mode", "positive", "--phases", "examples,coverage,fuzzing,stateful",
                                   "--include-path-regex", "^/api/v1/videos"],
                                  args.schemathesis_seconds, args.schemathesis_log, refund=True)
        tidy_demo(client, demo, demo_key, run_started)
    print(f"schemathesis: {total} cases tried in all", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True, help="a running `phim up`, e.g. http://127.0.0.1:8080")
    parser.add_argument("--max-examples", type=int, default=30, help="schemathesis cases per operation and phase")
    parser.add_argument("--schemathesis-seconds", type=int, default=100, help="hard bound on each of the two schemathesis runs")
    parser.add_argument("--seed", type=int, default=None, help="schemathesis seed (random by default; printed)")
    parser.add_argument("--skip-schemathesis", action="store_true")
    parser.add_argument("--schemathesis-log", help="write schemathesis's whole output to this file")
    parser.add_argument("--demo-email", default=os.environ.get("PHIM_DEMO_EMAIL", "demo@phim.local"))
    parser.add_argument("--demo-password", default=os.environ.get("PHIM_DEMO_PASSWORD", "phim-demo"))
    args = parser.parse_args()

    started = time.monotonic()
    url = urllib.parse.urlsplit(args.base_url.rstrip("/"))
    if url.hostname not in ("127.0.0.1", "localhost"):
        sys.exit("api_fuzz sends hostile traffic: only to 127.0.0.1")
    port = url.port or 80
    base_url = f"http://127.0.0.1:{port}"
    source = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    client = Client("127.0.0.1", port, source)
    print(f"api_fuzz against {base_url}, from {source}", flush=True)

    live = client.request("GET", "/api/livez")
    if not check("GET /api/livez answers before the run", live.status == 200, repr(live)):
        return finish(started)
    pids_before = fastcgi_pids(port)
    check("the FastCGI processes are found (pgrep -f 'fcgi --socket')", bool(pids_before), "none found")

    served = client.request("GET", "/api/v1/openapi.json")
    doc = served.json()
    check("GET /api/v1/openapi.json is the OpenAPI 3 document", served.status == 200 and isinstance(doc, dict)
          and str(doc.get("openapi", "")).startswith("3."), repr(served))
    if not isinstance(doc, dict):
        return finish(started)
    document = Document(doc)
    source_routes = routes_in_source()
    if source_routes is not None:
        documented = document_routes(doc)
        missing, extra = source_routes - documented, documented - source_routes
        check("every route in Routes.swift is documented, and nothing else",
              not missing and not extra, f"undocumented: {sorted(missing)}; documented but not routed: {sorted(extra)}")

    try:
        fresh = make_account(client)
        check("a fresh account: signed up, signed in, API key made", True)
        demo_cookie, demo_csrf = sign_in(client, args.demo_email, args.demo_password)
        demo = {"cookie": demo_cookie, "csrf": demo_csrf}
        check("the demo account signs in", bool(demo_cookie and demo_csrf))
    except (RuntimeError, KeyError, TypeError, ServerGone) as error:
        check("accounts for the run", False, str(error))
        return finish(started)

    # The hand-made abuse first: it needs two videos of the demo account's, before schemathesis
    # spends the account's creates for this minute.
    try:
        abuse(Run(client, fresh, demo, document))
        if not args.skip_schemathesis:
            fuzz(args, client, base_url, source, fresh, demo)
    except ServerGone as error:
        check("Phim keeps answering", False, str(error))

    client.unanswered = 0
    live = client.request("GET", "/api/livez")
    check("GET /api/livez still answers after everything", live.status == 200 and live.json() == {"status": "ok"}, repr(live))
    health = client.request("GET", "/api/healthz")
    check("GET /api/healthz still answers after everything", health.status == 200, repr(health))
    pids_after = fastcgi_pids(port)
    check("the same FastCGI processes answer (none crashed or restarted)", pids_before == pids_after,
          f"before {sorted(pids_before)}, after {sorted(pids_after)}")
    return finish(started)


def finish(started):
    print(f"{PASSED} passed, {FAILED} failed ({time.monotonic() - started:.0f} s)")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
