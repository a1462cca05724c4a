"""The services: their catalog (ops/services.txt), ports, environment, start, stop and restart.

ops/services.txt lists `<executable-name> <http-port>` in start order. A service's port is
TALLY_<NAME>_PORT when set (NAME upper-cased, "-" as "_"), else the file's, plus the profile's
offset (TALLY_TEST_PORT_OFFSET on the test profile). A service is started only when its
executable exists in the SwiftPM bin directory; it is recorded in the pid files under its name
with the executable's path as the match string.

What one service needs beyond what every service gets (its SMTP relays, a test setting) is in
ops/service-environment.txt, per profile (`configured_environment`): defaults that a variable
already set in the caller's environment overrides.
"""
import dataclasses
import os
import pathlib
import re
import time
import urllib.error
import urllib.request

from . import broker, layout, ports, postgres, processes, sidecars, tables
from .messages import StackError, say
from .profiles import Port, port as parse_port


@dataclasses.dataclass(frozen=True)
class Service:
    """One service of the catalog with its port on a given profile."""
    name: str
    port: Port

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port.number}"


def port_variable(name):
    """TALLY_<NAME>_PORT for a service name."""
    return "TALLY_" + name.upper().replace("-", "_") + "_PORT"


def catalog(profile, environ=None):
    """Every service of ops/services.txt in file order, with its port on `profile`; a
    StackError names a bad name or port."""
    environ = os.environ if environ is None else environ
    services = []
    for name, default in tables.read_table(layout.SERVICES_FILE):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
            raise StackError(f"bad service name '{name}' in {layout.SERVICES_FILE}")
        variable = port_variable(name)
        base = parse_port(environ.get(variable) or default, f"{variable} or {layout.SERVICES_FILE}")
        if profile.service_port_offset:
            base = parse_port(base.number + profile.service_port_offset, f"{variable} + TALLY_TEST_PORT_OFFSET")
        services.append(Service(name, Port(base.number, variable)))
    return services


def names():
    """The service names of ops/services.txt in file order (no ports, no validation of them)."""
    return [name for name, _ in tables.read_table(layout.SERVICES_FILE)]


def database_url(name, postgres_port):
    """The service's own role's URL: role tally_<name>, password local-<name> (local and test
    stacks only; the service creates the role through the admin URL)."""
    return f"postgres://tally_{name.replace('-', '_')}:local-{name}@{postgres.HOST}:{postgres_port}/{postgres.DATABASE}"


def configured_environment(profile, name, environ=None):
    """The variables ops/service-environment.txt sets for service `name` on `profile`, with
    `{<sidecar>.port}` and `{data}` expanded; a StackError names a bad line (an unknown sidecar,
    a malformed assignment, a profile that does not exist). An absent file sets nothing."""
    from .profiles import NAMES
    path = layout.SERVICE_ENVIRONMENT_FILE
    if not path.is_file():
        return {}
    sidecar_ports = sidecars.ports_by_name(profile, environ)
    values = {}
    for number, fields in tables.read_rows(path, maxsplit=2):
        where = f"{path}:{number}"
        if len(fields) != 3 or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", fields[2]):
            raise StackError(f"{where}: expected <service> <profiles> <VARIABLE>=<value>")
        service, wanted, assignment = fields
        profile_names = None if wanted == "all" else tuple(wanted.split(","))
        unknown = [candidate for candidate in profile_names or () if candidate not in NAMES]
        if unknown:
            raise StackError(f"{where}: unknown profile '{unknown[0]}' (one of: all, {', '.join(NAMES)})")
        if service != name or (profile_names is not None and profile.name not in profile_names):
            continue
        variable, value = assignment.split("=", 1)

        def expand(match):
            placeholder = match.group(1)
            if placeholder == "data":
                return str(profile.data)
            sidecar = placeholder.removesuffix(".port")
            if placeholder.endswith(".port") and sidecar in sidecar_ports:
                return str(sidecar_ports[sidecar])
            raise StackError(f"{where}: unknown placeholder {{{placeholder}}} (a sidecar's {{<name>.port}}, or {{data}})")
        values[variable] = re.sub(r"\{([^}]*)\}", expand, value.strip())
    return values


def environment(service, postgres_port, broker_port, base=None, configured=None):
    """The environment a service process gets: `base` (this process's environment by default),
    then `configured` (the service's variables of ops/service-environment.txt) for each variable
    `base` does not set, then what ServiceConfiguration reads from the stack, and Swift's
    backtracer off unless `base` sets SWIFT_BACKTRACE."""
    environ = dict(os.environ if base is None else base)
    for variable, value in (configured or {}).items():
        environ.setdefault(variable, value)
    environ.update({
        "TALLY_HTTP_PORT": str(service.port.number),
        "TALLY_KAFKA_BROKERS": broker.bootstrap_servers(broker_port),
        "TALLY_DATABASE_URL": database_url(service.name, postgres_port),
        "TALLY_DATABASE_ADMIN_URL": postgres.admin_url(postgres_port),
        "TALLY_ENV": "local",
        "LD_LIBRARY_PATH": layout.library_path(environ.get("LD_LIBRARY_PATH", "")),
    })
    # Swift's crash backtracer runs as a helper process that inherits the service's sockets and
    # was seen to outlive a killed service for minutes, holding its HTTP port, so a restarted
    # service could not bind it (the crash test). The crash message itself is still written to
    # the log. Set SWIFT_BACKTRACE yourself to get backtraces.
    environ.setdefault("SWIFT_BACKTRACE", "enable=no")
    return environ


def executable(bindir, name):
    """The service's executable in `bindir`, or None when it is not built."""
    path = pathlib.Path(bindir) / name
    return path if path.is_file() and os.access(path, os.X_OK) else None


def answers(port, route, timeout=2):
    """True when GET http://127.0.0.1:<port><route> answers 2xx or 3xx within `timeout` seconds."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{route}", timeout=timeout) as response:
            return response.status < 400
    except (urllib.error.URLError, OSError, ValueError):
        return False


def healthy(port):
    """The service on `port` answers /healthz (it runs; its dependencies may not be ready)."""
    return answers(port, "/healthz")


def ready(port):
    """The service on `port` answers /readyz (database, migrations, broker and consumer ready)."""
    return answers(port, "/readyz")


@dataclasses.dataclass(frozen=True)
class Launch:
    """How a running service was started, read from /proc: enough to start it again the same way."""
    argv: list
    environ: dict
    log_file: str


class ServiceProcesses:
    """The service processes of one profile."""

    def __init__(self, profile, pidfiles):
        self.profile = profile
        self.pidfiles = pidfiles

    def running(self, name):
        """The service's pid when it runs and is ours, else None."""
        return self.pidfiles.running(name)

    def start(self, service, bindir, postgres_port, broker_port):
        """Starts the service unless it is running or not built; True when this call started it."""
        pid = self.running(service.name)
        if pid:
            say(f"{service.name} already running (pid {pid}, port {self.pidfiles.read(service.name).port})")
            return False
        self.pidfiles.clear(service.name)
        path = executable(bindir, service.name)
        if path is None:
            say(f"{service.name}: not built yet, skipped")
            return False
        log_file = self.profile.log_file(service.name)
        configured = configured_environment(self.profile, service.name)
        pid = processes.spawn([str(path)], log_file, environment(service, postgres_port, broker_port, configured=configured))
        self.pidfiles.write(service.name, pid, service.port.number, path)
        say(f"started {service.name} (pid {pid}, port {service.port.number}, log {log_file})")
        return True

    def stop(self, name):
        """Stops the service if it is ours and forgets its pid."""
        self.pidfiles.stop(name)

    def launch_of(self, name):
        """How the running service was launched (argv, environment, log file), read from /proc.
        A StackError when it is not running."""
        pid = self.running(name)
        if pid is None:
            raise StackError(f"{name} is not running")
        environ = dict(item.split("=", 1) for item in
                       pathlib.Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0") if "=" in item)
        argv = [argument for argument in pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0") if argument]
        log_file = os.readlink(f"/proc/{pid}/fd/1")
        return Launch(argv, environ, log_file)

    def kill(self, name):
        """`kill -9` of a running service (the crash test's fault); returns how it was
        launched, for `relaunch`. A StackError when it is not running."""
        launch = self.launch_of(name)
        processes.kill_now(self.running(name))
        return launch

    def restart(self, name, changes=None, launch=None, seconds=60):
        """Stops the running service (SIGTERM, then SIGKILL after TALLY_STOP_TIMEOUT) and starts
        it again on the same port and log with `launch` (how it runs now when None), its
        environment changed by `changes` ({variable: value}; a value of None removes the
        variable). Waits up to `seconds` for /healthz. Returns how it ran before this call, so
        `restart(name, launch=previous)` restores it exactly. A StackError when it is not
        running or does not become healthy (its last log lines are in the message)."""
        previous = self.launch_of(name)
        base = launch or previous
        environ = dict(base.environ)
        for variable, value in (changes or {}).items():
            if value is None:
                environ.pop(variable, None)
            else:
                environ[variable] = str(value)
        processes.stop(name, self.running(name))
        if not self.relaunch(name, Launch(list(base.argv), environ, base.log_file), seconds=seconds):
            raise StackError(f"{name} did not become healthy after its restart; last log lines:\n"
                             + processes.tail(base.log_file, 15))
        return previous

    def relaunch(self, name, launch, seconds=60, attempts=3):
        """Starts a killed service again exactly as it was launched, records its new pid and
        waits up to `seconds` for /healthz; True when it answered.

        A process that crashed can keep its port for a while after `kill -9` (a crash report
        still being written by a helper process that inherited the socket), so the port is first
        waited for; a relaunch that exits before it is healthy is tried again, `attempts` in all."""
        port = self.pidfiles.read(name).port
        deadline = time.monotonic() + seconds
        for attempt in range(1, attempts + 1):
            while not ports.bindable(port) and time.monotonic() < deadline:
                time.sleep(0.2)
            pid = processes.spawn(launch.argv, launch.log_file, launch.environ)
            self.pidfiles.replace_pid(name, pid)
            while time.monotonic() < deadline and processes.alive(pid):
                if healthy(port):
                    return True
                time.sleep(0.1)
            if time.monotonic() >= deadline:
                return False
            say(f"{name} exited right after its relaunch (attempt {attempt} of {attempts}); trying again")
        return False
