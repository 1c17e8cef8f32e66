#!/usr/bin/env bash
# Every test of Phim (what .ci/run runs): one debug build, then the Swift tests on real SQLite
# files, the dashboard's translation check, the production nginx file checked with `nginx -t`,
# and the end-to-end suites through a real nginx started with `phim up` (two FastCGI processes
# on one database): the API smoke test, raw FastCGI against the process's socket, and the
# browser test. Ends with the total over every suite.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
Tests/install-deps.sh --test
results=$(mktemp /tmp/phim-results.XXXXXX)

echo "== build (debug, once)"
swift build --build-tests 2>&1 | grep -E "error|warning: unre|Compiling phim|Build" || true
swift build --build-tests >/dev/null 2>&1 || { swift build --build-tests; exit 1; }
phim="$root/.build/debug/phim"

echo "== swift tests"
LOG_LEVEL=error swift test --skip-build 2>&1 | tee "$results.swift" | grep -E "error:|failed|Executed [0-9]+ tests" | tail -n 30
grep -qE "Executed [0-9]+ tests, with 0 failures" "$results.swift" || { echo "swift tests failed"; exit 1; }
grep -oE "Executed [0-9]+ tests, with [0-9]+ failures" "$results.swift" | tail -n 1 \
  | awk '{print $2 " passed, " $5 " failed"}' >> "$results"

suite() { # runs a suite that prints "N passed, N failed" last
  "$@" | tee "$results.suite"
  tail -n 1 "$results.suite" >> "$results"
}

echo "== dashboard translations"
suite python3 Tests/e2e/i18n_check.py
echo "== VietQR: phim payments qr's SVG rendered by rsvg-convert and read back by zbarimg"; suite python3 Tests/e2e/vietqr_check.py --phim "$phim"

echo "== production nginx site (nginx -t)"
Tests/e2e/check_nginx.sh

echo "== outbound webhooks against a real receiver (its own phim up)"
suite python3 Tests/e2e/webhook_test.py --phim "$phim"

echo "== end-to-end through nginx"
work=$(mktemp -d /tmp/phim-e2e.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Fast simulated jobs. The suites make many accounts from one address and many videos a minute,
# and the concurrent-create check must be bounded by the balance alone; the abuse limits
# themselves are tested in the Swift suite (AbuseTests).
export PHIM_SIMULATOR_DELAY_SECONDS=3 PHIM_RECONCILE_INTERVAL_SECONDS=2 PHIM_STALE_AFTER_SECONDS=8
export PHIM_MAX_UNFINISHED_VIDEOS=100 PHIM_CREATES_PER_MINUTE=1000 PHIM_SIGNUPS_PER_ADDRESS_PER_HOUR=1000
# The queue's own limits (Kie's 20 creates per 10 s) are tested by queue_test.py at Kie's figures.
export PHIM_PROVIDER_CREATES_PER_10S=1000
# A model this run's simulator pauses (imported by cli_test.py): refused once, then marked unavailable.
export PHIM_SIMULATOR_PAUSED_MODELS=bytedance/seedance-2-fast
# The key SePay's notifications carry: topup_browser_test.py posts a short payment as SePay would.
export PHIM_SEPAY_API_KEY=e2e-sepay-key-$(python3 -c 'import secrets; print(secrets.token_hex(12))')
"$phim" up --port "$port" --workers 2 --data "$work/data" >"$work/phim.log" 2>&1 &
up_pid=$!
stop() {
  kill -TERM "$up_pid" 2>/dev/null || true
  wait "$up_pid" 2>/dev/null || true
}
trap 'stop; echo "phim log: $work/phim.log"; tail -n 30 "$work/phim.log"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/api/livez" >/dev/null 2>&1 && break
  sleep 0.2
done
base="http://127.0.0.1:$port"
suite python3 Tests/e2e/smoke.py --base-url "$base" --data "$work/data" --phim "$phim"
suite python3 Tests/e2e/cli_test.py --base-url "$base" --data "$work/data" --phim "$phim"
suite python3 Tests/e2e/fastcgi_test.py --socket "$work/data/run/phim-1.sock"
suite python3 Tests/e2e/api_fuzz.py --base-url "$base"
# cli_test.py imported seedance-2-fast, which this run's simulator pauses: both consoles show it unavailable.
suite python3 Tests/e2e/browser_test.py --base-url "$base" --screenshots "$work/screenshots" --paused-model seedance-2-fast --phim "$phim" --data "$work/data"
suite python3 Tests/e2e/admin_browser_test.py --base-url "$base" --phim "$phim" --data "$work/data" --screenshots "$work/screenshots/admin" \
  --paused-model seedance-2-fast
suite python3 Tests/e2e/topup_browser_test.py --base-url "$base" --phim "$phim" --data "$work/data" --screenshots "$work/screenshots/topup"
stop
trap - EXIT
grep -q "phim up: stopped" "$work/phim.log" || { echo "phim up did not stop cleanly"; tail -n 30 "$work/phim.log"; exit 1; }
echo "== process and deployment faults (their own phim up instances)"
suite python3 Tests/e2e/process_faults.py --phim "$phim" --repo "$root"
suite python3 Tests/e2e/queue_test.py --phim "$phim" --repo "$root"
echo "== top-ups: SePay and Casso notifications through nginx (its own phim up)"
suite python3 Tests/e2e/payments_test.py --phim "$phim" --repo "$root"
echo "== deployment: the demo account after demo mode, nginx's edges and logs (their own phim up instances)"
suite python3 Tests/e2e/deploy_test.py --phim "$phim" --repo "$root"

echo "== ledger after the run"
"$phim" ledger verify --data "$work/data"
echo "screenshots: $work/screenshots"
awk '{p += $1; f += $3} END {print "all suites: " p " passed, " f " failed"}' "$results"
awk '{p += $1; f += $3} END {print p " passed, " f " failed"}' "$results"
