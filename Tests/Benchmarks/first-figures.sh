#!/usr/bin/env bash
# First throughput figures of the FastCGI stack, from one run: an nginx static page, GET
# /api/livez (nginx → FastCGI → nginx, no database) and an authenticated GET /api/v1/videos/{id}
# (API key; one key lookup and one video read). Release build, `phim up` with one FastCGI
# process, wrk on loopback (2 threads, 64 connections, 10 s each).
# Usage: Tests/Benchmarks/first-figures.sh   (from the repository root; builds release first)
set -euo pipefail
cd "$(dirname "$0")/../.."
Tests/install-deps.sh --test
swift build -c release >/dev/null
phim="$(pwd)/.build/release/phim"
work=$(mktemp -d /tmp/phim-bench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LOG_LEVEL=warning PHIM_SIMULATOR_DELAY_SECONDS=1 "$phim" up --port "$port" --threads "${THREADS:-8}" --data "$work/data" >"$work/phim.log" 2>&1 &
up_pid=$!
trap 'kill -TERM $up_pid 2>/dev/null; wait $up_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/api/livez" >/dev/null 2>&1 && break; sleep 0.2; done
base="http://127.0.0.1:$port"

# A key and a finished video for the demo account.
read -r key video < <(python3 - "$base" <<'PY'
import json, sys, time, urllib.request
base = sys.argv[1]
def call(method, path, body=None, headers={}):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"null"), response.headers
me, headers = call("POST", "/api/v1/auth/login", {"email": "demo@phim.local", "password": "phim-demo"})
cookie = "; ".join(v.split(";")[0] for k, v in headers.items() if k.lower() == "set-cookie")
made, _ = call("POST", "/api/v1/api-keys", {"name": "bench"}, {"Cookie": cookie, "X-CSRF-Token": headers["X-CSRF-Token"]})
video, _ = call("POST", "/api/v1/videos", {"prompt": "benchmark"}, {"Authorization": "Bearer " + made["key"]})
print(made["key"], video["id"])
PY
)

run() {
  local name=$1; shift
  local out
  out=$(wrk -t2 -c64 -d10s --latency "$@")
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(grep -E "Non-2xx|Socket errors" <<<"$out" | tr '\n' ' ' || true)
  printf '| %-44s | %10s | %8s | %8s | %s\n' "$name" "$rps" "$p50" "$p99" "${errors:-0 errors}"
}
echo "| row | requests/s | p50 | p99 | errors"
echo "|---|---:|---:|---:|---"
run "nginx static page (/signin)" "$base/signin"
run "GET /api/livez" "$base/api/livez"
run "GET /api/v1/videos/{id} with an API key" -H "Authorization: Bearer $key" "$base/api/v1/videos/$video"
