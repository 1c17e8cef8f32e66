#!/usr/bin/env bash
# The full fault-injection run (Tests/RELIABILITY.md): 10,000 random operations from a random
# seed, through the real request handlers on a real SQLite file. Replay a run with its seed:
#   PHIM_FAULT_SEED=123 Tests/fault-run.sh
# PHIM_FAULT_OPERATIONS sets the length; PHIM_SCRATCH_PATH builds somewhere other than .build.
# A passing run's report replaces the figures in Tests/RELIABILITY.md; a failing one leaves them.
set -euo pipefail
cd "$(dirname "$0")/.."
export PHIM_FAULT_SEED="${PHIM_FAULT_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
export PHIM_FAULT_OPERATIONS="${PHIM_FAULT_OPERATIONS:-10000}"
# The service's own lines (provider errors it handled, and so on) go to the log, not the screen.
export LOG_LEVEL="${LOG_LEVEL:-error}"
report=$(mktemp)
log=/tmp/phim-fault-run.log
trap 'rm -f "$report"' EXIT
export PHIM_FAULT_REPORT="$report"
scratch=()
if [ -n "${PHIM_SCRATCH_PATH:-}" ]; then scratch=(--scratch-path "$PHIM_SCRATCH_PATH"); fi

swift build --build-tests "${scratch[@]}"
echo "fault run: PHIM_FAULT_SEED=$PHIM_FAULT_SEED PHIM_FAULT_OPERATIONS=$PHIM_FAULT_OPERATIONS"
set +e
swift test --skip-build "${scratch[@]}" --filter FaultRunTests > "$log" 2>&1
status=$?
set -e
if [ -s "$report" ]; then cat "$report"; else tail -40 "$log"; fi
grep -E "^(Test Suite 'Selected tests'|	 Executed)|error:" "$log" || true
echo "(full output: $log)"

if [ "$status" -eq 0 ] && [ -s "$report" ]; then
    # Between the markers: which machine ran it, then the report as printed.
    block=$(mktemp)
    {
        echo "One run of \`Tests/fault-run.sh\` (debug build, $(nproc) cores):"
        echo
        echo '```'
        cat "$report"
        echo '```'
    } > "$block"
    awk -v block="$block" '
        /<!-- fault-run:begin -->/ { print; while ((getline line < block) > 0) print line; skipping = 1; next }
        /<!-- fault-run:end -->/ { skipping = 0 }
        !skipping { print }
    ' Tests/RELIABILITY.md > Tests/RELIABILITY.md.new
    mv Tests/RELIABILITY.md.new Tests/RELIABILITY.md
    rm -f "$block"
    echo "figures written to Tests/RELIABILITY.md"
fi
exit "$status"
