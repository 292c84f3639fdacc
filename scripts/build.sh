#!/usr/bin/env bash
# Configures and builds Vigil with CMake and Ninja.
# Usage: scripts/build.sh [BUILD_DIR] [extra cmake -D options...]
# With VIGIL_TARGETS set (e.g. "vigild vigilctl vigil-sim"), builds only those targets and
# installs only the packages they need.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
shift || true
targets=()
if [[ -n "${VIGIL_TARGETS:-}" ]]; then
  read -r -a targets <<<"$VIGIL_TARGETS"
  "$root/scripts/setup.sh" --run
else
  "$root/scripts/setup.sh"
fi
cmake -S "$root" -B "$build" -G Ninja -DVIGIL_WERROR=ON "$@" >/dev/null
if ((${#targets[@]} > 0)); then
  cmake --build "$build" --parallel "$(nproc)" --target "${targets[@]}"
else
  cmake --build "$build" --parallel "$(nproc)"
fi
