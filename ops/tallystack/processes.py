"""Processes the stack starts and stops: liveness, ownership, detached start, graceful stop.

A pid alone never counts as one of ours: `matches` also requires the process's command line to
contain a string recorded when it was started, so a recycled pid is left alone.
"""
import os
import pathlib
import signal
import subprocess
import time

from . import settings
from .messages import say, warn


def alive(pid):
    """True when `pid` is a process that exists and is neither a zombie nor dead."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:
        pass
    except OSError:
        return False
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat[stat.rindex(")") + 2:].split()[0]
    return state not in ("Z", "X")


def command_line(pid):
    """The process's arguments joined by spaces ("" when it cannot be read)."""
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def matches(pid, match):
    """True when `pid` is alive and its command line contains `match` (a non-empty string)."""
    return bool(match) and alive(pid) and match in command_line(pid)


def spawn(argv, log_file, environ):
    """Starts `argv` in a session of its own with `environ`, stdin from /dev/null and output
    appended to `log_file`, and returns its pid (the command's own, no wrapper). The process
    does not depend on the caller: it outlives it and gets none of its signals."""
    log_file = pathlib.Path(log_file)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as out:
        process = subprocess.Popen(argv, env=environ, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                   start_new_session=True, close_fds=True)
    return process.pid


def wait_gone(pid, seconds, step=0.2):
    """Waits until `pid` is not alive or `seconds` pass; True when it is gone."""
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)
    return True


def stop(label, pid):
    """SIGTERM, then SIGKILL after TALLY_STOP_TIMEOUT seconds; says which one it took. True
    when the process is gone."""
    timeout = settings.stop_timeout()
    _signal(pid, signal.SIGTERM)
    if wait_gone(pid, timeout):
        say(f"stopped {label} (pid {pid})")
        return True
    warn(f"{label} (pid {pid}) did not stop after {timeout}s, sending SIGKILL")
    _signal(pid, signal.SIGKILL)
    if wait_gone(pid, 5):
        say(f"killed {label} (pid {pid})")
        return True
    warn(f"{label} (pid {pid}) is still alive")
    return False


def kill_now(pid, seconds=10):
    """SIGKILL, then waits (up to `seconds`) until the process is gone or a zombie."""
    _signal(pid, signal.SIGKILL)
    wait_gone(pid, seconds, step=0.02)


def _signal(pid, number):
    try:
        os.kill(pid, number)
    except OSError:
        pass


def wait_until(what, seconds, condition, pid=None, step=0.3):
    """Polls `condition()` until it holds ("ready"), `pid` (when given) dies ("exited") or
    `seconds` pass ("timeout", after a warning naming `what`)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if pid is not None and not alive(pid):
            return "exited"
        if time.monotonic() >= deadline:
            warn(f"{what} not ready after {seconds}s")
            return "timeout"
        time.sleep(step)
    return "ready"


def tail(path, lines):
    """The last `lines` lines of a text file ("" when it cannot be read)."""
    try:
        text = pathlib.Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "".join(text.splitlines(keepends=True)[-lines:])
