"""The test harness: `test` (isolated stack), `check` (no stack), and the crash test and bench
against the local stack.

`test` always starts from nothing and always tears its stack down (also on failure, Ctrl-C or
SIGTERM). Its steps and their order:
  1. PostgreSQL and the broker of the test profile, after the preflight port checks;
  2. `swift build --build-tests` and `swift test` (TALLY_SKIP_BUILD=1 adds --skip-build and skips
     the build; TALLY_SKIP_SWIFT_TESTS=1 skips both; TALLY_TEST_ARGS is appended; `only` adds
     `--filter <target>`) with the integration environment (`swift.integration_environment`);
  3. end to end, unless the build failed, TALLY_SKIP_E2E=1 or `only` is given: the sidecars
     (ops/sidecars.txt) and every built service on the test stack (ports +
     TALLY_TEST_PORT_OFFSET, each with its ops/service-environment.txt settings), /readyz, every
     ops/e2e/*_acceptance.py with `--service name=url ...`, then the short crash test;
  4. ops/test-contracts.sh and the alert rules (`promtool test rules` on every
     ops/prometheus/*.tests.yml) (skipped with `only`);
  5. the Swift sources against `.swift-format` (`swift format lint --strict`; skipped with `only`).
It prints `test summary: <step>=<outcome> ... -> PASS` or `-> FAIL (exit N)` and returns the
exit status: the Swift steps' status when they failed, else the first failing later step's.
"""
import os
import signal
import subprocess
import sys
import time

from . import broker, layout, postgres, processes, services, settings, swift
from .messages import StackError, report, say, warn
from .stack import Stack


class _Terminated(Exception):
    pass


def _terminate(signum, frame):
    raise _Terminated()


def _script(path, arguments, extra):
    """Runs a Python script of ops/ with this interpreter and `extra` in its environment."""
    return subprocess.run([sys.executable, str(path)] + list(arguments), cwd=layout.ROOT, env=dict(os.environ, **extra)).returncode


def test(only=None):
    """Runs the test steps (module docstring) on a fresh test stack; returns the exit status."""
    if only:
        target = only.split(".", 1)[0].split("/", 1)[0]
        targets = swift.test_targets()
        if target not in targets:
            raise StackError(f"ONLY={only}: no Swift test target '{target}' (one of: {' '.join(targets)})")
    stack = Stack.load("test")
    stack.wipe()  # always start from nothing: leftovers of an earlier run stopped, data removed
    stack.profile.logs.mkdir(parents=True, exist_ok=True)
    stack.profile.pids.mkdir(parents=True, exist_ok=True)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _test_steps(stack, only)
    except StackError as error:
        report(error)
        return error.code
    except KeyboardInterrupt:
        return 130
    except _Terminated:
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)
        say("tearing down test stack")
        stack.down()


def _test_steps(stack, only):
    stack.preflight()
    postgres_port = stack.postgres.start()
    broker_port = stack.broker.start()
    os.environ.update(swift.integration_environment(postgres_port, broker_port))

    summary, rc, build_ok = [], 0, True
    if settings.flag("TALLY_SKIP_SWIFT_TESTS"):
        say("swift build/test skipped (TALLY_SKIP_SWIFT_TESTS=1)")
        summary.append("swift-test=skipped")
    else:
        arguments = (["--filter", only] if only else []) + os.environ.get("TALLY_TEST_ARGS", "").split()
        if settings.flag("TALLY_SKIP_BUILD"):
            summary.append("swift-build=skipped")
            arguments = ["--skip-build"] + arguments
        else:
            say("running: swift build --build-tests")
            code = swift.run(["build", "--build-tests"])
            if code != 0:
                summary += [f"swift-build=failed({code})", "swift-test=not-run"]
                rc, build_ok = code, False
            else:
                summary.append("swift-build=ok")
        if build_ok:
            say("running: swift test " + " ".join(arguments))
            code = swift.run(["test"] + arguments)
            summary.append("swift-test=ok" if code == 0 else f"swift-test=failed({code})")
            rc = code or rc

    if only:
        summary += [f"e2e=skipped(ONLY={only})", f"contracts=skipped(ONLY={only})"]
    else:
        if build_ok and not settings.flag("TALLY_SKIP_E2E"):
            code = end_to_end(stack, postgres_port, broker_port)
            summary.append("e2e=ok" if code == 0 else f"e2e=failed({code})")
            rc = rc or code
        if layout.CONTRACT_TESTS.is_file() and os.access(layout.CONTRACT_TESTS, os.X_OK):
            say("running: ops/test-contracts.sh")
            code = subprocess.run([str(layout.CONTRACT_TESTS)], cwd=layout.ROOT).returncode
            summary.append("contracts=ok" if code == 0 else f"contracts=failed({code})")
            rc = rc or code
        else:
            summary.append("contracts=absent")
        code = alert_rules()
        summary.append("alerts=ok" if code == 0 else f"alerts=failed({code})")
        rc = rc or code
        code = format_lint()
        summary.append("format=ok" if code == 0 else f"format=failed({code})")
        rc = rc or code

    outcome = "PASS" if rc == 0 else f"FAIL (exit {rc})"
    say(f"test summary: {' '.join(summary)} -> {outcome}")
    return rc


FORMATTED = ["Package.swift", "Libraries", "Services", "Tests"]


def alert_rules():
    """Every rule file in ops/prometheus is valid (`promtool check rules`) and every alert behaves
    as its unit tests say (`promtool test rules`, which also fails on an alert that fires when
    a test expects none)."""
    folder = layout.ROOT / "ops" / "prometheus"
    rules = sorted(str(path) for path in folder.glob("*.rules.yml"))
    tests = sorted(str(path) for path in folder.glob("*.tests.yml"))
    if not rules:
        return 0
    say("running: promtool check rules, promtool test rules")
    code = subprocess.run(["promtool", "check", "rules", *rules], cwd=folder).returncode
    return code or subprocess.run(["promtool", "test", "rules", *tests], cwd=folder).returncode


def format_lint():
    """The Swift sources follow `.swift-format` (the toolchain's swift-format, strict: any finding
    fails). `swift format format -i -r Package.swift Libraries Services Tests` applies it."""
    say("running: swift format lint --strict")
    return subprocess.run(["swift", "format", "lint", "--strict", "--recursive", *FORMATTED], cwd=layout.ROOT).returncode


def end_to_end(stack, postgres_port, broker_port):
    """Starts the sidecars and every built service on the test stack, waits (90 s in all) for
    each /readyz, runs the acceptance scripts and the short crash test against them, and stops
    the services and sidecars again; returns 0, or the exit status of the last script that
    failed (1 when a service did not become ready)."""
    bindir = swift.bin_dir()
    catalog = stack.services()
    stack.preflight(bindir)
    try:
        stack.start_services(bindir, postgres_port, broker_port)
        deadline, rc = time.monotonic() + 90, 0
        for service in catalog:
            while not services.ready(service.port.number):
                if time.monotonic() >= deadline or not processes.alive(stack.pidfiles.read(service.name).pid):
                    warn(f"{service.name} did not become ready; last log lines:")
                    sys.stderr.write(processes.tail(stack.profile.log_file(service.name), 20))
                    sys.stderr.flush()
                    return 1
                time.sleep(0.5)
        arguments = ["--service"] + [f"{service.name}={service.url}" for service in catalog]
        brokers = broker.bootstrap_servers(broker_port)
        admin = postgres.admin_url(postgres_port)
        for script in sorted(layout.E2E_DIR.glob("*_acceptance.py")):
            say(f"running: e2e {script.name}")
            code = _script(script, arguments, {
                "TALLY_E2E_GATEWAY_URL": catalog[0].url, "TALLY_E2E_KAFKA_BROKERS": brokers,
                "TALLY_E2E_TALLY_BIN": str(bindir / "tally"), "TALLY_KAFKA_BROKERS": brokers, "TALLY_DATABASE_ADMIN_URL": admin})
            rc = code or rc
        # The crash test's short form: it kill -9s these services and restarts PostgreSQL, so it
        # runs last. Long form by hand: make up && make crash ARGS="--count 20000 --rate 250".
        count = settings.crash_count()
        say(f"running: crash test, short form ({count} webhooks)")
        code = _script(layout.CRASH_TEST, ["--count", str(count), "--rate", "150"] + arguments, {
            "TALLY_E2E_GATEWAY_URL": catalog[0].url, "TALLY_E2E_KAFKA_BROKERS": brokers,
            "TALLY_CRASH_PROFILE": "test", "TALLY_DATABASE_ADMIN_URL": admin})
        return code or rc
    finally:
        stack.stop_services()


def check():
    """The unit tests that need no stack: `swift build --build-tests` (unless TALLY_SKIP_BUILD=1),
    then `swift test --skip-build` with every integration suite skipped (`swift.integration_suites`)
    and the integration variables removed from its environment, so nothing reaches for
    PostgreSQL or a broker. Prints `check summary: ... -> PASS|FAIL` and returns the exit status."""
    environ = {key: value for key, value in os.environ.items() if key not in swift.INTEGRATION_VARIABLES}
    environ["LD_LIBRARY_PATH"] = layout.library_path()
    summary = []
    if settings.flag("TALLY_SKIP_BUILD"):
        summary.append("swift-build=skipped")
    else:
        say("running: swift build --build-tests")
        code = swift.run(["build", "--build-tests"], environ)
        if code != 0:
            say(f"check summary: swift-build=failed({code}) swift-test=not-run -> FAIL (exit {code})")
            return code
        summary.append("swift-build=ok")
    arguments = ["test", "--skip-build"]
    for suite in swift.integration_suites():
        arguments += ["--skip", suite.replace(".", r"\.") + "/"]
    arguments += os.environ.get("TALLY_TEST_ARGS", "").split()
    say("running: swift " + " ".join(arguments))
    code = swift.run(arguments, environ)
    summary.append("swift-test=ok" if code == 0 else f"swift-test=failed({code})")
    say(f"check summary: {' '.join(summary)} -> {'PASS' if code == 0 else f'FAIL (exit {code})'}")
    return code


def crash(arguments):
    """The crash test (ops/crash/crash_test.py) against the running local stack."""
    stack = Stack.load("local")
    if not stack.processes.running("ingest-gateway"):
        raise StackError("the local stack is not running; start it with: make up")
    return _script(layout.CRASH_TEST, arguments, {
        "TALLY_E2E_KAFKA_BROKERS": broker.bootstrap_servers(stack.broker.port), "TALLY_CRASH_PROFILE": "local",
        "TALLY_DATABASE_ADMIN_URL": postgres.admin_url(stack.postgres.port)})


def bench(arguments):
    """The webhook-path benchmark (ops/bench/ingest.py): restarts the local stack from a release
    build with the per-source rate limit lifted, runs the benchmark and leaves the stack running."""
    # One source receives the whole load; lift its rate limit (500/s by default) for the run.
    os.environ["TALLY_GATEWAY_SOURCE_RATE"] = os.environ.get("TALLY_GATEWAY_SOURCE_RATE") or "1000000"
    stack = Stack.load("local")
    stack.down()
    say("stack is down")
    if stack.up("release") != 0:
        raise StackError("the release stack did not come up")
    return _script(layout.BENCH, ["--tally", str(swift.bin_dir("release") / "tally")] + list(arguments), {
        "TALLY_E2E_KAFKA_BROKERS": broker.bootstrap_servers(stack.broker.port),
        "TALLY_DATABASE_ADMIN_URL": postgres.admin_url(stack.postgres.port)})
