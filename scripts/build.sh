#!/usr/bin/env bash
# Configures and builds Vigil with CMake and Ninja.
# Usage: scripts/build.sh [BUILD_DIR] [extra cmake -D options...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
shift || true
"$root/scripts/setup.sh"
cmake -S "$root" -B "$build" -G Ninja -DVIGIL_WERROR=ON "$@" >/dev/null
cmake --build "$build" --parallel "$(nproc)"
