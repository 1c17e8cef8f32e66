#!/usr/bin/env python3
"""Deployment checks, through real `phim up` instances (nginx and FastCGI processes), each in its
own temporary data directory; the provider is `phim simulator` where a real one would be.

    python3 Tests/e2e/deploy_test.py --phim .build/debug/phim --repo . [--only 1,3]

1. The demo account after demo mode: `phim up` in demo mode, then with a KIE_API_KEY (pointing at
   `phim simulator`): the demo login answers 403 account_disabled, its API key is refused, the
   audit log says the system disabled it. Demo mode again lets it back in.
2. The production command needs a key or PHIM_DEMO=1: `phim fcgi` with neither refuses to start;
   PHIM_TRUST_FORWARDED_FOR is refused too (nginx's realip module does that job).
3. nginx's edges: a forged X-Forwarded-For does not escape the per-address signup limit; nginx's
   own 429 on sign-in is JSON in the API's shape, in the caller's language. Capabilities stay
   out of nginx's logs: a callback (and share pages) while the FastCGI sockets are gone, then
   nginx's error log (phim up's output) and access log hold no secret or token, and the access
   log shows them redacted. `phim backup` writes an owner-only file.
4. The production site (nginx/phim.conf as shipped, on loopback ports with a self-signed
   certificate) in front of a `phim up`'s socket: port 80 only redirects, the TLS server sends
   HSTS, the cookies are `__Host-` cookies and work, and the realip rules: X-Forwarded-For from a
   client that is not a trusted proxy is ignored, from loopback (a local TLS terminator) it counts.

Standard library only (process_faults.py's helpers). Prints one line per check, then
`N passed, N failed`; exits non-zero on a failure.
"""
import argparse
import http.client
import json
import os
import secrets
import shutil
import ssl
import stat
import subprocess
import tempfile
import time
import urllib.request

from process_faults import FAILED, PASSED, TEMPORARY, Answer, Phim, call, check, free_port

DEMO = {"email": "demo@phim.local", "password": "phim-demo"}


def cookies_of(answer):
    found = {}
    for value in answer.headers.get("set-cookie-all", []):
        name, _, rest = value.partition("=")
        found[name] = rest.split(";")[0]
    return found


class Simulator:
    """`phim simulator` on its own port: the provider a KIE_API_KEY points at."""

    def __init__(self, args):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([args.phim, "simulator", "--port", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/_simulator/stats", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("phim simulator did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


def demo_account_in_production(args):
    demo = Phim(args, "demo", workers=1).start()
    login = call(demo.port, "POST", "/api/v1/auth/login", DEMO)
    check("demo mode: the demo account signs in", login.status == 200, login)
    made = call(demo.port, "POST", "/api/v1/api-keys", {"name": "demo"}, cookies=cookies_of(login),
                headers={"X-CSRF-Token": login.headers.get("x-csrf-token", "")})
    check("demo mode: the demo account makes an API key", made.status == 201, made)
    key = (made.body or {}).get("key")
    check("demo mode: phim up stops cleanly", demo.stop())

    simulator = Simulator(args)
    try:
        production = Phim(args, "production", workers=2, data=demo.data,
                          extra_env={"KIE_API_KEY": "deploy-test-key", "KIE_BASE_URL": simulator.url,
                                     "KIE_UPLOAD_BASE_URL": simulator.url}).start()
        pricing = call(production.port, "GET", "/api/v1/models")
        check("with KIE_API_KEY: not in demo mode", pricing.status == 200 and pricing.body.get("demo") is False, pricing)
        refused = call(production.port, "POST", "/api/v1/auth/login", DEMO)
        check("with KIE_API_KEY: the demo login is refused (403 account_disabled)",
              refused.status == 403 and refused.code == "account_disabled", refused)
        by_key = call(production.port, "GET", "/api/v1/me", key=key)
        check("with KIE_API_KEY: the demo account's API key is refused", by_key.status == 403 and by_key.code == "account_disabled", by_key)
        check("with KIE_API_KEY: the start logs a warning that the demo account was disabled",
              production.log_lines("demo account disabled") >= 1, production.tail())
        audit = production.cli("audit", "--email", DEMO["email"])
        check("with KIE_API_KEY: the audit log says the system disabled it",
              audit.returncode == 0 and "account.disable" in audit.stdout and "system" in audit.stdout, audit.stdout + audit.stderr)
        check("with KIE_API_KEY: phim up stops cleanly", production.stop())
    finally:
        simulator.stop()

    again = Phim(args, "demo-again", workers=1, data=demo.data).start()
    login = call(again.port, "POST", "/api/v1/auth/login", DEMO)
    check("demo mode again: the system's disable is undone, the demo account signs in", login.status == 200, login)
    again.stop()


def run_briefly(command, env, cwd=None, seconds=30):
    """(exit status, output) of a command expected to refuse to start; one still running after
    `seconds` gets SIGTERM (`phim up` then stops what it started) and the status None."""
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = process.communicate(timeout=seconds)
        return process.returncode, output
    except subprocess.TimeoutExpired:
        process.terminate()
        output, _ = process.communicate(timeout=60)
        return None, output


def production_command_refuses(args):
    home = tempfile.mkdtemp(prefix="phim-deploy-fcgi-")
    TEMPORARY.append(home)
    env = {k: v for k, v in os.environ.items() if k not in ("KIE_API_KEY", "PHIM_DEMO", "PHIM_SIMULATOR_URL", "DATABASE_URL")}
    command = [args.phim, "fcgi", "--socket", os.path.join(home, "phim.sock"), "--data", os.path.join(home, "data")]
    status, output = run_briefly(command, env)
    check("phim fcgi with neither KIE_API_KEY nor PHIM_DEMO=1 refuses to start, saying why",
          status not in (None, 0) and "PHIM_DEMO=1" in output, f"{status}: {output[-300:]}")

    port = free_port()
    env["PHIM_TRUST_FORWARDED_FOR"] = "1"
    status, output = run_briefly([args.phim, "up", "--port", str(port), "--data", os.path.join(home, "up")], env, cwd=args.repo)
    check("PHIM_TRUST_FORWARDED_FOR=1: phim up refuses to start and points to set_real_ip_from",
          status not in (None, 0) and "set_real_ip_from" in output, f"{status}: {output[-300:]}")


def nginx_edges_and_logs(args):
    phim = Phim(args, "edges", workers=2, extra_env={
        "PHIM_AUTH_RATE": "1r/m", "PHIM_SIGNUPS_PER_ADDRESS_PER_HOUR": "3",
        "PHIM_LOGIN_FAILURES_PER_ADDRESS": "1000", "PHIM_LOGIN_FAILURES_PER_ACCOUNT": "1000"}).start()
    try:
        # 3. A forged X-Forwarded-For: every signup still counts against 127.0.0.1.
        answers = []
        for n in range(4):
            answers.append(call(phim.port, "POST", "/api/v1/auth/register",
                                {"email": f"forged-{n}-{secrets.token_hex(3)}@example.com", "password": "deploy-password"},
                                headers={"X-Forwarded-For": f"10.9.{n}.1"}))
        check("forged X-Forwarded-For: three signups, then the per-address limit (429 too_many_signups)",
              [a.status for a in answers[:3]] == [201] * 3 and answers[3].status == 429 and answers[3].code == "too_many_signups",
              answers)

        # nginx's limit_req (1 a minute, burst 20): rapid sign-ins end in its 429, as JSON.
        statuses, limited = [], None
        for _ in range(30):
            answer = call(phim.port, "POST", "/api/v1/auth/login", DEMO, headers={"Accept-Language": "en"})
            statuses.append(answer.status)
            if answer.status == 429:
                limited = answer
                break
        check("rapid sign-ins: nginx answers 429 within the burst of 20 (4 signups came first)",
              limited is not None and 15 <= len(statuses) <= 22 and set(statuses[:-1]) == {200}, statuses)
        check("nginx's 429: JSON in the API's shape (too_many_requests, English asked), with Retry-After",
              limited is not None and limited.code == "too_many_requests" and "Too many requests" in limited.body["error"]["message"]
              and limited.headers.get("content-type", "").startswith("application/json")
              and limited.headers.get("retry-after", "").isdigit(), limited and (limited.headers, limited.body))
        vietnamese = call(phim.port, "POST", "/api/v1/auth/login", DEMO, headers={"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.8"})
        check("nginx's 429 in Vietnamese when asked first",
              vietnamese.status == 429 and vietnamese.code == "too_many_requests" and "yêu cầu" in vietnamese.body["error"]["message"],
              vietnamese)

        # 4. The FastCGI sockets gone (as while the service restarts): callbacks and share pages get
        # the JSON 503, and nginx logs the failure without the path's capability.
        job, secret, token = secrets.token_hex(8), "cbsecret" + secrets.token_hex(12), "sharetok" + secrets.token_hex(12)
        sockets = [phim.socket_path(i) for i in range(1, phim.workers + 1)]
        for path in sockets:
            os.rename(path, path + ".away")
        try:
            callback = call(phim.port, "POST", f"/api/v1/webhooks/kie/{job}/{secret}", {"taskId": "t", "code": 200})
            share = call(phim.port, "GET", f"/v/{token}")
            embed = call(phim.port, "GET", f"/v/{token}/embed")
        finally:
            for path in sockets:
                os.rename(path + ".away", path)
        check("a callback while the FastCGI socket is gone: JSON 503 service_unavailable",
              callback.status == 503 and callback.code == "service_unavailable", callback)
        check("share pages while the FastCGI socket is gone: 503", share.status == 503 and embed.status == 503, (share, embed))
        served = call(phim.port, "GET", f"/v/{token}")
        image = call(phim.port, "GET", f"/files/{token}.png")
        check("the share page and an upload's URL answer again (404 for an unknown token)",
              served.status == 404 and image.status == 404, (served, image))

        backup = os.path.join(phim.home, "copy.sqlite")
        old_umask = os.umask(0o022)
        try:
            made = phim.cli("backup", "--to", backup)
        finally:
            os.umask(old_umask)
        mode = stat.S_IMODE(os.stat(backup).st_mode) if os.path.exists(backup) else None
        check("phim backup under umask 022: the copy is owner-only (0600)", made.returncode == 0 and mode == 0o600,
              f"mode {oct(mode) if mode is not None else None}: {made.stdout}{made.stderr}")
    finally:
        stopped = phim.stop()
    check("phim up stops cleanly", stopped)

    access_log = os.path.join(phim.data, "nginx", "logs", "access.log")
    access = open(access_log, errors="replace").read() if os.path.exists(access_log) else ""
    with open(phim.log_path, errors="replace") as log:
        errors = log.read()
    check("nginx's access log has the callback, its secret redacted", f"/api/v1/webhooks/kie/{job}/*** " in access, access[-600:])
    check("nginx's access log has the share page and the upload, redacted",
          f"GET /v/***/embed " in access and "GET /files/*** " in access, access[-600:])
    check("no callback secret in nginx's error or access log", secret not in errors and secret not in access,
          [line for line in (errors + access).splitlines() if secret in line][:2])
    check("no share token or upload key in nginx's error or access log", token not in errors and token not in access,
          [line for line in (errors + access).splitlines() if token in line][:2])


class ProductionSite:
    """nginx/phim.conf as shipped, on loopback ports with a self-signed certificate, in front of a
    `phim up`'s FastCGI socket: its redirect, its TLS server, its realip rules."""

    def __init__(self, args, phim):
        self.home = tempfile.mkdtemp(prefix="phim-deploy-site-")
        TEMPORARY.append(self.home)
        self.http_port, self.https_port = free_port(), free_port()
        for name in ("logs", "tls", "uploads"):
            os.makedirs(os.path.join(self.home, name))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=phim.example.com",
                        "-keyout", os.path.join(self.home, "tls", "privkey.pem"), "-out", os.path.join(self.home, "tls", "fullchain.pem")],
                       check=True, capture_output=True)
        with open(os.path.join(args.repo, "nginx", "phim.conf")) as shipped:
            site = shipped.read()
        for old, new in [("/srv/phim", args.repo), ("/var/lib/phim", self.home), ("/var/log/nginx", os.path.join(self.home, "logs")),
                         ("/etc/letsencrypt/live/phim.example.com", os.path.join(self.home, "tls")),
                         ("unix:/run/phim/phim.sock", "unix:" + phim.socket_path(1)),
                         ("listen 80;", f"listen 127.0.0.1:{self.http_port};"), ("listen [::]:80;", ""),
                         ("listen 443 ssl http2;", f"listen 127.0.0.1:{self.https_port} ssl http2;"), ("listen [::]:443 ssl http2;", "")]:
            assert old in site, old
            site = site.replace(old, new)
        with open(os.path.join(self.home, "site.conf"), "w") as out:
            out.write(site)
        user = "user root root;" if os.geteuid() == 0 else ""
        with open(os.path.join(self.home, "nginx.conf"), "w") as out:
            out.write(f"""{user}
daemon off;
pid {self.home}/nginx.pid;
error_log {self.home}/logs/main.error.log;
events {{}}
http {{
    include /etc/nginx/mime.types;
    client_body_temp_path {self.home}/body;
    fastcgi_temp_path {self.home}/fastcgi;
    proxy_temp_path {self.home}/proxy;
    uwsgi_temp_path {self.home}/uwsgi;
    scgi_temp_path {self.home}/scgi;
    include {self.home}/site.conf;
}}
""")
        self.process = subprocess.Popen(["nginx", "-p", self.home, "-c", os.path.join(self.home, "nginx.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline and self.https("GET", "/api/livez").status != 200:
            time.sleep(0.1)

    def https(self, method, path, body=None, source="127.0.0.1", headers=None):
        """One request to the TLS server, from `source` (any 127/8 address), as process_faults.call."""
        started = time.monotonic()
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        connection = http.client.HTTPSConnection("127.0.0.1", self.https_port, timeout=10, context=context, source_address=(source, 0))
        all_headers = {"Host": "phim.example.com", "Accept-Language": "en", **(headers or {})}
        data = None
        if body is not None:
            data, all_headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        try:
            connection.request(method, path, body=data, headers=all_headers)
            response = connection.getresponse()
            payload = response.read()
            parsed = json.loads(payload) if payload[:1] in (b"{", b"[") else None
            answer_headers = {k.lower(): v for k, v in response.getheaders()}
            answer_headers["set-cookie-all"] = [v for k, v in response.getheaders() if k.lower() == "set-cookie"]
            return Answer(response.status, parsed, answer_headers, time.monotonic() - started)
        except (OSError, http.client.HTTPException) as error:
            return Answer(0, None, {}, time.monotonic() - started, f"{type(error).__name__}: {error}")
        finally:
            connection.close()

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


def production_site(args):
    phim = Phim(args, "site", workers=1, extra_env={"PHIM_PUBLIC_URL": "https://phim.example.com",
                                                    "PHIM_SIGNUPS_PER_ADDRESS_PER_HOUR": "3"}).start()
    site = ProductionSite(args, phim)
    try:
        redirect = call(site.http_port, "GET", "/studio?x=1", headers={"Host": "phim.example.com"})
        check("port 80: a redirect to https, nothing served", redirect.status == 301
              and redirect.headers.get("location") == "https://phim.example.com/studio?x=1", (redirect, redirect.headers.get("location")))
        live = site.https("GET", "/api/livez")
        check("TLS server: answers, with HSTS for two years", live.status == 200
              and live.headers.get("strict-transport-security") == "max-age=63072000", (live.status, live.headers))

        login = site.https("POST", "/api/v1/auth/login", DEMO)
        names = sorted(value.split("=")[0] for value in login.headers.get("set-cookie-all", []))
        check("https: the session and anti-forgery cookies are __Host- cookies, Secure",
              login.status == 200 and names == ["__Host-phim_csrf", "__Host-phim_session"]
              and all("; Secure" in value for value in login.headers["set-cookie-all"]), login.headers.get("set-cookie-all"))
        cookie = "; ".join(value.split(";")[0] for value in login.headers.get("set-cookie-all", []))
        me = site.https("GET", "/api/v1/me", headers={"Cookie": cookie})
        made = site.https("POST", "/api/v1/api-keys", {"name": "site"}, headers={"Cookie": cookie, "X-CSRF-Token": login.headers.get("x-csrf-token", "")})
        check("https: signed in with them (a read, and a change with the anti-forgery token)", me.status == 200 and made.status == 201,
              (me.status, made.status))

        def signups(source, forwarded_prefix):
            return [site.https("POST", "/api/v1/auth/register",
                               {"email": f"site-{secrets.token_hex(4)}@example.com", "password": "deploy-password"}, source=source,
                               headers={"X-Forwarded-For": f"{forwarded_prefix}.{n}"}).status for n in range(4)]

        untrusted = signups("127.0.0.2", "198.51.100")
        check("a client that is not a trusted proxy (127.0.0.2): its X-Forwarded-For is ignored, the 4th signup is refused",
              untrusted == [201, 201, 201, 429], untrusted)
        trusted = signups("127.0.0.1", "203.0.113")
        check("a trusted proxy (loopback, set_real_ip_from): each client in X-Forwarded-For counted on its own",
              trusted == [201, 201, 201, 201], trusted)
    finally:
        site.stop()
        phim.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--phim", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--only", help="comma-separated scenario numbers (default: all)")
    args = parser.parse_args()
    args.phim = os.path.realpath(args.phim)
    args.repo = os.path.realpath(args.repo)
    scenarios = [demo_account_in_production, production_command_refuses, nginx_edges_and_logs, production_site]
    chosen = {int(n) for n in args.only.split(",")} if args.only else set(range(1, len(scenarios) + 1))
    for number, scenario in enumerate(scenarios, 1):
        if number not in chosen:
            continue
        try:
            scenario(args)
        except Exception as error:  # a scenario that breaks is a failure, the others still run
            check(f"scenario {number} ({scenario.__name__}) ran to the end", False, f"{type(error).__name__}: {error}")
    if FAILED:
        print("kept for a look: " + " ".join(TEMPORARY))
    else:
        for directory in TEMPORARY:
            shutil.rmtree(directory, ignore_errors=True)
    print(f"{len(PASSED)} passed, {len(FAILED)} failed")
    raise SystemExit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
