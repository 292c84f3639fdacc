#!/usr/bin/env bash
# Runs the nurse station's browser tests (CTest: browser_station_test) in WORK_DIR: copies the
# tests there, installs playwright-core from the npm registry with `npm ci` when it is missing
# or the lock file changed, then runs them with node's own test runner. Test-only: node, npm,
# playwright-core and chromium are not needed to build or run vigild.
# Usage: tests/browser/run.sh WORK_DIR [SCRIPT ARGS...]
#   (VIGILD, VIGIL_SIM, VIGILCTL, VIGIL_SOURCE_DIR, VIGIL_ARTIFACTS from CTest; with SCRIPT, runs that
#   script of tests/browser/ instead of the tests, e.g. screenshots.mjs)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:?usage: run.sh WORK_DIR}"
for tool in node npm "${VIGIL_CHROMIUM:-/usr/bin/chromium}"; do
  command -v "$tool" >/dev/null || { echo "browser tests: $tool is missing; scripts/setup.sh installs it" >&2; exit 1; }
done
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here"/*.mjs "$work/"
cd "$work"
if ! cmp -s package-lock.json node_modules/.vigil-package-lock.json; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.vigil-package-lock.json
fi
if (($# > 1)); then
  exec node "${@:2}"
fi
exec node --test --test-concurrency=1 --test-reporter=spec \
  web.test.mjs station.test.mjs artefacts.test.mjs room.test.mjs clinic.test.mjs signin.test.mjs demo.test.mjs
