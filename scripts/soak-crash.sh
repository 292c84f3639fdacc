#!/usr/bin/env bash
# Crash soak: kill -9 vigild at random moments while a device streams, many times over, and
# check after each round that every acked sample is in the timeline exactly once.
# Not part of the test suite (scripts/test.sh runs the same test with 20 kills).
# Usage: scripts/soak-crash.sh [ROUNDS] [KILLS_PER_ROUND]     (defaults: 10 rounds of 200 kills)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${1:-10}"
kills="${2:-200}"
"$root/scripts/build.sh" "$root/build" >/dev/null
for round in $(seq 1 "$rounds"); do
  seed=$((RANDOM * 32768 + RANDOM))
  echo "round $round/$rounds: $kills kills, seed $seed"
  VIGIL_CRASH_KILLS="$kills" VIGIL_CRASH_SEED="$seed" \
    "$root/build/tests/integration/vigild_process_test" \
    --gtest_filter='VigildProcess.KilledAtRandomMoments*' --gtest_brief=1
done
echo "crash soak passed: $((rounds * kills)) kills"
