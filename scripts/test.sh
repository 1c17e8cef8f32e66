#!/usr/bin/env bash
# Runs every test: builds once, runs the Swift test suite, then drives the built `phim`
# binary over real HTTP (scripts/smoke.py). Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== build (debug, with tests)"
swift build --build-tests

echo "== swift test"
swift test --skip-build

echo "== end-to-end smoke test of the phim binary"
python3 scripts/smoke.py "$(swift build --show-bin-path)/phim"
