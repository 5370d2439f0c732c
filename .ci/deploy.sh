#!/usr/bin/env bash
# Releases without downtime, proven under load (issue 13), with real parts:
#   0. release artifacts: deploy/build-release builds ci-1, ci-2 and ci-3 (a
#      deliberately broken copy of the tree: its zip download fails), each
#      with SHA256SUMS and a CycloneDX SBOM; a tampered tarball is refused.
#   1. forward compatibility: the binary from before the newest migration
#      keeps serving (smoke: login, upload, batch, WebSocket, zip) after the
#      current binary migrated its database.
#   a. one node on SQLite: hey drives ≥ 50 req/s of GETs and uploads while
#      a 4-group batch (fake image API) runs with 3 WebSocket clients, and
#      deploy/ludeng-deploy upgrades ci-1 → ci-2, then tries ci-3, whose
#      smoke test fails and which is rolled back to ci-2.
#   b. two nodes on PostgreSQL behind nginx (deploy/nginx/ludeng.conf): the
#      same load while the script rolls both nodes to ci-2, one at a time.
# Every phase prints its numbers; any failed request, gap, duplicate or
# wrong version fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
case " ${GOFLAGS:-} " in *" -buildvcs="*) ;; *) export GOFLAGS="${GOFLAGS:-} -buildvcs=false" ;; esac
START=$(date +%s)
LOAD_SECONDS=${DEPLOY_LOAD_SECONDS:-30}
STEADY_SECONDS=${DEPLOY_STEADY_SECONDS:-10}

bash .ci/packages.sh hey nginx curl jq sqlite3 rsync openssl postgresql-client

T=$(mktemp -d /tmp/ludeng-deploy.XXXXXX)
PIDS=()       # processes started here (fakes, nginx, prev binary)
PIDFILES=()   # servers that hand over: the live PID is in the file
PG_DB=""
cleanup() {
  local rc=$? p f
  for f in "${PIDFILES[@]}"; do
    p=$(cat "$f" 2>/dev/null || true)
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for f in "${PIDFILES[@]}"; do
    p=$(cat "$f" 2>/dev/null || true)
    [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [ -n "$PG_DB" ]; then psql -d postgres -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true; fi
  if [ "$rc" != 0 ]; then
    echo "--- deploy.sh failed; last lines of the logs:" >&2
    for f in "$T"/*.log "$T"/*/*.log; do [ -f "$f" ] && { echo "== $f" >&2; tail -n 25 "$f" >&2; }; done
  fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
section() { echo "--- $* ($(( $(date +%s) - START ))s)"; }
port=21300
next_port() { port=$((port + 1)); while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done; }
wait_http() { # wait_http URL WHAT
  for _ in $(seq 1 300); do curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0; sleep 0.2; done
  fail "$2 does not answer $1 after 60 s"
}

# --- 0. releases --------------------------------------------------------
section "release artifacts"
STORE="$T/store"
mkdir -p "$STORE" "$T/bin"
t0=$(date +%s)
bash deploy/build-release ci-1 "$STORE" | sed 's/^/    /'
bash deploy/build-release ci-2 "$STORE" | sed 's/^/    /'
# ci-3: the same tree with a bug a user would hit: the zip download fails.
mkdir -p "$T/broken"
tar --exclude=./web/node_modules --exclude=./.git -cf - . | tar -C "$T/broken" -xf -
f=$(grep -rl 'func (a \*batchAPI) download(w http.ResponseWriter, r \*http.Request) error {' "$T/broken/internal/httpapi")
[ -n "$f" ] || fail "cannot find the zip download handler to break"
sed -i 's|^func (a \*batchAPI) download(w http.ResponseWriter, r \*http.Request) error {$|&\n\tif r.URL.Path != "" {\n\t\tpanic("deliberately broken release (.ci/deploy.sh)")\n\t}|' "$f"
(cd "$T/broken" && bash deploy/build-release ci-3 "$STORE") | sed 's/^/    /'
ok "built ci-1, ci-2, ci-3 (broken) in $(( $(date +%s) - t0 ))s"
for v in ci-1 ci-2 ci-3; do
  n="ludeng_${v}_linux_amd64"
  tar tzf "$STORE/$n.tar.gz" > "$T/list"
  for want in ludeng deploy/ludeng-deploy deploy/nginx/ludeng.conf deploy/systemd/ludeng.service docs/operations.md "$n.cdx.json"; do
    grep -qx "$n/$want" "$T/list" || fail "$n.tar.gz has no $want"
  done
  jq -e --arg v "$v" '.bomFormat == "CycloneDX" and .metadata.component.version == $v and any(.components[]; .name == "github.com/riverqueue/river")' \
    "$STORE/$n.cdx.json" > /dev/null || fail "$n.cdx.json is not the SBOM of $v"
done
(cd "$STORE" && sha256sum --check --quiet SHA256SUMS) || fail "SHA256SUMS does not match"
tar xzf "$STORE/ludeng_ci-2_linux_amd64.tar.gz" -C "$T" ludeng_ci-2_linux_amd64/ludeng
go version -m "$T/ludeng_ci-2_linux_amd64/ludeng" | grep -q -- '-trimpath=true' || fail "the release binary was not built with -trimpath"
[ "$("$T/ludeng_ci-2_linux_amd64/ludeng" version | awk '{print $2}')" = ci-2 ] || fail "ci-2 binary reports another version"
ok "tarballs hold binary, deploy/, docs/, SBOM; SHA256SUMS verifies; -trimpath; version from ldflags"
DEPLOY="$T/ludeng_ci-2_linux_amd64/deploy-tool"
cp deploy/ludeng-deploy "$DEPLOY"
go build -o "$T/bin/deploywatch" ./e2e/deploywatch
NEW="$T/ludeng_ci-2_linux_amd64/ludeng"

# A tampered artifact is refused before anything changes.
mkdir -p "$T/evil/store" "$T/evil/dir"
cp "$STORE/SHA256SUMS" "$T/evil/store/"
cp "$STORE/ludeng_ci-3_linux_amd64.tar.gz" "$T/evil/store/ludeng_ci-2_linux_amd64.tar.gz"
printf 'LUDENG_DEPLOY_DIR=%s\nLUDENG_RELEASE_STORE=%s\n' "$T/evil/dir" "$T/evil/store" > "$T/evil/node.env"
if bash "$DEPLOY" --env "$T/evil/node.env" ci-2 > "$T/evil.out" 2>&1; then fail "a tarball that does not match SHA256SUMS was deployed"; fi
grep -q 'checksum mismatch' "$T/evil.out" || { cat "$T/evil.out"; fail "no checksum message"; }
[ ! -e "$T/evil/dir/releases/ci-2" ] || fail "the tampered release was unpacked"
ok "tampered tarball refused: $(grep -o 'checksum mismatch.*' "$T/evil.out")"

# --- fake image API and shared settings ----------------------------------
next_port; FAKE=$port
"$NEW" fake-providers --listen "127.0.0.1:$FAKE" > "$T/fake.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null -X POST -d '{"latency":{"base":"8s"}}' "http://127.0.0.1:$FAKE/_fake/config" 2>/dev/null && break
  sleep 0.2
done
ADMIN_PW="deploy-admin-$RANDOM$RANDOM"
echo "$ADMIN_PW" > "$T/admin-password"
common_env() { # common_env NAME PORT DATADIR DBURL
  cat <<EOF
LUDENG_LISTEN=127.0.0.1:$2
LUDENG_DATA_DIR=$3
LUDENG_DATABASE_URL=$4
LUDENG_PID_FILE=$T/$1.pid
LUDENG_LOG_FORMAT=json
LUDENG_ADMIN_PASSWORD_FILE=$T/admin-password
LUDENG_API_RATE=1000
LUDENG_API_BURST=2000
LUDENG_IMAGE_PROVIDERS=gemini
LUDENG_GEMINI_API_KEY=fake
LUDENG_GEMINI_BASE_URL=http://127.0.0.1:$FAKE/gemini
LUDENG_GEMINI_RPM=0
LUDENG_GEMINI_IPM=0
LUDENG_SHUTDOWN_TIMEOUT=30s
LUDENG_NODE_HEARTBEAT=1s
LUDENG_NODE_DEAD_AFTER=5s
LUDENG_DEPLOY_DIR=$T/$1/opt
LUDENG_RELEASE_STORE=$STORE
LUDENG_SMOKE_USER=smoke
LUDENG_SMOKE_PASSWORD_FILE=$T/admin-password
LUDENG_SMOKE_BATCH=always
LUDENG_BACKUP_DIR=$T/$1/backups
LUDENG_BACKUP_TEXTFILE_DIR=
EOF
}
# install_node NAME VERSION: the first install (docs/operations.md): unpack,
# `current` symlink, start the service from current/ludeng.
install_node() {
  local name=$1 v=$2 opt="$T/$1/opt"
  mkdir -p "$opt/releases/$v"
  tar -C "$opt/releases/$v" --strip-components=1 -xzf "$STORE/ludeng_${v}_linux_amd64.tar.gz"
  ln -sfn "releases/$v" "$opt/current"
  ( set -a; . "$T/$name.env"; exec "$opt/current/ludeng" serve ) >> "$T/$name/serve.log" 2>&1 &
  PIDFILES+=("$T/$name.pid")
  for _ in $(seq 1 300); do [ -s "$T/$name.pid" ] && break; sleep 0.2; done
  [ -s "$T/$name.pid" ] || fail "node $name did not start"
}
api() { curl -fsS -H "Authorization: Bearer $TOKEN" "$@"; }
# add_smoke_user NAME: the account the deploy's smoke test signs in with
# (a dedicated one, as in production; its batch is not queued behind the
# load's batch, which belongs to admin).
add_smoke_user() {
  (set -a; . "$T/$1.env"; "$T/$1/opt/current/ludeng" user add --name smoke --password-stdin < "$T/admin-password") > /dev/null
}

# hey runs: GETs of the API and the SPA, authenticated GETs and uploads.
# load NAME BASE SECONDS → $T/load-NAME-*.txt
load_start() {
  local name=$1 base=$2 secs=$3
  LOAD_PIDS=()
  hey -z "${secs}s" -c 6 -q 8 "$base/api/v1/meta" > "$T/load-$name-meta.txt" 2>&1 & LOAD_PIDS+=($!)
  hey -z "${secs}s" -c 2 -q 8 "$base/" > "$T/load-$name-spa.txt" 2>&1 & LOAD_PIDS+=($!)
  hey -z "${secs}s" -c 2 -q 6 -H "Authorization: Bearer $TOKEN" "$base/api/v1/batches" > "$T/load-$name-list.txt" 2>&1 & LOAD_PIDS+=($!)
  hey -z "${secs}s" -c 4 -q 2 -m POST -H "Authorization: Bearer $TOKEN" -T "multipart/form-data; boundary=ludengci" \
    -D "$T/upload.body" "$base/api/v1/uploads" > "$T/load-$name-upload.txt" 2>&1 & LOAD_PIDS+=($!)
}
# load_stop: the load covers the whole deploy and at least LOAD_SECONDS;
# hey prints its report on SIGINT.
load_stop() {
  local p
  while [ $(( $(date +%s) - LOAD_T0 )) -lt "$LOAD_SECONDS" ]; do sleep 1; done
  sleep 1
  for p in "${LOAD_PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${LOAD_PIDS[@]}"; do wait "$p" || true; done
}
# load_report NAME: prints per-stream totals, fails on any non-2xx/3xx or
# transport error; sets LOAD_RPS and LOAD_P99 (worst stream p99, ms).
load_report() {
  local name=$1 f total=0 bad=0 rps=0 p99max=0 s
  for f in "$T"/load-"$name"-*.txt; do
    s=$(basename "$f" .txt); s=${s#load-"$name"-}
    local n okn badn errs r p99
    n=$(awk '/Status code distribution/{f=1;next} f&&/\[[0-9]+\]/{gsub(/[\[\]]/,"",$1); t+=$2} /^$/{if(f)exit} END{print t+0}' "$f")
    okn=$(awk '/Status code distribution/{f=1;next} f&&/\[[23][0-9][0-9]\]/{t+=$2} /^$/{if(f)exit} END{print t+0}' "$f")
    badn=$((n - okn))
    errs=$(awk '/Error distribution/{f=1;next} f&&/\[[0-9]+\]/{gsub(/[\[\]]/,"",$1); t+=$1} END{print t+0}' "$f")
    r=$(awk '/Requests\/sec/{print $2}' "$f")
    # hey prints no 99th percentile below 100 samples ("0% in 0.0000").
    p99=$(awk '$1 == "99%%" || $1 == "99%" {print $3*1000}' "$f")
    printf '    %-7s %6d requests  %6.1f req/s  p99 %9s ms  non-2xx/3xx %d  errors %d\n' "$s" "$n" "$r" "${p99:-n/a}" "$badn" "$errs"
    if [ "$badn" != 0 ] || [ "$errs" != 0 ]; then
      sed -n '/Status code distribution/,$p' "$f" | head -20 >&2
      bad=$((bad + badn + errs))
    fi
    total=$((total + n + errs))
    rps=$(awk -v a="$rps" -v b="$r" 'BEGIN{print a+b}')
    p99max=$(awk -v a="$p99max" -v b="${p99:-0}" 'BEGIN{print (b>a)?b:a}')
  done
  LOAD_RPS=$rps
  LOAD_P99=$p99max
  echo "    total   $total requests, $rps req/s, worst p99 ${p99max} ms, failed or refused: $bad"
  [ "$bad" = 0 ] || fail "$name: $bad requests failed or were refused"
}

# the upload body hey repeats (a generated 900×1200 JPEG)
"$T/bin/deploywatch" -photo "$T/photo.jpg"
{
  printf -- '--ludengci\r\nContent-Disposition: form-data; name="file"; filename="lamp.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
  cat "$T/photo.jpg"
  printf -- '\r\n--ludengci--\r\n'
} > "$T/upload.body"

# start_batch BASE GROUPS MIN_RECONNECTS → BATCH (and starts the WebSocket watchers)
start_batch() {
  local base=$1 up
  up=$(curl -fsS -H "Authorization: Bearer $TOKEN" -F "file=@$T/photo.jpg;type=image/jpeg" "$base/api/v1/uploads" | jq -r .id)
  BATCH=$(api -H 'Content-Type: application/json' -d "{\"upload_id\":\"$up\",\"mode\":\"smart\",\"groups\":$2,\"enhance\":\"off\"}" "$base/api/v1/batches" | jq -r .id)
  [ -n "$BATCH" ] && [ "$BATCH" != null ] || fail "batch not created"
  "$T/bin/deploywatch" -url "$base" -user admin -password-file "$T/admin-password" -batch "$BATCH" -clients 3 -timeout 4m -min-reconnects "$3" \
    > "$T/watch.out" 2>&1 &
  WATCH_PID=$!
}
finish_watch() {
  if ! wait "$WATCH_PID"; then cat "$T/watch.out" >&2; fail "WebSocket clients or the batch check failed"; fi
  sed 's/^/    /' "$T/watch.out"
}

# --- 1. forward compatibility of the newest migration -------------------
section "migration against the previous release's binary"
newest=$(ls internal/store/migrations/sqlite/*.up.sql | sort | tail -n 1)
added=$(git log --diff-filter=A --format=%H -n 1 -- "$newest" 2>/dev/null || true)
[ -n "$added" ] || fail "cannot find the commit that added $newest (a shallow clone? CI needs the history)"
mkdir -p "$T/prev-src"
git archive "$added^" | tar -C "$T/prev-src" -xf -
# -trimpath: the build cache then serves every package the commits share.
(cd "$T/prev-src" && go build -trimpath -o "$T/bin/ludeng-prev" ./cmd/ludeng)
next_port; PREV_PORT=$port
mkdir -p "$T/prev"
common_env prev "$PREV_PORT" "$T/prev/data" "" > "$T/prev.env"
( set -a; . "$T/prev.env"; LUDENG_IMAGE_PROVIDERS=; exec "$T/bin/ludeng-prev" serve ) > "$T/prev/serve.log" 2>&1 &
PREV_PID=$!
PIDS+=($PREV_PID)
wait_http "http://127.0.0.1:$PREV_PORT/readyz" "the previous binary"
before=$( (set -a; . "$T/prev.env"; "$NEW" migrate status) | grep -c 'pending' || true)
(set -a; . "$T/prev.env"; "$NEW" migrate up) > "$T/prev/migrate.out" 2>&1 || { cat "$T/prev/migrate.out"; fail "migrate up"; }
after=$( (set -a; . "$T/prev.env"; "$NEW" migrate status) | grep -c 'pending' || true)
[ "$before" -ge 1 ] && [ "$after" = 0 ] || fail "expected pending migrations before ($before) and none after ($after)"
LUDENG_SMOKE_PASSWORD=$ADMIN_PW "$NEW" smoke --url "http://127.0.0.1:$PREV_PORT" --user admin --batch always > "$T/prev/smoke.out" 2>&1 \
  || { cat "$T/prev/smoke.out"; fail "the previous binary does not work on the migrated schema"; }
sed 's/^/    /' "$T/prev/smoke.out"
kill "$PREV_PID"; wait "$PREV_PID" 2>/dev/null || true
( set -a; . "$T/prev.env"; LUDENG_IMAGE_PROVIDERS=; exec "$T/bin/ludeng-prev" serve ) >> "$T/prev/serve.log" 2>&1 &
PREV_PID=$!
PIDS+=($PREV_PID)
wait_http "http://127.0.0.1:$PREV_PORT/readyz" "the previous binary restarted on the migrated schema"
kill "$PREV_PID"; wait "$PREV_PID" 2>/dev/null || true
ok "$(basename "$newest") (added in ${added:0:10}): $before migration(s) applied by the new binary; the binary before it serves, restarts and passes the smoke test on the migrated schema"

# --- a. one node, SQLite --------------------------------------------------
PARTS=${DEPLOY_PARTS:-ab}
if [[ $PARTS == *a* ]]; then
section "one node on SQLite: upgrade and a failing release under load"
next_port; A_PORT=$port
mkdir -p "$T/a"
common_env a "$A_PORT" "$T/a/data" "" > "$T/a.env"
install_node a ci-1
A="http://127.0.0.1:$A_PORT"
wait_http "$A/readyz" "node a"
TOKEN=$( (set -a; . "$T/a.env"; "$T/a/opt/current/ludeng" user token --name admin) | tail -n 1)
add_smoke_user a
[ -n "$TOKEN" ] || fail "no API token"
load_start a-steady "$A" "$STEADY_SECONDS"
for p in "${LOAD_PIDS[@]}"; do wait "$p"; done
echo "    steady state (${STEADY_SECONDS}s, no deploy):"
load_report a-steady
A_STEADY_P99=$LOAD_P99

start_batch "$A" 4 1
load_start a-deploy "$A" 300
LOAD_T0=$(date +%s)
sleep 2
t0=$(date +%s%3N)
bash "$DEPLOY" --env "$T/a.env" ci-2 > "$T/a/deploy-ci-2.out" 2>&1 || { cat "$T/a/deploy-ci-2.out"; fail "deploy of ci-2 failed"; }
A_UP_MS=$(( $(date +%s%3N) - t0 ))
sed 's/^/    /' "$T/a/deploy-ci-2.out"
t0=$(date +%s%3N)
if bash "$DEPLOY" --env "$T/a.env" ci-3 > "$T/a/deploy-ci-3.out" 2>&1; then
  cat "$T/a/deploy-ci-3.out"; fail "the broken release ci-3 was not rolled back"
else
  rc=$?
fi
A_RB_MS=$(( $(date +%s%3N) - t0 ))
echo "    the broken release (exit status $rc):"
sed 's/^/    /' "$T/a/deploy-ci-3.out"
[ "$rc" = 1 ] || fail "ludeng-deploy exit status $rc for a failed release, want 1"
grep -q 'smoke step "zip download" failed' "$T/a/deploy-ci-3.out" || fail "the zip download smoke step did not catch ci-3"
grep -q 'ROLLBACK: node .* serves ci-2 again' "$T/a/deploy-ci-3.out" || fail "no rollback to ci-2 reported"
load_stop
echo "    load during both deploys ($(( $(date +%s) - LOAD_T0 ))s):"
load_report a-deploy
A_DEPLOY_P99=$LOAD_P99
A_DEPLOY_RPS=$LOAD_RPS
awk -v r="$LOAD_RPS" 'BEGIN{exit !(r >= 50)}' || fail "load was $LOAD_RPS req/s, want ≥ 50"
finish_watch
v=$(curl -fsS "$A/api/v1/meta" | jq -r .version)
[ "$v" = ci-2 ] || fail "node a serves $v at the end, want ci-2 (the rolled-back version)"
curl -fsS -o /dev/null "$A/readyz" || fail "node a not ready at the end"
[ "$(readlink "$T/a/opt/current")" = releases/ci-2 ] || fail "current does not point at ci-2"
[ "$(cat "$T/a/opt/previous")" = ci-1 ] || fail "previous is not ci-1"
n=$(ls "$T/a/backups" | grep -c '^20' || true)
[ "$n" -ge 2 ] || fail "expected a backup per deploy, found $n"
ok "one node: 0 failed requests at $A_DEPLOY_RPS req/s, batch and 3 WebSocket clients complete, ci-3 rolled back, ci-2 serves; $n backups"
echo "    timings ci-1→ci-2: $(grep -o 'timings: .*' "$T/a/deploy-ci-2.out"), wall ${A_UP_MS}ms"
echo "    failing ci-3 + rollback: wall ${A_RB_MS}ms"
echo "    p99: steady ${A_STEADY_P99} ms, during deploys ${A_DEPLOY_P99} ms"
for f in "${PIDFILES[@]}"; do kill "$(cat "$f")" 2>/dev/null || true; done
PIDFILES=()
fi

# --- b. two nodes, PostgreSQL, nginx --------------------------------------
if [[ $PARTS == *b* ]]; then
section "two nodes on PostgreSQL behind nginx: rolling upgrade under load"
psql -d postgres -tAc 'select 1' > /dev/null 2>&1 || fail "PostgreSQL is not reachable at /var/run/postgresql (.ci/run starts it)"
PG_DB="ludeng_i13_deploy_$$"
psql -d postgres -qc "CREATE DATABASE $PG_DB"
PG_URL="postgres:///$PG_DB?host=/var/run/postgresql"
next_port; B1=$port; next_port; B2=$port; next_port; NGX=$port
mkdir -p "$T/b1" "$T/b2" "$T/bdata"
common_env b1 "$B1" "$T/bdata" "$PG_URL" > "$T/b1.env"
common_env b2 "$B2" "$T/bdata" "$PG_URL" > "$T/b2.env"
install_node b1 ci-1
wait_http "http://127.0.0.1:$B1/readyz" "node b1"
install_node b2 ci-1
wait_http "http://127.0.0.1:$B2/readyz" "node b2"

# nginx with the production site: paths into $T, both nodes in the
# upstream, and a plain-HTTP listener on the main server (no TLS client
# needed for the load; TLS itself is .ci/ops.sh's business).
mkdir -p "$T/nginx/"{logs,tmp,ssl,acme}
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ludeng.example.com" \
  -keyout "$T/nginx/ssl/privkey.pem" -out "$T/nginx/ssl/fullchain.pem" 2>/dev/null
next_port; NGX_TLS=$port; next_port; NGX_80=$port
sed -e "s#/etc/letsencrypt/live/ludeng.example.com/#$T/nginx/ssl/#g" \
    -e "s#/var/log/nginx/#$T/nginx/logs/#g" \
    -e "s#/var/www/letsencrypt#$T/nginx/acme#g" \
    -e "s#^\(\s*\)server 127.0.0.1:8080 \(.*\)#\1server 127.0.0.1:$B1 \2\n\1server 127.0.0.1:$B2 \2#" \
    -e "/listen \[::\]/d" \
    -e "s#listen 443 ssl http2;#listen 127.0.0.1:$NGX_TLS ssl http2;\n    listen 127.0.0.1:$NGX;#" \
    -e "s#listen 443 ssl http2 default_server;#listen 127.0.0.1:$NGX_TLS ssl http2 default_server;#" \
    -e "s#listen 80;#listen 127.0.0.1:$NGX_80;#" \
    -e "s#listen 80 default_server;#listen 127.0.0.1:$NGX_80 default_server;#" \
    -e "s#rate=50r/s#rate=1000r/s#" \
    deploy/nginx/ludeng.conf > "$T/nginx/site.conf"
grep -q "server 127.0.0.1:$B2 " "$T/nginx/site.conf" || fail "could not put both nodes into the upstream"
cat > "$T/nginx/nginx.conf" <<NGX
daemon off;
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  client_body_temp_path $T/nginx/tmp/body; proxy_temp_path $T/nginx/tmp/proxy;
  fastcgi_temp_path $T/nginx/tmp/fastcgi; uwsgi_temp_path $T/nginx/tmp/uwsgi; scgi_temp_path $T/nginx/tmp/scgi;
  include $T/nginx/site.conf;
}
NGX
nginx -p "$T/nginx/" -c "$T/nginx/nginx.conf" -t > "$T/nginx/t.out" 2>&1 || { cat "$T/nginx/t.out"; fail "nginx -t"; }
nginx -p "$T/nginx/" -c "$T/nginx/nginx.conf" > "$T/nginx/logs/stdout.log" 2>&1 &
PIDS+=($!)
N="http://127.0.0.1:$NGX"
wait_http "$N/livez" "nginx"
TOKEN=$( (set -a; . "$T/b1.env"; "$T/b1/opt/current/ludeng" user token --name admin) | tail -n 1)
add_smoke_user b1

load_start b-steady "$N" "$STEADY_SECONDS"
for p in "${LOAD_PIDS[@]}"; do wait "$p"; done
echo "    steady state through nginx (${STEADY_SECONDS}s):"
load_report b-steady
B_STEADY_P99=$LOAD_P99

start_batch "$N" 4 0
load_start b-deploy "$N" 300
LOAD_T0=$(date +%s)
sleep 2
t0=$(date +%s%3N)
bash "$DEPLOY" --env "$T/b1.env" --env "$T/b2.env" ci-2 > "$T/b-deploy.out" 2>&1 || { cat "$T/b-deploy.out"; fail "rolling deploy failed"; }
B_MS=$(( $(date +%s%3N) - t0 ))
sed 's/^/    /' "$T/b-deploy.out"
load_stop
echo "    load during the rolling deploy ($(( $(date +%s) - LOAD_T0 ))s):"
load_report b-deploy
B_DEPLOY_P99=$LOAD_P99
awk -v r="$LOAD_RPS" 'BEGIN{exit !(r >= 50)}' || fail "load was $LOAD_RPS req/s, want ≥ 50"
finish_watch
for p in "$B1" "$B2"; do
  v=$(curl -fsS "http://127.0.0.1:$p/api/v1/meta" | jq -r .version)
  [ "$v" = ci-2 ] || fail "node :$p serves $v, want ci-2"
done
up=$(jq -r 'select(.upstream_addr != null and .upstream_addr != "") | .upstream_addr' "$T/nginx/logs/ludeng.access.log" 2>/dev/null | tr ', ' '\n\n' | grep -c . || true)
ok "two nodes: 0 failed requests through nginx, batch and 3 WebSocket clients complete, both nodes serve ci-2 ($up upstream hops logged)"
echo "    timings: $(grep -o 'timings: .*' "$T/b-deploy.out"), wall ${B_MS}ms"
echo "    p99: steady ${B_STEADY_P99} ms, during the roll ${B_DEPLOY_P99} ms"
fi
echo "--- deploy.sh: all checks passed in $(( $(date +%s) - START ))s"
