#!/usr/bin/env bash
# A whole ludeng session with curl: log in, upload the product photo, dry
# run (plan + cost estimate), create the batch, poll it to the end and
# download the zip (one folder per group + manifest.json/csv).
#
#   LUDENG_URL=http://127.0.0.1:8080 LUDENG_USER=admin LUDENG_PASSWORD=… \
#     PHOTO=lamp.jpg GROUPS=8 OUT=batch.zip docs/examples/curl-session.sh
#
# Needs curl and jq. Exits non-zero when a step fails or the batch does not
# succeed within TIMEOUT seconds (default 600). CI runs it against the
# binary with the simulator.
set -euo pipefail

URL=${LUDENG_URL:-http://127.0.0.1:8080}
USER_NAME=${LUDENG_USER:-admin}
PASSWORD=${LUDENG_PASSWORD:?set LUDENG_PASSWORD}
PHOTO=${PHOTO:?set PHOTO to a jpg/png/webp of the street light}
GROUPS=${GROUPS:-8}
OUT=${OUT:-batch.zip}
TIMEOUT=${TIMEOUT:-600}

jar=$(mktemp)
trap 'rm -f "$jar"' EXIT
api() { # METHOD PATH [JSON] — prints the body, fails on HTTP >= 400
  local method=$1 path=$2
  shift 2
  curl -sS --fail-with-body -b "$jar" -c "$jar" -X "$method" -H 'Content-Type: application/json' \
    ${1:+--data "$1"} "$URL$path"
}

echo "1. log in as $USER_NAME"
api POST /api/v1/auth/login "$(jq -nc --arg u "$USER_NAME" --arg p "$PASSWORD" '{username: $u, password: $p}')" >/dev/null

echo "2. upload $PHOTO"
upload=$(curl -sS --fail-with-body -b "$jar" -c "$jar" -F "file=@$PHOTO" "$URL/api/v1/uploads" | jq -r .id)
echo "   upload $upload"

echo "3. dry run: $GROUPS groups"
request=$(jq -nc --arg up "$upload" --argjson n "$GROUPS" '{upload_id: $up, mode: "smart", groups: $n}')
api POST /api/v1/batches "$(jq -c '. + {dry_run: true}' <<<"$request")" |
  jq -r '"   estimate: \(.estimate.images) images, \(.estimate.total.amount) \(.estimate.total.currency)",
         (.plan.groups[] | "   group \(.index + 1): \(.scene.province)\(.scene.county), \(.combination.month)月, \(.scene.road.zh), \([.scene.elements[].zh] | join("+"))")'

echo "4. create the batch"
batch=$(api POST /api/v1/batches "$request" | jq -r .id)
echo "   batch $batch"

echo "5. poll"
deadline=$((SECONDS + TIMEOUT))
while :; do
  view=$(api GET "/api/v1/batches/$batch")
  status=$(jq -r .status <<<"$view")
  echo "   $status $(jq -r '"\(.progress.done)/\(.progress.total) done, \(.progress.failed) failed"' <<<"$view")"
  case $status in
    succeeded|partially_failed) break ;;
    failed|cancelled) jq .report <<<"$view" >&2; exit 1 ;;
  esac
  if ((SECONDS > deadline)); then echo "timed out" >&2; exit 1; fi
  sleep 2
done
jq -c .report <<<"$view"

echo "6. download to $OUT"
curl -sS --fail -b "$jar" -o "$OUT" "$URL/api/v1/batches/$batch/download"
if command -v unzip >/dev/null; then unzip -l "$OUT" | tail -n +4 | head -n 40; fi
echo "done"
