#!/usr/bin/env bash
# Installs the Debian packages Vigil needs to build, test and run, if any are missing.
# Safe to run again: it installs only what is absent.
# Usage: scripts/setup.sh [--run | --package | --postgres] [--print]
#   --run       only what building vigild, vigilctl and vigil-sim needs
#   --package   that, and what building their Debian package needs (scripts/package.sh)
#   --postgres  that, and a PostgreSQL server (scripts/cluster.sh runs a throwaway one)
#   --print     prints the packages of that choice, one a line, and installs nothing
set -euo pipefail
mode="${1:-}"
print=false
[[ "${1:-}" == "--print" || "${2:-}" == "--print" ]] && print=true
[[ "$mode" == "--print" ]] && mode=""

packages=(
  g++ cmake ninja-build pkg-config
  libboost1.81-all-dev          # Asio (C++20 coroutines) and Beast
  libprotobuf-dev protobuf-compiler
  libspdlog-dev libfmt-dev
  libyaml-cpp-dev               # config files
  libcli11-dev                  # command-line parsing
  libsqlite3-dev                # the session timeline store
  prometheus-cpp-dev            # /metrics: the Prometheus data model and text format (core only)
  libsodium-dev                 # sign-in: Argon2id password hashes, random session tokens
  libpq-dev                     # the PostgreSQL timeline backend and cluster mode (libpq)
)
if [[ "$mode" == "--package" ]]; then
  packages+=(dpkg-dev)            # dpkg-shlibdeps: the package's library dependencies
elif [[ "$mode" == "--postgres" ]]; then
  packages+=(postgresql-15)       # the server scripts/cluster.sh runs on 127.0.0.1
elif [[ "$mode" != "--run" ]]; then
  packages+=(
    dpkg-dev                    # the package test builds the Debian package

    prometheus                  # promtool, which the tests run on a real /metrics scrape
    libgtest-dev libgmock-dev   # tests
    lld                         # links the sanitizer build's programs about twice as fast as ld.bfd
    postgresql-15               # a throwaway PostgreSQL server for the store and cluster tests
    libbenchmark-dev            # bench/
    chromium                    # browser tests of the nurse station page only (tests/browser/)
  )
  # Node.js and npm run the browser tests. A machine may already have them from another source
  # (NodeSource's nodejs carries its own npm and conflicts with Debian's npm package): what
  # counts is that the commands work.
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    packages+=(nodejs npm)
  fi
fi

if $print; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
