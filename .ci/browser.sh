#!/usr/bin/env bash
# Browser end-to-end: the real binary (SQLite, simulated provider) driven by
# headless Chromium through playwright-core.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/packages.sh chromium
work=$(mktemp -d)
go build -o "$work/ludeng" ./cmd/ludeng
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LUDENG_DATA_DIR="$work/data" LUDENG_LISTEN="127.0.0.1:$port" LUDENG_ADMIN_PASSWORD="ci-admin-password-1" \
  "$work/ludeng" serve > "$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/server.log"; exit 1; }
cd e2e/browser
npm ci --no-audit --no-fund --loglevel=error
BASE_URL="http://127.0.0.1:$port" ADMIN_USER=admin ADMIN_PASSWORD="ci-admin-password-1" SHOTS_DIR="$work/shots" node run.mjs \
  || { echo "--- server log"; tail -50 "$work/server.log"; exit 1; }
