#!/usr/bin/env bash
# Performance regression gate (issue 14):
#   - pipeline: BenchmarkBatch8Groups (32 images through the whole pipeline,
#     fake providers at 2 s/image, concurrency 5) divided by
#     BenchmarkProviderOnly (the same 32 calls with no pipeline) from the
#     same run must stay ≤ 1.10. A ratio, not seconds, so a slower or busier
#     machine moves both and the gate measures the pipeline's own overhead.
#   - planner: BenchmarkPlan12 on SQLite with 1,000,000 history rows, p95 of
#     100 plans ≤ 100 ms. The seeded database is cached in
#     $LUDENG_CI_CACHE/bench-plan (seeding 1M rows once costs minutes; every
#     later run reuses it), so CI measures the real size, no extrapolation.
# Benchmarks are not tests: these are the two numbers the issue sets as
# limits, measured where nothing else of CI runs at the same time.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
START=$(date +%s)
CACHE=${LUDENG_CI_CACHE:-/var/cache/ludeng-ci}
MAX_RATIO=1.10
MAX_P95_MS=100
T=$(mktemp -d /tmp/ludeng-perf.XXXXXX)
trap 'rm -rf "$T"' EXIT
metric() { # metric FILE BENCH-REGEX UNIT → the value before UNIT on the benchmark's line
  awk -v b="$2" -v u="$3" '$1 ~ b { for (i = 2; i <= NF; i++) if ($i == u) print $(i - 1) }' "$1" | tail -1
}

# SQLite only: the PostgreSQL variant adds another 16 s and measures the same
# code. A second run only when the first exceeds the limit: a burst of other
# work on the 2 cores can stretch one batch, a regression stretches both.
for attempt in 1 2; do
  env -u LUDENG_TEST_DATABASE_URL go test -run '^$' -bench '^(BenchmarkBatch8Groups|BenchmarkProviderOnly)$' -benchtime 1x -timeout 10m \
    ./bench/pipeline > "$T/pipeline.out" 2>&1 || { cat "$T/pipeline.out" >&2; echo "FAIL: pipeline benchmark" >&2; exit 1; }
  batch=$(metric "$T/pipeline.out" '^BenchmarkBatch8Groups/sqlite' 's/batch')
  floor=$(metric "$T/pipeline.out" '^BenchmarkProviderOnly' 's/32images')
  [ -n "$batch" ] && [ -n "$floor" ] || { cat "$T/pipeline.out" >&2; echo "FAIL: could not read s/batch and s/32images" >&2; exit 1; }
  ratio=$(awk -v a="$batch" -v b="$floor" 'BEGIN { printf "%.3f", a / b }')
  echo "pipeline (run $attempt): batch ${batch}s / provider-only floor ${floor}s = ratio $ratio (limit $MAX_RATIO; load $(cut -d' ' -f1 /proc/loadavg))"
  awk -v r="$ratio" -v m="$MAX_RATIO" 'BEGIN { exit !(r <= m) }' && break
  [ "$attempt" = 2 ] && { grep -E 'slot|took|bound' "$T/pipeline.out" | head -20 >&2; echo "FAIL: pipeline overhead ratio $ratio > $MAX_RATIO in two runs" >&2; exit 1; }
done

mkdir -p "$CACHE/bench-plan"
LUDENG_BENCH_DIR="$CACHE/bench-plan" go test -run '^$' -bench '^BenchmarkPlan12$/^sqlite$' -benchtime 100x -timeout 30m \
  ./bench/plan > "$T/plan.out" 2>&1 || { cat "$T/plan.out" >&2; echo "FAIL: planner benchmark" >&2; exit 1; }
p95=$(metric "$T/plan.out" '^BenchmarkPlan12/sqlite' 'p95-ms')
p50=$(metric "$T/plan.out" '^BenchmarkPlan12/sqlite' 'p50-ms')
[ -n "$p95" ] || { cat "$T/plan.out" >&2; echo "FAIL: could not read p95-ms" >&2; exit 1; }
seeded=$(grep -oE 'seeded [0-9]+ history rows \([0-9]+ used\) in [0-9a-z.]+' "$T/plan.out" || echo "1000000 history rows from the cache")
echo "planner: 12 groups, SQLite, 1,000,000 history rows ($seeded): p50 ${p50} ms, p95 ${p95} ms (limit ${MAX_P95_MS} ms)"
awk -v p="$p95" -v m="$MAX_P95_MS" 'BEGIN { exit !(p <= m) }' || { echo "FAIL: planner p95 $p95 ms > $MAX_P95_MS ms" >&2; exit 1; }
echo "performance gate passed in $(( $(date +%s) - START ))s"
