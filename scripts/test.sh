#!/usr/bin/env bash
# Runs every test: builds once, runs the Swift test suite on SQLite and again on a private
# PostgreSQL server (installed and started here, stopped at the end), runs two instances on
# that server (scripts/multi_instance.py), drives the built `phim` binary over real HTTP
# (scripts/smoke.py), kills it mid-burst (scripts/crash_test.py), checks its outbound webhooks
# with an independent Standard Webhooks verifier (scripts/webhook_test.py), fuzzes the JSON API
# against its OpenAPI document and sends it hostile HTTP (scripts/api_fuzz.py), and drives the
# studio in headless Chromium (scripts/browser_test.py, whose screenshots land in
# artifacts/screenshots). Builds the release binary too and runs the smoke and webhook checks on
# it: optimized code once behaved differently (see Sources/App/Core/Concurrency.swift). Used by
# .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
# The fault-injection run's seed replays exactly only if sets and dictionaries iterate alike.
export SWIFT_DETERMINISTIC_HASHING=1
source scripts/postgres.sh
source scripts/tools.sh
trap stop_private_postgres EXIT

echo "== build (debug, with tests)"
swift build --build-tests

echo "== swift test on SQLite"
swift test --skip-build

echo "== swift test on PostgreSQL"
start_private_postgres
swift test --skip-build

echo "== two instances on one PostgreSQL"
python3 scripts/multi_instance.py "$(swift build --show-bin-path)/phim"

echo "== end-to-end smoke test of the phim binary"
python3 scripts/smoke.py "$(swift build --show-bin-path)/phim"

echo "== SIGKILL during a burst of creates and callbacks, backup while it runs"
python3 scripts/crash_test.py "$(swift build --show-bin-path)/phim"

echo "== outbound webhooks, verified with the standardwebhooks package"
ensure_standardwebhooks
python3 scripts/webhook_test.py "$(swift build --show-bin-path)/phim"

echo "== the JSON API against its OpenAPI document (schemathesis)"
ensure_schemathesis
python3 scripts/api_fuzz.py "$(swift build --show-bin-path)/phim"

echo "== the release build: smoke and webhook checks again (the optimizer once changed behaviour)"
swift build -c release --product phim
python3 scripts/smoke.py "$(swift build -c release --show-bin-path)/phim"
python3 scripts/webhook_test.py "$(swift build -c release --show-bin-path)/phim"

echo "== the studio in headless Chromium"
ensure_browser
python3 scripts/browser_test.py "$(swift build --show-bin-path)/phim" artifacts/screenshots
