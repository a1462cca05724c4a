"""One profile's stack as a whole: preflight port checks, up, down, status, logs, clean.

Guarantees:
- `preflight` fails (one line per problem) before anything starts when a port this stack is
  about to bind is taken by another process or configured twice; ports held by this stack's
  own running components are fine.
- Sidecars (ops/sidecars.txt, see `sidecars`) start before the services and stop after them.
- `down` stops exactly what the pid files record and what is ours (see `pidfiles`): services in
  reverse catalog order, then the sidecars, then any other recorded component, the broker,
  PostgreSQL last.
"""
import glob
import os
import pathlib
import shutil
import sys
import time

from . import layout, ports, processes, profiles, services, settings, sidecars, swift
from .broker import Broker
from .messages import StackError, say, warn
from .pidfiles import PidFiles
from .postgres import Postgres


class Stack:
    """The stack of one profile (see `profiles`), as its pid files record it."""

    def __init__(self, profile):
        self.profile = profile
        self.pidfiles = PidFiles(profile.pids)
        self.postgres = Postgres(profile, self.pidfiles)
        self.broker = Broker(profile, self.pidfiles)
        self.processes = services.ServiceProcesses(profile, self.pidfiles)
        self.sidecars = sidecars.SidecarProcesses(profile, self.pidfiles)
        self._port_warnings_shown = False

    @classmethod
    def load(cls, name):
        return cls(profiles.load(name))

    def services(self):
        """The catalog with this profile's ports (StackError when ops/services.txt is bad)."""
        return services.catalog(self.profile)

    # --- preflight ------------------------------------------------------------------------

    def preflight(self, bindir=None):
        """Checks every port this stack is about to bind (the services' too when `bindir` is
        given, for the services built there); a StackError lists every problem."""
        problems, seen = [], []

        def check(label, port, running):
            for other_port, other_label in seen:
                if other_port == port.number:
                    problems.append(f"port {port.number} is configured for both {other_label} and {label} (change {port.variable})")
            seen.append((port.number, label))
            if not running and ports.in_use(port.number):
                owner = ports.owner(port.number)
                problems.append(f"port {port.number} (for {label}) is already in use{' by ' + owner if owner else ''}; "
                                f"set {port.variable} to another port")

        postgres_running = self.postgres.running()
        wanted = self.profile.postgres_port
        if postgres_running and not self._port_warnings_shown and self.postgres.configured_port() != wanted.number:
            warn(f"postgres is running on port {self.postgres.configured_port()}, not {wanted.number}; run 'down' then 'up' to move it")
        check("postgres", wanted, postgres_running)
        broker_running = self.broker.running() is not None
        wanted = self.profile.broker_port
        if broker_running and not self._port_warnings_shown and self.broker.port != wanted.number:
            warn(f"broker is running on port {self.broker.port}, not {wanted.number}; run 'down' then 'up' to move it")
        check("broker", wanted, broker_running)
        for sidecar in sidecars.catalog(self.profile):
            if sidecar.script.is_file():
                check(sidecar.name, sidecar.port, self.sidecars.running(sidecar.name) is not None)
        if bindir is not None:
            for service in self.services():
                if services.executable(bindir, service.name):
                    check(service.name, service.port, self.processes.running(service.name) is not None)
        self._port_warnings_shown = True
        if problems:
            raise StackError("\n".join(problems))

    # --- up and down ----------------------------------------------------------------------

    def start_services(self, bindir, postgres_port, broker_port):
        """Starts the sidecars, then every built service that is not running; returns the names
        of the services it started."""
        self.sidecars.start_all()
        return [service.name for service in self.services()
                if self.processes.start(service, bindir, postgres_port, broker_port)]

    def up(self, config=None):
        """PostgreSQL, the broker with its topics, the sidecars and every built service (building
        first unless TALLY_SKIP_BUILD=1); waits TALLY_HEALTH_TIMEOUT seconds for /healthz. Returns 1 when a
        service exited right after its start, else 0 (one still starting is only a warning)."""
        self.preflight(swift.bin_dir(config))  # fail fast, before a possibly long build
        swift.build(config)
        bindir = swift.bin_dir(config)
        self.profile.logs.mkdir(parents=True, exist_ok=True)
        self.profile.pids.mkdir(parents=True, exist_ok=True)
        self.preflight(bindir)
        postgres_port = self.postgres.start()
        broker_port = self.broker.start()
        started = self.start_services(bindir, postgres_port, broker_port)
        failed = self._wait_healthy(started)
        if failed:
            warn("some services failed to start; see above")
        say(f"stack is up: postgres 127.0.0.1:{postgres_port} (db tally), broker 127.0.0.1:{broker_port}; logs in {self.profile.logs}")
        return 1 if failed else 0

    def _wait_healthy(self, pending):
        failed, deadline = False, time.monotonic() + settings.health_timeout()
        while pending:
            waiting = []
            for name in pending:
                record = self.pidfiles.read(name)
                if not processes.alive(record.pid):
                    print(f"[tally] error: {name} exited right after start; last log lines:", file=sys.stderr)
                    sys.stderr.write(processes.tail(self.profile.log_file(name), 15))
                    sys.stderr.flush()
                    failed = True
                elif services.healthy(record.port):
                    say(f"{name} healthy on port {record.port}")
                else:
                    waiting.append(name)
            pending = waiting
            if pending and time.monotonic() >= deadline:
                for name in pending:
                    warn(f"{name} is running but not healthy yet (http://127.0.0.1:{self.pidfiles.read(name).port}/healthz)")
                break
            if pending:
                time.sleep(0.5)
        return failed

    def stop_services(self):
        """Stops the catalog's services in reverse order (those recorded and ours), then the
        sidecars."""
        for name in reversed(services.names()):
            self.processes.stop(name)
        self.sidecars.stop_all()

    def down(self):
        """Stops everything this profile's pid files record (see the module docstring)."""
        if not self.profile.run_dir.is_dir():
            return
        if layout.SERVICES_FILE.is_file():
            self.stop_services()
        for name in self.pidfiles.names():
            if name not in ("broker", "postgres"):
                self.pidfiles.stop(name)
        self.broker.stop()
        self.postgres.stop()

    # --- looking at it --------------------------------------------------------------------

    def status(self):
        """Prints every component with pid, port, state and health; returns 1 when something
        expected is not healthy (a service that is not built is not expected)."""
        catalog = self.services()
        row = "{:<20} {:<8} {:<6} {:<10} {}"
        print(row.format("COMPONENT", "PID", "PORT", "STATE", "HEALTH"))
        bad = False
        if self.postgres.running():
            port = self.postgres.configured_port()
            health = "healthy" if self.postgres.ready(port) else "unhealthy"
            print(row.format("postgres", self.postgres.pid(), port, "running", health))
        else:
            health = "-"
            print(row.format("postgres", "-", self.profile.postgres_port.number, "stopped", health))
        bad |= health != "healthy"
        pid = self.broker.running()
        if pid:
            port = self.broker.port
            health = "healthy" if ports.accepting(port) else "unhealthy"
            print(row.format("broker", pid, port, "running", health))
        else:
            health = "-"
            print(row.format("broker", "-", self.profile.broker_port.number, "stopped", health))
        bad |= health != "healthy"
        for sidecar in sidecars.catalog(self.profile):
            pid = self.sidecars.running(sidecar.name)
            if pid:
                health = "healthy" if ports.accepting(sidecar.port.number) else "unhealthy"
                print(row.format(sidecar.name, pid, sidecar.port.number, "running", health))
                bad |= health != "healthy"
            elif self.pidfiles.read(sidecar.name).pid is not None:
                print(row.format(sidecar.name, "-", sidecar.port.number, "stopped", "exited (see logs)"))
                bad = True
            elif sidecar.script.is_file():
                print(row.format(sidecar.name, "-", sidecar.port.number, "stopped", "not started"))
                bad = True
        bindir = swift.bin_dir()
        for service in catalog:
            pid = self.processes.running(service.name)
            if pid:
                port = self.pidfiles.read(service.name).port
                health = "healthy" if services.healthy(port) else "unhealthy"
                print(row.format(service.name, pid, port, "running", health))
                bad |= health != "healthy"
            elif self.pidfiles.read(service.name).pid is not None:
                print(row.format(service.name, "-", service.port.number, "stopped", "exited (see logs)"))
                bad = True
            elif services.executable(bindir, service.name):
                print(row.format(service.name, "-", service.port.number, "stopped", "not started"))
                bad = True
            else:
                print(row.format(service.name, "-", service.port.number, "not built", "-"))
        sys.stdout.flush()
        return 1 if bad else 0

    def logs(self, name=None):
        """Replaces this process with `tail -n 50 -F` of one component's log or all of them."""
        if name:
            path = self.profile.log_file(name)
            if not path.is_file():
                raise StackError(f"no log for '{name}' in {self.profile.logs}")
            files = [str(path)]
        else:
            files = sorted(glob.glob(str(self.profile.logs / "*.log")))
            if not files:
                raise StackError(f"no logs in {self.profile.logs} (is the stack up?)")
        sys.stdout.flush()
        os.execvp("tail", ["tail", "-n", "50", "-F"] + files)

    def wipe(self):
        """Stops this profile's stack and removes its run directory and PostgreSQL's directory
        (also when that is in /tmp): the next start begins from nothing."""
        self.down()
        directory = self.postgres.directory
        shutil.rmtree(self.profile.run_dir, ignore_errors=True)
        if directory != self.profile.run_dir / "pg":
            shutil.rmtree(directory, ignore_errors=True)


def clean():
    """Stops both profiles' stacks and removes .run/ and this checkout's /tmp directories."""
    for name in profiles.NAMES:
        Stack.load(name).down()
    tmp = layout.tmp_root()
    for path in [layout.RUN_ROOT, tmp] + [pathlib.Path(p) for p in glob.glob(f"{tmp}-*-sock")]:
        shutil.rmtree(path, ignore_errors=True)
    say(f"removed {layout.RUN_ROOT}")
