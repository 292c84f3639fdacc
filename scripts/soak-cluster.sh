#!/usr/bin/env bash
# The cluster's kill test, soaked (docs/deployment.md §3): three vigild on a throwaway PostgreSQL,
# 50 monitors with sessions and acknowledged alarms, and the daemon holding the most chairs killed
# with SIGKILL KILLS times (default 200) instead of the suite's five; after each kill its chairs
# must be served again within 5 s with the same sessions, alarm ids and acknowledgements, and at
# the end every acked second of every chair must be in the timeline exactly once.
# Usage: scripts/soak-cluster.sh [KILLS]     (after scripts/test.sh --fast has built build/)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
kills="${1:-200}"
test_binary="$root/build/tests/integration/cluster_integration_test"
[[ -x "$test_binary" ]] || { echo "soak-cluster: build the tests first (scripts/test.sh --fast)" >&2; exit 1; }
VIGIL_CLUSTER_KILLS="$kills" "$test_binary" --gtest_filter='ClusterProcesses.AKilled*'
