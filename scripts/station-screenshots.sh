#!/usr/bin/env bash
# Makes docs/station.png (the station with a busy clinic) and docs/session-detail.png (one
# session's detail) with the built vigild and vigil-sim in headless Chromium.
# Usage: scripts/station-screenshots.sh [BUILD_DIR]   (default: build)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
export VIGILD="$build/daemon/vigild" VIGIL_SIM="$build/sim/vigil-sim" VIGIL_SOURCE_DIR="$root"
export VIGIL_ARTIFACTS="$build/browser-artifacts"
"$root/tests/browser/run.sh" "$build/tests/browser/work" screenshots.mjs "$root/docs"
