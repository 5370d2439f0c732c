#!/usr/bin/env bash
# ludeng-pitr-metrics: pgBackRest and WAL-archive state as node_exporter
# textfile metrics (ludeng_pitr.prom) for LudengPITRBackupTooOld and
# LudengWALArchivingFailing. Runs as postgres from ludeng-pitr-metrics.timer
# (every 10 min) and after each backup unit (ExecStopPost passes
# $SERVICE_RESULT, recorded as ludeng_pitr_last_backup_status).
#
#   install -m 0755 deploy/pgbackrest/ludeng-pitr-metrics.sh /usr/local/lib/ludeng/ludeng-pitr-metrics
#
# Environment: LUDENG_PITR_STANZA (ludeng), LUDENG_PITR_TEXTFILE_DIR
# (/var/lib/prometheus/node-exporter), PGBACKREST_CONFIG (pgBackRest's
# default), PGHOST/PGPORT for psql (the [ludeng] stanza's socket and port).
set -euo pipefail
STANZA=${LUDENG_PITR_STANZA:-ludeng}
DIR=${LUDENG_PITR_TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
RESULT=${1:-}
PGBR=(pgbackrest)
[ -n "${PGBACKREST_CONFIG:-}" ] && PGBR+=(--config="$PGBACKREST_CONFIG")

info=$("${PGBR[@]}" --stanza="$STANZA" --output=json info)
prom="$DIR/ludeng_pitr.prom"
tmp=$(mktemp "$DIR/.ludeng_pitr.prom.XXXXXX")
trap 'rm -f "$tmp"' EXIT
{
  echo "# HELP ludeng_pitr_repo_ok 1 if pgbackrest info reports the stanza ok (status code 0)."
  echo "# TYPE ludeng_pitr_repo_ok gauge"
  echo "ludeng_pitr_repo_ok{stanza=\"$STANZA\"} $(jq '[.[0].status.code == 0] | if .[0] then 1 else 0 end' <<<"$info")"
  echo "# HELP ludeng_pitr_last_backup_timestamp_seconds Unix time the newest pgBackRest backup of each type finished."
  echo "# TYPE ludeng_pitr_last_backup_timestamp_seconds gauge"
  jq -r --arg s "$STANZA" '.[0].backup // [] | group_by(.type)[] | max_by(.timestamp.stop)
    | "ludeng_pitr_last_backup_timestamp_seconds{stanza=\"\($s)\",type=\"\(.type)\"} \(.timestamp.stop)"' <<<"$info"
  echo "# HELP ludeng_pitr_backups Backups kept in the repository."
  echo "# TYPE ludeng_pitr_backups gauge"
  echo "ludeng_pitr_backups{stanza=\"$STANZA\"} $(jq '.[0].backup // [] | length' <<<"$info")"
  if [ -n "$RESULT" ]; then
    echo "# HELP ludeng_pitr_last_backup_status 1 if the last backup unit run succeeded, 0 if not."
    echo "# TYPE ludeng_pitr_last_backup_status gauge"
    echo "ludeng_pitr_last_backup_status{stanza=\"$STANZA\"} $([ "$RESULT" = success ] && echo 1 || echo 0)"
  elif [ -f "$prom" ]; then
    # Between backups keep the last unit result.
    grep -E '^(# (HELP|TYPE) )?ludeng_pitr_last_backup_status' "$prom" || true
  fi
  # pg_stat_archiver: when WAL was last archived and last failed to be.
  if arch=$(psql -X -d postgres -tAc "SELECT coalesce(extract(epoch FROM last_archived_time)::bigint, 0), coalesce(extract(epoch FROM last_failed_time)::bigint, 0) FROM pg_stat_archiver" 2>/dev/null); then
    IFS='|' read -r archived failed <<<"$arch"
    echo "# HELP ludeng_pitr_wal_last_archived_timestamp_seconds Unix time PostgreSQL last archived a WAL segment (0 = never)."
    echo "# TYPE ludeng_pitr_wal_last_archived_timestamp_seconds gauge"
    echo "ludeng_pitr_wal_last_archived_timestamp_seconds{stanza=\"$STANZA\"} $archived"
    echo "# HELP ludeng_pitr_wal_last_failed_timestamp_seconds Unix time archive_command last failed (0 = never)."
    echo "# TYPE ludeng_pitr_wal_last_failed_timestamp_seconds gauge"
    echo "ludeng_pitr_wal_last_failed_timestamp_seconds{stanza=\"$STANZA\"} $failed"
  fi
} > "$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$prom"
