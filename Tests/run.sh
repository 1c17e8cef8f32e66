#!/usr/bin/env bash
# Every test of Phim (what .ci/run runs): one debug build, then the Swift tests on real SQLite
# files, the dashboard's translation check, the production nginx file checked with `nginx -t`,
# and the end-to-end suites through a real nginx started with `phim up` (two FastCGI processes
# on one database): the API smoke test, the FastCGI process tests and the browser test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
Tests/install-deps.sh --test

echo "== build (debug, once)"
swift build --build-tests 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
swift build --build-tests >/dev/null 2>&1 || { swift build --build-tests; exit 1; }
phim="$root/.build/debug/phim"

echo "== swift tests"
swift test --skip-build 2>&1 | tail -n 40

echo "== dashboard translations"
python3 Tests/e2e/i18n_check.py

echo "== production nginx site (nginx -t)"
Tests/e2e/check_nginx.sh

echo "== end-to-end through nginx"
work=$(mktemp -d /tmp/phim-e2e.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Fast simulated jobs; the balance, not the unfinished-video limit, bounds the concurrent-create check.
export PHIM_SIMULATOR_DELAY_SECONDS=3 PHIM_RECONCILE_INTERVAL_SECONDS=2 PHIM_STALE_AFTER_SECONDS=4 PHIM_MAX_UNFINISHED_VIDEOS=100
"$phim" up --port "$port" --workers 2 --data "$work/data" >"$work/phim.log" 2>&1 &
up_pid=$!
stop() {
  kill -TERM "$up_pid" 2>/dev/null || true
  wait "$up_pid" 2>/dev/null || true
}
trap 'stop; echo "phim log: $work/phim.log"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/api/livez" >/dev/null 2>&1 && break
  sleep 0.2
done
base="http://127.0.0.1:$port"
python3 Tests/e2e/smoke.py --base-url "$base" --data "$work/data" --phim "$phim"
python3 Tests/e2e/browser_test.py --base-url "$base" --screenshots "$work/screenshots"
stop
trap - EXIT
echo "== ledger after the run"
"$phim" ledger verify --data "$work/data"
echo "screenshots: $work/screenshots"
