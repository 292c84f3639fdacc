#!/usr/bin/env bash
# Crash soak: vigild killed with SIGKILL at random moments (start-up, recovery, idle, mid-stream,
# commands in flight) while three monitors stream, a nurse works and a subscriber follows, then
# checked: nothing acked lost or stored twice, no id naming two things, the resumed subscriber
# getting exactly what it missed, and each state after a restart equal to the state before plus
# the events published in between (tests/integration/crash_test.cpp).
# Not part of the test suite (scripts/test.sh runs the same test with 20 kills).
# Usage: scripts/soak-crash.sh [KILLS] [SEED...]    (defaults: 200 kills for seeds 1 to 10)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
kills="${1:-200}"
shift || true
seeds=("$@")
[[ ${#seeds[@]} -gt 0 ]] || seeds=(1 2 3 4 5 6 7 8 9 10)
"$root/scripts/build.sh" "$root/build" >/dev/null
for seed in "${seeds[@]}"; do
  echo "seed $seed: $kills kills"
  VIGIL_CRASH_KILLS="$kills" VIGIL_CRASH_SEED="$seed" \
    "$root/build/tests/integration/crash_test" --gtest_brief=1 | grep -E '^crash test:|FAILED|PASSED'
done
echo "crash soak passed: ${#seeds[@]} seeds x $kills kills"
