#!/usr/bin/env bash
# Smoke test of roadmap_bench (not a measurement): a short run must finish
# without a failed call and print the write floor with a ceiling for both
# writes. Figures are not checked: the machine is shared and noisy.
#   roadmap_bench_smoke.sh PATH_TO_ROADMAP_BENCH
set -euo pipefail
out=$("$1" --seconds 1 --repeat 1 --warmup 0ms --concurrency 4 \
  --raw-redis=false --floor-writes 500 \
  --only Echo,+ServeAsync,CreateAction,UpdateAction 2>/dev/null)
echo "$out"
number='[0-9]+\.[0-9]+'
row() {
  grep -Eq "^  $1 +$number \\| +$number +$number +${number}x \\| +$number +$number +${number}x\$" \
    <<<"$out" || { echo "FAIL: no write floor row for $1" >&2; exit 1; }
}
grep -q '^Write floor at concurrency 4:$' <<<"$out" ||
  { echo "FAIL: no write floor section" >&2; exit 1; }
if grep -q 'not measured' <<<"$out"; then
  echo "FAIL: the write floor was not measured" >&2
  exit 1
fi
row CreateAction
row UpdateAction
echo "roadmap_bench smoke: ok"
