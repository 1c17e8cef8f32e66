#!/usr/bin/env bash
# The benchmark suite: installs wrk (Debian) if missing, builds the release binary, and runs
# bench/run.py against it on loopback. Prints one table and writes BENCHMARKS.md.
#
#   bash bench/run.sh            # the full data set: 10,000 accounts, 200,000 videos
#   BENCH_QUICK=1 bash bench/run.sh   # a small data set and short runs, to try the suite
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
    echo "installing wrk (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
echo "== release build"
swift build -c release --product phim
python3 bench/run.py "$(swift build -c release --show-bin-path)/phim"
