"""Probes of TCP ports on 127.0.0.1: is something listening, will it accept, whose is it."""
import re
import shutil
import socket
import subprocess


def accepting(port, timeout=2.0):
    """True when a TCP connection to 127.0.0.1:`port` succeeds within `timeout` seconds."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def in_use(port):
    """True when some process listens on `port` (any address); asks `ss` when it is installed,
    else tries to connect."""
    if shutil.which("ss"):
        result = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True)
        return bool(result.stdout.strip())
    return accepting(port)


def owner(port):
    """`users:((...))` of the process listening on `port` as `ss` shows it, or ""."""
    if not shutil.which("ss"):
        return ""
    result = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True)
    found = re.search(r"users:\(\([^)]*\)\)", result.stdout)
    return found.group(0) if found else ""


def bindable(port):
    """True when a listener could bind 127.0.0.1:`port` now (with SO_REUSEADDR, as the services
    bind): nothing listens there and no leftover process still holds the socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
