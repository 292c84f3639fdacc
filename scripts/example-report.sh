#!/usr/bin/env bash
# Builds vigilctl and example_session, writes the simulated two-hour IV-ketamine session into a
# temporary timeline, and renders its report to docs/example-report.html.
# Usage: scripts/example-report.sh [BUILD_DIR]   (default: build)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"

"$root/scripts/setup.sh"
cmake -S "$root" -B "$build" -G Ninja -DVIGIL_WERROR=ON -DVIGIL_BUILD_BENCH=ON >/dev/null
cmake --build "$build" --target example_session vigilctl
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== simulated session (alarms and phase changes, minutes after the dose)" >&2
session="$("$build/bench/example_session" --data-dir "$work")"
"$build/daemon/vigilctl" list --data-dir "$work"
"$build/daemon/vigilctl" report "$session" --data-dir "$work" -o "$root/docs/example-report.html"
