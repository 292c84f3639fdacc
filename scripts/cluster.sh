#!/usr/bin/env bash
# Cluster mode on one machine (docs/deployment.md, section 3): a throwaway PostgreSQL on
# 127.0.0.1 (scripts/postgres-scratch.sh, no system service), three vigild sharing it, each
# holding a share of the chairs, vigil-sim streaming a clinic of monitors that know all three
# daemons, and the nurse station of each. Kill a daemon (kill -9 PID; the PIDs are printed) and
# watch its chairs move to the others within a few seconds; start it again with the command
# printed, and it takes its share back. Ctrl-C stops everything and removes the database.
# Usage: scripts/cluster.sh [--monitors N] [--rate SAMPLES_PER_SECOND]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
monitors=24
rate=1
while (($#)); do
  case "$1" in
    --monitors) monitors="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    *) echo "usage: $0 [--monitors N] [--rate SAMPLES_PER_SECOND]" >&2; exit 2 ;;
  esac
done
VIGIL_TARGETS="vigild vigilctl vigil-sim" "$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVIGIL_BUILD_TESTS=OFF -DVIGIL_BUILD_BENCH=OFF
"$root/scripts/setup.sh" --postgres

# Under /tmp: the postgres user that runs the server as root must reach it.
work="$(mktemp -d /tmp/vigil-cluster.XXXXXX)"
chmod 755 "$work"
pg_port=55433
url="$("$root/scripts/postgres-scratch.sh" start "$work/pg" "$pg_port")"
pids=()
sim_pid=
stop() {
  # The monitors first, while the daemons can still ack what they hold (vigil-sim waits for that;
  # a few seconds at most, then it is stopped outright).
  if [[ -n "$sim_pid" ]]; then
    kill -TERM "$sim_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$sim_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$sim_pid" 2>/dev/null || true
  fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$root/scripts/postgres-scratch.sh" stop "$work/pg" || true
  rm -rf "$work"
}
trap stop EXIT INT TERM

names=(a b c)
for i in 0 1 2; do
  name="${names[$i]}"
  cat >"$work/$name.yaml" <<YAML
ports_file: $work/$name.ports
store:
  backend: postgres
  url: $url
cluster:
  enabled: true
  node: vigil-$name
  lease_ms: 3000
log:
  level: info
  file: $work/$name.log
ingest:
  address: 127.0.0.1
  port: $((7410 + 10 * i))
  devices:
    - id: "sim-*"
      token: sim-device-token
control:
  address: 127.0.0.1
  port: $((7411 + 10 * i))
feed:
  address: 127.0.0.1
  port: $((7413 + 10 * i))
http:
  address: 127.0.0.1
  port: $((7412 + 10 * i))
users:
  - name: demo-nurse
    token: demo-operator-token
    role: admin
YAML
  "$root/build/daemon/vigild" --config "$work/$name.yaml" &
  pids+=("$!")
done
for name in a b c; do
  for _ in $(seq 100); do
    [[ -s "$work/$name.ports" ]] && break
    sleep 0.1
  done
  [[ -s "$work/$name.ports" ]] || { echo "cluster: vigild $name did not start (see $work/$name.log)" >&2; exit 1; }
done

cat <<MSG >&2

  Three vigild share the PostgreSQL database at $url (logs in $work/*.log):
    vigil-a  pid ${pids[0]}  devices 127.0.0.1:7410  station http://127.0.0.1:7412/
    vigil-b  pid ${pids[1]}  devices 127.0.0.1:7420  station http://127.0.0.1:7422/
    vigil-c  pid ${pids[2]}  devices 127.0.0.1:7430  station http://127.0.0.1:7432/
  (token demo-operator-token). vigil-sim streams $monitors monitors that know all three.
  Which daemon holds which chair:
    curl -s http://127.0.0.1:7412/healthz
    psql '$url' -c 'SELECT chair_id, node, epoch FROM chair_leases ORDER BY chair_id'
  Kill one (kill -9 PID) and its chairs move to the others within a few seconds; start it again
  with: build/daemon/vigild --config $work/a.yaml (or b, c). Ctrl-C stops everything.

MSG
"$root/build/sim/vigil-sim" --load --devices "$monitors" --rate "$rate" --samples 100000000 \
  --token sim-device-token --port 7410 --also-ingest 127.0.0.1:7420 --also-ingest 127.0.0.1:7430 &
sim_pid=$!
wait "$sim_pid" || true
sim_pid=
wait
