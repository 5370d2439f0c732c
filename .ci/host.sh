#!/usr/bin/env bash
# Host hardening and log retention files (deploy/host/), checked with the
# real tools from Debian:
#   - nftables: `nft -c -f`, then the ruleset loaded into a throwaway network
#     namespace with two clients on veth pairs (one public, one on the VPN):
#     80/443 open, monitoring ports closed to the public and open to the VPN,
#     SSH rate-limited per address;
#   - sshd: `sshd -t -f` and `sshd -T` on Debian's stock sshd_config with the
#     drop-in included (keys only, no root);
#   - fail2ban: `fail2ban-client -t` on Debian's stock configuration plus the
#     jails, and fail2ban-regex on nginx log lines in ludeng's JSON format;
#   - unattended-upgrades: apt-config parses the files, security origin only;
#   - journald: every key known to journald.conf(5), values well-formed, the
#     drop-in picked up by `systemd-analyze cat-config`;
#   - logrotate: `logrotate -d`, then a forced rotation in a temp directory.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
START=$(date +%s)
bash .ci/packages.sh nftables openssh-server fail2ban python3-systemd unattended-upgrades logrotate iproute2 socat

T=$(mktemp -d /tmp/ludeng-host.XXXXXX)
NS=()
PIDS=()
cleanup() {
  local rc=$? p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${NS[@]}"; do ip netns del "$p" 2>/dev/null || true; done
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
section() { echo "--- $* ($(( $(date +%s) - START ))s)"; }
H=deploy/host

# --- nftables -------------------------------------------------------------------
section "nftables"
nft -c -f "$H/nftables.conf" > "$T/nft.out" 2>&1 || { cat "$T/nft.out" >&2; fail "nft -c -f $H/nftables.conf"; }
ok "nft -c -f deploy/host/nftables.conf"
# Probe it for real: server namespace with the ruleset, a public client
# (198.51.100.2) and a VPN client (10.8.0.2) on their own veth pairs.
S="i14fw-srv-$$"; P="i14fw-pub-$$"; V="i14fw-vpn-$$"
if ip netns add "$S" 2>"$T/netns.err"; then
  NS+=("$S")
  ip netns add "$P"; NS+=("$P")
  ip netns add "$V"; NS+=("$V")
  ip link add "i14p$$" type veth peer name "i14ps$$"
  ip link set "i14p$$" netns "$P"; ip link set "i14ps$$" netns "$S"
  ip link add "i14v$$" type veth peer name "i14vs$$"
  ip link set "i14v$$" netns "$V"; ip link set "i14vs$$" netns "$S"
  ip -n "$S" addr add 198.51.100.1/24 dev "i14ps$$"; ip -n "$S" addr add 10.8.0.1/24 dev "i14vs$$"
  ip -n "$P" addr add 198.51.100.2/24 dev "i14p$$"; ip -n "$V" addr add 10.8.0.2/24 dev "i14v$$"
  for n in "$S" "$P" "$V"; do ip -n "$n" link set lo up; done
  ip -n "$S" link set "i14ps$$" up; ip -n "$S" link set "i14vs$$" up
  ip -n "$P" link set "i14p$$" up; ip -n "$V" link set "i14v$$" up
  ip netns exec "$S" nft -f "$H/nftables.conf" || fail "nft -f in the test namespace"
  for port in 22 80 443 9090 9093 9100 9187 8080; do
    ip netns exec "$S" socat "TCP-LISTEN:$port,fork,reuseaddr" SYSTEM:'echo hi' 2>/dev/null &
    PIDS+=($!)
  done
  sleep 0.5
  probe() { # probe NS ADDR PORT → open | closed
    if ip netns exec "$1" timeout 1 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; then echo open; else echo closed; fi
  }
  want() { [ "$(probe "$1" "$2" "$3")" = "$4" ] || fail "nftables: port $3 from $5 is $(probe "$1" "$2" "$3"), want $4"; }
  want "$P" 198.51.100.1 80 open public; want "$P" 198.51.100.1 443 open public
  for port in 9090 9093 9100 9187 8080; do want "$P" 198.51.100.1 "$port" closed public; done
  for port in 9090 9093 9100 9187; do want "$V" 10.8.0.1 "$port" open VPN; done
  want "$V" 10.8.0.1 8080 closed VPN
  # SSH: 6 new connections a minute per address (burst 6), then dropped.
  opened=0
  for _ in $(seq 1 10); do [ "$(probe "$P" 198.51.100.1 22)" = open ] && opened=$((opened + 1)); done
  [ "$opened" -ge 5 ] && [ "$opened" -le 7 ] || fail "nftables: $opened of 10 rapid SSH connections from one address got through, want about 6"
  want "$V" 10.8.0.1 22 open "the VPN (another address, not limited)"
  ok "nftables in a network namespace: 80/443 open; 9090/9093/9100/9187/8080 closed to the public; monitoring open to the VPN; SSH: $opened of 10 rapid connections from one address accepted"
else
  # Without CAP_SYS_ADMIN there is no namespace: the syntax check above is all.
  [ "${CI:-}" = 1 ] && { cat "$T/netns.err" >&2; fail "cannot create a network namespace to probe the firewall"; }
  echo "skip nftables probe: $(cat "$T/netns.err")"
fi

# --- sshd -----------------------------------------------------------------------
section "sshd"
mkdir -p "$T/ssh/sshd_config.d" /run/sshd
cp "$H/sshd-ludeng.conf" "$T/ssh/sshd_config.d/10-ludeng.conf"
ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/ssh_host_ed25519_key"
grep -q '^Include /etc/ssh/sshd_config.d/\*.conf' /etc/ssh/sshd_config || fail "Debian's sshd_config lacks its Include line"
sed "s#^Include /etc/ssh/sshd_config.d/\*.conf#Include $T/ssh/sshd_config.d/*.conf\nHostKey $T/ssh/ssh_host_ed25519_key#" /etc/ssh/sshd_config > "$T/ssh/sshd_config"
sshd -t -f "$T/ssh/sshd_config" > "$T/sshd.out" 2>&1 || { cat "$T/sshd.out" >&2; fail "sshd -t -f (stock sshd_config + drop-in)"; }
sshd -T -f "$T/ssh/sshd_config" -C user=root,host=x,addr=198.51.100.2 > "$T/sshd-T.out" 2>&1 || { cat "$T/sshd-T.out" >&2; fail "sshd -T"; }
for kv in "permitrootlogin no" "passwordauthentication no" "kbdinteractiveauthentication no" "authenticationmethods publickey" \
  "pubkeyauthentication yes" "x11forwarding no" "allowtcpforwarding no" "maxauthtries 3"; do
  grep -qx "$kv" "$T/sshd-T.out" || fail "sshd -T: want '$kv', got '$(grep "^${kv%% *} " "$T/sshd-T.out")'"
done
ok "sshd -t -f on Debian's sshd_config + drop-in; effective: no root, keys only (publickey), no passwords/keyboard-interactive, no forwarding, MaxAuthTries 3"

# --- fail2ban ---------------------------------------------------------------------
section "fail2ban"
cp -a /etc/fail2ban "$T/f2b"
cp "$H/fail2ban/jail.d/ludeng.conf" "$T/f2b/jail.d/"
cp "$H/fail2ban/filter.d/nginx-ludeng.conf" "$T/f2b/filter.d/"
touch "$T/ludeng.access.log"
sed -i "s#^logpath = /var/log/nginx/ludeng.access.log#logpath = $T/ludeng.access.log#" "$T/f2b/jail.d/ludeng.conf"
fail2ban-client -c "$T/f2b" -t > "$T/f2b.out" 2>&1 || { cat "$T/f2b.out" >&2; fail "fail2ban-client -t"; }
fail2ban-client -c "$T/f2b" -d > "$T/f2b-d.out" 2>&1 || { cat "$T/f2b-d.out" >&2; fail "fail2ban-client -d"; }
grep -q "'add', 'sshd', 'systemd'" "$T/f2b-d.out" || fail "fail2ban: jail sshd (systemd backend) not enabled"
grep -q "'add', 'nginx-ludeng'" "$T/f2b-d.out" || fail "fail2ban: jail nginx-ludeng not enabled"
grep -q "nftables" "$T/f2b-d.out" || fail "fail2ban: bans do not use nftables"
# Lines exactly as log_format ludeng writes them (deploy/nginx/ludeng.conf).
line() { # line TIME IP METHOD PATH STATUS
  printf '{"time":"%s","request_id":"r%s","remote_addr":"%s","host":"ludeng.example.com","method":"%s","path":"%s","protocol":"HTTP/2.0","status":%s,"bytes_sent":120,"request_length":300,"request_time":0.004,"upstream_addr":"127.0.0.1:8080","upstream_status":"%s","upstream_response_time":"0.004","tls":"TLSv1.3","referer":"","user_agent":"curl/7.88.1"}\n' \
    "$1" "$RANDOM" "$2" "$3" "$4" "$5" "$5"
}
now=$(date -u +%Y-%m-%dT%H:%M:%S+00:00)
{
  for _ in 1 2 3; do line "$now" 203.0.113.7 POST /api/v1/auth/login 401; done   # failed logins: count
  for _ in 1 2; do line "$now" 203.0.113.8 POST /api/v1/auth/login 429; done     # nginx's login brake: count
  line "$now" 203.0.113.9 GET /api/v1/uploads 429                                  # API rate limit: count
  line "$now" 203.0.113.10 GET /api/v1/auth/me 401                                 # expired session: not counted
  line "$now" 203.0.113.11 POST /api/v1/auth/login 200                             # good login: not counted
  line "$now" 203.0.113.12 GET /api/v1/batches 200
} > "$T/sample.log"
fail2ban-regex "$T/sample.log" "$T/f2b/filter.d/nginx-ludeng.conf" > "$T/regex.out" 2>&1 || { cat "$T/regex.out" >&2; fail "fail2ban-regex"; }
matched=$(grep -oE '^Lines: [0-9]+ lines, [0-9]+ ignored, [0-9]+ matched' "$T/regex.out" | awk '{print $6}')
[ "$matched" = 6 ] || { cat "$T/regex.out" >&2; fail "fail2ban-regex matched $matched of the sample lines, want 6 (3 failed logins, 3 × 429)"; }
fail2ban-regex -o ip "$T/sample.log" "$T/f2b/filter.d/nginx-ludeng.conf" 2>/dev/null | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ' > "$T/ips"
expect_ips="203.0.113.7x3 203.0.113.8x2 203.0.113.9x1 "
[ "$(cat "$T/ips")" = "$expect_ips" ] || fail "fail2ban-regex counted '$(cat "$T/ips")', want '$expect_ips' (login 401s and 429s only)"
ok "fail2ban-client -t: jails sshd (systemd) and nginx-ludeng, bans via nftables; fail2ban-regex: 6 of 8 ludeng log lines match (login 401s and 429s, not /auth/me 401s)"

# --- unattended-upgrades -------------------------------------------------------------
section "unattended-upgrades"
{ cat /etc/apt/apt.conf.d/50unattended-upgrades 2>/dev/null || true; cat "$H/20auto-upgrades" "$H/52ludeng-unattended-upgrades"; } > "$T/apt.conf"
apt-config -c "$T/apt.conf" dump > "$T/apt.dump" 2>&1 || { cat "$T/apt.dump" >&2; fail "apt-config cannot parse the unattended-upgrades files"; }
for kv in 'APT::Periodic::Unattended-Upgrade "1";' 'APT::Periodic::Update-Package-Lists "1";' \
  'Unattended-Upgrade::Automatic-Reboot "true";' 'Unattended-Upgrade::Automatic-Reboot-Time "04:30";'; do
  grep -qxF "$kv" "$T/apt.dump" || fail "apt-config dump lacks $kv"
done
grep -qF 'Unattended-Upgrade::Origins-Pattern:: "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";' "$T/apt.dump" \
  || fail "the Debian security origin is not in Unattended-Upgrade::Origins-Pattern"
# Ours must be read after Debian's file (52 > 50): the reboot setting wins.
ok "unattended-upgrades: apt-config parses 20auto-upgrades + 52ludeng-unattended-upgrades after Debian's 50unattended-upgrades; security origin, reboot at 04:30"

# --- journald --------------------------------------------------------------------
section "journald"
known=$(sed -n 's/^#\([A-Za-z]*\)=.*/\1/p' /etc/systemd/journald.conf | sort -u)
[ -n "$known" ] || fail "no keys in /etc/systemd/journald.conf to check against"
grep -qx '\[Journal\]' "$H/journald-ludeng.conf" || fail "journald drop-in has no [Journal] section"
while IFS='=' read -r k v; do
  grep -qx "$k" <<<"$known" || fail "journald drop-in: unknown key $k (journald.conf(5) lists: $(tr '\n' ' ' <<<"$known"))"
  case "$k" in
    SystemMaxUse|SystemKeepFree|SystemMaxFileSize|RuntimeMaxUse|RuntimeKeepFree|RuntimeMaxFileSize)
      [[ $v =~ ^[0-9]+[KMGTPE]?$ ]] || fail "journald $k=$v is not a size" ;;
    MaxRetentionSec|MaxFileSec|RateLimitIntervalSec|SyncIntervalSec)
      [[ $v =~ ^[0-9]+(us|ms|s|min|h|day|week|month|year)?$ ]] || fail "journald $k=$v is not a time span" ;;
    RateLimitBurst) [[ $v =~ ^[0-9]+$ ]] || fail "journald $k=$v is not a number" ;;
    Storage) [[ $v =~ ^(volatile|persistent|auto|none)$ ]] || fail "journald Storage=$v" ;;
    Compress|Seal|ForwardToSyslog|ForwardToKMsg|ForwardToConsole|ForwardToWall)
      [[ $v =~ ^(yes|no|true|false|1|0)$ ]] || fail "journald $k=$v is not a boolean" ;;
  esac
done < <(grep -E '^[A-Za-z]+=' "$H/journald-ludeng.conf")
mkdir -p "$T/root/etc/systemd/journald.conf.d"
cp /etc/systemd/journald.conf "$T/root/etc/systemd/"
cp "$H/journald-ludeng.conf" "$T/root/etc/systemd/journald.conf.d/ludeng.conf"
systemd-analyze cat-config --root="$T/root" systemd/journald.conf > "$T/journald.cat" 2>&1 || { cat "$T/journald.cat" >&2; fail "systemd-analyze cat-config systemd/journald.conf"; }
grep -q "journald.conf.d/ludeng.conf" "$T/journald.cat" && grep -qx 'SystemMaxUse=2G' "$T/journald.cat" || { cat "$T/journald.cat" >&2; fail "the drop-in is not part of journald's configuration"; }
ok "journald drop-in: $(grep -cE '^[A-Za-z]+=' "$H/journald-ludeng.conf") keys, all known to journald.conf(5), values well-formed; systemd-analyze cat-config picks it up"

# --- logrotate -------------------------------------------------------------------
section "logrotate"
mkdir -p "$T/logs"
for f in ludeng.access.log ludeng.error.log access.log; do printf 'line 1\nline 2\n' > "$T/logs/$f"; done
sed -e "s#/var/log/nginx/#$T/logs/#" -e "s#create 0640 www-data adm#create 0640 root root#" -e "s#/run/nginx.pid#$T/nginx.pid#g" \
  "$H/logrotate-nginx" > "$T/logrotate.conf"
logrotate -d -s "$T/logrotate.state" "$T/logrotate.conf" > "$T/logrotate-d.out" 2>&1 || { cat "$T/logrotate-d.out" >&2; fail "logrotate -d"; }
grep -qiE '^error' "$T/logrotate-d.out" && { cat "$T/logrotate-d.out" >&2; fail "logrotate -d reports errors"; }
grep -q "rotating pattern: $T/logs/\*.log" "$T/logrotate-d.out" || { cat "$T/logrotate-d.out" >&2; fail "logrotate -d did not read the pattern"; }
sleep 300 & PIDS+=($!); echo "${PIDS[-1]}" > "$T/nginx.pid"   # stands in for nginx: receives USR1
logrotate -f -s "$T/logrotate.state" "$T/logrotate.conf" > "$T/logrotate-f.out" 2>&1 || { cat "$T/logrotate-f.out" >&2; fail "logrotate -f"; }
ls "$T/logs" | grep -qE '^ludeng\.access\.log-[0-9]{8}-[0-9]+$' || { ls -l "$T/logs" >&2; fail "no rotated ludeng.access.log-<date>"; }
[ -f "$T/logs/ludeng.access.log" ] && [ ! -s "$T/logs/ludeng.access.log" ] || fail "a new empty ludeng.access.log was not created"
kill -0 "${PIDS[-1]}" 2>/dev/null && fail "postrotate did not signal the pid in nginx.pid (USR1)"
ok "logrotate -d clean; forced rotation: ludeng.access.log-<date> kept, new log created, USR1 sent to the nginx pid"

echo "host checks passed in $(( $(date +%s) - START ))s"
