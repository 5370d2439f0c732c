#!/usr/bin/env bash
# Start a private clamd for manual testing of ludeng's malware scan, fully
# offline: no freshclam, a signature database generated here with sigtool.
#
#   bench/files/clamd-test.sh start   # prints LUDENG_CLAMD_ADDR=unix://…
#   bench/files/clamd-test.sh scan FILE
#   bench/files/clamd-test.sh stop
#
# The Go tests do the same setup by themselves (internal/clamav/clamavtest);
# this script is for running `ludeng serve` against a real scanner.
# Needs: apt-get install -y clamav clamav-daemon (nothing starts by itself).
set -euo pipefail

dir="${CLAMD_TEST_DIR:-/tmp/ludeng-clamd}"
sock="$dir/clamd.sock"
eicar='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'

clamd_bin() {
  command -v clamd 2>/dev/null || { [ -x /usr/sbin/clamd ] && echo /usr/sbin/clamd; } || {
    echo "clamd not installed: apt-get install -y clamav clamav-daemon" >&2; exit 1; }
}

start() {
  local bin; bin="$(clamd_bin)"
  mkdir -p "$dir/db" "$dir/tmp"
  # Hash signature of the EICAR file (sigtool --md5 prints MD5:size:name)...
  printf '%s' "$eicar" > "$dir/eicar.txt"
  sigtool --md5 "$dir/eicar.txt" > "$dir/db/test.hdb"
  # ...and a body signature that finds EICAR anywhere, e.g. appended to a JPEG.
  printf 'Ludeng.Test.EICAR.Body:0:*:%s\n' "$(printf '%s' "$eicar" | od -An -tx1 | tr -d ' \n')" > "$dir/db/test.ndb"
  cat > "$dir/clamd.conf" <<CONF
Foreground no
LocalSocket $sock
DatabaseDirectory $dir/db
TemporaryDirectory $dir/tmp
LogFile $dir/clamd.log
PidFile $dir/clamd.pid
StreamMaxLength 20M
SelfCheck 0
CONF
  "$bin" --config-file="$dir/clamd.conf"
  for _ in $(seq 1 100); do
    [ -S "$sock" ] && break
    sleep 0.1
  done
  [ -S "$sock" ] || { echo "clamd did not start; see $dir/clamd.log" >&2; exit 1; }
  echo "LUDENG_CLAMD_ADDR=unix://$sock"
}

stop() {
  [ -f "$dir/clamd.pid" ] && kill "$(cat "$dir/clamd.pid")" 2>/dev/null || true
  rm -rf "$dir"
}

# scan FILE: one zINSTREAM exchange with python3 (clamdscan is a separate package).
scan() {
  python3 - "$sock" "$1" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"zINSTREAM\0")
with open(sys.argv[2], "rb") as f:
    while chunk := f.read(65536):
        s.sendall(struct.pack(">I", len(chunk)) + chunk)
s.sendall(struct.pack(">I", 0))
print(s.recv(4096).rstrip(b"\0").decode())
PY
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  scan) scan "${2:?file}" ;;
  *) echo "usage: $0 start|scan FILE|stop" >&2; exit 2 ;;
esac
