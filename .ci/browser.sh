#!/usr/bin/env bash
# Browser end-to-end: the real binary (SQLite, simulated images, the fake
# DeepSeek for prompts and post kits) driven by headless Chromium through
# playwright-core. The run also takes the user manual's screenshots; the
# manual check then fails when docs/manual references a screenshot the run
# did not produce, or the committed screenshots differ in name from the
# produced ones. `bash .ci/browser.sh --update-manual` copies the fresh
# screenshots into docs/manual/images.
set -euo pipefail
cd "$(dirname "$0")/.."
update=0
[ "${1:-}" = "--update-manual" ] && update=1
bash .ci/packages.sh chromium fonts-wqy-microhei
work=$(mktemp -d)
go build -o "$work/ludeng" ./cmd/ludeng
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
fport=$(free_port)
"$work/ludeng" fake-providers --listen "127.0.0.1:$fport" > "$work/fake.log" 2>&1 &
fpid=$!
LUDENG_DATA_DIR="$work/data" LUDENG_LISTEN="127.0.0.1:$port" LUDENG_ADMIN_PASSWORD="ci-admin-password-1" \
  LUDENG_DEEPSEEK_API_KEY="sk-fake-e2e" LUDENG_DEEPSEEK_BASE_URL="http://127.0.0.1:$fport/deepseek" \
  "$work/ludeng" serve > "$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid $fpid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/server.log"; exit 1; }
cd e2e/browser
npm ci --no-audit --no-fund --loglevel=error
BASE_URL="http://127.0.0.1:$port" FAKE_URL="http://127.0.0.1:$fport" ADMIN_USER=admin ADMIN_PASSWORD="ci-admin-password-1" \
  SHOTS_DIR="$work/shots" node run.mjs \
  || { echo "--- server log"; tail -50 "$work/server.log"; exit 1; }
cd ../..
# Shots of the main run that the manual shows too.
for f in new-batch-plan new-batch-infeasible batch-live-mocked new-batch-preset; do
  cp "$work/shots/$f.png" "$work/shots/manual/$f.png"
done
if [ "$update" = 1 ]; then
  mkdir -p docs/manual/images
  rm -f docs/manual/images/*.png
  cp "$work/shots/manual/"*.png docs/manual/images/
  echo "manual screenshots updated: $(ls docs/manual/images | wc -l) files"
fi
python3 .ci/manual_check.py docs/manual "$work/shots/manual"
