#!/usr/bin/env bash
# ludeng-backup-verify: prove that a backup written by ludeng-backup restores
# everything, without restoring it.
#
#   ludeng-backup-verify.sh [BACKUP]             check a backup (default: latest)
#   ludeng-backup-verify.sh --restored BACKUP    check the live data directory and
#                                                database against BACKUP (after a restore)
#
# Checks:
#   - MANIFEST complete, database copy matches its sha256, SQLite integrity_check
#     or pg_restore --list;
#   - row counts per table, recounted from the database copy (SQLite: the copy;
#     PostgreSQL: the COPY blocks of the dump), equal the counts ludeng-backup
#     wrote into MANIFEST when it took the backup; with --restored, counted in
#     the live database instead;
#   - every content-addressed blob (blobs/sha256/ab/cd/<sha256>) is re-hashed
#     and must hash to its own name;
#   - every upload the database references has its blob, and every generated
#     result (images.result_key) is present with the byte size the database
#     recorded;
#   - the secret key (signed links, sessions) is in the backup: data-dir
#     secret.key, or config/secret-key taken from the service's credentials;
#     with LUDENG_VERIFY_SECRET_KEY=warn a missing key is only reported.
#
# Without --restored it writes ludeng_backup_verify.prom to the node_exporter
# textfile directory (LudengBackupVerifyFailed / LudengBackupVerifyTooOld).
# Exit status 0 when every check passes; 1 with the failures on stderr.
#
# Environment: LUDENG_BACKUP_DIR, LUDENG_BACKUP_TEXTFILE_DIR (as ludeng-backup;
# empty = no metrics), LUDENG_DATA_DIR, LUDENG_DATABASE_URL and
# LUDENG_BACKUP_DATABASE_URL (for --restored), LUDENG_VERIFY_SECRET_KEY
# (fail | warn, default fail), LUDENG_VERIFY_JOBS (parallel sha256sum, default 2).
set -euo pipefail
umask 077
export LC_ALL=C

DEST=${LUDENG_BACKUP_DIR:-/var/backups/ludeng}
TEXTFILE_DIR=${LUDENG_BACKUP_TEXTFILE_DIR-/var/lib/prometheus/node-exporter}
SECRET_MODE=${LUDENG_VERIFY_SECRET_KEY:-fail}
JOBS=${LUDENG_VERIFY_JOBS:-2}

restored=0
src=""
for a in "$@"; do
  case "$a" in
    --restored) restored=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "ludeng-backup-verify: unknown option $a (--restored, --help)" >&2; exit 2 ;;
    *) [ -z "$src" ] || { echo "ludeng-backup-verify: one backup at a time" >&2; exit 2; }; src=$a ;;
  esac
done
src=${src:-latest}
[ "$restored" = 1 ] && TEXTFILE_DIR=""

log() { echo "ludeng-backup-verify: $*"; }
PROBLEMS=0
problem() { echo "ludeng-backup-verify: FAIL $*" >&2; PROBLEMS=$((PROBLEMS + 1)); }
START=$(date +%s)
BLOBS=0 BAD_BLOBS=0 RESULTS=0 BAD_RESULTS=0 TABLES=0
W=$(mktemp -d "${TMPDIR:-/tmp}/ludeng-verify.XXXXXX")

write_metrics() {
  [ -n "$TEXTFILE_DIR" ] || return 0
  local status=$1 now last_success="" prom="$TEXTFILE_DIR/ludeng_backup_verify.prom" tmp
  now=$(date +%s)
  if [ "$status" = 1 ]; then last_success=$now
  elif [ -f "$prom" ]; then last_success=$(awk '/^ludeng_backup_verify_last_success_timestamp_seconds / {print $NF}' "$prom"); fi
  mkdir -p "$TEXTFILE_DIR"
  tmp=$(mktemp "$TEXTFILE_DIR/.ludeng_backup_verify.prom.XXXXXX")
  {
    echo "# HELP ludeng_backup_verify_last_status 1 if the last verification of the newest backup passed, 0 if not."
    echo "# TYPE ludeng_backup_verify_last_status gauge"
    echo "ludeng_backup_verify_last_status $status"
    echo "# HELP ludeng_backup_verify_last_run_timestamp_seconds Unix time the last backup verification ended."
    echo "# TYPE ludeng_backup_verify_last_run_timestamp_seconds gauge"
    echo "ludeng_backup_verify_last_run_timestamp_seconds $now"
    if [ -n "$last_success" ]; then
      echo "# HELP ludeng_backup_verify_last_success_timestamp_seconds Unix time of the last passed backup verification."
      echo "# TYPE ludeng_backup_verify_last_success_timestamp_seconds gauge"
      echo "ludeng_backup_verify_last_success_timestamp_seconds $last_success"
    fi
    echo "# HELP ludeng_backup_verify_blobs_checked Content-addressed blobs re-hashed by the last verification."
    echo "# TYPE ludeng_backup_verify_blobs_checked gauge"
    echo "ludeng_backup_verify_blobs_checked $BLOBS"
    echo "# HELP ludeng_backup_verify_results_checked Generated results checked by the last verification."
    echo "# TYPE ludeng_backup_verify_results_checked gauge"
    echo "ludeng_backup_verify_results_checked $RESULTS"
    echo "# HELP ludeng_backup_verify_corrupt_blobs Blobs or results that were corrupt or missing in the last verification."
    echo "# TYPE ludeng_backup_verify_corrupt_blobs gauge"
    echo "ludeng_backup_verify_corrupt_blobs $(( BAD_BLOBS + BAD_RESULTS ))"
    echo "# HELP ludeng_backup_verify_duration_seconds Duration of the last backup verification."
    echo "# TYPE ludeng_backup_verify_duration_seconds gauge"
    echo "ludeng_backup_verify_duration_seconds $(( now - START ))"
  } > "$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$prom"
}
on_exit() {
  local rc=$?
  rm -rf "$W"
  if [ "$rc" = 0 ] && [ "$PROBLEMS" = 0 ]; then
    write_metrics 1 || true
    log "OK ($BLOBS blobs re-hashed, $RESULTS results, $TABLES tables) in $(( $(date +%s) - START ))s"
    exit 0
  fi
  write_metrics 0 || echo "ludeng-backup-verify: could not write the metrics file" >&2
  echo "ludeng-backup-verify: FAILED ($PROBLEMS problem(s); exit $rc)" >&2
  exit 1
}
trap on_exit EXIT
die() { problem "$*"; exit 1; }

if [ -d "$src" ]; then BK=$(cd "$src" && pwd -P); else BK=$(cd "$DEST/$src" 2>/dev/null && pwd -P) || die "no backup $src (looked in $DEST)"; fi
[ -f "$BK/MANIFEST" ] || die "$BK has no MANIFEST: not a complete ludeng backup"
manifest() { sed -n "s/^$1=//p" "$BK/MANIFEST" | head -1; }
engine=$(manifest engine); db_file=$(manifest database_file); want_sum=$(manifest database_sha256)
[ -n "$engine" ] && [ -n "$db_file" ] && [ -n "$want_sum" ] || die "$BK/MANIFEST is incomplete"
[ -f "$BK/$db_file" ] || die "$BK/$db_file is missing"
[ -d "$BK/files" ] || die "$BK/files is missing"
log "verifying $BK ($engine, created $(manifest created_at))$([ "$restored" = 1 ] && echo " against the restored data")"

# --- database copy -----------------------------------------------------------
have_sum=$(sha256sum "$BK/$db_file" | cut -d' ' -f1)
[ "$have_sum" = "$want_sum" ] || die "checksum mismatch for $db_file: MANIFEST $want_sum, file $have_sum"
if [ "$engine" = sqlite ]; then
  command -v sqlite3 >/dev/null || die "the sqlite3 CLI is not installed"
  check=$(sqlite3 "$BK/$db_file" "PRAGMA integrity_check;")
  [ "$check" = ok ] || die "integrity check of $db_file failed: $check"
else
  command -v pg_restore >/dev/null || die "pg_restore is not installed"
  pg_restore --list "$BK/$db_file" > /dev/null || die "pg_restore cannot read $db_file"
  pg_restore --data-only --file="$W/data.sql" "$BK/$db_file" || die "pg_restore cannot extract the data of $db_file"
fi
log "database copy: sha256 matches MANIFEST, $([ "$engine" = sqlite ] && echo "integrity_check ok" || echo "dump readable")"

# sqlite_counts DB / dump_counts SQL → "table=count" lines, sorted
sqlite_counts() {
  local t
  sqlite3 "$1" "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name" |
    while IFS= read -r t; do echo "$t=$(sqlite3 "$1" "SELECT count(*) FROM \"$t\"")"; done | sort
}
dump_counts() {
  awk '/^COPY [^ ]+ (\(.*\) )?FROM stdin;$/ {t = $2; n = 0; inb = 1; next}
       inb && $0 == "\\." {print t "=" n; inb = 0; next}
       inb {n++}' "$1" | sort
}
# dump_column SQL TABLE COLUMN → that column's values from the dump's COPY block
dump_column() {
  awk -v tbl="$2" -v col="$3" -F'\t' '
    $0 ~ "^COPY " {
      inb = 0
      if ($0 !~ "^COPY [^ ]*\\.?" tbl " \\(") next
      if (split($0, w, " ") && w[2] != tbl && w[2] !~ "\\." tbl "$") next
      h = $0; sub(/^[^(]*\(/, "", h); sub(/\) FROM stdin;$/, "", h)
      n = split(h, cols, ", "); idx = 0
      for (i = 1; i <= n; i++) if (cols[i] == col) idx = i
      inb = idx > 0; next
    }
    inb && $0 == "\\." {inb = 0; next}
    inb {print $idx}' "$1"
}
pg_url() { printf '%s' "${LUDENG_BACKUP_DATABASE_URL:-${LUDENG_DATABASE_URL:-}}" | sed -E 's/([?&])pool_[a-z_]+=[^&]*/\1/g; s/&&+/\&/g; s/[?&]$//; s/\?&/?/'; }

# --- row counts ----------------------------------------------------------------
sed -n 's/^rows\.//p' "$BK/MANIFEST" | sort > "$W/want-rows"
if [ "$restored" = 1 ]; then
  if [ "$engine" = sqlite ]; then
    sqlite_counts "${LUDENG_DATA_DIR:-/var/lib/ludeng}/ludeng.db" > "$W/have-rows"
  else
    url=$(pg_url)
    q=$(sed 's/=.*//' "$W/want-rows" | awk '{printf "%sSELECT '"'"'%s='"'"' || count(*) FROM %s", (NR > 1 ? " UNION ALL " : ""), $0, $0}')
    if [ -n "$q" ]; then psql -X -v ON_ERROR_STOP=1 -tA -d "$url" -c "$q" | sort > "$W/have-rows" || die "cannot count rows in the restored database"; else : > "$W/have-rows"; fi
  fi
elif [ "$engine" = sqlite ]; then
  sqlite_counts "$BK/$db_file" > "$W/have-rows"
else
  dump_counts "$W/data.sql" > "$W/have-rows"
fi
TABLES=$(wc -l < "$W/want-rows")
if [ "$TABLES" = 0 ]; then
  log "MANIFEST has no row counts (a backup from before format 2): row counts not compared"
else
  sort -t= -k1,1 -o "$W/want-rows" "$W/want-rows"; sort -t= -k1,1 -o "$W/have-rows" "$W/have-rows"
  join -t= -a1 -e missing -o 0,1.2,2.2 "$W/want-rows" "$W/have-rows" | awk -F= '$2 != $3 {print $1 ": MANIFEST " $2 ", found " $3}' > "$W/rows.diff"
fi
if [ "$TABLES" != 0 ] && [ -s "$W/rows.diff" ]; then
  problem "row counts differ from MANIFEST in the $([ "$restored" = 1 ] && echo "restored database" || echo "database copy"):"
  sed 's/^/    /' "$W/rows.diff" >&2
elif [ "$TABLES" != 0 ]; then
  log "row counts: $TABLES tables equal to MANIFEST ($(awk -F= '{s += $2} END {print s + 0}' "$W/want-rows") rows)"
fi

# --- blobs ---------------------------------------------------------------------
if [ "$restored" = 1 ]; then ROOT_DIR=${LUDENG_DATA_DIR:-/var/lib/ludeng}; else ROOT_DIR="$BK/files"; fi
if [ -d "$ROOT_DIR/blobs/sha256" ]; then
  (cd "$ROOT_DIR" && find blobs/sha256 -type f -print0 | xargs -0 -r -P "$JOBS" -n 256 sha256sum) > "$W/sums"
else
  : > "$W/sums"
fi
BLOBS=$(wc -l < "$W/sums")
# A blob's key is blobs/sha256/<h[0:2]>/<h[2:4]>/<h>: its bytes must hash to h.
awk '{ h = $1; p = $2; sub(/^\*/, "", p); n = split(p, s, "/");
       if (s[n] != h || s[n-1] != substr(h, 3, 2) || s[n-2] != substr(h, 1, 2)) print p " hashes to " h }' "$W/sums" > "$W/bad-blobs"
if [ -s "$W/bad-blobs" ]; then
  BAD_BLOBS=$(wc -l < "$W/bad-blobs")
  problem "$BAD_BLOBS blob(s) do not match their content address:"
  sed 's/^/    /' "$W/bad-blobs" | head -20 >&2
fi

# uploads the database references must have their blob; results must exist
# with the recorded size.
if [ "$engine" = sqlite ]; then
  DBQ="$BK/$db_file"; [ "$restored" = 1 ] && DBQ="$ROOT_DIR/ludeng.db"
  sqlite3 "$DBQ" "SELECT DISTINCT sha256 FROM uploads" > "$W/ref-uploads" 2>/dev/null || : > "$W/ref-uploads"
  sqlite3 -separator ' ' "$DBQ" "SELECT result_key, bytes FROM images WHERE result_key != ''" > "$W/ref-results" 2>/dev/null || : > "$W/ref-results"
else
  dump_column "$W/data.sql" uploads sha256 | sort -u > "$W/ref-uploads"
  paste -d' ' <(dump_column "$W/data.sql" images result_key) <(dump_column "$W/data.sql" images bytes) | awk '$1 != "" && $1 != "\\N"' > "$W/ref-results"
fi
missing_up=0
while IFS= read -r h; do
  [ -n "$h" ] || continue
  f="$ROOT_DIR/blobs/sha256/${h:0:2}/${h:2:2}/$h"
  if [ ! -f "$f" ]; then missing_up=$((missing_up + 1)); echo "    upload blob $h missing" >&2; fi
done < "$W/ref-uploads"
if [ "$missing_up" -gt 0 ]; then BAD_BLOBS=$((BAD_BLOBS + missing_up)); problem "$missing_up uploaded blob(s) referenced by the database are missing"; fi
while read -r key size; do
  RESULTS=$((RESULTS + 1))
  f="$ROOT_DIR/$key"
  if [ ! -f "$f" ]; then BAD_RESULTS=$((BAD_RESULTS + 1)); echo "    result $key missing" >&2
  elif [ "$(stat -c %s "$f")" != "$size" ]; then BAD_RESULTS=$((BAD_RESULTS + 1)); echo "    result $key has $(stat -c %s "$f") bytes, the database says $size" >&2; fi
done < "$W/ref-results"
[ "$BAD_RESULTS" = 0 ] || problem "$BAD_RESULTS generated result(s) missing or with the wrong size"
log "blobs: $BLOBS re-hashed, $((BLOBS - $(wc -l < "$W/bad-blobs"))) match their address; $(wc -l < "$W/ref-uploads") referenced uploads, $missing_up missing; $RESULTS generated results, $BAD_RESULTS missing or wrong size"

# --- secret key and configuration ---------------------------------------------------
if [ "$restored" = 0 ]; then
  if [ -s "$BK/files/secret.key" ]; then key_where="files/secret.key (data directory)"
  elif [ -s "$BK/config/secret-key" ]; then key_where="config/secret-key (service credential)"
  else key_where=""; fi
  if [ -n "$key_where" ]; then
    log "secret key: $key_where"
  elif [ "$SECRET_MODE" = warn ]; then
    log "WARNING: the backup holds no secret key (neither files/secret.key nor config/secret-key); restore it from its separate backup or signed links and sessions break"
  else
    problem "the backup holds no secret key (neither files/secret.key nor config/secret-key): signed links and sessions would not survive a restore (see docs/operations.md, Backup verification)"
  fi
  if [ -d "$BK/config" ]; then log "configuration: $(find "$BK/config" -type f | wc -l) file(s) in config/ ($(cd "$BK/config" && find . -type f -printf '%P ' ))"; fi
fi
exit 0
