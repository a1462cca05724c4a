"""Sidecars: support processes a stack runs beside its services (ops/sidecars.txt), such as the
SMTP relays notifications sends through.

ops/sidecars.txt lists `<name> <port> <python script under ops/> [arguments ...]` in start
order; `{port}` and `{data}` in the arguments become the sidecar's port and data directory. A
sidecar's port is TALLY_<NAME>_PORT when set (NAME upper-cased, "-" as "_"), else the file's,
plus the profile's offset (TALLY_TEST_PORT_OFFSET on the test profile), as for services.

Guarantees: a sidecar runs with this Python interpreter, its output in
`.run/<profile>/logs/<name>.log` and its state in `.run/<profile>/data/<name>/` (which it creates
itself: only `.run/<profile>/data/` exists before it starts); it is recorded
in the pid files under its name with its data directory as the match string (so only our own
process on this profile counts as running); `start` returns once it accepts TCP connections on
its port, or raises a StackError after the log's tail. A sidecar whose script does not exist is
skipped with a message, like a service that is not built.
"""
import dataclasses
import os
import pathlib
import re
import sys

from . import layout, ports, processes, settings, tables
from .messages import StackError, say
from .profiles import Port, port as parse_port


@dataclasses.dataclass(frozen=True)
class Sidecar:
    """One sidecar of the catalog on a given profile."""
    name: str
    port: Port
    script: pathlib.Path
    arguments: tuple
    data: pathlib.Path

    def argv(self):
        """The command that starts it: this interpreter, the script, the arguments expanded."""
        return [sys.executable, str(self.script)] + [
            argument.replace("{port}", str(self.port.number)).replace("{data}", str(self.data)) for argument in self.arguments]


def port_variable(name):
    """TALLY_<NAME>_PORT for a sidecar name."""
    return "TALLY_" + name.upper().replace("-", "_") + "_PORT"


def catalog(profile, environ=None):
    """Every sidecar of ops/sidecars.txt in file order, with its port and data directory on
    `profile`; a StackError names a bad line. An absent file means no sidecars."""
    environ = os.environ if environ is None else environ
    if not layout.SIDECARS_FILE.is_file():
        return []
    sidecars = []
    for number, fields in tables.read_rows(layout.SIDECARS_FILE):
        where = f"{layout.SIDECARS_FILE}:{number}"
        if len(fields) < 3:
            raise StackError(f"{where}: expected <name> <port> <script> [arguments ...]")
        name, default, script = fields[:3]
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
            raise StackError(f"{where}: bad sidecar name '{name}'")
        for argument in fields[3:]:
            unknown = set(re.findall(r"\{([^}]*)\}", argument)) - {"port", "data"}
            if unknown:
                raise StackError(f"{where}: unknown placeholder {{{sorted(unknown)[0]}}} (only {{port}} and {{data}})")
        variable = port_variable(name)
        base = parse_port(environ.get(variable) or default, f"{variable} or {where}")
        if profile.service_port_offset:
            base = parse_port(base.number + profile.service_port_offset, f"{variable} + TALLY_TEST_PORT_OFFSET")
        sidecars.append(Sidecar(name, Port(base.number, variable), layout.ROOT / "ops" / script, tuple(fields[3:]), profile.data / name))
    return sidecars


def ports_by_name(profile, environ=None):
    """{sidecar name: port number} on `profile`."""
    return {sidecar.name: sidecar.port.number for sidecar in catalog(profile, environ)}


class SidecarProcesses:
    """The sidecar processes of one profile."""

    def __init__(self, profile, pidfiles):
        self.profile = profile
        self.pidfiles = pidfiles

    def running(self, name):
        """The sidecar's pid when it runs and is ours, else None."""
        return self.pidfiles.running(name)

    def start(self, sidecar):
        """Starts the sidecar unless it is running or its script is absent; True when this call
        started it. A StackError (after its log's tail) when it does not accept connections
        within TALLY_START_TIMEOUT seconds."""
        pid = self.running(sidecar.name)
        if pid:
            say(f"{sidecar.name} already running (pid {pid}, port {self.pidfiles.read(sidecar.name).port})")
            return False
        self.pidfiles.clear(sidecar.name)
        if not sidecar.script.is_file():
            say(f"{sidecar.name}: {sidecar.script.relative_to(layout.ROOT)} is absent, skipped")
            return False
        # Only the parent: the sidecar makes its own directory (a Maildir is made whole only when absent).
        sidecar.data.parent.mkdir(parents=True, exist_ok=True)
        log_file = self.profile.log_file(sidecar.name)
        pid = processes.spawn(sidecar.argv(), log_file, dict(os.environ, PYTHONUNBUFFERED="1"))
        self.pidfiles.write(sidecar.name, pid, sidecar.port.number, str(sidecar.data))
        outcome = processes.wait_until(sidecar.name, settings.start_timeout(), lambda: ports.accepting(sidecar.port.number), pid=pid)
        if outcome != "ready":
            sys.stderr.write(processes.tail(log_file, 20))
            self.pidfiles.stop(sidecar.name)
            raise StackError(f"{sidecar.name} {'exited during startup' if outcome == 'exited' else 'is not listening on port ' + str(sidecar.port.number)}"
                             f" (log: {log_file})")
        say(f"started {sidecar.name} (pid {pid}, port {sidecar.port.number}, data {sidecar.data})")
        return True

    def start_all(self):
        """Starts every sidecar of the catalog that is not running; returns the names it started."""
        return [sidecar.name for sidecar in catalog(self.profile) if self.start(sidecar)]

    def stop_all(self):
        """Stops the catalog's sidecars in reverse order (those recorded and ours)."""
        for sidecar in reversed(catalog(self.profile)):
            self.pidfiles.stop(sidecar.name)
