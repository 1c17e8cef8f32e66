#!/usr/bin/env python3
"""The operators' commands against the database (and simulator) of a running `phim up`: each
one run as an operator would, its exit code and output checked, and its effect seen through the
API where it has one.

    python3 Tests/e2e/cli_test.py --base-url http://127.0.0.1:PORT --data DATA_DIR --phim PATH
Prints `N passed, N failed`; exits non-zero on a failure.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smoke import Client, wait_for  # noqa: E402

PASSED, FAILED = [], []


def check(name, condition, detail=""):
    (PASSED if condition else FAILED).append(name)
    print(("ok   " if condition else "FAIL ") + name + ("" if condition or not detail else f"  ({detail})"), flush=True)


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
    code, out = phim("credits", "grant", "--email", email, "--amount", "20000", "--reason", "cli test")
    check("credits grant", code == 0 and "available 20000" in out, out)
    code, out = phim("credits", "deduct", "--email", email, "--amount", "5000", "--reason", "correction")
    check("credits deduct", code == 0 and "available 15000" in out, out)
    code, out = phim("credits", "deduct", "--email", email, "--amount", "999999", "--reason", "too much")
    check("credits deduct refuses more than is spendable", code != 0, out)
    code, out = phim("credits", "grant", "--email", email, "--amount", "5", "--reason", " ")
    check("a reason is required", code != 0, out)
    code, out = phim("users", "list", "--query", email.split("@")[0])
    check("users list finds the account", code == 0 and email in out and "1 account(s)" in out, out)

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

    code, out = phim("prices", "list")
    check("prices list", code == 0 and "sora-2-text-to-video  10s  standard" in out, out)
    code, out = phim("prices", "set", "--model", "sora-2-text-to-video", "--duration", "15", "--quality", "standard",
                     "--credits", "11000", "--reason", "cli test")
    status, pricing, _, _ = client.request("GET", "/api/v1/pricing")
    row = [p for p in pricing["prices"] if p["model"] == "sora-2-text-to-video" and p["duration"] == 15][0]
    check("prices set reaches the API", code == 0 and row["credits"] == 11000, (out, row))
    phim("prices", "set", "--model", "sora-2-text-to-video", "--duration", "15", "--quality", "standard", "--credits", "10500",
         "--reason", "back")
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
