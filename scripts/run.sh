#!/usr/bin/env bash
# Builds Vigil, then runs the daemon with the demo configuration and vigil-sim feeding a
# small clinic (config/scenarios/demo.yaml) ten times faster than real time: the simulated
# nurse opens the sessions and marks the doses. Ctrl-C stops both.
# Usage: scripts/run.sh [any vigil-sim option], e.g.
#   scripts/run.sh --scenario config/scenarios/hypertensive.yaml --speed 60
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# Only the three programs, and only the packages they need: the tests and benchmarks are
# scripts/test.sh's business. The build directory is the one test.sh uses; each says which
# parts it wants, so neither leaves the other with less than it needs.
VIGIL_TARGETS="vigild vigilctl vigil-sim" "$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVIGIL_BUILD_TESTS=OFF -DVIGIL_BUILD_BENCH=OFF

cd "$root"
mkdir -p var/run
rm -f var/run/vigild.ports
./build/daemon/vigild --config config/demo.yaml &
daemon_pid=$!
sim_pid=
stop() {
  [[ -n "$sim_pid" ]] && kill -INT "$sim_pid" 2>/dev/null || true
  kill -TERM "$daemon_pid" 2>/dev/null || true
  wait "$daemon_pid" 2>/dev/null || true
}
trap stop EXIT INT TERM

# vigild writes its ports file once it is listening.
for _ in $(seq 100); do
  [[ -s var/run/vigild.ports ]] && break
  kill -0 "$daemon_pid" 2>/dev/null || { echo "run: vigild did not start" >&2; exit 1; }
  sleep 0.1
done
[[ -s var/run/vigild.ports ]] || { echo "run: vigild did not report its ports" >&2; exit 1; }

cat <<MSG >&2

  vigild is running ($(tr '\n' ' ' < var/run/vigild.ports)); vigil-sim feeds it a
  small clinic (config/scenarios/demo.yaml) at ten times real time, opening sessions and
  marking doses as a nurse would.
  The nurse station: http://127.0.0.1:$(sed -n 's/^http: //p' var/run/vigild.ports)/ (token demo-operator-token)
  Watch or act from another terminal:
    export VIGIL_TOKEN=demo-operator-token
    build/daemon/vigilctl sessions
    build/daemon/vigilctl ack chair-3 7        # an alarm id from 'sessions'
  Ctrl-C stops both.

MSG
./build/sim/vigil-sim --ports-file var/run/vigild.ports --api-token demo-operator-token \
  --token sim-device-token --scenario config/scenarios/demo.yaml --speed 10 "$@" &
sim_pid=$!
wait "$sim_pid" || true
sim_pid=
echo "run: vigil-sim has finished its scenario; vigild keeps running (Ctrl-C stops it)" >&2
wait "$daemon_pid"
