#!/usr/bin/env bash
# A throwaway PostgreSQL 15 on 127.0.0.1 for benchmarks and demonstrations: initdb in DIR, the
# server on PORT (listening on 127.0.0.1 only, Unix socket in DIR), fsync and synchronous_commit
# on, and a database named `vigil`. No system service is used or needed. As root, the cluster is
# made and run by the `postgres` user that Debian's postgresql-15 package creates (PostgreSQL
# refuses to run as root); DIR must then be somewhere that user can reach (e.g. under /tmp).
#
#   scripts/postgres-scratch.sh start DIR [PORT]   # prints the URL: postgresql://postgres@127.0.0.1:PORT/vigil
#   scripts/postgres-scratch.sh stop DIR           # stops the server (DIR stays; rm -rf it after)
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
command="${1:-}"
dir="${2:-}"
port="${3:-55432}"
if [[ -z "$command" || -z "$dir" ]]; then
  echo "usage: $0 start DIR [PORT] | stop DIR" >&2
  exit 2
fi
if [[ ! -x "$bin/initdb" ]]; then
  echo "$0: PostgreSQL 15 is not installed ($bin/initdb): run scripts/setup.sh" >&2
  exit 1
fi
as_owner() {
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}
case "$command" in
  start)
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    [[ "$(id -u)" == 0 ]] && chown postgres:postgres "$dir"
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
      as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C >"$dir/initdb.log"
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=on -c synchronous_commit=on -c max_connections=200" \
      start >/dev/null
    as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qtAc \
      "SELECT 1 FROM pg_database WHERE datname = 'vigil'" | grep -q 1 ||
      as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE vigil"
    echo "postgresql://postgres@127.0.0.1:$port/vigil"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  *)
    echo "usage: $0 start DIR [PORT] | stop DIR" >&2
    exit 2
    ;;
esac
