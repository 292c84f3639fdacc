#!/usr/bin/env bash
# Every library the build finds through pkg-config (pkg_check_modules in CMakeLists.txt) comes
# from a Debian package that `scripts/setup.sh --run` installs: the README's main command
# (scripts/run.sh) installs only those before it builds vigild, vigilctl and vigil-sim.
# Written after libpq-dev was installed only for the tests, so that the main command failed at
# its configure step on a fresh machine.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
run_packages="$(bash "$root/scripts/setup.sh" --run --print)"
modules="$(sed -n 's/^pkg_check_modules([^ ]* REQUIRED IMPORTED_TARGET \([^ )]*\)).*/\1/p' "$root/CMakeLists.txt")"
[[ -n "$modules" ]] || { echo "no pkg_check_modules line found in CMakeLists.txt" >&2; exit 1; }
status=0
for module in $modules; do
  pc="$(pkg-config --variable=pcfiledir "$module")/$module.pc"
  package="$(dpkg -S "$(readlink -f "$pc")" 2>/dev/null | head -1 | cut -d: -f1)"
  if [[ -z "$package" ]]; then
    echo "pkg-config module $module ($pc) belongs to no Debian package" >&2
    status=1
  elif ! grep -qx "$package" <<<"$run_packages"; then
    echo "pkg-config module $module comes from $package, which scripts/setup.sh --run does not install" >&2
    status=1
  else
    echo "$module: $package (installed by setup.sh --run)"
  fi
done
exit "$status"
