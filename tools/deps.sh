#!/usr/bin/env bash
# Installs the Debian packages Jalon needs to build, test and run, if any is
# missing (idempotent, quiet when everything is present), and configures a
# build directory. Sourced by tools/test and tools/run.
set -euo pipefail

JALON_PACKAGES=(
  build-essential cmake pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  grpc-proto libabsl-dev libssl-dev
  libhiredis-dev libspdlog-dev libfmt-dev libjemalloc-dev
  libcli11-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  redis-server
  # Reporting: the HTTP feed server, and the test tools that read its
  # output (a real Atom parser, a real browser for the HTML export).
  libcpp-httplib-dev python3-feedparser chromium
  nodejs
  # tools/run and its test: the summary and the HTTP checks.
  python3 curl
  # --time-zone reads the tz database.
  tzdata
)

jalon_install_deps() {
  local missing=()
  for p in "${JALON_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
      missing+=("$p")
    fi
  done
  # The deploy checks (tests/deploy) need npm: Debian packages it apart
  # from nodejs, NodeSource's nodejs ships it (and conflicts with Debian's).
  if ! command -v npm >/dev/null 2>&1; then
    missing+=(npm)
  fi
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "jalon: installing ${missing[*]}" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "jalon: installing needs root: run as root, or install sudo" >&2
      return 1
    }
    sudo="sudo"
  fi
  $sudo apt-get update -qq >/dev/null
  # Through env, so that sudo's env_reset cannot drop it: a debconf
  # question would otherwise wait, unseen, behind the quiet output.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}

# Configures the build directory $1 (more cmake arguments after it). A new
# one is a RelWithDebInfo build; one configured before keeps its build type
# (a Debug or sanitizer build stays one, instead of being rebuilt whole).
jalon_configure() {
  local dir=$1
  shift
  if [ -f "$dir/CMakeCache.txt" ]; then
    cmake -S . -B "$dir" "$@" >/dev/null
  else
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  fi
}
