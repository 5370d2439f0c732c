#!/usr/bin/env bash
# ludeng-backup: an online, consistent backup of the ludeng database and files.
#
#   SQLite (LUDENG_DATABASE_URL empty): `VACUUM INTO` through the sqlite3 CLI,
#     one read transaction, so the copy is consistent while the service keeps
#     writing (the database runs in WAL mode; copying ludeng.db with cp would
#     miss what is still in ludeng.db-wal).
#   PostgreSQL: pg_dump --format=custom.
#   Files: everything else in LUDENG_DATA_DIR (blobs/, variants/, results/,
#     secret.key) with rsync --link-dest against the previous backup, so an
#     unchanged (content-addressed) blob costs a hard link, not a copy.
#
# The database is copied first, then the files: every blob the database copy
# references was written before it, so it is in the file copy too.
#
# Each run writes LUDENG_BACKUP_DIR/<UTC timestamp>/ (database, files/,
# MANIFEST), points LUDENG_BACKUP_DIR/latest at it, keeps the newest
# LUDENG_BACKUP_KEEP runs, optionally mirrors everything to
# LUDENG_BACKUP_REMOTE, and writes ludeng_backup.prom (node_exporter textfile
# format) for the LudengBackupTooOld / LudengBackupFailed alerts.
#
# Environment (the systemd unit reads /etc/ludeng/ludeng.env):
#   LUDENG_DATA_DIR             data directory            (default /var/lib/ludeng)
#   LUDENG_DATABASE_URL         empty = SQLite in the data dir, else postgres://…
#   LUDENG_BACKUP_DATABASE_URL  URL for pg_dump if it must differ (default: the
#                               one above minus pgx-only pool_* parameters);
#                               the password comes from PGPASSFILE / ~/.pgpass
#   LUDENG_BACKUP_DIR           where backups go          (default /var/backups/ludeng)
#   LUDENG_BACKUP_KEEP          runs to keep              (default 28 = 7 days every 6 h)
#   LUDENG_BACKUP_TEXTFILE_DIR  node_exporter textfile dir (default
#                               /var/lib/prometheus/node-exporter; empty = none)
#   LUDENG_BACKUP_REMOTE        optional rsync destination (host:/path/ or a mount)
#   LUDENG_BIN                  ludeng binary, for the version in MANIFEST
#   CREDENTIALS_DIRECTORY       set by systemd's LoadCredential= (the backup unit
#                               loads secret-key and ludeng.env): copied to config/
#   LUDENG_BACKUP_CONFIG_FILES  further files for config/ (space-separated paths)
#
# MANIFEST (format 2) also records the row count of every table in the
# database copy (rows.<table>=N), which ludeng-backup-verify and the restore
# compare against.
#
# Exit status: 0 on success; non-zero with a message on stderr otherwise (the
# textfile then says ludeng_backup_last_status 0 and keeps the previous
# success time).
set -euo pipefail
umask 077

DATA_DIR=${LUDENG_DATA_DIR:-/var/lib/ludeng}
DB_URL=${LUDENG_DATABASE_URL:-}
DEST=${LUDENG_BACKUP_DIR:-/var/backups/ludeng}
KEEP=${LUDENG_BACKUP_KEEP:-28}
TEXTFILE_DIR=${LUDENG_BACKUP_TEXTFILE_DIR-/var/lib/prometheus/node-exporter}
REMOTE=${LUDENG_BACKUP_REMOTE:-}
LUDENG_BIN=${LUDENG_BIN:-$(command -v ludeng || echo /usr/local/bin/ludeng)}

case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "ludeng-backup: no arguments expected (configure with LUDENG_* variables; --help)" >&2; exit 2 ;;
esac

die() { echo "ludeng-backup: $*" >&2; exit 1; }
log() { echo "ludeng-backup: $*"; }

if [ -z "$DB_URL" ]; then ENGINE=sqlite; else ENGINE=postgres; fi
START=$(date +%s)
OK=0
WORK=""

# --- metrics -------------------------------------------------------------
write_metrics() {
  [ -n "$TEXTFILE_DIR" ] || return 0
  local status=$1 now last_success="" db_bytes=${2:-} files_bytes=${3:-}
  local prom="$TEXTFILE_DIR/ludeng_backup.prom"
  now=$(date +%s)
  if [ "$status" = 1 ]; then
    last_success=$now
  elif [ -f "$prom" ]; then
    last_success=$(awk '/^ludeng_backup_last_success_timestamp_seconds[{ ]/ {print $NF}' "$prom" | tail -1)
  fi
  mkdir -p "$TEXTFILE_DIR"
  local tmp
  tmp=$(mktemp "$TEXTFILE_DIR/.ludeng_backup.prom.XXXXXX")
  {
    echo "# HELP ludeng_backup_last_run_timestamp_seconds Unix time the last ludeng backup run ended."
    echo "# TYPE ludeng_backup_last_run_timestamp_seconds gauge"
    echo "ludeng_backup_last_run_timestamp_seconds{engine=\"$ENGINE\"} $now"
    echo "# HELP ludeng_backup_last_status 1 if the last ludeng backup run succeeded, 0 if it failed."
    echo "# TYPE ludeng_backup_last_status gauge"
    echo "ludeng_backup_last_status{engine=\"$ENGINE\"} $status"
    echo "# HELP ludeng_backup_duration_seconds Duration of the last ludeng backup run."
    echo "# TYPE ludeng_backup_duration_seconds gauge"
    echo "ludeng_backup_duration_seconds{engine=\"$ENGINE\"} $(( now - START ))"
    if [ -n "$last_success" ]; then
      echo "# HELP ludeng_backup_last_success_timestamp_seconds Unix time of the last successful ludeng backup."
      echo "# TYPE ludeng_backup_last_success_timestamp_seconds gauge"
      echo "ludeng_backup_last_success_timestamp_seconds{engine=\"$ENGINE\"} $last_success"
    fi
    if [ -n "$db_bytes" ]; then
      echo "# HELP ludeng_backup_size_bytes Size of the last successful ludeng backup, by part."
      echo "# TYPE ludeng_backup_size_bytes gauge"
      echo "ludeng_backup_size_bytes{engine=\"$ENGINE\",part=\"database\"} $db_bytes"
      echo "ludeng_backup_size_bytes{engine=\"$ENGINE\",part=\"files\"} $files_bytes"
    fi
  } > "$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$prom"
}

on_exit() {
  local rc=$?
  if [ "$OK" != 1 ]; then
    [ -n "$WORK" ] && rm -rf "$WORK"
    write_metrics 0 || echo "ludeng-backup: could not write the metrics file" >&2
    echo "ludeng-backup: FAILED (exit $rc)" >&2
    [ "$rc" = 0 ] && rc=1
  fi
  exit "$rc"
}
trap on_exit EXIT

# --- checks --------------------------------------------------------------
[ -d "$DATA_DIR" ] || die "data directory $DATA_DIR does not exist (LUDENG_DATA_DIR)"
case "$KEEP" in ''|*[!0-9]*|0) die "LUDENG_BACKUP_KEEP must be a positive integer, got '$KEEP'" ;; esac
command -v rsync >/dev/null || die "rsync is not installed"
if [ "$ENGINE" = sqlite ]; then
  command -v sqlite3 >/dev/null || die "the sqlite3 CLI is not installed (apt-get install sqlite3)"
  [ -f "$DATA_DIR/ludeng.db" ] || die "no SQLite database at $DATA_DIR/ludeng.db"
else
  command -v pg_dump >/dev/null || die "pg_dump is not installed (apt-get install postgresql-client)"
  PG_URL=${LUDENG_BACKUP_DATABASE_URL:-$DB_URL}
  # pgx-only parameters (pool_max_conns…) are unknown to libpq.
  PG_URL=$(printf '%s' "$PG_URL" | sed -E 's/([?&])pool_[a-z_]+=[^&]*/\1/g; s/&&+/\&/g; s/[?&]$//; s/\?&/?/')
fi

mkdir -p "$DEST"
chmod 0700 "$DEST"
exec 9>"$DEST/.lock"
flock -n 9 || die "another backup is running (lock $DEST/.lock)"

TS=$(date -u +%Y%m%dT%H%M%S.%3NZ)
WORK="$DEST/.partial-$TS"
mkdir "$WORK"

# --- 1. database ---------------------------------------------------------
if [ "$ENGINE" = sqlite ]; then
  DB_FILE=ludeng.db
  out=${WORK//\'/\'\'}/ludeng.db
  sqlite3 -bail "$DATA_DIR/ludeng.db" ".timeout 30000" "VACUUM INTO '$out'" \
    || die "VACUUM INTO failed for $DATA_DIR/ludeng.db"
  check=$(sqlite3 "$WORK/ludeng.db" "PRAGMA integrity_check;")
  [ "$check" = ok ] || die "integrity check of the copy failed: $check"
else
  DB_FILE=ludeng.pgdump
  pg_dump --format=custom --compress=6 --file="$WORK/ludeng.pgdump" --dbname="$PG_URL" \
    || die "pg_dump failed"
  pg_restore --list "$WORK/ludeng.pgdump" >/dev/null || die "the dump is unreadable (pg_restore --list)"
fi
DB_BYTES=$(stat -c %s "$WORK/$DB_FILE")
log "database ($ENGINE) copied: $DB_BYTES bytes"

# --- 2. files ------------------------------------------------------------
link=()
if [ -d "$DEST/latest/files" ]; then
  link=(--link-dest="$(cd "$DEST/latest/files" && pwd -P)")
fi
set +e
rsync -a --delete "${link[@]}" \
  --exclude='/ludeng.db' --exclude='/ludeng.db-*' --exclude='/tmp/' --exclude='/.readyz-*' \
  --exclude='/pre-restore-*/' --exclude='/initial-admin-password' \
  "$DATA_DIR/" "$WORK/files/"
rc=$?
set -e
# 24: some source files vanished during the copy (temp files, blobs removed
# by cleanup): the database copy no longer references them.
if [ "$rc" != 0 ] && [ "$rc" != 24 ]; then die "rsync of $DATA_DIR failed (exit $rc)"; fi
read -r FILES_COUNT FILES_BYTES < <(find "$WORK/files" -type f -printf '%s\n' | awk '{n++; b+=$1} END {print n+0, b+0}')
log "files copied: $FILES_COUNT files, $FILES_BYTES bytes"

# --- 2b. configuration and secrets -------------------------------------------
# The secret key signs links and sessions: a restore without it logs everyone
# out and breaks every signed link. Under systemd it is a credential outside
# the data directory, so it is copied from CREDENTIALS_DIRECTORY.
CONFIG_COUNT=0
if [ -n "${CREDENTIALS_DIRECTORY:-}" ] && [ -d "$CREDENTIALS_DIRECTORY" ]; then
  mkdir -p "$WORK/config"
  for f in "$CREDENTIALS_DIRECTORY"/*; do
    [ -f "$f" ] || continue
    cp -L "$f" "$WORK/config/$(basename "$f")"
    CONFIG_COUNT=$((CONFIG_COUNT + 1))
  done
fi
for f in ${LUDENG_BACKUP_CONFIG_FILES:-}; do
  [ -f "$f" ] || die "LUDENG_BACKUP_CONFIG_FILES: $f does not exist"
  mkdir -p "$WORK/config"
  cp -L "$f" "$WORK/config/$(basename "$f")"
  CONFIG_COUNT=$((CONFIG_COUNT + 1))
done
if [ -s "$WORK/files/secret.key" ]; then SECRET_KEY=data-dir
elif [ -s "$WORK/config/secret-key" ]; then SECRET_KEY=credential
else
  SECRET_KEY=missing
  log "WARNING: no secret key in this backup (no secret.key in the data dir, no secret-key credential): back it up separately"
fi

# --- 2c. row counts of the copy --------------------------------------------------
if [ "$ENGINE" = sqlite ]; then
  sqlite3 "$WORK/ludeng.db" "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name" |
    while IFS= read -r t; do echo "rows.$t=$(sqlite3 "$WORK/ludeng.db" "SELECT count(*) FROM \"$t\"")"; done > "$WORK/.rows"
else
  pg_restore --data-only --file=- "$WORK/ludeng.pgdump" |
    awk '/^COPY [^ ]+ (\(.*\) )?FROM stdin;$/ {t = $2; n = 0; inb = 1; next}
         inb && $0 == "\\." {print "rows." t "=" n; inb = 0; next}
         inb {n++}' > "$WORK/.rows" || die "counting rows in the dump failed"
fi

# --- 3. manifest ---------------------------------------------------------
version=unknown
if [ -x "$LUDENG_BIN" ]; then version=$("$LUDENG_BIN" version 2>/dev/null | head -1 || echo unknown); fi
{
  echo "format=2"
  echo "created_at=$TS"
  echo "engine=$ENGINE"
  echo "database_file=$DB_FILE"
  echo "database_sha256=$(sha256sum "$WORK/$DB_FILE" | cut -d' ' -f1)"
  echo "database_bytes=$DB_BYTES"
  echo "files_count=$FILES_COUNT"
  echo "files_bytes=$FILES_BYTES"
  echo "ludeng_version=$version"
  echo "host=$(hostname)"
  echo "data_dir=$DATA_DIR"
  echo "secret_key=$SECRET_KEY"
  echo "config_files=$CONFIG_COUNT"
  cat "$WORK/.rows"
} > "$WORK/MANIFEST"
rm -f "$WORK/.rows"

# --- 4. publish atomically -----------------------------------------------
mv "$WORK" "$DEST/$TS"
WORK=""
ln -sfn "$TS" "$DEST/.latest.tmp"
mv -T "$DEST/.latest.tmp" "$DEST/latest"
log "backup written: $DEST/$TS"

# --- 5. retention ----------------------------------------------------------
mapfile -t runs < <(find "$DEST" -mindepth 1 -maxdepth 1 -type d -name '2*Z' -printf '%f\n' | sort)
excess=$(( ${#runs[@]} - KEEP ))
for (( i = 0; i < excess; i++ )); do
  [ "${runs[$i]}" = "$TS" ] && continue
  rm -rf "${DEST:?}/${runs[$i]}"
  log "removed old backup ${runs[$i]}"
done

# --- 6. off-site copy --------------------------------------------------------
if [ -n "$REMOTE" ]; then
  # -H keeps the hard links between runs, so the mirror is as small as DEST.
  rsync -aH --delete --exclude='/.lock' --exclude='/.partial-*' "$DEST/" "$REMOTE" \
    || die "copy to LUDENG_BACKUP_REMOTE=$REMOTE failed"
  log "mirrored to $REMOTE"
fi

OK=1
write_metrics 1 "$DB_BYTES" "$FILES_BYTES"
log "done in $(( $(date +%s) - START ))s"
