#!/usr/bin/env bash
# Scene plausibility audit (issue #12):
#   1. `ludeng pool audit --plans 500` on the shipped pool must report 0
#      violations (fit, weather vs climate, ranges, prompt contradictions,
#      placeholders, prompt length);
#   2. the same audit on a deliberately broken copy of the pool (集安, Jilin,
#      tagged "camel") must exit 1 and name the camel range violation —
#      proving that the step above can fail.
# No services, no network; everything under a temp dir removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
case " ${GOFLAGS:-} " in *" -buildvcs="*) ;; *) export GOFLAGS="${GOFLAGS:-} -buildvcs=false" ;; esac
START=$(date +%s)
T=$(mktemp -d /tmp/ludeng-audit.XXXXXX)
trap 'rm -rf "$T"' EXIT

go build -o "$T/ludeng" ./cmd/ludeng

echo "audit: shipped pool, 500 plans"
"$T/ludeng" pool audit --plans 500 --seed 1 | tee "$T/ok.txt"
grep -q '^violations: 0$' "$T/ok.txt" || { echo "FAIL: the shipped pool has violations"; exit 1; }
echo "ok shipped pool: 0 violations"

echo "audit: broken fixture (a camel tag on 集安 220582, Jilin)"
cp -r data/pool "$T/broken"
sed -i '/"code": "220582"/,/"climate"/ s/"tags": \[/"tags": ["camel", /' "$T/broken/regions/22.json"
grep -q '"tags": \["camel", ' "$T/broken/regions/22.json" || { echo "FAIL: could not break the fixture"; exit 1; }
set +e
"$T/ludeng" pool audit --plans 20 --seed 1 "$T/broken" > "$T/broken.txt" 2>&1
rc=$?
set -e
cat "$T/broken.txt"
[ "$rc" -eq 1 ] || { echo "FAIL: the audit of the broken pool exited $rc, want 1"; exit 1; }
grep -q '^range: element camels in 220582 集安市' "$T/broken.txt" || { echo "FAIL: the camel in 集安 was not reported"; exit 1; }
echo "ok broken fixture: exit 1 with the camel range violation"
echo "audit suite took $(( $(date +%s) - START ))s"
