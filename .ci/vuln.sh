#!/usr/bin/env bash
# Vulnerability scan that works on machines without the public vulnerability
# services (vuln.go.dev and the npm advisory endpoint are not reachable from
# CI; the Go module proxy and the npm registry are):
#   - Go: govulncheck against a database built from the golang.org/x/vulndb
#     module, which the Go proxy serves with every OSV report in data/osv/;
#     its cmd/indexdb writes the v1 database govulncheck reads with
#     -db file://. Built once per vulndb version and cached. Fails on a
#     vulnerable function of a required module that our code can reach;
#     reachable standard-library findings are printed with the Go release
#     that fixes them (the toolchain is the machine's, not the repository's).
#   - npm: `npm audit` for web/; fails on high/critical advisories in
#     production dependencies. If the registry refuses the audit endpoint,
#     says so: npm packages are then NOT scanned.
# Bump VULNDB_VERSION (go list -m -versions golang.org/x/vulndb; it is a
# pseudo-version, take the newest) to refresh the advisories.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"
START=$(date +%s)
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018
GOVULNCHECK_VERSION=v1.10.0
CACHE=${LUDENG_CI_CACHE:-/var/cache/ludeng-ci}
DB="$CACHE/govulndb-$VULNDB_VERSION"

if [ ! -f "$DB/index/db.json" ]; then
  echo "building the Go vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION (cold cache)"
  mkdir -p "$CACHE"
  rm -rf "$DB.tmp"
  # -mod=mod: indexdb's own dependencies, not ludeng's go.mod.
  (cd "$CACHE" && GOFLAGS=-mod=mod go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" \
    -vulns "$(go env GOMODCACHE)/golang.org/x/vulndb@$VULNDB_VERSION/data/osv" -out "$DB.tmp")
  mv "$DB.tmp" "$DB"
fi
reports=$(find "$DB/ID" -name 'GO-*.json' | wc -l)
# The pseudo-version's timestamp is the snapshot's commit time.
snapshot=$(sed -E 's/^v0\.0\.0-([0-9]{4})([0-9]{2})([0-9]{2}).*/\1-\2-\3/' <<<"$VULNDB_VERSION")
if ! command -v govulncheck >/dev/null || ! govulncheck -version 2>/dev/null | grep -q "govulncheck@$GOVULNCHECK_VERSION"; then
  go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
fi
echo "Go vulnerability database: $reports reports, snapshot of $snapshot (golang.org/x/vulndb@$VULNDB_VERSION)"

T=$(mktemp -d /tmp/ludeng-vuln.XXXXXX)
trap 'rm -rf "$T"' EXIT
set +e
govulncheck -db "file://$DB" -format json ./... > "$T/govuln.json" 2> "$T/govuln.err"
rc=$?
set -e
# JSON mode exits 0 with findings; anything else is the tool failing.
[ "$rc" = 0 ] || { cat "$T/govuln.err" >&2; echo "FAIL: govulncheck exited $rc" >&2; exit 1; }
# One line per reachable vulnerability: OSV id, module, fixed version.
jq -r 'select(.finding) | .finding | select(.trace[0].function) | [.osv, .trace[0].module, (.fixed_version // "none")] | @tsv' \
  "$T/govuln.json" | sort -u > "$T/called"
jq -r 'select(.finding) | .finding | select(.trace[0].function | not) | .osv' "$T/govuln.json" | sort -u > "$T/imported"
std=$(awk -F'\t' '$2 == "stdlib"' "$T/called" | wc -l)
mods=$(awk -F'\t' '$2 != "stdlib"' "$T/called" | wc -l)
echo "govulncheck ($(go version | cut -d' ' -f3)): $mods reachable vulnerabilit(ies) in required modules, $std in the standard library; $(wc -l < "$T/imported") more in imported or required code that is not called"
if [ "$std" -gt 0 ]; then
  echo "  standard library (fix: build with Go $(awk -F'\t' '$2 == "stdlib" {print $3}' "$T/called" | sort -V | tail -1) or later — the toolchain, not go.mod):"
  awk -F'\t' '$2 == "stdlib" {printf "    %s fixed in %s\n", $1, $3}' "$T/called"
fi
if [ "$mods" -gt 0 ]; then
  awk -F'\t' '$2 != "stdlib" {printf "    %s in %s, fixed in %s\n", $1, $2, $3}' "$T/called" >&2
  echo "FAIL: our code reaches vulnerable functions of required modules (above): upgrade them" >&2
  exit 1
fi

# npm
cd web
set +e
npm audit --omit=dev --audit-level=high --json > "$T/npm.json" 2> "$T/npm.err"
rc=$?
set -e
status=$(jq -r '.statusCode // empty' "$T/npm.json" 2>/dev/null || true)
if [ -n "$status" ]; then
  echo "npm audit: NOT SCANNED — the registry answered HTTP $status to the advisory endpoint ($(jq -r .uri "$T/npm.json")); npm packages have no vulnerability scan on this machine"
elif jq -e '.metadata.vulnerabilities' "$T/npm.json" > /dev/null 2>&1; then
  summary=$(jq -r '.metadata.vulnerabilities | to_entries | map("\(.key) \(.value)") | join(", ")' "$T/npm.json")
  echo "npm audit (production dependencies): $summary"
  [ "$rc" = 0 ] || { echo "FAIL: npm audit found high or critical advisories in production dependencies" >&2; exit 1; }
else
  cat "$T/npm.err" >&2
  echo "FAIL: npm audit gave no result" >&2
  exit 1
fi
echo "vulnerability scan done in $(( $(date +%s) - START ))s"
