#!/usr/bin/env bash
# Scale-out acceptance (issue 15), with real parts only (the AI API is the
# fake, speaking Gemini's wire format):
#   - SeaweedFS `weed` (built once from its Go module, cached by version in
#     $(go env GOPATH)/bin) serves S3 on loopback; the blob store conformance
#     suite runs on it (and must run, not skip);
#   - three `ludeng serve` nodes share one PostgreSQL database and one bucket,
#     behind nginx (deploy/nginx/ludeng.conf with deploy/nginx/upstream-3nodes.conf);
#   - the fake Gemini enforces the account's limits (4 calls at once; in
#     phase 2 also 20 images a minute), answers calls over them with 429 as
#     Gemini does, and records what it saw (GET /_fake/load).
# Phase 1: a 12-group batch (48 images) through nginx; while `hey` reads the
#   API through nginx, node 1 is killed with SIGKILL mid-batch. The batch
#   ends succeeded with one result per image; hey's failed requests are at
#   most node 1's requests in flight at the kill (reported); node 1 is
#   restarted; every image downloads from every node with the same bytes and
#   every node's zip holds the same files with the same content.
# Phase 2: the nodes restart with IPM 20 and concurrency 4 account-wide; two
#   batches (4 groups each, 32 images, more than a minute of generation) run
#   at once on the three nodes: the fake never saw more than 4 calls at once
#   or 20 in any minute, and refused none.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
case " ${GOFLAGS:-} " in *" -buildvcs="*) ;; *) export GOFLAGS="${GOFLAGS:-} -buildvcs=false" ;; esac
START=$(date +%s)

bash .ci/packages.sh nginx curl jq hey unzip openssl postgresql-client

WEED_MODULE=github.com/seaweedfs/seaweedfs
WEED_VERSION=v0.0.0-20261109003541-7506e5f91cd6
GROUPS_A=${SCALE_GROUPS_A:-12}
GROUPS_LIMIT=${SCALE_GROUPS_LIMIT:-4}
# Ports of issue 15's range (PROTOCOL.md): weed 21510–21513 (+10000 for its
# gRPC), nodes 21520–21522, nginx 21530/21531, fake providers 21540.
P_MASTER=21510 P_VOLUME=21511 P_FILER=21512 P_S3=21513
NODE_PORTS=(21520 21521 21522)
P_HTTPS=21530 P_HTTP=21531 P_FAKE=21540
HOST=ludeng.example.com
BUCKET=ludeng-scale

T=$(mktemp -d /tmp/ludeng-scale.XXXXXX)
PIDS=()
NODE_PIDS=("" "" "")
PG_DB="ludeng_i15_scale_$$"
cleanup() {
  local rc=$?
  for p in "${NODE_PIDS[@]}" "${PIDS[@]}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  for p in "${NODE_PIDS[@]}" "${PIDS[@]}"; do
    [ -n "$p" ] && wait "$p" 2>/dev/null || true
  done
  psql -h /var/run/postgresql -d postgres -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
  if [ "$rc" != 0 ]; then
    echo "--- scale.sh failed; last lines of the logs:" >&2
    for f in "$T"/*.log "$T"/nginx/logs/error.log; do
      [ -f "$f" ] && { echo "== $f" >&2; tail -n 20 "$f" >&2; }
    done
  fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
section() { echo "--- $* ($(( $(date +%s) - START ))s)"; }
wait_port() { # wait_port PORT WHAT PID [TRIES]
  for _ in $(seq 1 "${4:-150}"); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || fail "$2 exited during start-up"
    sleep 0.1
  done
  fail "$2 does not listen on port $1"
}
for p in $P_MASTER $P_VOLUME $P_FILER $P_S3 "${NODE_PORTS[@]}" $P_HTTPS $P_HTTP $P_FAKE; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then fail "port $p is already in use"; fi
done

# --- weed -------------------------------------------------------------------
section "SeaweedFS"
WEED="$(go env GOPATH)/bin/weed-$WEED_VERSION"
if [ ! -x "$WEED" ]; then
  # The module's go.mod has replace directives, so `go install mod@version`
  # refuses it; build it as the main module from the downloaded source.
  echo "building weed $WEED_VERSION (once; cached as $WEED)"
  dir=$(cd "$T" && go mod download -json "$WEED_MODULE@$WEED_VERSION" | jq -r .Dir)
  [ -d "$dir" ] || fail "go mod download $WEED_MODULE@$WEED_VERSION"
  cp -r "$dir" "$T/weedsrc" && chmod -R u+w "$T/weedsrc"
  mkdir -p "$(dirname "$WEED")"
  (cd "$T/weedsrc" && go build -o "$WEED.tmp" ./weed) && mv "$WEED.tmp" "$WEED"
  rm -rf "$T/weedsrc"
fi
"$WEED" version 2>&1 | head -n 1
ACCESS_KEY="scale$RANDOM$RANDOM"
SECRET_KEY="$(openssl rand -hex 20)"
mkdir -p "$T/weed" "$T/cred"
printf '%s' "$ACCESS_KEY" > "$T/cred/s3-access-key"
printf '%s' "$SECRET_KEY" > "$T/cred/s3-secret-key"
cat > "$T/s3.json" <<EOF
{"identities":[{"name":"ludeng","credentials":[{"accessKey":"$ACCESS_KEY","secretKey":"$SECRET_KEY"}],
  "actions":["Admin","Read","Write","List","Tagging"]}]}
EOF
"$WEED" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$T/weed" \
  -master.port=$P_MASTER -master.volumeSizeLimitMB=64 -volume.port=$P_VOLUME -volume.max=20 \
  -filer -filer.port=$P_FILER -s3 -s3.port=$P_S3 -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$T/s3.json" > "$T/weed.log" 2>&1 &
PIDS+=($!)
wait_port $P_S3 "weed s3" "${PIDS[-1]}" 300
ok "weed server with S3 on 127.0.0.1:$P_S3"

section "blob store conformance on S3"
export LUDENG_TEST_S3_ENDPOINT="http://127.0.0.1:$P_S3" LUDENG_TEST_S3_BUCKET=ludeng-conformance
export LUDENG_TEST_S3_ACCESS_KEY_ID="$ACCESS_KEY" LUDENG_TEST_S3_SECRET_ACCESS_KEY="$SECRET_KEY"
go test -count=1 -v -run 'TestConformance' ./internal/blob > "$T/conformance.out" 2>&1 || { cat "$T/conformance.out" >&2; fail "blob conformance"; }
grep -q -- '--- PASS: TestConformanceS3 ' "$T/conformance.out" || { cat "$T/conformance.out" >&2; fail "TestConformanceS3 did not run"; }
grep -q -- '--- PASS: TestConformanceLocal ' "$T/conformance.out" || fail "TestConformanceLocal did not run"
if grep -q -- '--- SKIP' "$T/conformance.out"; then grep -- '--- SKIP' "$T/conformance.out" >&2; fail "a conformance test skipped"; fi
ok "conformance: $(grep -c -- '    --- PASS: TestConformanceS3/' "$T/conformance.out") subtests pass on S3 (SeaweedFS), $(grep -c -- '    --- PASS: TestConformanceLocal/' "$T/conformance.out") on local disk"

# --- build, database, fake -------------------------------------------------
section "build"
mkdir -p "$T/bin"
go build -o "$T/bin/ludeng" ./cmd/ludeng
psql -h /var/run/postgresql -d postgres -qc "CREATE DATABASE $PG_DB"
DB_URL="postgres:///$PG_DB?host=/var/run/postgresql"

"$T/bin/ludeng" fake-providers --fake-listen "127.0.0.1:$P_FAKE" > "$T/fake.log" 2>&1 &
PIDS+=($!)
wait_port $P_FAKE "fake providers" "${PIDS[-1]}"
FAKE="http://127.0.0.1:$P_FAKE"
fake_config() { # fake_config PER_MINUTE — the account's limits; calls over them get Gemini's 429
  curl -sf -X POST "$FAKE/_fake/config" -d "{\"latency\":{\"base\":\"900ms\",\"jitter\":\"400ms\"},
    \"limits\":{\"gemini\":{\"concurrency\":4,\"per_minute\":$1}}}" > /dev/null || fail "configure the fake"
  curl -sf -X POST "$FAKE/_fake/reset" > /dev/null || fail "reset the fake"
}
fake_config 0
ok "fake Gemini on :$P_FAKE: account limit 4 calls at once"

# --- nodes ------------------------------------------------------------------
section "three nodes"
openssl rand -hex 32 > "$T/cred/secret-key"
echo "scale-admin-$RANDOM$RANDOM" > "$T/cred/admin-password"
IPM=1000 # phase 1; phase 2 restarts the nodes with the account's 20
start_node() { # start_node INDEX (0-based)
  local i=$1 port=${NODE_PORTS[$1]}
  mkdir -p "$T/n$i"
  (
    export LUDENG_DATA_DIR="$T/n$i" LUDENG_LISTEN="127.0.0.1:$port" LUDENG_LOG_FORMAT=json \
      LUDENG_DATABASE_URL="$DB_URL" LUDENG_TRUSTED_PROXIES=127.0.0.1/32 LUDENG_MIN_FREE_DISK=64MiB \
      LUDENG_SECRET_KEY_FILE="$T/cred/secret-key" LUDENG_ADMIN_PASSWORD_FILE="$T/cred/admin-password" \
      LUDENG_BLOB_URL="s3://$BUCKET/ci" LUDENG_BLOB_S3_ENDPOINT="http://127.0.0.1:$P_S3" LUDENG_BLOB_S3_PATH_STYLE=true \
      LUDENG_BLOB_S3_ACCESS_KEY_ID_FILE="$T/cred/s3-access-key" LUDENG_BLOB_S3_SECRET_ACCESS_KEY_FILE="$T/cred/s3-secret-key" \
      LUDENG_IMAGE_PROVIDERS=gemini LUDENG_GEMINI_API_KEY=fake-key LUDENG_GEMINI_BASE_URL="$FAKE" \
      LUDENG_GEMINI_IPM=$IPM LUDENG_GEMINI_RPM=$IPM LUDENG_GEMINI_CONCURRENCY=4 LUDENG_PIPELINE_CONCURRENCY=6 \
      LUDENG_NODE_HEARTBEAT=1s LUDENG_NODE_DEAD_AFTER=4s LUDENG_LIMITS_LEASE=6s \
      LUDENG_API_RATE=1000 LUDENG_API_BURST=2000 LUDENG_SHUTDOWN_TIMEOUT=5s
    if [ "$i" = 2 ] && [ -n "${REDIRECT_NODE2:-}" ]; then export LUDENG_BLOB_S3_REDIRECT=2m; fi
    exec "$T/bin/ludeng" serve
  ) >> "$T/node$i.log" 2>&1 &
  NODE_PIDS[$i]=$!
}
# The bucket exists before the nodes start (operators create it; readiness
# fails without it).
"$T/bin/ludeng" version > /dev/null
curl -sf -X PUT "http://127.0.0.1:$P_FILER/buckets/$BUCKET/" > /dev/null 2>&1 || true
for i in 0 1 2; do start_node $i; done
for i in 0 1 2; do wait_port "${NODE_PORTS[$i]}" "node $i" "${NODE_PIDS[$i]}" 300; done
for i in 0 1 2; do
  code=$(curl -s -o "$T/ready$i.json" -w '%{http_code}' "http://127.0.0.1:${NODE_PORTS[$i]}/readyz")
  [ "$code" = 200 ] || { cat "$T/ready$i.json" >&2; fail "node $i /readyz $code"; }
  jq -e '.checks.blob_store.status == "ok"' "$T/ready$i.json" > /dev/null || fail "node $i: no blob_store readiness check"
done
ok "3 nodes ready on one PostgreSQL database and s3://$BUCKET/ci (readiness checks the bucket)"

# --- nginx ------------------------------------------------------------------
section "nginx"
mkdir -p "$T/nginx"/{logs,tmp,ssl,acme}
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$HOST" -addext "subjectAltName=DNS:$HOST" \
  -keyout "$T/nginx/ssl/privkey.pem" -out "$T/nginx/ssl/fullchain.pem" 2>/dev/null
UP="$T/nginx/upstream.conf"
sed -e "s#127.0.0.1:8080 #127.0.0.1:${NODE_PORTS[0]} #" -e "s#127.0.0.1:8081 #127.0.0.1:${NODE_PORTS[1]} #" \
    -e "s#127.0.0.1:8082 #127.0.0.1:${NODE_PORTS[2]} #" deploy/nginx/upstream-3nodes.conf > "$UP"
[ "$(grep -c "server 127.0.0.1:215" "$UP")" = 3 ] || fail "rewriting upstream-3nodes.conf"
SITE="$T/nginx/site.conf"
# ludeng.conf with its upstream block replaced by the 3-node one.
awk -v up="$UP" '
  /^upstream ludeng_app \{/ { while ((getline l < up) > 0) print l; skip = 1; next }
  skip && /^\}/ { skip = 0; next }
  !skip { print }' deploy/nginx/ludeng.conf |
sed -e "s#/etc/letsencrypt/live/$HOST/#$T/nginx/ssl/#g" -e "s#/var/log/nginx/#$T/nginx/logs/#g" \
    -e "s#/var/www/letsencrypt#$T/nginx/acme#g" -e "/listen \[::\]/d" \
    -e "s#listen 443 #listen 127.0.0.1:$P_HTTPS #" -e "s#listen 80;#listen 127.0.0.1:$P_HTTP;#" \
    -e "s#listen 80 default_server;#listen 127.0.0.1:$P_HTTP default_server;#" > "$SITE"
[ "$(grep -c "server 127.0.0.1:215" "$SITE")" = 3 ] || fail "the site has not got the 3-node upstream"
if [ "$(id -u)" = 0 ]; then userline="user root;"; else userline=""; fi
cat > "$T/nginx/nginx.conf" <<EOF
daemon off;
$userline
worker_processes 1;
pid $T/nginx/nginx.pid;
events { worker_connections 512; }
http {
  include /etc/nginx/mime.types;
  client_body_temp_path $T/nginx/tmp/body; proxy_temp_path $T/nginx/tmp/proxy;
  fastcgi_temp_path $T/nginx/tmp/fastcgi; uwsgi_temp_path $T/nginx/tmp/uwsgi; scgi_temp_path $T/nginx/tmp/scgi;
  error_log $T/nginx/logs/error.log;
  include $SITE;
}
EOF
NGINX=(nginx -p "$T/nginx/" -c "$T/nginx/nginx.conf" -e "$T/nginx/logs/error.log")
"${NGINX[@]}" -t > "$T/nginx-t.out" 2>&1 || { cat "$T/nginx-t.out" >&2; fail "nginx -t"; }
"${NGINX[@]}" > "$T/nginx.log" 2>&1 &
PIDS+=($!)
wait_port $P_HTTPS nginx "${PIDS[-1]}"
B="https://$HOST:$P_HTTPS"
CURL=(curl -sS --max-time 30 --resolve "$HOST:$P_HTTPS:127.0.0.1" --cacert "$T/nginx/ssl/fullchain.pem")
ok "nginx (deploy/nginx/ludeng.conf + upstream-3nodes.conf) on :$P_HTTPS"

# --- user, upload -----------------------------------------------------------
echo 'scale check password 1' | LUDENG_DATA_DIR="$T/n0" LUDENG_DATABASE_URL="$DB_URL" "$T/bin/ludeng" user add --name scale --password-stdin > /dev/null
TOKEN=$(LUDENG_DATA_DIR="$T/n0" LUDENG_DATABASE_URL="$DB_URL" "$T/bin/ludeng" user token --name scale | tail -n 1)
AUTH=(-H "Authorization: Bearer $TOKEN")
go run ./.ci/testphoto -w 640 -h 480 -mix xor > "$T/photo.png"
"${CURL[@]}" -f "${AUTH[@]}" -F "file=@$T/photo.png;filename=lamp.png" "$B/api/v1/uploads" > "$T/upload.json" || fail "upload through nginx"
UPLOAD_ID=$(jq -r .id "$T/upload.json")
for i in 0 1 2; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" "http://127.0.0.1:${NODE_PORTS[$i]}/api/v1/uploads/$UPLOAD_ID/content?size=full")
  [ "$code" = 200 ] || fail "the upload is not readable on node $i ($code)"
done
ok "upload through nginx stored in S3, readable on every node"

# --- phase 1: a 12-group batch, a kill under load --------------------------
section "phase 1: a $GROUPS_A-group batch through nginx; node 1 killed mid-batch under load"
submit() { # submit GROUPS SEED → batch id
  "${CURL[@]}" -f "${AUTH[@]}" -H 'Content-Type: application/json' \
    -d "{\"upload_id\":\"$UPLOAD_ID\",\"mode\":\"smart\",\"groups\":$1,\"seed\":$2,\"enhance\":\"off\"}" \
    "$B/api/v1/batches" | jq -r .id
}
batch_total() { "${CURL[@]}" "${AUTH[@]}" "$B/api/v1/batches/$1" | jq .progress.total; }
wait_batch() { # wait_batch ID
  local st
  for _ in $(seq 1 600); do
    st=$("${CURL[@]}" "${AUTH[@]}" "$B/api/v1/batches/$1" | jq -r .status)
    case "$st" in succeeded) return 0 ;; failed|cancelled|partially_failed) break ;; esac
    sleep 0.5
  done
  "${CURL[@]}" "${AUTH[@]}" "$B/api/v1/batches/$1" | jq '{status, progress, report}' >&2
  fail "batch $1 ended '$st', want succeeded"
}
# one_result_each ID... — every image has exactly one result: as many
# succeeded images as planned, with distinct result keys, each in the bucket.
# Objects no image references are reported: a node killed between storing a
# result and recording it leaves one behind (at most its calls in flight).
one_result_each() {
  local want=0 n distinct b g ids
  for b in "$@"; do want=$(( want + $(batch_total "$b") )); done
  ids=$(printf "'%s'," "$@")
  read -r n distinct <<<"$(psql -h /var/run/postgresql -d "$PG_DB" -tAF ' ' -c \
    "SELECT count(*), count(DISTINCT result_key) FROM images WHERE batch_id IN (${ids%,}) AND status = 'succeeded'")"
  [ "$n" = "$want" ] && [ "$distinct" = "$want" ] || fail "want $want succeeded images with distinct results, got $n ($distinct distinct)"
  psql -h /var/run/postgresql -d "$PG_DB" -tA -c "SELECT result_key FROM images WHERE batch_id IN (${ids%,}) AND status = 'succeeded'" \
    | sort > "$T/keys.db"
  for b in "$@"; do
    for g in $(curl -sf -H 'Accept: application/json' "http://127.0.0.1:$P_FILER/buckets/$BUCKET/ci/results/$b/?limit=1000" | jq -r '.Entries[]?.FullPath'); do
      curl -sf -H 'Accept: application/json' "http://127.0.0.1:$P_FILER$g/?limit=1000" \
        | jq -r '.Entries[]?.FullPath | select(test("\\.(thumb|preview|card)\\.jpg$") | not)'
    done
  done | sed "s#^/buckets/$BUCKET/ci/##" | sort > "$T/keys.s3"
  missing=$(comm -23 "$T/keys.db" "$T/keys.s3" | wc -l)
  ORPHANS=$(comm -13 "$T/keys.db" "$T/keys.s3" | wc -l)
  [ "$missing" = 0 ] || fail "$missing results recorded in PostgreSQL are not in the bucket"
  echo "$want"
}
fake_load() { # fake_load → prints the gemini load; fails on limits broken
  curl -sf "$FAKE/_fake/load" > "$T/load.json"
  curl -sf "$FAKE/_fake/stats" > "$T/stats.json"
  echo "     fake Gemini saw: $(jq -c .gemini "$T/load.json"); outcomes $(jq -c .gemini "$T/stats.json")"
  MAXC=$(jq .gemini.max_concurrency "$T/load.json")
  MAXM=$(jq .gemini.max_per_minute "$T/load.json")
  CALLS=$(jq .gemini.calls "$T/load.json")
  local rej n429
  rej=$(jq .gemini.rejected "$T/load.json")
  n429=$(jq '.gemini["429"] // 0' "$T/stats.json")
  [ "$MAXC" -le 4 ] || fail "the fake saw $MAXC calls at once (account limit 4)"
  [ "$rej" = 0 ] && [ "$n429" = 0 ] || fail "the fake answered 429 to ludeng ($rej over the account limits, $n429 in all)"
  [ "$MAXC" -ge 3 ] || fail "the fake saw at most $MAXC calls at once: the limit was not exercised"
}

GEN_START=$(date +%s)
A=$(submit "$GROUPS_A" 11)
[ -n "$A" ] && [ "$A" != null ] || fail "submit the batch"
ok "batch $A: $GROUPS_A groups, $(batch_total "$A") images"
# Kill while the batch runs on every node: once a few images are done.
for _ in $(seq 1 300); do
  [ "$("${CURL[@]}" "${AUTH[@]}" "$B/api/v1/batches/$A" | jq .progress.done)" -ge 4 ] && break
  sleep 0.2
done
# The load: downloads of a finished image (S3 reads) and the batch's view,
# through nginx, for 15 s; node 1 dies 4 s in.
IMG=$("${CURL[@]}" "${AUTH[@]}" "$B/api/v1/batches/$A" | jq -r '[.groups[].images[] | select(.status == "succeeded")][0].id')
hey -z 15s -c 4 -q 10 -host "$HOST" -H "Authorization: Bearer $TOKEN" \
  "https://127.0.0.1:$P_HTTPS/api/v1/images/$IMG/content" > "$T/hey.out" 2>&1 &
HEY_PID=$!
PIDS+=("$HEY_PID")
hey -z 15s -c 2 -q 5 -host "$HOST" -H "Authorization: Bearer $TOKEN" \
  "https://127.0.0.1:$P_HTTPS/api/v1/batches/$A" > "$T/hey2.out" 2>&1 &
HEY2_PID=$!
PIDS+=("$HEY2_PID")
sleep 4
inflight_raw=$(curl -s "http://127.0.0.1:${NODE_PORTS[1]}/metrics" | awk '$1 == "ludeng_http_requests_in_flight" { print $2 }')
kill -9 "${NODE_PIDS[1]}"
KILL_AT=$(( $(date +%s) - GEN_START ))
wait "${NODE_PIDS[1]}" 2>/dev/null || true
NODE_PIDS[1]=""
# The gauge counted the /metrics request that read it.
INFLIGHT=$(( ${inflight_raw%.*} - 1 ))
ok "node 1 killed with SIGKILL ${KILL_AT}s after submission, with $INFLIGHT API requests in flight"
wait "$HEY_PID" "$HEY2_PID" || true
cat "$T/hey.out" "$T/hey2.out" > "$T/hey.all"
total=$(awk '/^Status code distribution/ { s = 1; next } /^Error distribution/ { s = 0 } s && /\[[0-9]+\]/ { gsub(/[\[\]]/, "", $1); n += $2 } END { print n + 0 }' "$T/hey.all")
non2xx=$(awk '/^Status code distribution/ { s = 1; next } /^Error distribution/ { s = 0 } s && /\[[0-9]+\]/ { gsub(/[\[\]]/, "", $1); if ($1 !~ /^2/) n += $2 } END { print n + 0 }' "$T/hey.all")
errors=$(awk '/^Error distribution/ { e = 1; next } /^Status code distribution/ { e = 0 } e && /\[[0-9]+\]/ { gsub(/[\[\]]/, "", $1); n += $1 } END { print n + 0 }' "$T/hey.all")
[ "$total" -ge 40 ] || { cat "$T/hey.all" >&2; fail "hey got only $total answers"; }
bad=$(( non2xx + errors ))
echo "     hey through nginx: $total answers, $non2xx non-2xx, $errors transport errors; node 1 had $INFLIGHT in flight at the kill"
[ "$bad" -le "$INFLIGHT" ] || { cat "$T/hey.all" >&2; fail "failover: $bad failed requests > $INFLIGHT in flight on the killed node"; }
ok "failover: $bad failed of $((total + errors)) requests (≤ $INFLIGHT in flight on the killed node)"
wait_batch "$A"
ok "batch $A succeeded in $(( $(date +%s) - GEN_START ))s with node 1 dead since ${KILL_AT}s"
one_result_each "$A" > "$T/n"
n=$(cat "$T/n")
[ "$ORPHANS" -le 4 ] || fail "$ORPHANS unreferenced results in the bucket: more than the killed node could have had in flight (4)"
ok "no image twice: $n images with $n distinct results, all in the bucket; $ORPHANS unreferenced object(s) left by the killed node"
fake_load
ok "phase 1: $CALLS Gemini calls from 3 nodes, at most $MAXC at once (≤ 4), no 429"

section "phase 1: downloads from every node"
start_node 1
wait_port "${NODE_PORTS[1]}" "node 1 (restarted)" "${NODE_PIDS[1]}" 300
# Each image from each node, six at a time: "id sum0 sum1 sum2" per image.
cat > "$T/dl.sh" <<'EOF'
line=$1
for p in $PORTS; do
  line="$line $(curl -sf -H "$AUTHH" "http://127.0.0.1:$p/api/v1/images/$1/content" | sha256sum | cut -d' ' -f1)"
done
echo "$line"
EOF
"${CURL[@]}" "${AUTH[@]}" "$B/api/v1/batches/$A" | jq -r '.groups[].images[].id' \
  | AUTHH="Authorization: Bearer $TOKEN" PORTS="${NODE_PORTS[*]}" xargs -P 6 -n 1 bash "$T/dl.sh" > "$T/dl.out"
empty=$(printf '' | sha256sum | cut -d' ' -f1)
while read -r id s0 s1 s2; do
  [ "$s0" != "$empty" ] && [ "$s1" != "$empty" ] && [ "$s2" != "$empty" ] || fail "image $id: nothing from some node ($s0 $s1 $s2)"
  [ "$s0" = "$s1" ] && [ "$s0" = "$s2" ] || fail "image $id differs between nodes"
done < "$T/dl.out"
count=$(wc -l < "$T/dl.out")
[ "$count" = "$(batch_total "$A")" ] || fail "checked $count images, want $(batch_total "$A")"
ok "all $count images download from each of the 3 nodes with the same bytes"
for i in 0 1 2; do
  mkdir -p "$T/zip$i"
  curl -sf "${AUTH[@]}" -o "$T/zip$i.zip" "http://127.0.0.1:${NODE_PORTS[$i]}/api/v1/batches/$A/download" || fail "zip from node $i"
  (cd "$T/zip$i" && unzip -q "../zip$i.zip")
  (cd "$T/zip$i" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$T/zip$i.sums"
done
files=$(wc -l < "$T/zip0.sums")
[ "$files" -gt "$count" ] || fail "the zip holds $files files for $count images"
cmp -s "$T/zip0.sums" "$T/zip1.sums" && cmp -s "$T/zip0.sums" "$T/zip2.sums" || { diff "$T/zip0.sums" "$T/zip1.sums" >&2 || true; fail "zips differ between nodes"; }
same_bytes=no
cmp -s "$T/zip0.zip" "$T/zip1.zip" && cmp -s "$T/zip0.zip" "$T/zip2.zip" && same_bytes=yes
ok "the zip of batch $A from each node: $files files with identical content (byte-identical archives: $same_bytes)"

# --- phase 2: account limits shared by the cluster --------------------------
section "phase 2: IPM 20 and 4 at once account-wide; two batches at once on 3 nodes"
for i in 0 1 2; do kill "${NODE_PIDS[$i]}"; done
for i in 0 1 2; do wait "${NODE_PIDS[$i]}" 2>/dev/null || true; NODE_PIDS[$i]=""; done
fake_config 20
IPM=20
REDIRECT_NODE2=1 # node 2 answers image downloads with a presigned redirect
for i in 0 1 2; do start_node "$i"; done
for i in 0 1 2; do wait_port "${NODE_PORTS[$i]}" "node $i" "${NODE_PIDS[$i]}" 300; done
GEN_START=$(date +%s)
C=$(submit "$GROUPS_LIMIT" 29) && D=$(submit "$GROUPS_LIMIT" 47)
[ -n "$C" ] && [ "$C" != null ] && [ -n "$D" ] && [ "$D" != null ] || fail "submit the batches"
ok "batches $C and $D: $(( $(batch_total "$C") + $(batch_total "$D") )) images"
wait_batch "$C"
wait_batch "$D"
GEN_TIME=$(( $(date +%s) - GEN_START ))
one_result_each "$C" "$D" > "$T/n"
n=$(cat "$T/n")
[ "$ORPHANS" = 0 ] || fail "$ORPHANS unreferenced results in the bucket with no node killed"
fake_load
[ "$MAXM" -le 20 ] || fail "the fake saw $MAXM calls within one minute (account limit 20)"
[ "$MAXM" -ge 18 ] && [ "$CALLS" -gt 20 ] && [ "$GEN_TIME" -ge 60 ] || fail "the minute limit was not exercised ($CALLS calls, at most $MAXM in a minute, ${GEN_TIME}s)"
ok "phase 2: $n images in ${GEN_TIME}s; $CALLS Gemini calls from 3 nodes, at most $MAXC at once (≤ 4) and $MAXM in any minute (≤ 20), no 429"

# Presigned redirect (node 2): ludeng checks access, then 302 to the bucket.
id=$("${CURL[@]}" "${AUTH[@]}" "$B/api/v1/batches/$C" | jq -r '.groups[0].images[0].id')
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "${AUTH[@]}" "http://127.0.0.1:${NODE_PORTS[2]}/api/v1/images/$id/content")
case "$code" in "302 http://127.0.0.1:$P_S3/$BUCKET/ci/results/"*X-Amz-Signature=*) ;; *) fail "node 2 with LUDENG_BLOB_S3_REDIRECT: got '$code', want a 302 to a presigned URL" ;; esac
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${NODE_PORTS[2]}/api/v1/images/$id/content")" = 401 ] \
  || fail "the redirect must not skip ludeng's access check"
s2=$(curl -sfL "${AUTH[@]}" "http://127.0.0.1:${NODE_PORTS[2]}/api/v1/images/$id/content" | sha256sum)
s0=$(curl -sf "${AUTH[@]}" "http://127.0.0.1:${NODE_PORTS[0]}/api/v1/images/$id/content" | sha256sum)
[ "$s2" = "$s0" ] || fail "the presigned URL served other bytes"
ok "LUDENG_BLOB_S3_REDIRECT: 302 to a presigned URL after the access check (401 without a token), same bytes"
for i in 0 1 2; do curl -s "http://127.0.0.1:${NODE_PORTS[$i]}/metrics"; done > "$T/metrics.txt"
for m in 'ludeng_blob_op_duration_seconds_count{backend="s3",op="put"}' 'ludeng_blob_bytes_total{backend="s3",direction="read"}' \
    'ludeng_cluster_limit_query_seconds_count{name="provider:gemini"}' 'ludeng_cluster_limit_query_seconds_count{name="pipeline"}'; do
  v=$(grep -F "$m " "$T/metrics.txt" | awk '{ n += $2 } END { print n + 0 }')
  awk -v v="$v" 'BEGIN { exit !(v > 0) }' || fail "metric $m is missing or zero on all nodes"
done
ok "metrics: blob store latency/bytes on s3 and cluster limiter round trips are exported"

echo "scale.sh: all checks passed in $(( $(date +%s) - START ))s"
