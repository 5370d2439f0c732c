#!/usr/bin/env bash
# Backups that prove themselves (issue 14), with real parts: the real
# `ludeng serve` (SQLite, then PostgreSQL) makes an upload and a batch of
# generated results (simulated provider), deploy/backup/ludeng-backup.sh
# backs it up with the secret key as a credential, and
# deploy/backup/ludeng-backup-verify.sh must:
#   - pass on the good backup (blobs re-hashed, row counts equal to MANIFEST,
#     uploads and results present, secret key included) and write its metrics;
#   - fail on a copy with one flipped byte in a blob (named, metric status 0,
#     ludeng_backup_verify_corrupt_blobs 1), on a missing result and on a
#     changed row count, and ludeng-restore must refuse that backup;
#   - after a wipe and restore of the good backup, the restored data must
#     match it (--restored) and the photo and results must be served again.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
case " ${GOFLAGS:-} " in *" -buildvcs="*) ;; *) export GOFLAGS="${GOFLAGS:-} -buildvcs=false" ;; esac
START=$(date +%s)
bash .ci/packages.sh sqlite3 rsync curl jq prometheus

T=$(mktemp -d /tmp/ludeng-bverify.XXXXXX)
APP_PID=""
PG_DB=""
cleanup() {
  local rc=$?
  if [ -n "$APP_PID" ]; then kill "$APP_PID" 2>/dev/null || true; wait "$APP_PID" 2>/dev/null || true; fi
  if [ -n "$PG_DB" ]; then psql -d postgres -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true; fi
  if [ "$rc" != 0 ]; then
    echo "--- backupverify.sh failed; last lines:" >&2
    for f in "$T"/*.log "$T"/*.out; do [ -f "$f" ] && { echo "== $f" >&2; tail -n 15 "$f" >&2; }; done
  fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
section() { echo "--- $* ($(( $(date +%s) - START ))s)"; }
expect() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; }
wait_port() {
  for _ in $(seq 1 150); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || fail "ludeng serve exited during start-up"
    sleep 0.1
  done
  fail "ludeng does not listen on $1"
}
PORT=""
for _ in $(seq 1 100); do
  p=$(( 21400 + RANDOM % 100 ))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
done
[ -n "$PORT" ] || fail "no free port in 21400–21499"

section "build"
mkdir -p "$T/bin"
go build -o "$T/bin/ludeng" ./cmd/ludeng
go run ./.ci/testphoto -w 800 -h 600 -mix mul > "$T/photo.png"
ok "built ludeng and a test photo"

V=deploy/backup/ludeng-backup-verify.sh
run_engine() { # run_engine sqlite|postgres
  local engine=$1 E="$T/$1"
  mkdir -p "$E"/{data,cred,textfile}
  openssl rand -hex 32 > "$E/cred/secret-key"
  echo "verify-admin-$RANDOM$RANDOM" > "$E/cred/admin-password"
  local url=""
  if [ "$engine" = postgres ]; then
    PG_DB="ludeng_i14_verify_$$"
    psql -d postgres -qc "DROP DATABASE IF EXISTS $PG_DB" && psql -d postgres -qc "CREATE DATABASE $PG_DB"
    url="postgres:///$PG_DB?host=/var/run/postgresql"
  fi
  local ENV=(env LUDENG_DATA_DIR="$E/data" LUDENG_DATABASE_URL="$url" LUDENG_SECRET_KEY_FILE="$E/cred/secret-key"
    LUDENG_ADMIN_PASSWORD_FILE="$E/cred/admin-password")
  section "$engine: ludeng serve, an upload and a batch of generated results"
  "${ENV[@]}" LUDENG_LISTEN="127.0.0.1:$PORT" LUDENG_LOG_FORMAT=json LUDENG_MIN_FREE_DISK=64MiB \
    "$T/bin/ludeng" serve > "$T/app-$engine.log" 2>&1 &
  APP_PID=$!
  wait_port "$PORT" "$APP_PID"
  echo 'verify password 1' | "${ENV[@]}" "$T/bin/ludeng" user add --name verifier --password-stdin > /dev/null
  local token; token=$("${ENV[@]}" "$T/bin/ludeng" user token --name verifier | tail -n 1)
  local B="http://127.0.0.1:$PORT" AUTH=(-H "Authorization: Bearer $token")
  curl -sS -o "$T/up.json" -w '%{http_code}' "${AUTH[@]}" -F "file=@$T/photo.png;filename=lamp.png" "$B/api/v1/uploads" > "$T/code"
  expect "$engine upload" "$(cat "$T/code")" 201
  local upload; upload=$(jq -r .id "$T/up.json")
  curl -sS -o "$T/batch.json" -w '%{http_code}' "${AUTH[@]}" -H 'Content-Type: application/json' \
    -d "{\"upload_id\":\"$upload\",\"mode\":\"smart\",\"groups\":1,\"enhance\":\"off\"}" "$B/api/v1/batches" > "$T/code"
  expect "$engine batch submit" "$(cat "$T/code")" 202
  local batch status=""; batch=$(jq -r .id "$T/batch.json")
  for _ in $(seq 1 240); do
    status=$(curl -sS "${AUTH[@]}" "$B/api/v1/batches/$batch" | jq -r .status)
    case "$status" in succeeded|failed|cancelled) break ;; esac
    sleep 0.5
  done
  expect "$engine batch status" "$status" succeeded
  kill -TERM "$APP_PID"; wait "$APP_PID" || true; APP_PID=""
  ok "$engine: upload $upload and batch $batch (succeeded)"

  section "$engine: backup and verify"
  local BK=(env LUDENG_DATA_DIR="$E/data" LUDENG_DATABASE_URL="$url" LUDENG_BACKUP_DIR="$E/backups"
    LUDENG_BACKUP_TEXTFILE_DIR="$E/textfile" LUDENG_BIN="$T/bin/ludeng" CREDENTIALS_DIRECTORY="$E/cred")
  "${BK[@]}" bash deploy/backup/ludeng-backup.sh > "$T/backup.out" 2>&1 || { cat "$T/backup.out" >&2; fail "$engine backup"; }
  local M="$E/backups/latest/MANIFEST"
  expect "$engine MANIFEST format" "$(sed -n 's/^format=//p' "$M")" 2
  expect "$engine MANIFEST secret_key" "$(sed -n 's/^secret_key=//p' "$M")" credential
  local results; results=$(grep -E '^rows\.([a-z]+\.)?images=' "$M" | cut -d= -f2)
  [ "${results:-0}" -ge 1 ] || fail "$engine: MANIFEST has no images rows ($(grep '^rows' "$M" | tr '\n' ' '))"
  "${BK[@]}" bash "$V" > "$T/verify.out" 2>&1 || { cat "$T/verify.out" >&2; fail "$engine: verify of a good backup failed"; }
  grep -qE 'blobs: [1-9][0-9]* re-hashed' "$T/verify.out" || { cat "$T/verify.out" >&2; fail "$engine: verify re-hashed no blob"; }
  grep -qE '[1-9][0-9]* generated results, 0 missing' "$T/verify.out" || { cat "$T/verify.out" >&2; fail "$engine: verify checked no generated result"; }
  grep -q 'secret key: config/secret-key' "$T/verify.out" || fail "$engine: verify did not find the secret key"
  local P="$E/textfile/ludeng_backup_verify.prom"
  promtool check metrics < "$P" > "$T/lint.out" 2>&1 || { cat "$T/lint.out" >&2; fail "promtool check metrics ludeng_backup_verify.prom"; }
  expect "$engine verify status metric" "$(awk '/^ludeng_backup_verify_last_status / {print $2}' "$P")" 1
  local good_ts; good_ts=$(awk '/^ludeng_backup_verify_last_success_timestamp_seconds / {print $2}' "$P")
  ok "$engine: $(grep -oE 'row counts: [0-9]+ tables equal to MANIFEST \([0-9]+ rows\)' "$T/verify.out"); $(grep -oE 'blobs: [0-9]+ re-hashed' "$T/verify.out"); $(grep -oE '[0-9]+ generated results, 0 missing or wrong size' "$T/verify.out"); secret key from the credential; metrics lint"

  section "$engine: a corrupted blob, a missing result, a wrong row count"
  local bad="$E/bad"
  cp -a "$E/backups/latest/." "$bad/" 2>/dev/null || { mkdir -p "$bad"; cp -a "$E/backups/latest/." "$bad/"; }
  local blob; blob=$(find "$bad/files/blobs/sha256" -type f | head -n 1)
  # flip one byte in the middle (a copy: the good backup's hard links stay intact)
  local size off byte; size=$(stat -c %s "$blob"); off=$(( size / 2 ))
  byte=$(od -An -tu1 -j "$off" -N1 "$blob" | tr -d ' ')
  cp --remove-destination "$blob" "$blob.tmp" && mv "$blob.tmp" "$blob"
  printf "$(printf '\\%03o' $(( (byte + 1) % 256 )))" | dd of="$blob" bs=1 seek="$off" conv=notrunc status=none
  if "${BK[@]}" bash "$V" "$bad" > "$T/verify-bad.out" 2>&1; then cat "$T/verify-bad.out" >&2; fail "$engine: verify passed a backup with a flipped byte in $(basename "$blob")"; fi
  grep -q "$(basename "$blob") hashes to" "$T/verify-bad.out" || { cat "$T/verify-bad.out" >&2; fail "$engine: verify did not name the corrupted blob"; }
  expect "$engine verify status metric after corruption" "$(awk '/^ludeng_backup_verify_last_status / {print $2}' "$P")" 0
  expect "$engine corrupt blobs metric" "$(awk '/^ludeng_backup_verify_corrupt_blobs / {print $2}' "$P")" 1
  expect "$engine last success kept" "$(awk '/^ludeng_backup_verify_last_success_timestamp_seconds / {print $2}' "$P")" "$good_ts"
  if "${BK[@]}" bash deploy/backup/ludeng-restore.sh --yes "$bad" > "$T/restore-bad.out" 2>&1; then fail "$engine: ludeng-restore restored a backup with a corrupted blob"; fi
  grep -q 'failed verification' "$T/restore-bad.out" || { cat "$T/restore-bad.out" >&2; fail "$engine: restore refused for another reason"; }
  ok "$engine: flipped byte in blob $(basename "$blob" | cut -c1-12)… detected and named, status metric 0, corrupt_blobs 1, last success kept; ludeng-restore refuses the backup"
  # restore the blob; lose one result instead
  cp "$E/backups/latest/files/${blob#"$bad/files/"}" "$blob"
  local result; result=$(find "$bad/files/results" -type f | head -n 1)
  rm "$result"
  if "${BK[@]}" bash "$V" "$bad" > "$T/verify-bad2.out" 2>&1; then fail "$engine: verify passed a backup without result ${result#"$bad/files/"}"; fi
  grep -qF "result ${result#"$bad/files/"} missing" "$T/verify-bad2.out" || { cat "$T/verify-bad2.out" >&2; fail "$engine: verify did not name the missing result"; }
  cp "$E/backups/latest/files/${result#"$bad/files/"}" "$result"
  sed -i -E 's/^(rows\.([a-z_]+\.)?users=)([0-9]+)$/\1999/' "$bad/MANIFEST"
  if "${BK[@]}" bash "$V" "$bad" > "$T/verify-bad3.out" 2>&1; then fail "$engine: verify passed a MANIFEST with a wrong users row count"; fi
  grep -qE 'users: MANIFEST 999, found [0-9]+' "$T/verify-bad3.out" || { cat "$T/verify-bad3.out" >&2; fail "$engine: verify did not report the users row count"; }
  ok "$engine: missing result and wrong row count detected and named"

  section "$engine: wipe, restore, check"
  rm -rf "$E/data" && mkdir "$E/data"
  if [ "$engine" = postgres ]; then psql -d postgres -qc "DROP DATABASE $PG_DB" && psql -d postgres -qc "CREATE DATABASE $PG_DB"; fi
  "${BK[@]}" bash deploy/backup/ludeng-restore.sh --yes > "$T/restore.out" 2>&1 || { cat "$T/restore.out" >&2; fail "$engine restore"; }
  grep -q 'against the restored data' "$T/restore.out" || { cat "$T/restore.out" >&2; fail "$engine: restore did not verify the restored data"; }
  "${ENV[@]}" LUDENG_LISTEN="127.0.0.1:$PORT" LUDENG_LOG_FORMAT=json LUDENG_MIN_FREE_DISK=64MiB \
    "$T/bin/ludeng" serve > "$T/app2-$engine.log" 2>&1 &
  APP_PID=$!
  wait_port "$PORT" "$APP_PID"
  expect "$engine photo after restore" "$(curl -sS -o /dev/null -w '%{http_code}' "${AUTH[@]}" "$B/api/v1/uploads/$upload/content?size=full")" 200
  curl -sS "${AUTH[@]}" "$B/api/v1/batches/$batch" > "$T/batch2.json"
  local n_ok img; n_ok=$(jq '[.. | objects | select(.status? == "succeeded" and (.width? // 0) > 0)] | length' "$T/batch2.json")
  [ "$n_ok" -ge 1 ] || fail "$engine: no succeeded image in the restored batch"
  img=$(jq -r '[.. | objects | select(.status? == "succeeded" and (.width? // 0) > 0) | .id] | .[0]' "$T/batch2.json")
  expect "$engine generated image $img after restore" "$(curl -sS -o /dev/null -w '%{http_code}' "${AUTH[@]}" "$B/api/v1/images/$img/content")" 200
  kill -TERM "$APP_PID"; wait "$APP_PID" || true; APP_PID=""
  if [ "$engine" = postgres ]; then psql -d postgres -qc "DROP DATABASE IF EXISTS $PG_DB"; PG_DB=""; fi
  ok "$engine: restore verified the backup first and the restored data after (blobs re-hashed, row counts); photo and generated image served again ($n_ok results in the batch)"
}

run_engine sqlite
if pg_isready -q 2>/dev/null && psql -d postgres -tAc 'select 1' >/dev/null 2>&1; then
  run_engine postgres
elif [ "${CI:-}" = 1 ]; then
  fail "PostgreSQL is not reachable; CI runs the PostgreSQL verification"
else
  echo "skip PostgreSQL: no server reachable"
fi
echo "backup verification checks passed in $(( $(date +%s) - START ))s"
