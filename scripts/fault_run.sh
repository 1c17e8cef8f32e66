#!/usr/bin/env bash
# The full fault-injection run (RELIABILITY.md): 10,000 random operations with a random seed,
# on SQLite, or on a private PostgreSQL with --postgres. Replay a run with its seed:
#   PHIM_FAULT_SEED=123 PHIM_FAULT_OPERATIONS=10000 scripts/fault_run.sh [--postgres]
set -euo pipefail
cd "$(dirname "$0")/.."
export PHIM_FAULT_SEED="${PHIM_FAULT_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
export PHIM_FAULT_OPERATIONS="${PHIM_FAULT_OPERATIONS:-10000}"
# Dictionaries and sets iterate in the same order every run, so a seed replays exactly.
export SWIFT_DETERMINISTIC_HASHING=1
swift build --build-tests
if [ "${1:-}" = "--postgres" ]; then
    source scripts/postgres.sh
    trap stop_private_postgres EXIT
    start_private_postgres
fi
echo "fault run with PHIM_FAULT_SEED=$PHIM_FAULT_SEED PHIM_FAULT_OPERATIONS=$PHIM_FAULT_OPERATIONS"
# The service's own log lines (provider errors it handled, and so on) are left out; the run's
# summary and the test's verdict are shown.
set +e
swift test --skip-build --filter FaultInjectionTests > /tmp/phim-fault-run.log 2>&1
status=$?
set -e
awk '/^fault run: seed/ { shown = 1 } shown && /^(fault run|  )/' /tmp/phim-fault-run.log
grep -E "✔ Test run|✘" /tmp/phim-fault-run.log || true
echo "(full output: /tmp/phim-fault-run.log)"
exit $status
