"""The stack's knobs that are not ports (ports are in `profiles` and `services`).

Each is read from the environment when asked for, so a command sees the value it was started
with; a malformed value is a StackError that names the variable.
"""
import os

from .messages import StackError


def whole_number(variable, default, environ=None):
    """The variable as a whole number >= 0, or `default` when it is unset or empty."""
    text = (os.environ if environ is None else environ).get(variable, "")
    if text == "":
        return default
    if not text.isdigit():
        raise StackError(f"{variable} must be a whole number, got '{text}'")
    return int(text)


def flag(variable, environ=None):
    """True when the variable is exactly "1" (how every TALLY_SKIP_* knob is switched on)."""
    return (os.environ if environ is None else environ).get(variable) == "1"


def start_timeout():
    """Seconds to wait for PostgreSQL or the broker to accept connections (TALLY_START_TIMEOUT, 30)."""
    return whole_number("TALLY_START_TIMEOUT", 30)


def stop_timeout():
    """Seconds between SIGTERM and SIGKILL when stopping a process (TALLY_STOP_TIMEOUT, 10)."""
    return whole_number("TALLY_STOP_TIMEOUT", 10)


def health_timeout():
    """Seconds `up` waits for freshly started services' /healthz (TALLY_HEALTH_TIMEOUT, 20)."""
    return whole_number("TALLY_HEALTH_TIMEOUT", 20)


def build_config():
    """The SwiftPM configuration the stack runs (TALLY_BUILD_CONFIG, debug); not validated here."""
    return os.environ.get("TALLY_BUILD_CONFIG") or "debug"


def crash_count():
    """Webhooks the short crash test in `make test` sends (TALLY_CRASH_COUNT, 1000)."""
    return whole_number("TALLY_CRASH_COUNT", 1000)
