#!/usr/bin/env bash
# Durable ingest into a cluster (docs/performance.md): N vigild in cluster mode on one PostgreSQL
# database, and vigil-sim's load mode streaming MONITORS monitors, as fast as the daemons ack
# (each ack after its batch's commit), with every daemon's address. Prints vigil-sim's summary:
# samples acked per second over the run. The database should be empty
# (scripts/postgres-scratch.sh start DIR PORT gives one; drop and create it between runs).
# Usage: bench/cluster_ingest.sh BUILD_DIR URL DAEMONS [MONITORS] [SAMPLES_PER_MONITOR]
set -euo pipefail
build="$1"
url="$2"
daemons="$3"
monitors="${4:-64}"
samples="${5:-200000}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
ports=()
for ((i = 0; i < daemons; i++)); do
  port=$((7600 + 10 * i))
  ports+=("$port")
  cat >"$work/$i.yaml" <<YAML
retention_days: 0
ports_file: $work/$i.ports
store:
  backend: postgres
  url: $url
cluster:
  enabled: true
  node: bench-$i
log:
  level: warn
ingest:
  address: 127.0.0.1
  port: $port
  devices:
    - id: "sim-*"
      token: bench-device-token
control:
  enabled: false
feed:
  enabled: false
http:
  enabled: false
YAML
  "$build/daemon/vigild" --config "$work/$i.yaml" &
  pids+=("$!")
done
for ((i = 0; i < daemons; i++)); do
  for _ in $(seq 100); do [[ -s "$work/$i.ports" ]] && break; sleep 0.1; done
done
also=()
for port in "${ports[@]:1}"; do also+=(--also-ingest "127.0.0.1:$port"); done
"$build/sim/vigil-sim" --load --quiet --devices "$monitors" --samples "$samples" --batch-size 64 \
  --token bench-device-token --port "${ports[0]}" "${also[@]}"
