#!/usr/bin/env bash
# Extra suites after the unit and store tests.
set -euo pipefail
cd "$(dirname "$0")/.."
t() { local s; s=$(date +%s); echo "--- $1"; shift; "$@"; echo "--- took $(( $(date +%s) - s ))s"; }
t "browser e2e (Chromium)" bash .ci/browser.sh
if [ -d internal/upload ]; then
  t "fuzz intake (15s)" go test -run '^$' -fuzz=FuzzIntake -fuzztime=15s ./internal/upload
fi
t "ops checks (nginx, promtool, backup)" bash .ci/ops.sh
t "resilience: alert delivery ∥ PITR, backup verification, host hardening (issue 14)" bash .ci/resilience.sh
t "scene plausibility audit (500 plans + broken fixture)" bash .ci/audit.sh
t "abuse suite (login flood, scan bomb, held connections, fair use, live rights)" bash .ci/abuse.sh
t "releases without downtime: handoff, rolling deploy, rollback under load (issue 13)" bash .ci/deploy.sh
t "scale-out: 3 nodes on S3 (SeaweedFS) behind nginx, kill -9 under load, cluster-wide limits (issue 15)" bash .ci/scale.sh
