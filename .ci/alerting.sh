#!/usr/bin/env bash
# Alerting checks with real parts (issue 14):
#   1. amtool check-config on deploy/alertmanager/alertmanager.yml (templates
#      included), amtool template render of every template, and
#      `amtool config routes test` for every route and for every alert in
#      ludeng-alerts.yml (its severity/component must reach the receiver the
#      routing table in docs/operations.md promises);
#   2. end to end: real Prometheus + real Alertmanager (Debian packages) +
#      the real ludeng binary + ludeng-chatbridge, with the production
#      configs rewritten only for ports, paths and shortened intervals.
#      Stop ludeng → LudengDown reaches a local SMTP sink (email), the
#      generic webhook (with its bearer token from a file), Slack and the
#      WeCom robot (through the bridge), each with the runbook link; start it
#      again → the resolved notifications arrive. Time to notification is
#      measured; inhibition (LudengDown silences the node's other alerts) is
#      checked on the running Alertmanager.
# Ports come from 21400–21499 (issue 14's range).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
case " ${GOFLAGS:-} " in *" -buildvcs="*) ;; *) export GOFLAGS="${GOFLAGS:-} -buildvcs=false" ;; esac
START=$(date +%s)

bash .ci/packages.sh prometheus prometheus-alertmanager curl jq

T=$(mktemp -d /tmp/ludeng-alerting.XXXXXX)
PIDS=()
cleanup() {
  local rc=$? p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$rc" != 0 ]; then
    echo "--- alerting.sh failed; last lines of the logs:" >&2
    for f in "$T"/*.log; do [ -f "$f" ] && { echo "== $f" >&2; tail -n 20 "$f" >&2; }; done
    ls -l "$T/sink" >&2 2>/dev/null || true
  fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
section() { echo "--- $* ($(( $(date +%s) - START ))s)"; }
USED_PORTS=" "
port() { # port VAR: a free port in 21400–21499 not handed out before in this run
  local p
  for _ in $(seq 1 200); do
    p=$(( 21400 + RANDOM % 100 ))
    case "$USED_PORTS" in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then USED_PORTS+="$p "; printf -v "$1" %s "$p"; return; fi
  done
  fail "no free port in 21400–21499"
}
wait_port() { # wait_port PORT WHAT PID
  for _ in $(seq 1 150); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || fail "$2 exited during start-up"
    sleep 0.1
  done
  fail "$2 does not listen on port $1 after 15 s"
}
now_ms() { date +%s%3N; }

AM_CONF=deploy/alertmanager/alertmanager.yml
TMPL_DIR="$ROOT/deploy/alertmanager/templates"

# --- 1. static checks ----------------------------------------------------------
section "amtool"
# The production file globs /etc/prometheus/alertmanager_templates/*.tmpl:
# check it with the repository's templates in that place, so they are parsed.
sed "s#/etc/prometheus/alertmanager_templates/#$TMPL_DIR/#" "$AM_CONF" > "$T/am-check.yml"
amtool check-config "$T/am-check.yml" > "$T/amcheck.out" 2>&1 || { cat "$T/amcheck.out" >&2; fail "amtool check-config $AM_CONF"; }
grep -q ' - 1 templates' "$T/amcheck.out" || { cat "$T/amcheck.out" >&2; fail "amtool check-config did not load the template glob"; }
ok "amtool check-config $AM_CONF ($(grep -oE '[0-9]+ receivers' "$T/amcheck.out"), $(grep -oE '[0-9]+ inhibit rules' "$T/amcheck.out"), templates parsed)"
for t in ludeng.subject ludeng.runbook ludeng.email.text ludeng.email.html ludeng.chat.text; do
  amtool template render --template.glob="$TMPL_DIR/*.tmpl" --template.text="{{ template \"$t\" . }}" > "$T/render.out" 2>&1 \
    || { cat "$T/render.out" >&2; fail "amtool template render $t"; }
done
ok "amtool template render: all 5 templates execute on amtool's example data"

# routes: LABELS → expected receivers (in routing-tree order)
route_case() { # route_case WANT LABEL...
  local want=$1; shift
  amtool config routes test --config.file="$T/am-check.yml" --verify.receivers="$want" "$@" > "$T/route.out" 2>&1 \
    || { cat "$T/route.out" >&2; fail "route for {$*}: got '$(head -1 "$T/route.out")', want $want"; }
}
n=0
while read -r want labels; do
  [ -z "$want" ] || [[ $want == \#* ]] && continue
  # shellcheck disable=SC2086
  route_case "$want" $labels
  n=$((n + 1))
done <<'CASES'
escalation        alertname=LudengEscalation severity=critical component=escalation escalated=LudengDown node=app1
oncall            alertname=LudengDown severity=critical component=app node=app1
oncall            alertname=LudengPostgresDown severity=critical component=database node=db1
oncall            alertname=LudengSpendBudgetNearlyExhausted severity=critical component=provider
provider          alertname=LudengProviderErrors severity=warning component=provider provider=gemini
ops-chat,ops      alertname=LudengDiskSpaceLow severity=warning component=host node=app1
ops-chat,ops      alertname=LudengPostgresConnectionsHigh severity=warning component=database
ops-chat,ops      alertname=LudengBackupFailed severity=warning component=backup
ops-chat,ops      alertname=LudengExporterDown severity=warning component=monitoring
team-chat,team    alertname=LudengQueueSlow severity=warning component=pipeline
team-chat,team    alertname=LudengHighLatency severity=warning component=app
team              alertname=SomethingNew severity=info
CASES
ok "amtool config routes test: $n cases, one per route and sub-route (escalation, oncall, provider, ops, ops-chat, team, team-chat, default)"

# every alert rule reaches the receivers its severity and component promise
alerts=0
while IFS='|' read -r name sev comp; do
  case "$sev/$comp" in
    critical/escalation) want=escalation ;;
    critical/*) want=oncall ;;
    */provider) want=provider ;;
    */host|*/database|*/backup|*/monitoring) want=ops-chat,ops ;;
    warning/*) want=team-chat,team ;;
    *) fail "alert $name: unexpected severity/component $sev/$comp" ;;
  esac
  extra=()
  [ "$name" = LudengEscalation ] && extra=(escalated=LudengDown)
  route_case "$want" alertname="$name" severity="$sev" component="$comp" node=app1 "${extra[@]}"
  alerts=$((alerts + 1))
done < <(awk '/- alert:/ {a=$3} /severity:/ && a {s=$2} /component:/ && a {print a "|" s "|" $2; a=""}' deploy/prometheus/ludeng-alerts.yml)
rules=$(grep -c -- '- alert:' deploy/prometheus/ludeng-alerts.yml)
[ "$alerts" = "$rules" ] || fail "routed $alerts alerts but ludeng-alerts.yml has $rules (an alert without severity/component labels?)"
ok "every alert of ludeng-alerts.yml ($alerts) routes to the receiver of its severity/component"

# --- 2. end to end ----------------------------------------------------------
section "build"
mkdir -p "$T"/{bin,sink,secrets,data,cred,prom,am}
go build -o "$T/bin/ludeng" ./cmd/ludeng
go build -o "$T/bin/ludeng-chatbridge" ./cmd/ludeng-chatbridge
(cd .ci/alertsink && go build -o "$T/bin/alertsink" .)
ok "built ludeng, ludeng-chatbridge, alertsink"

section "start the stack"
for v in APP_PORT PROM_PORT AM_PORT SMTP_PORT SINK_PORT BRIDGE_PORT; do port "$v"; done
"$T/bin/alertsink" -smtp "127.0.0.1:$SMTP_PORT" -http "127.0.0.1:$SINK_PORT" -dir "$T/sink" > "$T/sink.log" 2>&1 &
PIDS+=($!); SINK_PID=$!
wait_port "$SINK_PORT" alertsink "$SINK_PID"

# Secrets as in production, one per file; the URLs point at the sink.
SINK="http://127.0.0.1:$SINK_PORT"
echo "unused-smtp-password" > "$T/secrets/smtp-password"
WEBHOOK_TOKEN="whk-$RANDOM$RANDOM"
echo "$WEBHOOK_TOKEN" > "$T/secrets/webhook-token"
for f in slack-oncall slack-team discord-team; do echo "$SINK/$f" > "$T/secrets/$f-url"; done
for f in wecom-oncall wecom-ops; do echo "$SINK/wecom-robot/${f#wecom-}?key=robot-key" > "$T/secrets/$f.url"; done
echo "$SINK/feishu-robot/providers" > "$T/secrets/feishu-providers.url"

"$T/bin/ludeng-chatbridge" -listen "127.0.0.1:$BRIDGE_PORT" -secrets "$T/secrets" > "$T/bridge.log" 2>&1 &
PIDS+=($!); wait_port "$BRIDGE_PORT" ludeng-chatbridge $!

# Alertmanager: the production file with paths, ports and intervals
# rewritten (group_wait 10s/30s → 1s, group_interval → 2s).
sed -e "s#/etc/prometheus/alertmanager-secrets/#$T/secrets/#g" \
    -e "s#/etc/prometheus/alertmanager_templates/#$TMPL_DIR/#" \
    -e "s#smtp_smarthost: .*#smtp_smarthost: \"127.0.0.1:$SMTP_PORT\"#" \
    -e "s#smtp_require_tls: true#smtp_require_tls: false#" \
    -e "s#https://hooks.example.com/alertmanager#$SINK/webhook#" \
    -e "s#http://127.0.0.1:9099/#http://127.0.0.1:$BRIDGE_PORT/#" \
    -e "s#group_wait: [0-9]*[sm]#group_wait: 1s#" \
    -e "s#group_interval: [0-9]*[sm]#group_interval: 2s#" \
    "$AM_CONF" > "$T/alertmanager.yml"
sed 's/#.*//' "$T/alertmanager.yml" | grep -qE 'example\.com/alertmanager|127\.0\.0\.1:9099|/etc/prometheus' && fail "test Alertmanager config still points at production endpoints"
amtool check-config "$T/alertmanager.yml" > /dev/null || fail "rewritten alertmanager.yml does not check"
prometheus-alertmanager --config.file="$T/alertmanager.yml" --storage.path="$T/am" \
  --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= \
  --web.external-url="http://127.0.0.1:$AM_PORT" > "$T/alertmanager.log" 2>&1 &
PIDS+=($!); wait_port "$AM_PORT" alertmanager $!

# The real ludeng serve on SQLite.
openssl rand -hex 32 > "$T/cred/secret-key"
echo "alerting-admin-$RANDOM" > "$T/cred/admin-password"
start_app() {
  LUDENG_DATA_DIR="$T/data" LUDENG_LISTEN="127.0.0.1:$APP_PORT" LUDENG_LOG_FORMAT=json LUDENG_MIN_FREE_DISK=64MiB \
    LUDENG_SECRET_KEY_FILE="$T/cred/secret-key" LUDENG_ADMIN_PASSWORD_FILE="$T/cred/admin-password" \
    "$T/bin/ludeng" serve >> "$T/app.log" 2>&1 &
  APP_PID=$!
  PIDS+=("$APP_PID")
  wait_port "$APP_PORT" "ludeng serve" "$APP_PID"
}
start_app

# Prometheus: the production rules with LudengDown's `for: 2m` cut to 5s,
# scraping ludeng every second; only the ludeng job (the exporters are not
# what this test is about).
FOR_TEST=5
awk -v f="${FOR_TEST}s" '/- alert:/ {inblk = ($3 == "LudengDown")} inblk && /^ +for:/ {sub(/for: .*/, "for: " f)} {print}' \
  deploy/prometheus/ludeng-alerts.yml > "$T/prom/ludeng-alerts.yml"
grep -A3 'alert: LudengDown$' "$T/prom/ludeng-alerts.yml" | grep -q "for: ${FOR_TEST}s" || fail "could not shorten LudengDown's for:"
cat > "$T/prom/prometheus.yml" <<PROM
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [ludeng-alerts.yml]
alerting:
  alertmanagers:
    - static_configs: [{targets: ["127.0.0.1:$AM_PORT"]}]
scrape_configs:
  - job_name: ludeng
    scrape_timeout: 900ms
    static_configs:
      - targets: ["127.0.0.1:$APP_PORT"]
        labels: {node: app1}
PROM
promtool check config "$T/prom/prometheus.yml" > /dev/null || fail "test prometheus.yml"
prometheus --config.file="$T/prom/prometheus.yml" --storage.tsdb.path="$T/prom/data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" > "$T/prometheus.log" 2>&1 &
PIDS+=($!); wait_port "$PROM_PORT" prometheus $!

PQ() { curl -sS --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1"; }
for _ in $(seq 1 100); do
  [ "$(PQ 'up{job="ludeng"}' | jq -r '.data.result[0].value[1] // empty' 2>/dev/null)" = 1 ] && break
  sleep 0.2
done
[ "$(PQ 'up{job="ludeng"}' | jq -r '.data.result[0].value[1] // empty')" = 1 ] || fail "Prometheus never scraped ludeng (up != 1)"
for _ in $(seq 1 50); do
  [ "$(curl -s "http://127.0.0.1:$PROM_PORT/api/v1/alertmanagers" | jq '.data.activeAlertmanagers | length')" -ge 1 ] && break
  sleep 0.2
done
ok "stack up: ludeng :$APP_PORT, Prometheus :$PROM_PORT (scrape/eval 1s), Alertmanager :$AM_PORT, SMTP sink :$SMTP_PORT, webhook sink :$SINK_PORT, chatbridge :$BRIDGE_PORT"

# find_msg KIND PATTERN... → first file in the sink of KIND containing all patterns
find_msg() {
  local kind=$1 f p; shift
  for f in "$T"/sink/*-"$kind".txt; do
    [ -f "$f" ] || continue
    for p in "$@"; do grep -qF -- "$p" "$f" || continue 2; done
    echo "$f"; return 0
  done
  return 1
}
wait_msg() { # wait_msg SECONDS KIND PATTERN...
  local secs=$1; shift
  for _ in $(seq 1 $(( secs * 5 ))); do find_msg "$@" && return 0; sleep 0.2; done
  return 1
}
received() { sed -n '1s/^received_unix_ms=//p' "$1"; }
RUNBOOK="https://github.com/ludeng/ludeng/blob/main/docs/operations.md#ludengdown"

section "stop ludeng → LudengDown"
kill -TERM "$APP_PID"; wait "$APP_PID" || true
T_STOP=$(now_ms)
mail=$(wait_msg 60 mail "[FIRING:1] LudengDown on app1" "envelope_to=<oncall@example.com>" "FIRING: ludeng 127.0.0.1:$APP_PORT is down" "Runbook: $RUNBOOK" "href=\"$RUNBOOK\"") \
  || fail "no LudengDown email with the runbook link at the SMTP sink within 60 s"
hook=$(wait_msg 10 http "path=/webhook" '"status":"firing"' '"alertname":"LudengDown"' "\"runbook_url\":\"$RUNBOOK\"") \
  || fail "no firing LudengDown at the generic webhook"
grep -qx "authorization=Bearer $WEBHOOK_TOKEN" "$hook" || fail "webhook came without the bearer token from webhook-token"
slack=$(wait_msg 10 http "path=/slack-oncall" 'LudengDown' "$RUNBOOK") || fail "no LudengDown at the Slack receiver"
wecom=$(wait_msg 10 http "path=/wecom-robot/oncall" '"msgtype":"markdown"' 'FIRING LudengDown on app1' "[Runbook]($RUNBOOK)") \
  || fail "no LudengDown markdown at the WeCom robot (through ludeng-chatbridge)"
T_MAIL=$(received "$mail"); T_HOOK=$(received "$hook")
ok "LudengDown delivered: email (subject, HTML and text runbook link) after $(( (T_MAIL - T_STOP) ))ms, webhook (bearer token, runbook_url) after $(( (T_HOOK - T_STOP) ))ms, Slack after $(( $(received "$slack") - T_STOP ))ms, WeCom via chatbridge after $(( $(received "$wecom") - T_STOP ))ms"

section "start ludeng → resolved"
start_app
T_START=$(now_ms)
rmail=$(wait_msg 60 mail "[RESOLVED] LudengDown on app1" "RESOLVED: ludeng 127.0.0.1:$APP_PORT is down" "Runbook: $RUNBOOK") \
  || fail "no resolved LudengDown email within 60 s of the restart"
rhook=$(wait_msg 10 http "path=/webhook" '"status":"resolved"' '"alertname":"LudengDown"') || fail "no resolved LudengDown at the webhook"
rwecom=$(wait_msg 10 http "path=/wecom-robot/oncall" 'RESOLVED LudengDown') || fail "no resolved LudengDown at the WeCom robot"
ok "resolved delivered: email after $(( $(received "$rmail") - T_START ))ms, webhook after $(( $(received "$rhook") - T_START ))ms, WeCom after $(( $(received "$rwecom") - T_START ))ms"

section "inhibition on the running Alertmanager"
AMURL="http://127.0.0.1:$AM_PORT"
amtool --alertmanager.url="$AMURL" alert add alertname=LudengDown severity=critical component=app node=app7 \
  --annotation=summary="inhibition test" > /dev/null
amtool --alertmanager.url="$AMURL" alert add alertname=LudengHighLatency severity=warning component=app node=app7 > /dev/null
amtool --alertmanager.url="$AMURL" alert add alertname=LudengHighLatency severity=warning component=app node=app8 > /dev/null
state() { curl -s "$AMURL/api/v2/alerts?filter=alertname=\"$1\"&filter=node=\"$2\"" | jq -r '.[0].status.state // "none"'; }
for _ in $(seq 1 50); do [ "$(state LudengHighLatency app7)" = suppressed ] && break; sleep 0.1; done
[ "$(state LudengHighLatency app7)" = suppressed ] || fail "LudengHighLatency on app7 is $(state LudengHighLatency app7) while LudengDown fires for app7; want suppressed"
[ "$(state LudengHighLatency app8)" = active ] || fail "LudengHighLatency on app8 is $(state LudengHighLatency app8); want active (other node)"
[ "$(state LudengDown app7)" = active ] || fail "LudengDown itself is $(state LudengDown app7)"
ok "inhibition: LudengDown on app7 suppresses app7's LudengHighLatency, not app8's"

# --- timing --------------------------------------------------------------
# Worst case from a stop to the notification leaving Alertmanager is one
# scrape interval (the failed scrape) + one evaluation interval + `for` +
# group_wait; delivery to a local sink adds milliseconds.
d_mail=$(( T_MAIL - T_STOP ))
test_bound=$(( 1 + 1 + FOR_TEST + 1 ))
echo "time to notification: ${d_mail}ms measured; test intervals scrape 1s + evaluation 1s + for ${FOR_TEST}s + group_wait 1s = ${test_bound}s bound"
echo "  production (prometheus.yml, ludeng-alerts.yml, alertmanager.yml): scrape 15s + scrape timeout 10s + evaluation 15s + for 120s + group_wait 10s = 170s worst case ≤ 300s"
echo "alerting checks passed in $(( $(date +%s) - START ))s"
