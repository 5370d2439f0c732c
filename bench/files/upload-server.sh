#!/usr/bin/env bash
# Peak RSS (VmHWM) of the whole `ludeng serve` process while it accepts one
# 4000×3000 JPEG of about 5 MiB through POST /api/v1/uploads (issue 6
# acceptance 2: ≤ 150 MB). Usage: bash bench/files/upload-server.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/ludeng" ./cmd/ludeng
go run ./bench/files/uploadrss -gen "$work/photo.jpg" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LUDENG_DATA_DIR="$work/data" LUDENG_LISTEN="127.0.0.1:$port" LUDENG_ADMIN_PASSWORD="bench-admin-password" \
  LUDENG_MIN_FREE_DISK=1MiB "$work/ludeng" serve 2>"$work/server.log" &
pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
hwm() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }
before=$(hwm)
token=$(LUDENG_DATA_DIR="$work/data" "$work/ludeng" user token --name admin 2>/dev/null | tail -1)
size=$(stat -c %s "$work/photo.jpg")
start=$(date +%s.%N)
code=$(curl -s -o "$work/resp.json" -w '%{http_code}' -H "Authorization: Bearer $token" \
  -F "file=@$work/photo.jpg;type=image/jpeg" "http://127.0.0.1:$port/api/v1/uploads")
end=$(date +%s.%N)
after=$(hwm)
echo "upload: HTTP $code, $size bytes, $(python3 -c "print(round($end-$start,2))") s"
echo "serve VmHWM before upload: $((before/1024)) MB; after: $((after/1024)) MB (limit 150 MB)"
[ "$code" = 201 ] || { cat "$work/resp.json"; exit 1; }
