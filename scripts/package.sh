#!/usr/bin/env bash
# Builds the Debian package of Vigil (vigild, vigilctl, vigil-sim, the profiles and scenarios,
# the example configuration, the hardened systemd unit, the documents) with CPack.
# Usage: scripts/package.sh [BUILD_DIR]   (default build-package); prints the .deb's path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build-package}"
"$root/scripts/setup.sh" --package
VIGIL_TARGETS="vigild vigilctl vigil-sim" "$root/scripts/build.sh" "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVIGIL_BUILD_TESTS=OFF -DVIGIL_BUILD_BENCH=OFF >&2
(cd "$build" && cpack -G DEB >&2)
ls -1t "$build"/vigil_*.deb | head -1
