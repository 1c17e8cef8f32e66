#!/usr/bin/env bash
# Phim's benchmark suite: one run, one report (Tests/Benchmarks/REPORT.md).
#
#   bash Tests/Benchmarks/run.sh            # the full run: about 25 minutes (plus the Vapor
#                                           # version's first build, about 20 minutes, once)
#   BENCH_QUICK=1 bash Tests/Benchmarks/run.sh   # small data, short rows: to try the suite
#   BENCH_VAPOR=0 bash Tests/Benchmarks/run.sh   # without the Vapor version side by side
#   BENCH_LOG_LEVELS=1 bash Tests/Benchmarks/run.sh   # only rows 16: the default log level
#                                           # against LOG_LEVEL=warning (about 3 minutes)
#   BENCH_CREATES=1 bash Tests/Benchmarks/run.sh   # only row 9: creates through the queue and
#                                           # the dispatcher's drain, beside livez (about a minute)
#   BENCH_PAYMENTS=1 bash Tests/Benchmarks/run.sh   # only rows 17: SePay notifications, new and
#                                           # redelivered, at both log levels (about a minute)
#
# Steps: installs what it uses (wrk, nginx; Debian), times a clean release build of `phim` in a
# new scratch folder (row 12) and runs every row from that build; builds the Vapor version (git
# bb3d1aa, the last one) in its own work tree under .build-vapor/ when it is not built yet; then
# Tests/Benchmarks/bench.py measures the rows. Nothing else should run on the machine meanwhile.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
dpkg -s libfcgi-dev libsqlite3-dev libcurl4-openssl-dev libsodium-dev >/dev/null 2>&1 \
    || missing+=(libfcgi-dev libsqlite3-dev libcurl4-openssl-dev libsodium-dev)
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]} (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin"

scratch="$root/.build-bench"
build_seconds=""
if [ "${BENCH_QUICK:-0}" = 1 ] && [ -x "$scratch/release/phim" ]; then
    echo "== quick run: reusing the release build in $scratch (no build time measured)"
    swift build -c release --product phim --scratch-path "$scratch" 2>&1 | tail -1
else
    echo "== clean release build of phim (row 12)"
    rm -rf "$scratch"
    started=$SECONDS
    swift build -c release --product phim --scratch-path "$scratch" 2>&1 | tail -1
    build_seconds=$((SECONDS - started))
    echo "   $build_seconds s"
fi
swift build -c release --product PhimBench --scratch-path "$scratch" 2>&1 | tail -1

vapor_args=()
if [ "${BENCH_VAPOR:-1}" = 1 ] && [ "${BENCH_LOG_LEVELS:-0}" = 0 ] && [ "${BENCH_CREATES:-0}" = 0 ] && [ "${BENCH_PAYMENTS:-0}" = 0 ]; then
    tree="$root/.build-vapor/src"
    if [ ! -d "$tree" ]; then
        git worktree prune
        git worktree add --detach "$tree" bb3d1aa
    fi
    if [ ! -x "$tree/.build/release/phim" ]; then
        echo "== building the Vapor version (git bb3d1aa) in $tree: about 20 minutes, once"
        started=$SECONDS
        (cd "$tree" && swift build -c release --product phim 2>&1 | tail -1)
        echo $((SECONDS - started)) > "$root/.build-vapor/build-seconds"
    fi
    vapor_args=(--vapor "$tree/.build/release/phim")
    if [ -f "$root/.build-vapor/build-seconds" ]; then vapor_args+=(--vapor-build-seconds "$(cat "$root/.build-vapor/build-seconds")"); fi
fi

args=(--phim "$scratch/release/phim" --bench "$scratch/release/PhimBench" "${vapor_args[@]}")
[ -n "$build_seconds" ] && args+=(--build-seconds "$build_seconds")
[ "${BENCH_QUICK:-0}" = 1 ] && args+=(--quick)
[ "${BENCH_LOG_LEVELS:-0}" = 1 ] && args+=(--log-levels)
[ "${BENCH_CREATES:-0}" = 1 ] && args+=(--creates)
[ "${BENCH_PAYMENTS:-0}" = 1 ] && args+=(--payments)
exec python3 Tests/Benchmarks/bench.py "${args[@]}"
