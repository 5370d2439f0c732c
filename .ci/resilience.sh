#!/usr/bin/env bash
# Issue 14's heavy suites, arranged to cost little wall time on 2 cores:
# the alert delivery run (mostly waiting on Prometheus/Alertmanager timers)
# and the PITR run (mostly initdb, fsync and pgBackRest I/O) go in parallel,
# then backup verification and the host/log checks. Each suite still starts
# what it needs and cleans up after itself; their output is printed whole,
# one after the other.
set -euo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
bash .ci/packages.sh prometheus prometheus-alertmanager pgbackrest postgresql sqlite3 rsync curl jq
L=$(mktemp -d /tmp/ludeng-resilience.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$L"' EXIT
run_bg() { local name=$1; shift; ( s=$(date +%s); "$@" > "$L/$name.log" 2>&1; rc=$?; echo "--- $name took $(( $(date +%s) - s ))s (exit $rc)" >> "$L/$name.log"; exit $rc ) & PIDS+=($!); }
run_bg alerting bash .ci/alerting.sh
run_bg pitr bash .ci/pitr.sh
failed=0
for i in 0 1; do
  name=$([ "$i" = 0 ] && echo alerting || echo pitr)
  if ! wait "${PIDS[$i]}"; then failed=1; fi
  echo "=== $name"; cat "$L/$name.log"
done
PIDS=()
[ "$failed" = 0 ] || { echo "FAIL: alerting or PITR (above)" >&2; exit 1; }
echo "=== backup verification"
bash .ci/backupverify.sh
if [ -f .ci/host.sh ]; then
  echo "=== host hardening and logs"
  bash .ci/host.sh
fi
echo "resilience suites passed in $(( $(date +%s) - START ))s"
