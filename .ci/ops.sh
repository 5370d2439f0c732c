#!/usr/bin/env bash
# Ops checks with real parts (deploy/ and docs/operations.md):
#   - nginx: `nginx -t` on deploy/nginx/ludeng.conf inside Debian's stock
#     nginx.conf (paths and ports rewritten into a temp dir, self-signed cert),
#     then that nginx in front of the real `ludeng serve` on SQLite: TLS,
#     redirect, headers, request ids, X-Forwarded-*, /metrics refused,
#     WebSocket upgrade, upload limit, gzip, error pages, login rate limit;
#   - systemd-analyze verify + offline security score of the units;
#   - promtool: check config, check rules, test rules, metric names against
#     the code, lint of the app's /metrics and of the backup textfile;
#   - backup → wipe → restore round trip on SQLite (online backup while the
#     service runs) and on PostgreSQL when a server is reachable.
# Every check prints "ok ..." or stops the script with "FAIL: ...".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
case " ${GOFLAGS:-} " in *" -buildvcs="*) ;; *) export GOFLAGS="${GOFLAGS:-} -buildvcs=false" ;; esac
START=$(date +%s)

bash .ci/packages.sh nginx prometheus sqlite3 curl jq openssl rsync

T=$(mktemp -d /tmp/ludeng-ops.XXXXXX)
APP_PID=""
NGINX_PID=""
PG_DB=""
cleanup() {
  local rc=$?
  if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
  if [ -n "$APP_PID" ]; then kill "$APP_PID" 2>/dev/null || true; wait "$APP_PID" 2>/dev/null || true; fi
  if [ -n "$PG_DB" ]; then psql -d postgres -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true; fi
  if [ "$rc" != 0 ]; then
    echo "--- ops.sh failed; last lines of the logs:" >&2
    for f in "$T"/app*.log "$T"/nginx/logs/error.log "$T"/nginx/logs/ludeng.error.log "$T"/nginx/logs/ludeng.access.log; do
      [ -f "$f" ] && { echo "== $f" >&2; tail -n 15 "$f" >&2; }
    done
  fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
section() { echo "--- $* ($(( $(date +%s) - START ))s)"; }
expect() { # expect WHAT GOT WANT
  [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}
hdr() { grep -i "^$2:" "$1" | tail -n 1 | cut -d' ' -f2- | tr -d '\r' || true; }
hdr_count() { grep -ci "^$2:" "$1" || true; }
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 20000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  fail "no free port found"
}
wait_port() { # wait_port PORT WHAT PID
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || fail "$2 exited during start-up"
    sleep 0.1
  done
  fail "$2 does not listen on port $1 after 10 s"
}

APP_PORT=$(free_port)
HTTPS_PORT=$(free_port)
HTTP_PORT=$(free_port)
HOST=ludeng.example.com
mkdir -p "$T"/{bin,r,cred,data,nginx/{sites,logs,tmp,ssl,acme}}

# --- nginx -t -------------------------------------------------------------
section "nginx config test"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$HOST" -addext "subjectAltName=DNS:$HOST" \
  -keyout "$T/nginx/ssl/privkey.pem" -out "$T/nginx/ssl/fullchain.pem" 2>/dev/null
SITE="$T/nginx/sites/ludeng.conf"
sed -e "s#/etc/letsencrypt/live/$HOST/#$T/nginx/ssl/#g" \
    -e "s#/var/log/nginx/#$T/nginx/logs/#g" \
    -e "s#/var/www/letsencrypt#$T/nginx/acme#g" \
    -e "s#server 127.0.0.1:8080 #server 127.0.0.1:$APP_PORT #" \
    -e "/listen \[::\]/d" \
    -e "s#listen 443 #listen 127.0.0.1:$HTTPS_PORT #" \
    -e "s#listen 80;#listen 127.0.0.1:$HTTP_PORT;#" \
    -e "s#listen 80 default_server;#listen 127.0.0.1:$HTTP_PORT default_server;#" \
    deploy/nginx/ludeng.conf > "$SITE"
if sed 's/#.*//' "$SITE" | grep -nE '/etc/letsencrypt|/var/log/nginx|/var/www|127\.0\.0\.1:8080|listen (80|443)\b'; then
  fail "rewriting deploy/nginx/ludeng.conf for the test left production paths or ports (lines above)"
fi
STOCK=/etc/nginx/nginx.conf
grep -q '^[[:space:]]*include /etc/nginx/sites-enabled/\*;' "$STOCK" || fail "$STOCK has no 'include /etc/nginx/sites-enabled/*;' (not Debian's stock file?)"
if [ "$(id -u)" = 0 ]; then userline="user root;"; else userline=""; fi
{
  echo "daemon off;"
  sed -e "s#^user .*#$userline#" \
      -e "s#^pid .*#pid $T/nginx/nginx.pid;#" \
      -e "s#/var/log/nginx/#$T/nginx/logs/#g" \
      -e "s#include /etc/nginx/sites-enabled/\*;#include $SITE;#" \
      -e "s#include /etc/nginx/conf.d/\*.conf;##" \
      -e "/^http {/a\\
	client_body_temp_path $T/nginx/tmp/body; proxy_temp_path $T/nginx/tmp/proxy;\\
	fastcgi_temp_path $T/nginx/tmp/fastcgi; uwsgi_temp_path $T/nginx/tmp/uwsgi; scgi_temp_path $T/nginx/tmp/scgi;" \
      "$STOCK"
} > "$T/nginx/nginx.conf"
NGINX=(nginx -p "$T/nginx/" -c "$T/nginx/nginx.conf" -e "$T/nginx/logs/error.log")
if ! "${NGINX[@]}" -t > "$T/nginx-t.out" 2>&1; then cat "$T/nginx-t.out" >&2; fail "nginx -t rejects deploy/nginx/ludeng.conf"; fi
if grep -E '\[(warn|emerg|alert|crit)\]' "$T/nginx-t.out"; then fail "nginx -t warns about deploy/nginx/ludeng.conf (above)"; fi
ok "nginx -t: deploy/nginx/ludeng.conf inside Debian's nginx.conf, no warnings"

# --- promtool -------------------------------------------------------------
section "promtool"
promtool check config deploy/prometheus/prometheus.yml > "$T/promtool.out" 2>&1 || { cat "$T/promtool.out" >&2; fail "promtool check config"; }
ok "promtool check config deploy/prometheus/prometheus.yml"
promtool check rules deploy/prometheus/ludeng-alerts.yml > "$T/promtool.out" 2>&1 || { cat "$T/promtool.out" >&2; fail "promtool check rules"; }
ok "promtool check rules: $(grep -o '[0-9]* rules found' "$T/promtool.out")"
(cd deploy/prometheus && promtool test rules alerts_test.yml) > "$T/promtool.out" 2>&1 || { cat "$T/promtool.out" >&2; fail "promtool test rules"; }
ok "promtool test rules deploy/prometheus/alerts_test.yml"
# Every alert has a unit test, a runbook section and a runbook_url pointing at it.
alerts=$(grep -oE 'alert: [A-Za-z0-9]+' deploy/prometheus/ludeng-alerts.yml | cut -d' ' -f2)
[ -n "$alerts" ] || fail "no alerts found in ludeng-alerts.yml"
for a in $alerts; do
  grep -qE "alertname: $a\$" deploy/prometheus/alerts_test.yml || fail "alert $a has no test in alerts_test.yml"
  grep -qE "^### $a\$" docs/operations.md || fail "alert $a has no runbook section '### $a' in docs/operations.md"
  grep -qF "operations.md#${a,,}\"" deploy/prometheus/ludeng-alerts.yml || fail "alert $a: runbook_url does not point at #${a,,}"
done
ok "all $(wc -w <<<"$alerts") alerts have a unit test, a runbook section and a matching runbook_url"
# The Grafana dashboard's queries must parse: each becomes a recording rule.
jq -e '.panels | length > 0' deploy/grafana/ludeng-dashboard.json > /dev/null || fail "deploy/grafana/ludeng-dashboard.json is not a dashboard"
jq -r '.panels[].targets[].expr' deploy/grafana/ludeng-dashboard.json > "$T/dash-exprs.txt"
{
  echo "groups:"
  echo "  - name: dashboard"
  echo "    rules:"
  n=0
  while IFS= read -r e; do
    n=$((n + 1))
    echo "      - record: dashboard:expr_$n"
    echo "        expr: $(jq -Rn --arg e "$e" '$e')"
  done < "$T/dash-exprs.txt"
} > "$T/dash-rules.yml"
promtool check rules "$T/dash-rules.yml" > "$T/promtool.out" 2>&1 || { cat "$T/promtool.out" >&2; fail "a query in deploy/grafana/ludeng-dashboard.json does not parse"; }
ok "Grafana dashboard: $(wc -l < "$T/dash-exprs.txt") queries parse (promtool check rules)"
# Every ludeng_* metric an alert or the dashboard uses must exist: in the Go
# code, or in the backup script for ludeng_backup_*.
names=$( (grep -v '^[[:space:]]*#' deploy/prometheus/ludeng-alerts.yml; cat "$T/dash-exprs.txt") | grep -oE '\bludeng_[a-z0-9_]+' | sort -u)
[ -n "$names" ] || fail "no ludeng_* metric found in the alert rules"
for n in $names; do
  base=$(sed -E 's/_(bucket|count|sum)$//' <<<"$n")
  if [[ $base == ludeng_backup_* || $base == ludeng_pitr_* ]]; then
    grep -rqF "$base" deploy/backup deploy/pgbackrest || fail "alert uses $n, which no script in deploy/backup or deploy/pgbackrest writes"
  else
    grep -rqF --include='*.go' --exclude='*_test.go' "\"$base\"" internal || fail "alerts/dashboard use $n, which the code does not export (renamed?)"
  fi
done
ok "all $(wc -w <<<"$names") ludeng_* metrics in the alerts and the dashboard exist in the code or the backup script"

# --- build ----------------------------------------------------------------
section "build"
go build -o "$T/bin/ludeng" ./cmd/ludeng
ok "built ludeng"

# --- systemd --------------------------------------------------------------
section "systemd units"
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$T/systemd"
  for u in ludeng.service ludeng.socket ludeng-backup.service ludeng-backup.timer ludeng-backup-verify.service ludeng-backup-verify.timer; do
    sed -e "s#/usr/local/bin/ludeng#$T/bin/ludeng#" -e "s#/usr/local/lib/ludeng/ludeng-backup-verify#$ROOT/deploy/backup/ludeng-backup-verify.sh#" \
      -e "s#/usr/local/lib/ludeng/ludeng-backup\$#$ROOT/deploy/backup/ludeng-backup.sh#" \
      "deploy/systemd/$u" > "$T/systemd/$u"
  done
  (cd "$T/systemd" && systemd-analyze verify ludeng.service ludeng.socket ludeng-backup.service ludeng-backup.timer ludeng-backup-verify.service ludeng-backup-verify.timer) > "$T/verify.out" 2>&1 \
    || { cat "$T/verify.out" >&2; fail "systemd-analyze verify"; }
  # Unknown keys are only warnings (exit 0): any output is a failure.
  if [ -s "$T/verify.out" ]; then cat "$T/verify.out" >&2; fail "systemd-analyze verify printed warnings"; fi
  ok "systemd-analyze verify: ludeng.service, ludeng.socket, ludeng-backup.{service,timer}, ludeng-backup-verify.{service,timer}"
  systemd-analyze security --offline=true "$T/systemd/ludeng.service" > "$T/security.out" 2>&1 || true
  score=$(grep -oE 'Overall exposure level for ludeng.service: [0-9.]+' "$T/security.out" | grep -oE '[0-9.]+$' || true)
  [ -n "$score" ] || { cat "$T/security.out" >&2; fail "systemd-analyze security --offline gave no score"; }
  awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "ludeng.service exposure $score > 2.0 (hardening lost?)"
  ok "systemd-analyze security: ludeng.service exposure $score (≤ 2.0)"
else
  fail "systemd-analyze is not installed"
fi
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' deploy/systemd/ludeng.service)
grace=$(sed -n 's/^LUDENG_SHUTDOWN_TIMEOUT=\([0-9]*\)s$/\1/p' deploy/systemd/ludeng.env.example)
[ -n "$stop" ] && [ -n "$grace" ] || fail "cannot read TimeoutStopSec / LUDENG_SHUTDOWN_TIMEOUT"
[ "$stop" -gt $(( 2 * grace )) ] || fail "TimeoutStopSec=${stop}s must exceed 2 × LUDENG_SHUTDOWN_TIMEOUT (${grace}s): HTTP drain + pipeline drain"
ok "TimeoutStopSec ${stop}s > 2 × LUDENG_SHUTDOWN_TIMEOUT ${grace}s"

# --- ludeng behind nginx --------------------------------------------------
section "ludeng serve behind nginx"
openssl rand -hex 32 > "$T/cred/secret-key"
echo "ops-admin-$RANDOM-$RANDOM" > "$T/cred/admin-password"
ADMIN_PW=$(cat "$T/cred/admin-password")
# The server runs with deploy/systemd/ludeng.env.example (so a bad value
# there fails here) plus what the unit sets, secrets through NAME_FILE.
start_app() { # start_app LOGFILE
  (
    set -a
    # shellcheck disable=SC1091
    . deploy/systemd/ludeng.env.example
    set +a
    export LUDENG_DATA_DIR="$T/data" LUDENG_LISTEN="127.0.0.1:$APP_PORT" LUDENG_LOG_FORMAT=json \
      LUDENG_TRUSTED_PROXIES=127.0.0.1/32 LUDENG_MIN_FREE_DISK=64MiB \
      LUDENG_SECRET_KEY_FILE="$T/cred/secret-key" LUDENG_ADMIN_PASSWORD_FILE="$T/cred/admin-password" \
      LUDENG_PID_FILE="$T/app.pid"
    exec "$T/bin/ludeng" serve
  ) > "$1" 2>&1 &
  APP_PID=$!
  wait_port "$APP_PORT" "ludeng serve" "$APP_PID"
}
start_app "$T/app.log"
expect "direct /livez" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APP_PORT/livez")" 200
ok "ludeng serve on SQLite, configured from ludeng.env.example, secrets via *_FILE"

"${NGINX[@]}" > "$T/nginx/logs/stdout.log" 2>&1 &
NGINX_PID=$!
wait_port "$HTTPS_PORT" nginx "$NGINX_PID"

B="https://$HOST:$HTTPS_PORT"
TLS=(--resolve "$HOST:$HTTPS_PORT:127.0.0.1" --resolve "$HOST:$HTTP_PORT:127.0.0.1" --cacert "$T/nginx/ssl/fullchain.pem")
req() { # req NAME CURL-ARGS... → prints the status; headers in $T/r/NAME.h, body in $T/r/NAME.b
  local n=$1; shift
  curl -sS --max-time 15 "${TLS[@]}" -D "$T/r/$n.h" -o "$T/r/$n.b" -w '%{http_code}' "$@" 2>"$T/r/$n.err" || echo " (curl exit $?: $(cat "$T/r/$n.err"))"
}
# Logs are written right around the response: allow them a moment.
wait_grep() { # wait_grep FIXED-STRING FILE...
  local s=$1; shift
  for _ in $(seq 1 40); do grep -qF "$s" "$@" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
app_log_has() { wait_grep "\"request_id\":\"$1\"" "$T"/app*.log; }
app_log_has_now() { grep -qF "\"request_id\":\"$1\"" "$T"/app*.log; }

# TLS + HTTP/2 + liveness
expect "GET /livez through nginx" "$(req livez --http2 "$B/livez")" 200
expect "/livez body" "$(jq -r .status "$T/r/livez.b")" ok
grep -q '^HTTP/2 200' "$T/r/livez.h" || fail "/livez was not served over HTTP/2"
ok "HTTPS /livez 200 over HTTP/2, certificate verified for $HOST"

# security headers: present, and exactly once (app and nginx do not double them)
for h in Strict-Transport-Security X-Content-Type-Options X-Frame-Options Content-Security-Policy Referrer-Policy X-Request-Id; do
  expect "count of $h on /livez" "$(hdr_count "$T/r/livez.h" "$h")" 1
done
expect HSTS "$(hdr "$T/r/livez.h" Strict-Transport-Security)" "max-age=31536000; includeSubDomains"
expect nosniff "$(hdr "$T/r/livez.h" X-Content-Type-Options)" nosniff
expect X-Frame-Options "$(hdr "$T/r/livez.h" X-Frame-Options)" DENY
expect "Server header (no version)" "$(hdr "$T/r/livez.h" Server)" nginx
ok "security headers present once each (HSTS, nosniff, DENY, CSP, Referrer-Policy); server_tokens off"

# weak ciphers refused (nginx's default list would accept AES128-SHA)
if curl -sS --max-time 5 "${TLS[@]}" --tlsv1.2 --tls-max 1.2 --ciphers AES128-SHA -o /dev/null "$B/livez" 2>/dev/null; then
  fail "TLS 1.2 with AES128-SHA (no forward secrecy, CBC) was accepted"
fi
expect "TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256" "$(curl -sS --max-time 5 "${TLS[@]}" --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-RSA-AES128-GCM-SHA256 -o /dev/null -w '%{http_code}' "$B/livez")" 200
ok "TLS: AEAD/ECDHE cipher accepted, AES128-SHA refused"

# unknown host names get nothing
if curl -sS --max-time 5 --resolve "other.example:$HTTPS_PORT:127.0.0.1" -k -o /dev/null "https://other.example:$HTTPS_PORT/livez" 2>/dev/null; then
  fail "HTTPS for an unknown host name was answered (ssl_reject_handshake)"
fi
if curl -sS --max-time 5 -H "Host: other.example" -o /dev/null "http://127.0.0.1:$HTTP_PORT/" 2>/dev/null; then
  fail "HTTP for an unknown host name was answered (return 444)"
fi
ok "unknown host names: TLS handshake rejected, HTTP connection closed"

# HTTP → HTTPS
expect "GET http:// redirect" "$(req redirect "http://$HOST:$HTTP_PORT/batches?page=2")" 301
expect "Location" "$(hdr "$T/r/redirect.h" Location)" "https://$HOST/batches?page=2"
ok "HTTP → 301 https://$HOST/batches?page=2"

# /metrics never through nginx, even with a forged X-Forwarded-For; direct scrape works
expect "GET /metrics through nginx" "$(req metrics "$B/metrics")" 403
expect "GET /metrics with forged XFF" "$(req metrics2 -H 'X-Forwarded-For: 127.0.0.1' "$B/metrics")" 403
expect "direct scrape" "$(curl -sS -o "$T/metrics.txt" -w '%{http_code}' "http://127.0.0.1:$APP_PORT/metrics")" 200
grep -q '^ludeng_http_request_duration_seconds_bucket' "$T/metrics.txt" || fail "direct /metrics lacks ludeng_http_request_duration_seconds"
expect "GET /readyz from a private address" "$(req readyz "$B/readyz")" 200
ok "/metrics: 403 through nginx, 200 direct for Prometheus; /readyz open to private networks"

for m in ludeng_pipeline_queue_depth ludeng_pipeline_oldest_waiting_seconds ludeng_provider_breaker_state ludeng_provider_quota_exhausted; do
  grep -q "^$m" "$T/metrics.txt" || fail "the live /metrics lacks $m, which the alerts use"
done
promtool check metrics < "$T/metrics.txt" > "$T/lint.out" 2>&1 || { cat "$T/lint.out" >&2; fail "promtool check metrics on the app's /metrics"; }
ok "live /metrics has the gauges the alerts use; promtool check metrics passes"

# request id: a valid client id is kept end to end; an invalid one is replaced by nginx's
expect "GET /api/v1/meta" "$(req meta -H 'X-Request-Id: ops-rid-1' -H 'X-Forwarded-For: 203.0.113.9' "$B/api/v1/meta")" 200
expect "echoed X-Request-Id" "$(hdr "$T/r/meta.h" X-Request-Id)" ops-rid-1
app_log_has ops-rid-1 || fail "the app's log has no request_id ops-rid-1"
wait_grep '"request_id":"ops-rid-1"' "$T/nginx/logs/ludeng.access.log" || fail "nginx's access log has no request_id ops-rid-1"
line=$(grep -F '"request_id":"ops-rid-1"' "$T/nginx/logs/ludeng.access.log" | tail -n 1)
expect "access log status" "$(jq -r .status <<<"$line")" 200
expect "access log upstream_status" "$(jq -r .upstream_status <<<"$line")" 200
expect "client ip the app believes (forged XFF ignored)" "$(grep -F '"request_id":"ops-rid-1"' "$T"/app.log | jq -r .ip | tail -n 1)" 127.0.0.1
req meta2 -H 'X-Request-Id: bad id with spaces' "$B/api/v1/meta" >/dev/null
rid=$(hdr "$T/r/meta2.h" X-Request-Id)
[[ $rid =~ ^[0-9a-f]{32}$ ]] || fail "an invalid client request id should be replaced by nginx's \$request_id, got '$rid'"
app_log_has "$rid" || fail "the app did not use nginx's request id $rid"
wait_grep "\"request_id\":\"$rid\"" "$T/nginx/logs/ludeng.access.log" || fail "nginx's access log lacks request id $rid"
ok "X-Request-Id: same id in the response, nginx's JSON access log and the app's log; forged X-Forwarded-For not believed"

# X-Forwarded-Proto: the app marks the session cookie Secure only when it knows the client used HTTPS
expect "login through nginx" "$(req login -H 'Content-Type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$ADMIN_PW\"}" "$B/api/v1/auth/login")" 200
grep -i '^Set-Cookie: ludeng_session=' "$T/r/login.h" | grep -qi 'Secure' || fail "session cookie is not Secure: X-Forwarded-Proto did not reach the app"
ok "X-Forwarded-Proto https reaches the app (Secure session cookie)"

# an operator and a token (also used by the backup round trip)
echo 'ops check password 1' | LUDENG_DATA_DIR="$T/data" "$T/bin/ludeng" user add --name opscheck --password-stdin > /dev/null
TOKEN=$(LUDENG_DATA_DIR="$T/data" "$T/bin/ludeng" user token --name opscheck | tail -n 1)
[[ $TOKEN == ldg_* ]] || fail "ludeng user token printed '$TOKEN'"
AUTH=(-H "Authorization: Bearer $TOKEN")

# WebSocket upgrade for /api/v1/ws. Until the route is wired the app answers
# its own 404 problem; once wired, 101 with the token and 401 without. Any of
# these proves nginx passed the handshake to the app; nginx's own 400/502/503
# or a 426 "upgrade required" from the app (Upgrade/Connection lost) fail.
WSH=(--http1.1 -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==')
# (a 101 keeps the connection open: curl waits for a final response and times out)
curl -sS --max-time 3 "${TLS[@]}" "${WSH[@]}" "${AUTH[@]}" -H 'X-Request-Id: ops-ws-1' -D "$T/r/ws.h" -o "$T/r/ws.b" "$B/api/v1/ws" 2>/dev/null || true
ws_status=$(grep -m1 -oE '^HTTP/1\.1 [0-9]+' "$T/r/ws.h" | cut -d' ' -f2 || true)
case "$ws_status" in
  101)
    expect "Upgrade response header" "$(hdr "$T/r/ws.h" Upgrade | tr 'A-Z' 'a-z')" websocket
    ws_note="101 Switching Protocols with a token" ;;
  404)
    expect "ws 404 code (from the app)" "$(jq -r .code "$T/r/ws.b")" route_not_found
    expect "ws 404 instance" "$(jq -r .instance "$T/r/ws.b")" /api/v1/ws
    ws_note="app's 404 route_not_found (route not wired yet)" ;;
  *) fail "WebSocket handshake through nginx: status '$ws_status' ($(head -c 300 "$T/r/ws.b")); want 101, or the app's 404 while /api/v1/ws is not wired" ;;
esac
app_log_has ops-ws-1 || [ "$ws_status" = 101 ] || fail "the WebSocket handshake never reached the app (no ops-ws-1 in its log)"
ws2=$(req ws2 --max-time 3 "${WSH[@]}" -H 'X-Request-Id: ops-ws-2' "$B/api/v1/ws")
case "$ws2" in
  401|404) expect "unauthenticated ws answer is a problem document" "$(hdr "$T/r/ws2.h" Content-Type)" application/problem+json
           app_log_has ops-ws-2 || fail "the unauthenticated WebSocket handshake never reached the app" ;;
  *) fail "unauthenticated WebSocket handshake: got '$ws2', want the app's 401 (or 404 while not wired)" ;;
esac
ok "WebSocket handshake reaches the app: $ws_note; unauthenticated: app's $ws2"

# uploads: nginx refuses above 5 MiB + 64 KiB itself; up to there the app decides
head -c $(( 6 << 20 )) /dev/urandom > "$T/big.bin"
head -c $(( 5 << 20 )) /dev/urandom > "$T/five.bin"
head -c $(( (5 << 20) + 1 )) /dev/urandom > "$T/fiveplus.bin"
expect "6 MiB upload" "$(req up6 "${AUTH[@]}" -H 'X-Request-Id: ops-up-6' -F "file=@$T/big.bin" "$B/api/v1/uploads")" 413
expect "6 MiB upload problem code" "$(jq -r .code "$T/r/up6.b")" upload_too_large
expect "6 MiB upload content type" "$(hdr "$T/r/up6.h" Content-Type)" application/problem+json
sleep 0.3
if app_log_has_now ops-up-6; then fail "the 6 MiB upload reached the app; nginx should refuse it"; fi
expect "X-Frame-Options on nginx's 413" "$(hdr "$T/r/up6.h" X-Frame-Options)" DENY
expect "5 MiB random bytes" "$(req up5 "${AUTH[@]}" -F "file=@$T/five.bin" "$B/api/v1/uploads")" 415
expect "5 MiB code (app)" "$(jq -r .code "$T/r/up5.b")" upload_unsupported_type
expect "5 MiB + 1 byte" "$(req up5p "${AUTH[@]}" -F "file=@$T/fiveplus.bin" "$B/api/v1/uploads")" 413
expect "5 MiB + 1 code (app)" "$(jq -r .code "$T/r/up5p.b")" upload_too_large
ok "uploads: 6 MiB → nginx 413 problem+json; 5 MiB passes nginx (app: 415); 5 MiB + 1 B → app's own 413"

# a real photo: the blob the restore must bring back
go run ./.ci/testphoto -w 640 -h 480 -mix xor > "$T/photo.png"
expect "upload a PNG" "$(req upok "${AUTH[@]}" -F "file=@$T/photo.png;filename=lamp.png" "$B/api/v1/uploads")" 201
UPLOAD_ID=$(jq -r .id "$T/r/upok.b")
expect "photo content" "$(req content "${AUTH[@]}" "$B/api/v1/uploads/$UPLOAD_ID/content?size=full")" 200
PHOTO_SUM=$(sha256sum < "$T/r/content.b" | cut -d' ' -f1)
expect "signed link" "$(req link "${AUTH[@]}" -H 'Content-Type: application/json' -d '{"expires_in":"1h","size":"full"}' "$B/api/v1/uploads/$UPLOAD_ID/links")" 201
LINK_PATH=$(jq -r .url "$T/r/link.b" | sed -E 's#^https?://[^/]+##')
ok "PNG upload through nginx: 201, content readable, signed link made"

# gzip for the SPA's static assets, with the app's immutable caching
expect "GET /" "$(req index "$B/")" 200
asset=$(grep -oE '/assets/[^"]+\.js' "$T/r/index.b" | head -n 1)
[ -n "$asset" ] || fail "index.html references no /assets/*.js (SPA not embedded?)"
expect "GET $asset (gzip)" "$(req asset -H 'Accept-Encoding: gzip' "$B$asset")" 200
expect "Content-Encoding of $asset" "$(hdr "$T/r/asset.h" Content-Encoding)" gzip
hdr "$T/r/asset.h" Cache-Control | grep -q immutable || fail "$asset is not Cache-Control immutable"
hdr "$T/r/asset.h" Vary | grep -qi accept-encoding || fail "$asset lacks Vary: Accept-Encoding"
ok "static assets gzipped with Vary: Accept-Encoding and immutable caching"

# zip download location proxies to the app (its own problem for an unknown batch)
dl=$(req dl "${AUTH[@]}" "$B/api/v1/batches/0000000000000000/download")
case "$dl" in 400|404) ;; *) fail "download route: got '$dl', want the app's 404/400" ;; esac
expect "download problem instance" "$(jq -r .instance "$T/r/dl.b")" /api/v1/batches/0000000000000000/download
ok "zip download location (unbuffered) proxies to the app (app's $dl for an unknown batch)"

# SIGHUP (ExecReload) reloads the pool and keeps serving
kill -HUP "$APP_PID"
for _ in $(seq 1 50); do grep -q 'SIGHUP: element pool' "$T/app.log" && break; sleep 0.1; done
grep -q 'SIGHUP: element pool reloaded' "$T/app.log" || fail "no 'SIGHUP: element pool reloaded' in the app log after kill -HUP"
expect "livez after SIGHUP" "$(req livez2 "$B/livez")" 200
ok "kill -HUP (ExecReload) reloads the element pool, service keeps running"

# --- backup while serving, then stop, wipe, restore -----------------------
section "backup and restore (SQLite)"
BK_ENV=(env LUDENG_DATA_DIR="$T/data" LUDENG_DATABASE_URL= LUDENG_BACKUP_DIR="$T/backups" LUDENG_BACKUP_KEEP=2
  LUDENG_BACKUP_TEXTFILE_DIR="$T/textfile" LUDENG_BIN="$T/bin/ludeng" LUDENG_BACKUP_REMOTE="$T/offsite/"
  CREDENTIALS_DIRECTORY="$T/cred")
"${BK_ENV[@]}" bash deploy/backup/ludeng-backup.sh > "$T/backup1.out" 2>&1 || { cat "$T/backup1.out" >&2; fail "backup of the running service failed"; }
[ -f "$T/backups/latest/MANIFEST" ] || fail "no $T/backups/latest/MANIFEST after a backup"
expect "MANIFEST engine" "$(sed -n 's/^engine=//p' "$T/backups/latest/MANIFEST")" sqlite
find "$T/backups/latest/files/blobs" -type f | grep -q . || fail "the backup holds no blobs/ files"
[ -f "$T/offsite/latest/MANIFEST" ] || fail "LUDENG_BACKUP_REMOTE copy missing"
PROM="$T/textfile/ludeng_backup.prom"
expect "ludeng_backup_last_status" "$(awk '/^ludeng_backup_last_status/ {print $NF}' "$PROM")" 1
first_success=$(awk '/^ludeng_backup_last_success_timestamp_seconds/ {print $NF}' "$PROM")
[ $(( $(date +%s) - first_success )) -lt 120 ] || fail "last success timestamp $first_success is not recent"
promtool check metrics < "$PROM" > "$T/lint.out" 2>&1 || { cat "$T/lint.out" >&2; fail "promtool check metrics on ludeng_backup.prom"; }
ok "online backup: VACUUM INTO + files + MANIFEST, off-site mirror, textfile metrics (status 1, promtool-clean)"

# a change after the backup must be gone after the restore
echo 'after backup 1' | LUDENG_DATA_DIR="$T/data" "$T/bin/ludeng" user add --name after-backup --password-stdin > /dev/null

# SIGTERM: graceful stop, exit status 0
t0=$(date +%s)
kill -TERM "$APP_PID"
set +e; wait "$APP_PID"; rc=$?; set -e
APP_PID=""
expect "ludeng exit status after SIGTERM" "$rc" 0
ok "SIGTERM: clean exit 0 in $(( $(date +%s) - t0 ))s"

# nginx's error pages while the app is stopped (a crash, maintenance). An
# upgrade is not a stop: it hands the socket over (checked further down).
expect "API while down" "$(req down1 "$B/api/v1/meta")" 503
expect "API error page code" "$(jq -r .code "$T/r/down1.b")" service_unavailable
expect "page while down" "$(req down2 "$B/batches")" 503
grep -q '服务暂时不可用' "$T/r/down2.b" || fail "the HTML error page is not nginx's bilingual page"
expect "HSTS on the error page" "$(hdr_count "$T/r/down2.h" Strict-Transport-Security)" 1
ok "app down: 503 problem+json for /api, bilingual HTML page otherwise, headers kept"

# wipe and restore
rm -rf "$T/data"
mkdir "$T/data"
if "${BK_ENV[@]}" bash deploy/backup/ludeng-restore.sh > "$T/restore0.out" 2>&1; then fail "restore without --yes should refuse"; fi
"${BK_ENV[@]}" bash deploy/backup/ludeng-restore.sh --yes > "$T/restore.out" 2>&1 || { cat "$T/restore.out" >&2; fail "restore failed"; }
LUDENG_DATA_DIR="$T/data" "$T/bin/ludeng" user list > "$T/users.out"
grep -q '^opscheck ' "$T/users.out" || { cat "$T/users.out" >&2; fail "user opscheck missing after the restore"; }
if grep -q '^after-backup ' "$T/users.out"; then fail "user after-backup (created after the backup) exists after the restore"; fi
start_app "$T/app2.log"
expect "readyz after restore" "$(req readyz2 "$B/readyz")" 200
expect "photo after restore (token from the backup)" "$(req content2 "${AUTH[@]}" "$B/api/v1/uploads/$UPLOAD_ID/content?size=full")" 200
expect "photo bytes after restore" "$(sha256sum < "$T/r/content2.b" | cut -d' ' -f1)" "$PHOTO_SUM"
expect "signed link after restore (no auth)" "$(req link2 "$B$LINK_PATH")" 200
ok "restore: users, token, uploaded photo (same sha256) and signed link all back; later changes gone"

# a failing run keeps the last success and reports status 0
if env LUDENG_DATA_DIR="$T/nope" LUDENG_BACKUP_DIR="$T/backups" LUDENG_BACKUP_TEXTFILE_DIR="$T/textfile" \
  bash deploy/backup/ludeng-backup.sh > "$T/backupfail.out" 2>&1; then fail "a backup of a missing data dir succeeded"; fi
expect "status after a failed run" "$(awk '/^ludeng_backup_last_status/ {print $NF}' "$PROM")" 0
expect "last success kept after a failed run" "$(awk '/^ludeng_backup_last_success_timestamp_seconds/ {print $NF}' "$PROM")" "$first_success"
# retention: two more runs with KEEP=2 leave two, the newest is latest, blobs hard-linked
"${BK_ENV[@]}" bash deploy/backup/ludeng-backup.sh > "$T/backup2.out" 2>&1 || { cat "$T/backup2.out" >&2; fail "second backup failed"; }
"${BK_ENV[@]}" bash deploy/backup/ludeng-backup.sh > "$T/backup3.out" 2>&1 || { cat "$T/backup3.out" >&2; fail "third backup failed"; }
runs=$(find "$T/backups" -mindepth 1 -maxdepth 1 -type d -name '2*Z' | sort)
expect "backups kept (LUDENG_BACKUP_KEEP=2)" "$(wc -l <<<"$runs")" 2
expect "latest" "$(readlink "$T/backups/latest")" "$(basename "$(tail -n 1 <<<"$runs")")"
blob=$(find "$T/backups/latest/files/blobs" -type f | head -n 1)
[ "$(stat -c %h "$blob")" -ge 2 ] || fail "unchanged blob $blob is not hard-linked to the previous run (--link-dest)"
expect "status after a good run" "$(awk '/^ludeng_backup_last_status/ {print $NF}' "$PROM")" 1
ok "failed run: status 0, last success kept; retention keeps 2; unchanged blobs hard-linked"

# Upgrade without downtime: SIGUSR2 hands the listening socket to a new
# process (the binary at the same path) while requests keep flowing through
# nginx; the old process drains and exits 0. No 502/503 page at any moment.
section "listener handoff behind nginx"
old_pid=$(cat "$T/app.pid")
[ "$old_pid" = "$APP_PID" ] || fail "PID file says $old_pid, started $APP_PID"
handoff_fail=0 handoff_n=0
( end=$((SECONDS + 9)); while [ $SECONDS -lt $end ]; do
    code=$(curl -sS --max-time 10 "${TLS[@]}" -o /dev/null -w '%{http_code}' "$B/api/v1/meta" 2>/dev/null || echo 000)
    echo "$code"
  done ) > "$T/handoff.codes" &
loop=$!
sleep 1
kill -USR2 "$APP_PID"
set +e; wait "$APP_PID"; rc=$?; set -e
expect "old process exit status after the handoff" "$rc" 0
wait "$loop"
handoff_n=$(wc -l < "$T/handoff.codes")
handoff_fail=$(grep -vc '^200$' "$T/handoff.codes" || true)
new_pid=$(cat "$T/app.pid")
[ "$new_pid" != "$old_pid" ] && kill -0 "$new_pid" 2>/dev/null || fail "no new process after SIGUSR2 (PID file $new_pid)"
APP_PID=$new_pid
expect "requests through nginx that did not get 200 during the handoff (of $handoff_n)" "$handoff_fail" 0
grep -q '"msg":"handoff complete: the old process exits"' "$T/app2.log" || fail "no handoff log line"
expect "readyz after the handoff" "$(req readyz3 "$B/readyz")" 200
ok "SIGUSR2: PID $old_pid → $new_pid, $handoff_n requests through nginx meanwhile, all 200; old process exit 0"

kill -TERM "$APP_PID"
for _ in $(seq 1 100); do kill -0 "$APP_PID" 2>/dev/null || break; sleep 0.1; done
APP_PID=""

# --- PostgreSQL round trip ------------------------------------------------
section "backup and restore (PostgreSQL)"
if command -v psql >/dev/null && pg_isready -q 2>/dev/null && psql -d postgres -tAc 'select 1' >/dev/null 2>&1; then
  PG_DB="ludeng_ops_$$"
  psql -d postgres -qc "CREATE DATABASE $PG_DB"
  PG_URL="postgres:///$PG_DB?host=/var/run/postgresql"
  PGE=(env LUDENG_DATA_DIR="$T/pgdata" LUDENG_DATABASE_URL="$PG_URL" LUDENG_BACKUP_DIR="$T/pgbackups"
    LUDENG_BACKUP_TEXTFILE_DIR="$T/pgtextfile" LUDENG_BIN="$T/bin/ludeng")
  mkdir -p "$T/pgdata"
  echo 'pg ops password 1' | "${PGE[@]}" "$T/bin/ludeng" user add --name pgops --password-stdin > "$T/pguseradd.out" 2>&1 \
    || { cat "$T/pguseradd.out" >&2; fail "ludeng user add on PostgreSQL"; }
  echo 'x' > "$T/pgdata/marker"
  "${PGE[@]}" bash deploy/backup/ludeng-backup.sh > "$T/pgbackup.out" 2>&1 || { cat "$T/pgbackup.out" >&2; fail "PostgreSQL backup failed"; }
  expect "MANIFEST engine" "$(sed -n 's/^engine=//p' "$T/pgbackups/latest/MANIFEST")" postgres
  psql -d postgres -qc "DROP DATABASE $PG_DB" && psql -d postgres -qc "CREATE DATABASE $PG_DB"
  rm -rf "$T/pgdata" && mkdir "$T/pgdata"
  "${PGE[@]}" bash deploy/backup/ludeng-restore.sh --yes > "$T/pgrestore.out" 2>&1 || { cat "$T/pgrestore.out" >&2; fail "PostgreSQL restore failed"; }
  "${PGE[@]}" "$T/bin/ludeng" user list > "$T/pgusers.out" 2>"$T/pgusers.err" || { cat "$T/pgusers.err" >&2; fail "ludeng user list on PostgreSQL"; }
  grep -q '^pgops ' "$T/pgusers.out" || { cat "$T/pgusers.out" >&2; fail "user pgops missing after the PostgreSQL restore"; }
  [ -f "$T/pgdata/marker" ] || fail "files not restored in the PostgreSQL round trip"
  ok "PostgreSQL: pg_dump -Fc → drop database → pg_restore; user and files back"
elif [ "${CI:-}" = 1 ]; then
  fail "PostgreSQL is not reachable (pg_isready); CI runs the PostgreSQL round trip"
else
  echo "skip PostgreSQL round trip: no server reachable (pg_isready)"
fi

# --- login brake last (it locks this address out for a while) --------------
section "nginx login rate limit"
for i in $(seq 1 16); do
  req "login$i" -H 'Content-Type: application/json' -H "X-Request-Id: ops-bf-$i" \
    -d '{"username":"nobody","password":"wrong"}' "$B/api/v1/auth/login" > "$T/r/login$i.status" || true
done
n429=0
for i in $(seq 1 16); do
  if [ "$(cat "$T/r/login$i.status")" = 429 ]; then
    n429=$((n429 + 1))
    expect "429 code" "$(jq -r .code "$T/r/login$i.b")" rate_limited
    hdr "$T/r/login$i.h" Retry-After | grep -q . || fail "nginx's 429 has no Retry-After"
  fi
done
[ "$n429" -ge 3 ] || fail "16 rapid logins from one address: only $n429 got 429 from nginx (burst 10)"
ok "login brake: $n429 of 16 rapid logins refused by nginx with 429 + Retry-After"

echo "ops checks passed in $(( $(date +%s) - START ))s"
