#!/usr/bin/env bash
# Builds Vigil and runs the whole test suite through CTest: first the normal build,
# then the same tests under AddressSanitizer and UndefinedBehaviorSanitizer, all but two: the
# browser test (it checks the station's pages, whose daemon side the integration tests already
# cover, and it is the longest test; under the sanitizers it would hold the pass for minutes), and
# the cluster's five-kill test (three instrumented daemons killed and restarted five times; the
# takeover, fencing and give-up code it runs is run under the sanitizers by the cluster's
# in-process test and its frozen-daemon test), and the labelled corpus's alarm-quality tests
# (Corpus/*: the engine's judgement over hours of recordings, a quarter of the pass's time; the
# engine's code is run under the sanitizers by its own unit tests and EngineProperty's random
# streams).
# Usage: scripts/test.sh [--fast]   (--fast: skip the sanitizer pass)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
jobs="$(nproc)"
# One test per core: the simulator's end-to-end tests pace a clinic at 1,000 times real time, and
# with two tests per core they fell behind (late doses) on a 2-core machine.
test_jobs="$jobs"

# How long each test took in a clean-clone run (tests/test-costs.txt, CTest's own format): CTest
# starts the longest first, so that no long test is left to run alone at the end. A build
# directory that has run its tests keeps its own, newer figures.
seed_costs() {
  local data="$1/Testing/Temporary/CTestCostData.txt"
  if [[ ! -s "$data" ]]; then
    mkdir -p "$(dirname "$data")"
    cp "$root/tests/test-costs.txt" "$data"
  fi
}

# Without debug information: the tests do not need it, and it is about a quarter of the build's time.
"$root/scripts/build.sh" "$root/build" -DVIGIL_BUILD_TESTS=ON -DVIGIL_BUILD_BENCH=ON -DVIGIL_DEBUG_INFO=OFF
seed_costs "$root/build"
(cd "$root/build" && ctest --output-on-failure --parallel "$test_jobs" --timeout 300)

if [[ "${1:-}" != "--fast" ]]; then
  echo "== the same tests under AddressSanitizer + UBSan (but the browser test)" >&2
  "$root/scripts/build.sh" "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DVIGIL_SANITIZE=ON -DVIGIL_BUILD_BENCH=OFF \
    -DVIGIL_DEBUG_INFO=OFF
  seed_costs "$root/build-asan"
  (cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure --parallel "$test_jobs" --timeout 600 --label-exclude browser \
      --exclude-regex '^(ClusterProcesses\.AKilled|Corpus/)')
fi
