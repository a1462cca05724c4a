"""Where things are in the repository: catalogs, scripts, downloaded dependencies, run state.

Everything the stack writes lives under the repository (`.deps/`, `.run/`) or, when PostgreSQL
cannot use a path there, under `/tmp/tally-<repo hash>` (see `postgres`). Paths are physical
(symlinks resolved), so two checkouts never share run state by accident.
"""
import hashlib
import os
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPS = ROOT / ".deps"
RUN_ROOT = ROOT / ".run"

SERVICES_FILE = ROOT / "ops" / "services.txt"
TOPICS_FILE = ROOT / "ops" / "topics.txt"
SIDECARS_FILE = ROOT / "ops" / "sidecars.txt"
SERVICE_ENVIRONMENT_FILE = ROOT / "ops" / "service-environment.txt"
CONTRACT_TESTS = ROOT / "ops" / "test-contracts.sh"
E2E_DIR = ROOT / "ops" / "e2e"
CRASH_TEST = ROOT / "ops" / "crash" / "crash_test.py"
BENCH = ROOT / "ops" / "bench" / "ingest.py"
TESTS_DIR = ROOT / "Tests"

# Links `ops/stack.sh bootstrap` keeps into the wheels it extracted (its TANSU_WHEEL and
# RDKAFKA_WHEEL pins), so the pinned versions are written down only there.
TANSU = DEPS / "bin" / "tansu"
LIBRDKAFKA_DIR = DEPS / "librdkafka"


def repo_hash():
    """Ten hex digits that name this checkout (from its path), for directories outside it."""
    return hashlib.sha256(str(ROOT).encode()).hexdigest()[:10]


def tmp_root():
    """This checkout's directory in /tmp (PostgreSQL data or sockets that cannot live in .run/)."""
    return pathlib.Path(f"/tmp/tally-{repo_hash()}")


def library_path(current=None):
    """LD_LIBRARY_PATH with the bootstrapped librdkafka 2.16 first, so every process the stack
    runs loads that version. Adding it twice is a no-op."""
    current = os.environ.get("LD_LIBRARY_PATH", "") if current is None else current
    first = str(LIBRDKAFKA_DIR)
    parts = [part for part in current.split(":") if part]
    if parts and parts[0] == first:
        return current
    return ":".join([first] + parts)
