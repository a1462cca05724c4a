"""The commands ops/stack.sh delegates to: `python3 -m tallystack COMMAND [ARGS]` (PYTHONPATH=ops).

    build              swift build (TALLY_BUILD_CONFIG=debug|release; TALLY_SKIP_BUILD=1 skips)
    up                 build, then PostgreSQL, broker, topics, sidecars and every built service (profile "local")
    down               stop what "up" started, by pid file (profile "local")
    status             components, pids, ports and health; exit 1 when something expected is unhealthy
    logs [NAME]        tail -F the local stack's logs (all, or one component)
    test [--only T]    the test harness on an isolated stack (profile "test"); see `harness`
    check              the unit tests that need no stack
    crash [ARGS]       the crash test against the running local stack (ops/crash/crash_test.py --help)
    bench [ARGS]       the benchmark on a release build of the local stack (ops/bench/ingest.py --help)
    clean              stop both profiles' stacks and remove .run/
    installed          exit 1 unless PostgreSQL and Tansu are where the stack looks for them

Bootstrap (system packages, wheels, python packages) stays in ops/stack.sh, which runs it
before `build`, `up`, `test`, `check` and `bench`. Exit status: the command's, 1 for a
StackError (printed as `[tally] error: ...`) or a usage error.
"""
import os
import sys

from . import broker, harness, layout, postgres, swift
from .messages import StackError, report, say
from .stack import Stack, clean


def _installed():
    postgres.installed()
    if not os.access(broker.binary(), os.X_OK):
        raise StackError(f"tansu binary missing at {layout.TANSU} (run: make bootstrap)")
    return 0


def _test(arguments):
    if arguments[:1] == ["--only"] and len(arguments) == 2:
        return harness.test(arguments[1] or None)
    if arguments:
        raise _Usage("test takes no arguments but --only TARGET")
    return harness.test()


def _down():
    Stack.load("local").down()
    say("stack is down")
    return 0


def _build():
    swift.build()
    return 0


def _clean():
    clean()
    return 0


COMMANDS = {
    "build": lambda arguments: _build(),
    "up": lambda arguments: Stack.load("local").up(),
    "down": lambda arguments: _down(),
    "status": lambda arguments: Stack.load("local").status(),
    "logs": lambda arguments: Stack.load("local").logs(arguments[0] if arguments else None),
    "test": _test,
    "check": lambda arguments: harness.check(),
    "crash": harness.crash,
    "bench": harness.bench,
    "clean": lambda arguments: _clean(),
    "installed": lambda arguments: _installed(),
}
TAKES_ARGUMENTS = {"logs", "test", "crash", "bench"}


class _Usage(Exception):
    pass


def main(argv):
    """Runs one command; returns its exit status."""
    os.environ["LD_LIBRARY_PATH"] = layout.library_path()
    if not argv or argv[0] in ("help", "-h", "--help"):
        print(__doc__)
        return 0
    command, arguments = argv[0], argv[1:]
    try:
        if command not in COMMANDS:
            raise _Usage(f"unknown command '{command}'")
        if arguments and command not in TAKES_ARGUMENTS:
            raise _Usage(f"{command} takes no arguments")
        return COMMANDS[command](arguments) or 0
    except _Usage as error:
        print(__doc__, file=sys.stderr)
        report(StackError(str(error)))
        return 1
    except StackError as error:
        report(error)
        return error.code
    except KeyboardInterrupt:
        return 130
