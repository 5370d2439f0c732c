#!/usr/bin/env bash
# Throughput of GET /api/v1/batches/{id} (an 8-group batch, finished, with
# the simulator) against GET /api/v1/auth/me, with wrk at 200 connections
# on loopback. Also measures the If-None-Match revalidation path when the
# server sends an ETag. Usage: bash bench/batchget/run.sh [seconds]
# The per-user rate limit is lifted so wrk measures the handler, not 429s.
# Needs wrk (bash .ci/packages.sh wrk), curl, jq.
set -euo pipefail
cd "$(dirname "$0")/../.."
dur=${1:-15}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/ludeng" ./cmd/ludeng
go run ./bench/files/uploadrss -gen "$work/photo.jpg" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
LUDENG_DATA_DIR="$work/data" LUDENG_LISTEN="127.0.0.1:$port" LUDENG_ADMIN_PASSWORD="bench-admin-password" \
  LUDENG_MIN_FREE_DISK=1MiB LUDENG_LOG_LEVEL=warn LUDENG_API_RATE=1000000 LUDENG_API_BURST=100000 "$work/ludeng" serve 2>"$work/server.log" &
pid=$!
for _ in $(seq 1 100); do curl -fs "$url/readyz" >/dev/null && break; sleep 0.1; done
jar="$work/jar"
curl -fsS -c "$jar" -H 'Content-Type: application/json' \
  -d '{"username":"admin","password":"bench-admin-password"}' "$url/api/v1/auth/login" >/dev/null
cookie=$(awk '!/^#/ && NF>=7 {printf "%s=%s; ", $6, $7} /^#HttpOnly_/ {printf "%s=%s; ", $6, $7}' "$jar")
upload=$(curl -fsS -b "$jar" -F "file=@$work/photo.jpg;type=image/jpeg" "$url/api/v1/uploads" | jq -r .id)
batch=$(curl -fsS -b "$jar" -H 'Content-Type: application/json' \
  -d "{\"upload_id\":\"$upload\",\"mode\":\"smart\",\"groups\":8}" "$url/api/v1/batches" | jq -r .id)
for _ in $(seq 1 600); do
  st=$(curl -fsS -b "$jar" "$url/api/v1/batches/$batch" | jq -r .status)
  case $st in succeeded|partially_failed|failed|cancelled) break ;; esac
  sleep 1
done
body=$(curl -fsS -b "$jar" -D "$work/h" "$url/api/v1/batches/$batch")
echo "batch $batch: status $st, $(jq '.groups | length' <<<"$body") groups, $(jq '[.groups[].images[]] | length' <<<"$body") images, ${#body} bytes"
etag=$(awk 'tolower($1)=="etag:" {print $2}' "$work/h" | tr -d '\r')
echo "conditions: $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
run() { echo "== $1"; shift; wrk -t2 -c200 -d"${dur}s" "$@" | grep -E 'Requests/sec|Latency|Non-2xx'; }
run "GET /api/v1/auth/me" -H "Cookie: $cookie" "$url/api/v1/auth/me"
run "GET /api/v1/batches/{id}" -H "Cookie: $cookie" "$url/api/v1/batches/$batch"
if [ -n "$etag" ]; then
  run "GET /api/v1/batches/{id} with If-None-Match (304)" -H "Cookie: $cookie" -H "If-None-Match: $etag" "$url/api/v1/batches/$batch"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
