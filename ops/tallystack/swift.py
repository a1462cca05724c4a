"""SwiftPM as the stack uses it: the build, the bin directory, the test runs and their environment.

Nothing here compiles unless asked to (`build`, and `swift test` without --skip-build): finding
binaries never runs SwiftPM.
"""
import pathlib
import re
import subprocess

from . import broker, layout, postgres, settings
from .messages import StackError, say

CONFIGS = ("debug", "release")


def bin_path_cache(config):
    return layout.RUN_ROOT / f"swift-bin-path.{config}"


def bin_dir(config=None):
    """The SwiftPM bin directory for `config` (TALLY_BUILD_CONFIG by default), without compiling:
    the path `swift build --show-bin-path` gave after the last build, else .build/<config>."""
    config = config or settings.build_config()
    try:
        cached = pathlib.Path(bin_path_cache(config).read_text().strip())
        if str(cached) and cached.is_dir():
            return cached
    except OSError:
        pass
    return layout.ROOT / ".build" / config


def build(config=None):
    """`swift build -c <config>` unless TALLY_SKIP_BUILD=1; a StackError carrying SwiftPM's exit
    status when the build fails."""
    if settings.flag("TALLY_SKIP_BUILD"):
        say("build skipped (TALLY_SKIP_BUILD=1)")
        return
    config = config or settings.build_config()
    if config not in CONFIGS:
        raise StackError("TALLY_BUILD_CONFIG must be debug or release")
    say(f"swift build -c {config}")
    code = subprocess.run(["swift", "build", "-c", config], cwd=layout.ROOT).returncode
    if code != 0:
        raise StackError(f"swift build -c {config} failed (exit {code})", code)
    shown = subprocess.run(["swift", "build", "-c", config, "--show-bin-path"], cwd=layout.ROOT, stdout=subprocess.PIPE, text=True)
    if shown.returncode == 0 and shown.stdout.strip():
        layout.RUN_ROOT.mkdir(parents=True, exist_ok=True)
        bin_path_cache(config).write_text(shown.stdout.strip() + "\n")


def run(arguments, environ=None):
    """Runs `swift <arguments>` in the repository and returns its exit status."""
    return subprocess.run(["swift"] + list(arguments), cwd=layout.ROOT, env=environ).returncode


# What the integration suites read (Tests/TestSupport/TestDatabase.swift, Tests/KafkaIntegrationTests/
# TestBroker.swift, Tests/TestSupport/TestTansu.swift).
INTEGRATION_VARIABLES = ("TALLY_TEST_DATABASE_URL", "TALLY_TEST_KAFKA_BROKERS", "TALLY_TEST_TANSU", "TALLY_REQUIRE_INTEGRATION")


def integration_environment(postgres_port, broker_port):
    """The variables `swift test` gets on the test stack: the database and broker to use, the
    Tansu binary for suites that run their own broker, and TALLY_REQUIRE_INTEGRATION=1 so that a
    missing stack fails those suites instead of skipping them."""
    return {
        "TALLY_TEST_DATABASE_URL": postgres.admin_url(postgres_port),
        "TALLY_TEST_KAFKA_BROKERS": broker.bootstrap_servers(broker_port),
        "TALLY_TEST_TANSU": str(broker.binary()),
        "TALLY_REQUIRE_INTEGRATION": "1",
        "LD_LIBRARY_PATH": layout.library_path(),
    }


def test_targets():
    """The Swift test targets (the folders of Tests/ that hold Swift sources), sorted."""
    return sorted(path.name for path in layout.TESTS_DIR.iterdir() if path.is_dir() and any(path.rglob("*.swift"))
                  and path.name.endswith("Tests"))


_SUITE = re.compile(r"@Suite(\([^\n]*\))?\s*(?:(?:final|public|private|fileprivate|internal)\s+)*(?:struct|class|enum|actor)\s+(\w+)")


def integration_suites():
    """`Target.Suite` of every suite that needs the stack: those whose @Suite traits enable them
    by TestDatabase.enabled or TestBroker.enabled. Read from the sources, so a suite gated that
    way is found without a list to keep up to date."""
    found = []
    for target in test_targets():
        for source in sorted((layout.TESTS_DIR / target).rglob("*.swift")):
            for match in _SUITE.finditer(source.read_text()):
                traits, name = match.group(1) or "", match.group(2)
                if "TestDatabase.enabled" in traits or "TestBroker.enabled" in traits:
                    found.append(f"{target}.{name}")
    return found
