#!/usr/bin/env python3
"""The operators' commands against the database (and simulator) of a running `phim up`: each
one run as an operator would, its exit code and output checked, and its effect seen through the
API where it has one.

    python3 Tests/e2e/cli_test.py --base-url http://127.0.0.1:PORT --data DATA_DIR --phim PATH
Prints `N passed, N failed`; exits non-zero on a failure.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smoke import Client, wait_for  # noqa: E402

PASSED, FAILED = [], []


def check(name, condition, detail=""):
    (PASSED if condition else FAILED).append(name)
    print(("ok   " if condition else "FAIL ") + name + ("" if condition or not detail else f"  ({detail})"), flush=True)


def readme_catalog_example():
    """The worked example of the README ("Adding a model"): the test imports exactly what it shows."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")) as f:
        text = f.read()
    start = text.index("<!-- catalog-example -->")
    block = text[text.index("```json", start) + len("```json"):text.index("```", text.index("```json", start) + 7)]
    return json.loads(block)


# Seedance 2 Fast, which this run's simulator pauses (PHIM_SIMULATOR_PAUSED_MODELS in Tests/run.sh).
PAUSED_MODEL = {
    "format": "phim-models/1",
    "models": [{
        "id": "seedance-2-fast", "name": {"vi": "Seedance 2 Fast", "en": "Seedance 2 Fast"},
        "description": {"vi": "Nhanh hơn Mini, nét hơn.", "en": "Faster than Mini, sharper."}, "typical_seconds": 45,
        "family": "market", "provider_models": {"text_to_video": "bytedance/seedance-2-fast", "image_to_video": "bytedance/seedance-2-fast"},
        "prompt": {"max_length": 20000}, "image": {"field": "first_frame_url", "shape": "string"},
        "duration": {"field": "duration", "type": "integer", "values": [5]},
        "aspect_ratio": {"field": "aspect_ratio", "values": ["16:9", "9:16"]},
        "resolution": {"field": "resolution", "values": [{"id": "480p"}]},
        "audio": {"field": "generate_audio", "policy": "optional"},
        "prices": [{"duration": 5, "resolution": "480p", "audio": False, "provider_credits": 58.5},
                   {"duration": 5, "resolution": "480p", "audio": True, "provider_credits": 58.5}],
    }],
}


def models_section(phim, args, client):
    """`phim models`, its effect on the API, the provider's refusal of a paused model, and the audit."""
    code, out = phim("models", "list")
    check("models list: the shipped models, the default marked, Sora 2 retired",
          code == 0 and "seedance-2-mini  bytedance/seedance-2-mini  4500–28700 credits  DEFAULT" in out
          and "veo-3.1-fast  veo3_fast  14000–14000 credits" in out and "sora-2-text-to-video" in out and "retired" in out, out)
    code, out = phim("models", "show", "kling-3.0")
    check("models show: provider id, options and every price row with Kie's", code == 0 and "kling-3.0/video" in out
          and "10 s  1080p  sound  63000 credits  (Kie 270)" in out, out)
    code, out = phim("models", "export", "--model", "veo-3.1-lite")
    exported = json.loads(out) if code == 0 else {}
    check("models export writes the catalog file format", code == 0 and exported["format"] == "phim-models/1"
          and exported["models"][0]["family"] == "veo" and exported["models"][0]["prices"][0]["credits"] == 7000, out)

    with tempfile.TemporaryDirectory() as work:
        example = os.path.join(work, "example.json")
        with open(example, "w") as f:
            json.dump(readme_catalog_example(), f)
        code, out = phim("models", "import", example, "--reason", "Kie listed Wan 3.0 Prime")
        check("the README's worked example imports", code == 0 and "added: wan-3.0-prime" in out, out)
        code, again = phim("models", "import", example, "--reason", "again")
        check("importing the same file again changes nothing", code == 0 and "unchanged: wan-3.0-prime" in again, again)
        broken = os.path.join(work, "broken.json")
        with open(broken, "w") as f:
            bad = readme_catalog_example()
            bad["models"][0]["duration"]["type"] = "float"
            json.dump(bad, f)
        code, out = phim("models", "import", broken, "--reason", "x")
        check("a bad file is refused naming the field", code != 0 and "models[0].duration.type: must be integer or string" in out, out)
        paused = os.path.join(work, "paused.json")
        with open(paused, "w") as f:
            json.dump(PAUSED_MODEL, f)
        code, out = phim("models", "import", paused, "--reason", "try Seedance 2 Fast")
        check("a second model imports", code == 0 and "added: seedance-2-fast" in out, out)

    _, listed, _, _ = client.request("GET", "/api/v1/models")
    prime = [m for m in listed["models"] if m["id"] == "wan-3.0-prime"]
    check("the imported model is offered at once, no rebuild", len(prime) == 1 and prime[0]["name"] == "Wan 3.0 Prime", listed)
    status, video, _, _ = client.request("POST", "/api/v1/videos", {"prompt": "a temple at dawn", "model": "wan-3.0-prime",
                                                                    "resolution": "720p", "duration": 5})
    done = wait_for(client, video["id"]) if status == 202 else video
    check("the imported model makes a video, priced from Kie's list", status == 202 and done["status"] == "completed"
          and done["price_credits"] == 29400, done)

    _, me, _, _ = client.request("GET", "/api/v1/me")
    status, refused, _, _ = client.request("POST", "/api/v1/videos", {"prompt": "a paused model", "model": "seedance-2-fast"})
    failed = wait_for(client, refused["id"]) if status == 202 else None
    _, after, _, _ = client.request("GET", "/api/v1/me")
    check("a model the provider paused: queued, refused when sent, the video failed with model_unavailable and refunded",
          status == 202 and failed["status"] == "failed"
          and failed["failure"]["code"] == "model_unavailable" and failed["credits_refunded"]
          and after["credits"] == me["credits"] and after["credits_on_hold"] == me["credits_on_hold"], (refused, failed, me, after))
    _, listed, _, _ = client.request("GET", "/api/v1/models")
    fast = [m for m in listed["models"] if m["id"] == "seedance-2-fast"][0]
    code, operators = phim("models", "list")
    check("... and the model is marked unavailable, the provider's words for operators only", fast["available"] is False
          and "unavailable_reason" not in fast and "temporarily paused" not in json.dumps(refused)
          and "This interface is temporarily paused" in operators, (fast, refused, operators))
    status, again, _, _ = client.request("POST", "/api/v1/videos", {"prompt": "again", "model": "seedance-2-fast"})
    check("... and the next create is refused before anything is held", status == 503
          and again["error"]["code"] == "model_unavailable" and again["error"].get("video_id") is None, again)
    deadline = time.time() + 15  # each FastCGI process writes its tallies every 5 s
    while True:
        code, out = phim("provider", "health")
        if "creates of bytedance/seedance-2-fast (24 h): 1, 1 refused or failed" in out or time.time() > deadline:
            break
        time.sleep(1)
    check("provider health shows it and the creates per model", "model seedance-2-fast UNAVAILABLE" in out
          and "creates of bytedance/seedance-2-fast (24 h): 1, 1 refused or failed" in out, out)
    code, out = phim("provider", "check")
    check("provider check: live, unavailable and never tried models; prices next to Kie's list; no difference",
          code != 0 and "seedance-2-fast  bytedance/seedance-2-fast  UNAVAILABLE since" in out
          and "wan-3.0-prime  wan/3-0-video-prime  live" in out and "0 price row(s) differ" in out
          and "Kie now 270" in out, out)
    code, out = phim("models", "recheck", "seedance-2-fast", "--reason", "Kie says it is back")
    check("models recheck: available again", code == 0 and "UNAVAILABLE" not in out, out)
    status, again, _, _ = client.request("POST", "/api/v1/videos", {"prompt": "still paused", "model": "seedance-2-fast"})
    again = wait_for(client, again["id"]) if status == 202 else again
    _, listed, _, _ = client.request("GET", "/api/v1/models")
    check("... tried again, refused again, unavailable again", status == 202 and again["failure"]["code"] == "model_unavailable"
          and [m for m in listed["models"] if m["id"] == "seedance-2-fast"][0]["available"] is False, again)

    code, out = phim("models", "set-price", "kling-3.0", "--duration", "5", "--resolution", "720p", "--audio", "off",
                     "--credits", "17000", "--reason", "round number")
    _, listed, _, _ = client.request("GET", "/api/v1/models")
    kling = [m for m in listed["models"] if m["id"] == "kling-3.0"][0]
    row = [p for p in kling["prices"] if p["duration"] == 5 and p["resolution"] == "720p" and not p["audio"]][0]
    check("models set-price reaches the API", code == 0 and row["credits"] == 17000, (out, row))
    phim("models", "set-price", "kling-3.0", "--duration", "5", "--resolution", "720p", "--audio", "off", "--credits", "16400",
         "--reason", "back")
    code, out = phim("models", "disable", "seedance-2-mini", "--reason", "x")
    check("the default model cannot be disabled", code != 0 and "default" in out, out)
    code, out = phim("models", "disable", "wan-3.0-prime", "--reason", "too dear")
    _, listed, _, _ = client.request("GET", "/api/v1/models")
    status, body, _, _ = client.request("POST", "/api/v1/videos", {"prompt": "x", "model": "wan-3.0-prime"})
    check("models disable: no longer offered", code == 0 and "disabled" in out and all(m["id"] != "wan-3.0-prime" for m in listed["models"])
          and status == 422 and body["error"]["code"] == "unknown_model", (out, body))
    code, out = phim("models", "enable", "wan-3.0-prime", "--reason", "back on offer")
    check("models enable", code == 0 and "disabled" not in out, out)
    code, out = phim("models", "set-default", "grok-imagine", "--reason", "drafts first")
    _, listed, _, _ = client.request("GET", "/api/v1/models")
    check("models set-default", code == 0 and "DEFAULT" in out
          and [m["id"] for m in listed["models"] if m["default"]] == ["grok-imagine"], out)
    phim("models", "set-default", "seedance-2-mini", "--reason", "back")
    code, out = phim("audit", "--limit", "40")
    check("every catalog change is audited with its reason", code == 0 and all(action in out for action in (
        "model.import  model wan-3.0-prime", "model.set_price  model kling-3.0", "model.disable  model wan-3.0-prime",
        "model.enable  model wan-3.0-prime", "model.set_default  model grok-imagine", "model.recheck  model seedance-2-fast"))
          and "round number" in out and "Kie says it is back" in out, out)


def queue_section(phim, client, email):
    """`phim queue`: the report the admin Queue page shows, as text and as the API's JSON; the
    limits changed with a reason (audited) apply at once; bad values are refused, changing nothing."""
    code, out = phim("queue")
    check("queue: length, running, sends, the provider's busy answers, limits, pause and the dispatching process",
          code == 0 and all(words in out for words in ("queued: ", "running at the provider: ", "in the last minute",
                                                      "429s met", "limits: ", "paused: ", "dispatching: "))
          and "dispatching: no process" not in out, out)
    code, out = phim("queue", "--json")
    report = json.loads(out) if code == 0 else {}
    check("queue --json: the API's report", code == 0 and set(report) == {
        "queued", "oldest_wait_seconds", "running", "sent_last_minute", "sent_last_10_seconds", "busy_last_hour", "paused_until",
        "dispatcher", "limits", "accounts"} and report["dispatcher"] and report["sent_last_minute"] >= 1, out)
    before = report.get("limits") or {"creates_per_10s": None, "max_running": 100}

    refusals = [(("--creates-per-10s", "0"), "from 1 to 100000"), (("--max-running", "100001"), "from 1 to 100000"),
                (("--max-running", "many"), "'many' is invalid"), ((), "give --creates-per-10s, --max-running or both")]
    for words, message in refusals:
        code, out = phim("queue", "limits", *words, "--reason", "cli test: a bad limit")
        check(f"queue limits {' '.join(words) or '(no limit)'}: refused, saying why", code != 0 and message in out, out)
    code, out = phim("queue", "limits", "--max-running", "50", "--reason", " ")
    check("queue limits without a reason: refused", code != 0 and "reason" in out.lower(), out)
    code, out = phim("queue", "--json")
    check("... and the refusals changed nothing", code == 0 and json.loads(out)["limits"] == before, out)

    # One task at a time: the account's next videos wait, and the report names the account.
    code, out = phim("queue", "limits", "--max-running", "1", "--reason", "cli test: hold the queue")
    check("queue limits --max-running 1", code == 0 and f"{before['creates_per_10s']} creates per 10 s, 1 running at once" in out, out)
    made = [client.request("POST", "/api/v1/videos", {"prompt": f"waiting in line {n}"})[1] for n in range(3)]
    code, out = phim("queue")
    check("queue: the waiting account with its count; the limit shown as an operator's", code == 0
          and any(line.strip().startswith(email + "  ") and " queued, oldest waiting " in line for line in out.splitlines())
          and "1 running; set by an operator" in out, out)
    code, out = phim("queue", "limits", "--max-running", str(before["max_running"]), "--reason", "cli test: let it go")
    done = [wait_for(client, video["id"]) for video in made if "id" in video]
    check("... put back, the waiting videos are sent and made", code == 0 and len(done) == 3
          and all(video["status"] == "completed" for video in done), (out, done))
    code, out = phim("audit", "--limit", "5")
    check("every limit change is audited with its reason and before → after", code == 0 and "queue.limits  provider queue" in out
          and "cli test: hold the queue" in out and '"max_running":1}' in out and "cli test: let it go" in out
          and "a bad limit" not in out, out)


def codes_section(phim, args, client):
    """`phim codes`: a batch made from the shell is redeemed through nginx exactly once per account;
    a used-up, disabled or unknown code is refused with its code; the ledger stays clean."""
    with tempfile.TemporaryDirectory() as work:
        target = os.path.join(work, "codes.csv")
        code, out = phim("codes", "create", "--credits", "700", "--count", "2", "--label", "cli test", "--reason", "cli test: promo",
                         "--csv", target)
        codes = [line.strip() for line in out.splitlines() if line.startswith("PHIM-")]
        with open(target, newline="") as f:
            rows = list(csv.reader(f)) if code == 0 else []
        check("codes create prints the batch and writes its CSV", code == 0 and len(codes) == 2 and len(rows) == 3
              and rows[0][0] == "code" and {r[0] for r in rows[1:]} == set(codes), out)
    if len(codes) < 2:
        return
    status, me, _, _ = client.request("GET", "/api/v1/me")
    before = me.get("credits", 0)
    status, body, _, _ = client.request("POST", "/api/v1/redeem", {"code": " " + codes[0].lower().replace("-", " ") + " "})
    check("redeem through nginx (lower case, spaces) credits the code", status == 200 and body.get("credits_added") == 700
          and body.get("credits") == before + 700, (status, body))
    status, body, _, _ = client.request("POST", "/api/v1/redeem", {"code": codes[0]})
    check("... a second time by the same account: 409 code_already_redeemed, nothing more",
          status == 409 and body["error"]["code"] == "code_already_redeemed", (status, body))
    other = Client(args.base_url)
    other_email = f"cli-codes-{uuid.uuid4().hex[:8]}@example.com"
    other.request("POST", "/api/v1/auth/register", {"email": other_email, "password": "cli password"})
    other.request("POST", "/api/v1/auth/login", {"email": other_email, "password": "cli password"})
    status, body, _, _ = other.request("POST", "/api/v1/redeem", {"code": codes[0]})
    check("... by another account: 409 code_used (single use)", status == 409 and body["error"]["code"] == "code_used", (status, body))
    code, out = phim("codes", "disable", codes[1], "--reason", "cli test: leaked")
    status, body, _, _ = other.request("POST", "/api/v1/redeem", {"code": codes[1]})
    check("codes disable: the code is refused, 410 code_disabled", code == 0 and status == 410
          and body["error"]["code"] == "code_disabled", (out, status, body))
    status, body, _, _ = other.request("POST", "/api/v1/redeem", {"code": "PHIM-2222-3333-4444"})
    check("an unknown code: 404 code_not_found", status == 404 and body["error"]["code"] == "code_not_found", (status, body))
    status, me, _, _ = client.request("GET", "/api/v1/me")
    check("... the balance moved once", me.get("credits") == before + 700, me)
    code, out = phim("codes", "list")
    check("codes list shows uses and the disabled one", code == 0 and f"{codes[0]}  700 credits  used 1/1" in out
          and f"{codes[1]}  700 credits  used 0/1  disabled" in out, out)
    code, out = phim("audit", "--limit", "10")
    check("codes create and disable are audited", code == 0 and "codes.create" in out and "codes.disable" in out and "cli test: leaked" in out, out)
    code, out = phim("codes", "create", "--credits", "5", "--count", "1001", "--reason", "too many")
    check("codes create refuses more than 1000 at once", code != 0 and "1000" in out, out)
    code, out = phim("ledger", "verify")
    check("ledger verify after redemptions", code == 0 and "0 problem(s)" in out, out)


def packages_section(phim, client):
    """`phim packages`: the defaults listed; a package set from the shell is on sale through nginx and
    ordered with its VietQR; a bad price is refused and changes nothing; a disabled one cannot be
    ordered while the order already placed keeps it; both changes audited."""
    code, out = phim("packages", "list")
    check("packages list: the four defaults", code == 0 and "starter  50000 VND  50000 credits  enabled" in out
          and "studio  500000 VND  575000 credits  enabled" in out, out)
    code, out = phim("packages", "set", "cli-pack", "--name-vi", "Gói CLI", "--name-en", "CLI pack", "--price-vnd", "30000",
                     "--credits", "33000", "--order", "1", "--reason", "cli test: a package")
    status, body, _, _ = client.request("GET", "/api/v1/topups/packages")
    first = (body or {}).get("data", [{}])[0]
    check("packages set: on sale through nginx, first by its order", code == 0 and status == 200 and first.get("id") == "cli-pack"
          and first.get("amount_vnd") == 30000 and first.get("credits") == 33000 and first.get("name") == "Gói CLI", (out, status, body))
    status, order, _, _ = client.request("POST", "/api/v1/topups", {"package_id": "cli-pack"})
    order = order or {}
    check("an order for it: 201, PHIM code, its amount in the VietQR", status == 201 and order.get("amount_vnd") == 30000
          and order.get("code", "").startswith("PHIM") and "540530000" in order.get("vietqr_payload", "")
          and order.get("code", "?") in order.get("vietqr_payload", ""), (status, order))
    status, _, response, svg = client.request("GET", order.get("qr_svg_url", "/api/v1/topups/none/qr.svg"))
    check("... its QR as SVG through nginx", status == 200 and response.getheader("Content-Type") == "image/svg+xml"
          and svg.startswith(b"<svg"), status)
    code, out = phim("packages", "set", "cli-pack", "--name-vi", "Gói CLI", "--name-en", "CLI pack", "--price-vnd", "5000",
                     "--credits", "33000", "--reason", "cli test: too cheap")
    _, listed = phim("packages", "list", "--json")
    mine = [p for p in json.loads(listed) if p["id"] == "cli-pack"] if listed.startswith("[") else []
    check("packages set refuses a price under 10,000 VND and changes nothing", code != 0 and "amount_vnd" in out
          and mine and mine[0]["amount_vnd"] == 30000, (out, listed))
    code, out = phim("packages", "disable", "cli-pack", "--reason", "cli test: done")
    status, body, _, _ = client.request("POST", "/api/v1/topups", {"package_id": "cli-pack"})
    check("packages disable: it can no longer be ordered (404 package_not_found)", code == 0 and status == 404
          and body["error"]["code"] == "package_not_found", (out, status, body))
    status, kept, _, _ = client.request("GET", f"/api/v1/topups/{order.get('id', 'none')}")
    check("... the order placed keeps its package", status == 200 and kept.get("package_id") == "cli-pack"
          and kept.get("amount_vnd") == 30000 and kept.get("status") == "pending", (status, kept))
    client.request("POST", f"/api/v1/topups/{order.get('id', 'none')}/cancel")
    code, out = phim("audit", "--limit", "10")
    check("packages set and disable are audited", code == 0 and "packages.set" in out and "packages.disable" in out
          and "cli test: done" in out, out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--phim", required=True)
    args = parser.parse_args()

    def phim(*words):
        result = subprocess.run([args.phim, *words, "--data", args.data], capture_output=True, text=True, timeout=60)
        return result.returncode, result.stdout + result.stderr

    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    code, out = phim("users", "create", "--email", email, "--password", "cli password")
    check("users create", code == 0 and email in out, out)
    code, out = phim("credits", "grant", "--email", email, "--amount", "100000", "--reason", "cli test")
    check("credits grant", code == 0 and "available 100000" in out, out)
    code, out = phim("credits", "deduct", "--email", email, "--amount", "5000", "--reason", "correction")
    check("credits deduct", code == 0 and "available 95000" in out, out)
    code, out = phim("credits", "deduct", "--email", email, "--amount", "999999", "--reason", "too much")
    check("credits deduct refuses more than is spendable", code != 0, out)
    code, out = phim("credits", "grant", "--email", email, "--amount", "5", "--reason", " ")
    check("a reason is required", code != 0, out)
    code, out = phim("users", "list", "--query", email.split("@")[0])
    check("users list finds the account", code == 0 and email in out and "1 account(s)" in out, out)
    code, out = phim("audit", "--email", email)
    check("users create and credits grant are audited (each in its change's transaction)",
          code == 0 and "account.create" in out and "credits.grant" in out and "cli test" in out, out)

    # The password from standard input (one line of a pipe), so it is never in argv or shell history.
    piped_email = f"cli-stdin-{uuid.uuid4().hex[:8]}@example.com"
    made = subprocess.run([args.phim, "users", "create", "--email", piped_email, "--data", args.data],
                          input="piped password\n", capture_output=True, text=True, timeout=60)
    status, _, _, _ = Client(args.base_url).request("POST", "/api/v1/auth/login", {"email": piped_email, "password": "piped password"})
    check("users create reads the password from standard input", made.returncode == 0 and piped_email in made.stdout and status == 200,
          made.stdout + made.stderr)
    empty = subprocess.run([args.phim, "users", "create", "--email", f"cli-empty-{uuid.uuid4().hex[:8]}@example.com", "--data", args.data],
                           input="", capture_output=True, text=True, timeout=60)
    check("users create with no --password and nothing on standard input refuses", empty.returncode != 0 and "password" in empty.stderr,
          empty.stdout + empty.stderr)

    client = Client(args.base_url)
    client.request("POST", "/api/v1/auth/login", {"email": email, "password": "cli password"})
    status, video, _, _ = client.request("POST", "/api/v1/videos", {"prompt": "made for the cli test"})
    check("the account makes a video", status == 202, video)
    done = wait_for(client, video["id"])
    code, out = phim("jobs", "list", "--state", "completed", "--hours", "1")
    check("jobs list shows it", code == 0 and video["id"] in out, out)
    code, out = phim("jobs", "stuck")
    check("jobs stuck runs", code == 0 and "stuck video(s)" in out, out)
    code, out = phim("jobs", "failures", "--hours", "1")
    check("jobs failures runs", code == 0, out)
    code, out = phim("jobs", "reconcile", "--id", video["id"])
    check("jobs reconcile asks the running simulator", code == 0 and ("asked" in out or "askedRecently" in out) and video["id"] in out, out)
    code, out = phim("provider", "health")
    check("provider health reads the balance", code == 0 and "provider balance:" in out, out)
    code, out = phim("provider", "reconcile", "--hours", "1")
    check("provider reconcile finds no overcharge", code == 0 and "match:" in out, out)

    code, out = phim("users", "disable", "--email", email, "--reason", "cli test")
    status, body, _, _ = Client(args.base_url).request("POST", "/api/v1/auth/login", {"email": email, "password": "cli password"})
    check("users disable: sign-in refused", code == 0 and "disabled" in out and status == 403
          and body["error"]["code"] == "account_disabled", (out, body))
    code, out = phim("users", "enable", "--email", email, "--reason", "cli test over")
    status, _, _, _ = Client(args.base_url).request("POST", "/api/v1/auth/login", {"email": email, "password": "cli password"})
    check("users enable: sign-in works again", code == 0 and status == 200, out)
    code, out = phim("users", "show", "--email", email)
    check("users show lists the ledger and the audit", code == 0 and "deduct" in out and "account.disable" in out, out)
    code, out = phim("audit", "--email", email)
    check("audit names the shell's operator", code == 0 and "cli:" in out and "credits.deduct" in out, out)

    client = Client(args.base_url)  # the disable above ended the earlier session
    client.request("POST", "/api/v1/auth/login", {"email": email, "password": "cli password"})
    models_section(phim, args, client)
    queue_section(phim, client, email)
    codes_section(phim, args, client)
    packages_section(phim, client)
    code, out = phim("styles", "set", "--key", "cli-test", "--name-vi", "Thử", "--name-en", "Test", "--text", "cli words")
    status, styles, _, _ = client.request("GET", "/api/v1/styles")
    check("styles set adds a chip", code == 0 and any(s["key"] == "cli-test" for s in styles["data"]), out)
    phim("styles", "set", "--key", "cli-test", "--enabled", "false")
    code, out = phim("styles", "list")
    check("styles list marks the switched-off one", code == 0 and "cli-test" in out and "(off)" in out, out)

    with tempfile.TemporaryDirectory() as work:
        target = os.path.join(work, "ledger.csv")
        code, out = phim("ledger", "export", "--out", target)
        with open(target, newline="") as f:
            rows = list(csv.reader(f))
        check("ledger export writes the CSV", code == 0 and rows[0][0] == "entry_id" and any(r[3] == email for r in rows[1:]), out)
        backup = os.path.join(work, "copy.sqlite")
        code, out = phim("backup", "--to", backup)
        check("backup writes a consistent copy", code == 0 and "ledger consistent" in out, out)
    code, out = phim("ledger", "verify")
    check("ledger verify", code == 0 and "0 problem(s)" in out, out)

    print(f"{len(PASSED)} passed, {len(FAILED)} failed")
    raise SystemExit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
