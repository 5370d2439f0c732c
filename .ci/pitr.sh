#!/usr/bin/env bash
# Point-in-time recovery with pgBackRest (issue 14), with real parts: a
# throwaway PostgreSQL cluster (pg_createcluster on a port in 21400–21499;
# the main cluster is not touched), deploy/pgbackrest/pgbackrest.conf and
# ludeng-pitr.postgresql.conf with only paths and the port rewritten, the
# repository encrypted with a key from a separate config file.
#   stanza-create → check → full backup → write A → differential backup →
#   note the time → write B → archive → stop → restore --type=time to the
#   noted time → start: A is there, B is not. Also: every repository file is
#   encrypted, the metrics script's output lints, and systemd verifies the
#   backup units.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export PATH="$PATH:/usr/sbin:/sbin"
START=$(date +%s)
bash .ci/packages.sh pgbackrest postgresql jq prometheus

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
section() { echo "--- $* ($(( $(date +%s) - START ))s)"; }

PGVER=$(ls /usr/lib/postgresql | sort -n | tail -1)
CLUSTER="i14pitr$$"
T=$(mktemp -d /tmp/ludeng-pitr.XXXXXX)
chmod 0755 "$T"
CREATED=""
cleanup() {
  local rc=$?
  if [ "$rc" != 0 ]; then
    echo "--- pitr.sh failed; logs:" >&2
    tail -n 30 "/var/log/postgresql/postgresql-$PGVER-$CLUSTER.log" >&2 2>/dev/null || true
    for f in "$T"/log/*.log; do [ -f "$f" ] && { echo "== $f" >&2; tail -n 15 "$f" >&2; }; done
  fi
  if [ -n "$CREATED" ]; then pg_dropcluster --stop "$PGVER" "$CLUSTER" >/dev/null 2>&1 || true; fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT

PORT=""
for _ in $(seq 1 100); do
  p=$(( 21400 + RANDOM % 100 ))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && [ ! -e "/var/run/postgresql/.s.PGSQL.$p" ]; then PORT=$p; break; fi
done
[ -n "$PORT" ] || fail "no free port in 21400–21499"

section "throwaway cluster $PGVER/$CLUSTER on port $PORT"
mkdir -p "$T"/{conf.d,repo,log,pgdata}
chown -R postgres:postgres "$T"
pg_createcluster "$PGVER" "$CLUSTER" -p "$PORT" -d "$T/pgdata/data" > "$T/create.out" 2>&1 || { cat "$T/create.out" >&2; fail "pg_createcluster"; }
CREATED=1
CONF="$T/pgbackrest.conf"
# The deployed files with paths and port rewritten; nothing else.
sed -e "s#^repo1-path=.*#repo1-path=$T/repo#" \
    -e "s#^log-path=.*#log-path=$T/log#" \
    -e "s#^pg1-path=.*#pg1-path=$T/pgdata/data#" \
    -e "s#^pg1-port=.*#pg1-port=$PORT#" \
    -e "s#^process-max=.*#process-max=1#" \
    deploy/pgbackrest/pgbackrest.conf > "$CONF"
CIPHER_PASS=$(openssl rand -base64 48 | tr -d '\n')
printf '[global]\nrepo1-cipher-pass=%s\n' "$CIPHER_PASS" > "$T/conf.d/ludeng-cipher.conf"
chown -R postgres:postgres "$T"
chmod 0640 "$T/conf.d/ludeng-cipher.conf" "$CONF"
grep -q '^repo1-cipher-pass' "$CONF" && fail "the cipher pass must not be in pgbackrest.conf"
sed -e "s#pgbackrest --stanza=ludeng archive-push %p#pgbackrest --config=$CONF --config-include-path=$T/conf.d --stanza=ludeng archive-push %p#" \
  deploy/pgbackrest/ludeng-pitr.postgresql.conf > "/etc/postgresql/$PGVER/$CLUSTER/conf.d/ludeng-pitr.conf"
pg_ctlcluster --skip-systemctl-redirect "$PGVER" "$CLUSTER" start
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -p "$PORT" -U postgres -d postgres)
# On the command line, not in the environment: restore writes these options
# into restore_command, which PostgreSQL runs without our environment.
BR=(runuser -u postgres -- pgbackrest --config="$CONF" --config-include-path="$T/conf.d" --stanza=ludeng)
expect() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; }
expect "archive_mode" "$(runuser -u postgres -- "${PSQL[@]}" -tAc 'show archive_mode')" on
ok "cluster up with deploy/pgbackrest/ludeng-pitr.postgresql.conf (archive_mode on, archive_command → pgbackrest)"

section "stanza, full backup"
"${BR[@]}" stanza-create > "$T/out" 2>&1 || { cat "$T/out" >&2; fail "stanza-create"; }
"${BR[@]}" check > "$T/out" 2>&1 || { cat "$T/out" >&2; fail "pgbackrest check (WAL archiving)"; }
"${BR[@]}" --type=full backup > "$T/out" 2>&1 || { cat "$T/out" >&2; fail "full backup"; }
ok "stanza-create, check (archive_command works), full backup"

section "write A, differential backup, note the time, write B"
runuser -u postgres -- "${PSQL[@]}" -c "CREATE TABLE pitr_probe (v text PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())" \
  -c "INSERT INTO pitr_probe (v) VALUES ('A')"
"${BR[@]}" --type=diff backup > "$T/out" 2>&1 || { cat "$T/out" >&2; fail "differential backup"; }
sleep 1
TARGET=$(runuser -u postgres -- "${PSQL[@]}" -tAc "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
sleep 1
runuser -u postgres -- "${PSQL[@]}" -c "INSERT INTO pitr_probe (v) VALUES ('B')"
# Recovery to a time stops at the first commit after it: that commit (B's)
# must be in the archive. check switches WAL and waits for the segment.
"${BR[@]}" check > "$T/out" 2>&1 || { cat "$T/out" >&2; fail "pgbackrest check after B"; }
expect "rows before restore" "$(runuser -u postgres -- "${PSQL[@]}" -tAc "SELECT string_agg(v, ',' ORDER BY v) FROM pitr_probe")" "A,B"
ok "A written, differential backup, target time $TARGET, B written and its WAL archived"

section "repository encryption"
"${BR[@]}" --output=json info > "$T/info.json"
expect "backups in the repository" "$(jq -r '[.[0].backup[].type] | join(",")' "$T/info.json")" "full,diff"
expect "repository cipher" "$(jq -r '.[0].cipher' "$T/info.json")" "aes-256-cbc"
# pgBackRest encrypts in OpenSSL's format: every file starts with "Salted__".
find "$T/repo" -type f \( -path '*/archive/*' -o -path '*/backup/*' \) -print0 > "$T/repofiles"
total=$(tr -cd '\0' < "$T/repofiles" | wc -c)
xargs -0 -n 500 env LC_ALL=C awk 'FNR == 1 { if (substr($0, 1, 8) != "Salted__") print FILENAME; nextfile }' < "$T/repofiles" > "$T/plain"
plain=$(wc -l < "$T/plain")
[ "$plain" = 0 ] || { head "$T/plain" >&2; }
[ "$total" -gt 10 ] || fail "only $total files in the repository"
expect "unencrypted repository files" "$plain" 0
if runuser -u postgres -- pgbackrest --config="$CONF" --config-include-path="$T/nonexistent" --stanza=ludeng info > "$T/out" 2>&1 \
   && ! grep -qi 'error' "$T/out"; then fail "the repository is readable without the cipher pass"; fi
ok "repository: $total files (backups and WAL), all AES-256-CBC (Salted__), unreadable without the key file"

section "metrics"
mkdir -p "$T/textfile" && chown postgres "$T/textfile"
runuser -u postgres -- env PGBACKREST_CONFIG="$CONF" PGBACKREST_CONFIG_INCLUDE_PATH="$T/conf.d" LUDENG_PITR_TEXTFILE_DIR="$T/textfile" \
  PGHOST=/var/run/postgresql PGPORT="$PORT" bash deploy/pgbackrest/ludeng-pitr-metrics.sh success > "$T/out" 2>&1 || { cat "$T/out" >&2; fail "ludeng-pitr-metrics"; }
promtool check metrics < "$T/textfile/ludeng_pitr.prom" > "$T/out" 2>&1 || { cat "$T/out" "$T/textfile/ludeng_pitr.prom" >&2; fail "promtool check metrics ludeng_pitr.prom"; }
val() { awk -v m="$1" 'index($0, m) == 1 {print $NF}' "$T/textfile/ludeng_pitr.prom"; }
expect "ludeng_pitr_repo_ok" "$(val 'ludeng_pitr_repo_ok{')" 1
expect "ludeng_pitr_backups" "$(val 'ludeng_pitr_backups{')" 2
expect "ludeng_pitr_last_backup_status" "$(val 'ludeng_pitr_last_backup_status{')" 1
last_diff=$(val 'ludeng_pitr_last_backup_timestamp_seconds{stanza="ludeng",type="diff"}')
[ $(( $(date +%s) - last_diff )) -lt 600 ] || fail "last diff backup timestamp $last_diff is not recent"
archived=$(val 'ludeng_pitr_wal_last_archived_timestamp_seconds{')
[ $(( $(date +%s) - archived )) -lt 600 ] || fail "WAL last archived $archived is not recent"
ok "ludeng_pitr.prom lints (promtool check metrics): repo ok, 2 backups, last diff and last archived WAL recent"

section "restore to $TARGET"
pg_ctlcluster --skip-systemctl-redirect "$PGVER" "$CLUSTER" stop
t0=$(date +%s)
"${BR[@]}" --delta --type=time "--target=$TARGET" --target-action=promote restore > "$T/out" 2>&1 || { cat "$T/out" >&2; fail "pgbackrest restore --type=time"; }
pg_ctlcluster --skip-systemctl-redirect "$PGVER" "$CLUSTER" start
for _ in $(seq 1 60); do
  [ "$(runuser -u postgres -- "${PSQL[@]}" -tAc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] && break
  sleep 0.5
done
expect "in recovery after restore" "$(runuser -u postgres -- "${PSQL[@]}" -tAc 'SELECT pg_is_in_recovery()')" f
rows=$(runuser -u postgres -- "${PSQL[@]}" -tAc "SELECT coalesce(string_agg(v, ',' ORDER BY v), '') FROM pitr_probe")
expect "rows after point-in-time restore (A before the target, B after)" "$rows" "A"
grep -q "recovery stopping before commit" "/var/log/postgresql/postgresql-$PGVER-$CLUSTER.log" || fail "PostgreSQL's log does not show recovery stopping at the target"
ok "restored to $TARGET in $(( $(date +%s) - t0 ))s: A present, B absent; PostgreSQL promoted (recovery stopped before B's commit)"

section "systemd units"
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$T/units"
  cp deploy/systemd/ludeng-pgbackrest-*.service deploy/systemd/ludeng-pgbackrest-*.timer deploy/systemd/ludeng-pitr-metrics.* "$T/units/"
  sed -i "s#/usr/local/lib/ludeng/ludeng-pitr-metrics#$ROOT/deploy/pgbackrest/ludeng-pitr-metrics.sh#" "$T/units/"*.service
  (cd "$T/units" && systemd-analyze verify ./*.service ./*.timer) > "$T/verify.out" 2>&1 || { cat "$T/verify.out" >&2; fail "systemd-analyze verify (pgBackRest units)"; }
  if [ -s "$T/verify.out" ]; then cat "$T/verify.out" >&2; fail "systemd-analyze verify printed warnings"; fi
  ok "systemd-analyze verify: ludeng-pgbackrest-{full,diff}.{service,timer}, ludeng-pitr-metrics.{service,timer}"
else
  fail "systemd-analyze is not installed"
fi
echo "PITR checks passed in $(( $(date +%s) - START ))s"
