#!/usr/bin/env bash
# ludeng-restore: put a backup written by ludeng-backup back in place.
#
#   ludeng-restore.sh --yes [BACKUP]
#
# BACKUP is a directory, or a run name under LUDENG_BACKUP_DIR; default
# "latest". Stop the service first (systemctl stop ludeng); the script refuses
# to run while systemd reports it active.
#
# SQLite: the current ludeng.db and its -wal/-shm files are moved to
#   LUDENG_DATA_DIR/pre-restore-<time>/ (a stale -wal next to a restored
#   database would corrupt it), then the backup copy is put in place.
# PostgreSQL: pg_restore --clean --if-exists into LUDENG_DATABASE_URL, in one
#   transaction (for a clean slate, dropdb/createdb first).
# Files: rsync --delete from the backup into LUDENG_DATA_DIR; files it would
#   overwrite or delete are moved to pre-restore-<time>/files/ instead.
#
# Before anything is touched, ludeng-backup-verify checks the backup (blobs
# re-hashed against their content address, row counts, results present); a
# backup that fails is not restored. After the restore it checks the
# restored data directory and database against the backup's MANIFEST.
#
# Afterwards start the service: `ludeng serve` applies any newer migrations
# (or run `ludeng migrate up` by hand first). Delete pre-restore-* once the
# restored service is verified.
#
# Environment: LUDENG_DATA_DIR, LUDENG_DATABASE_URL, LUDENG_BACKUP_DIR,
# LUDENG_BACKUP_DATABASE_URL (as for ludeng-backup), LUDENG_SERVICE_USER
# (default ludeng: owner of restored files when run as root),
# LUDENG_SERVICE_UNIT (default ludeng.service), LUDENG_VERIFY_BIN (default:
# ludeng-backup-verify beside this script).
set -euo pipefail
umask 027

DATA_DIR=${LUDENG_DATA_DIR:-/var/lib/ludeng}
DB_URL=${LUDENG_DATABASE_URL:-}
DEST=${LUDENG_BACKUP_DIR:-/var/backups/ludeng}
SERVICE_USER=${LUDENG_SERVICE_USER:-ludeng}
UNIT=${LUDENG_SERVICE_UNIT:-ludeng.service}

die() { echo "ludeng-restore: $*" >&2; exit 1; }
log() { echo "ludeng-restore: $*"; }

yes=0
src=""
for a in "$@"; do
  case "$a" in
    --yes) yes=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $a (--yes, --help)" ;;
    *) [ -z "$src" ] || die "one backup at a time"; src=$a ;;
  esac
done
src=${src:-latest}
[ "$yes" = 1 ] || die "this replaces the live database and files; run again with --yes"

if [ -d "$src" ]; then BK=$(cd "$src" && pwd -P); else BK=$(cd "$DEST/$src" 2>/dev/null && pwd -P) || die "no backup $src (looked in $DEST)"; fi
[ -f "$BK/MANIFEST" ] || die "$BK has no MANIFEST: not a complete ludeng backup"
manifest() { sed -n "s/^$1=//p" "$BK/MANIFEST" | head -1; }
engine=$(manifest engine)
db_file=$(manifest database_file)
want_sum=$(manifest database_sha256)
[ -n "$engine" ] && [ -n "$db_file" ] && [ -n "$want_sum" ] || die "$BK/MANIFEST is incomplete"
[ -f "$BK/$db_file" ] || die "$BK/$db_file is missing"
[ -d "$BK/files" ] || die "$BK/files is missing"

if [ -z "$DB_URL" ]; then target=sqlite; else target=postgres; fi
[ "$engine" = "$target" ] || die "backup is $engine but the configuration is $target (LUDENG_DATABASE_URL)"

have_sum=$(sha256sum "$BK/$db_file" | cut -d' ' -f1)
[ "$have_sum" = "$want_sum" ] || die "checksum mismatch for $BK/$db_file: MANIFEST $want_sum, file $have_sum"

here=$(cd "$(dirname "$0")" && pwd -P)
VERIFY=${LUDENG_VERIFY_BIN:-}
if [ -z "$VERIFY" ]; then
  for v in "$here/ludeng-backup-verify" "$here/ludeng-backup-verify.sh"; do [ -f "$v" ] && { VERIFY=$v; break; }; done
fi
[ -n "$VERIFY" ] && [ -f "$VERIFY" ] || die "ludeng-backup-verify not found beside $0 (LUDENG_VERIFY_BIN)"
# No metrics from here (they describe the scheduled check); a missing secret
# key is reported, not fatal: it may come from its own backup.
LUDENG_BACKUP_TEXTFILE_DIR="" LUDENG_VERIFY_SECRET_KEY=warn bash "$VERIFY" "$BK" \
  || die "the backup failed verification (above); nothing was changed"

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null && systemctl is-active --quiet "$UNIT"; then
  die "$UNIT is running; stop it first (systemctl stop $UNIT)"
fi

mkdir -p "$DATA_DIR"
TS=$(date -u +%Y%m%dT%H%M%SZ)
ASIDE="$DATA_DIR/pre-restore-$TS"
mkdir -p "$ASIDE"
log "restoring $BK ($engine, created $(manifest created_at)) into $DATA_DIR; previous state goes to $ASIDE"

# --- database ------------------------------------------------------------
if [ "$engine" = sqlite ]; then
  command -v sqlite3 >/dev/null || die "the sqlite3 CLI is not installed"
  check=$(sqlite3 "$BK/$db_file" "PRAGMA integrity_check;")
  [ "$check" = ok ] || die "integrity check of $BK/$db_file failed: $check"
  for f in ludeng.db ludeng.db-wal ludeng.db-shm ludeng.db-journal; do
    if [ -e "$DATA_DIR/$f" ]; then mv "$DATA_DIR/$f" "$ASIDE/$f"; fi
  done
  cp "$BK/$db_file" "$DATA_DIR/.ludeng.db.restoring"
  mv "$DATA_DIR/.ludeng.db.restoring" "$DATA_DIR/ludeng.db"
  log "database restored to $DATA_DIR/ludeng.db"
else
  command -v pg_restore >/dev/null || die "pg_restore is not installed (apt-get install postgresql-client)"
  PG_URL=${LUDENG_BACKUP_DATABASE_URL:-$DB_URL}
  PG_URL=$(printf '%s' "$PG_URL" | sed -E 's/([?&])pool_[a-z_]+=[^&]*/\1/g; s/&&+/\&/g; s/[?&]$//; s/\?&/?/')
  pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error \
    --dbname="$PG_URL" "$BK/$db_file" || die "pg_restore failed (nothing was changed: single transaction)"
  log "database restored into PostgreSQL"
fi

# --- files ---------------------------------------------------------------
rsync -a --delete --backup --backup-dir="$ASIDE/files" \
  --exclude='/ludeng.db' --exclude='/ludeng.db-*' --exclude='/.ludeng.db.*' --exclude='/tmp/' \
  --exclude='/.readyz-*' --exclude='/pre-restore-*/' --exclude='/initial-admin-password' \
  "$BK/files/" "$DATA_DIR/" || die "rsync of the files failed"
log "files restored ($(manifest files_count) files)"

LUDENG_BACKUP_TEXTFILE_DIR="" bash "$VERIFY" --restored "$BK" \
  || die "the restored data does not match the backup (above); the previous state is in $ASIDE"
if [ -d "$BK/config" ]; then
  log "the backup's config/ holds $(cd "$BK/config" && ls | tr '\n' ' ')— on a new host copy them to /etc/ludeng/ (ludeng.env) and /etc/ludeng/credentials/ (mode 0600)"
fi

if [ "$(id -u)" = 0 ] && id "$SERVICE_USER" >/dev/null 2>&1; then
  chown -R "$SERVICE_USER:$SERVICE_USER" "$DATA_DIR"
  chmod 0750 "$DATA_DIR"
fi
log "done. Start the service (it applies newer migrations), check /readyz, then remove $ASIDE"
