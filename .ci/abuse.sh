#!/usr/bin/env bash
# Abuse suite (issue 18): reproduces each finding of the attacker's review
# against the real binary on loopback and shows it refused. The Go test
# starts and stops its own binaries and fake providers (killed by PID when
# it ends); its "ABUSE …" lines are the measurements.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
# 2,000 held connections need about 2,100 descriptors on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4500 ]; then
  echo "abuse suite: need ulimit -n ≥ 4500 for 2,000 connections, have $(ulimit -n)"; exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
set +e
go test -tags abuse -count=1 -timeout 10m -run '^TestAbuse$' -v ./internal/cli >"$out" 2>&1
rc=$?
set -e
grep -E '^ABUSE |^(--- |ok|FAIL|panic)' "$out" || true
if [ $rc -ne 0 ]; then
  tail -80 "$out"
  echo "abuse suite FAILED"
  exit $rc
fi
echo "abuse suite passed in $(( $(date +%s) - start ))s"
