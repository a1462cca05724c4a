"""PostgreSQL for one profile: initdb, configuration, start, stop, crash and restart.

Guarantees:
- PostgreSQL listens on 127.0.0.1 only, on the profile's port, with its unix socket in the
  profile's socket directory; `tally.conf` (included from postgresql.conf) is rewritten on
  every `start`, so a changed port variable takes effect on the next start.
- Every server tool (initdb, pg_ctl) runs as the `postgres` user when this runs as root.
- The data directory is under `.run/<profile>/pg/` unless the postgres user cannot traverse
  that path; then it is under `/tmp/tally-<repo hash>/<profile>/pg/`. The choice is recorded in
  `.run/<profile>/pg.location` on first use and kept until the run directory is removed.
- Clients use `postgres://postgres@127.0.0.1:<port>/tally` (trust authentication, loopback).
"""
import os
import pathlib
import shutil
import subprocess
import sys

from . import layout, processes, settings
from .messages import StackError, say, warn

BIN = pathlib.Path(os.environ.get("TALLY_PG_BIN") or "/usr/lib/postgresql/15/bin")
USER = "postgres"
DATABASE = "tally"
HOST = "127.0.0.1"


def tool(name):
    """The path of a PostgreSQL program (psql, pg_ctl, pgbench, ...) in TALLY_PG_BIN."""
    return str(BIN / name)


def admin_url(port):
    """The superuser URL of the stack's database on `port`."""
    return f"postgres://{USER}@{HOST}:{port}/{DATABASE}"


def installed():
    """A StackError unless the PostgreSQL server is in TALLY_PG_BIN."""
    if not os.access(BIN / "postgres", os.X_OK):
        raise StackError(f"PostgreSQL server not found in {BIN} (set TALLY_PG_BIN)")


def as_postgres(argv, **options):
    """Runs a server tool as the postgres user (through runuser when root, from /, which that
    user can always enter); returns the CompletedProcess."""
    if os.geteuid() == 0:
        argv = ["runuser", "-u", USER, "--"] + list(argv)
        options.setdefault("cwd", "/")
    return subprocess.run(argv, **options)


class Postgres:
    """The PostgreSQL server of one profile, recorded in its pid files as `postgres`."""

    def __init__(self, profile, pidfiles):
        self.profile = profile
        self.pidfiles = pidfiles

    # --- where it lives -------------------------------------------------------------------

    @property
    def location_record(self):
        return self.profile.run_dir / "pg.location"

    @property
    def directory(self):
        """PostgreSQL's directory for this profile, as recorded (or the in-repository default)."""
        try:
            recorded = self.location_record.read_text().strip()
        except OSError:
            recorded = ""
        return pathlib.Path(recorded) if recorded else self.profile.run_dir / "pg"

    @property
    def data(self):
        return self.directory / "data"

    @property
    def socket_dir(self):
        """The unix socket directory; moved to /tmp when the socket path would pass 100 bytes
        (the kernel's limit is 108)."""
        directory = self.directory / "sock"
        if len(str(directory)) + 18 > 100:
            directory = pathlib.Path(f"{layout.tmp_root()}-{self.profile.name}-sock")
        return directory

    @property
    def log_file(self):
        """The server log: logs/postgres.log, or beside the data when that moved out of the
        repository (then logs/postgres.log links to it)."""
        if self.directory == self.profile.run_dir / "pg":
            return self.profile.log_file("postgres")
        return self.directory / "postgres.log"

    # --- state ----------------------------------------------------------------------------

    def pid(self):
        """The postmaster's pid from its own postmaster.pid, or None."""
        try:
            first = (self.data / "postmaster.pid").read_text().splitlines()[0].strip()
        except (OSError, IndexError):
            return None
        return int(first) if first.isdigit() else None

    def running(self):
        """True when the postmaster of this profile's data directory is alive."""
        pid = self.pid()
        return pid is not None and processes.matches(pid, str(self.data))

    def configured_port(self):
        """The port in tally.conf (what a running server listens on), else the profile's."""
        try:
            for line in (self.data / "tally.conf").read_text().splitlines():
                if line.startswith("port = ") and line[7:].strip().isdigit():
                    return int(line[7:].strip())
        except OSError:
            pass
        return self.profile.postgres_port.number

    @property
    def port(self):
        """The port clients must use: the running server's, else the profile's."""
        return self.configured_port() if self.running() else self.profile.postgres_port.number

    def ready(self, port=None):
        """True when the server accepts connections (pg_isready, 2 s)."""
        port = self.port if port is None else port
        result = subprocess.run([tool("pg_isready"), "-q", "-h", HOST, "-p", str(port), "-U", USER, "-t", "2"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return result.returncode == 0

    # --- start and stop -------------------------------------------------------------------

    def start(self):
        """Starts the server (initdb first when there is no data directory) unless it is
        running, ensures the `tally` database exists and records the pid; returns the port
        clients must use. A StackError (after the log's tail on stderr) when it cannot."""
        if self.running():
            pid, port = self.pid(), self.configured_port()
            self.pidfiles.write("postgres", pid, port, self.data)
            say(f"postgres already running (pid {pid}, port {port})")
            self.ensure_database(port)
            return port
        port = self.profile.postgres_port.number
        self._prepare_directories()
        if not (self.data / "PG_VERSION").is_file() or (self.data / "PG_VERSION").stat().st_size == 0:
            say(f"initializing PostgreSQL data directory {self.data}")
            shutil.rmtree(self.data, ignore_errors=True)
            flags = ["-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8"]
            if self.profile.fast_postgres:
                flags.append("--no-sync")
            with open(self.log_file, "ab") as log:
                if as_postgres([tool("initdb")] + flags, stdout=log, stderr=log).returncode != 0:
                    self._fail(f"initdb failed (log: {self.log_file})")
        self._write_config(port)
        say(f"starting postgres on {HOST}:{port}")
        timeout = settings.start_timeout()
        started = as_postgres([tool("pg_ctl"), "-D", str(self.data), "-l", str(self.log_file), "-w", "-t", str(timeout), "start"],
                              stdout=subprocess.DEVNULL)
        if started.returncode != 0:
            self._fail(f"postgres did not start (log: {self.log_file})")
        if processes.wait_until("postgres", timeout, lambda: self.ready(port)) != "ready":
            self._fail(f"postgres is not accepting connections on port {port}")
        pid = self.pid()
        self.pidfiles.write("postgres", pid, port, self.data)
        say(f"postgres ready (pid {pid}, port {port})")
        self.ensure_database(port)
        return port

    def stop(self):
        """Stops the server: fast shutdown, else immediate, else signals; forgets its pid."""
        if not self.data.is_dir():
            self.pidfiles.clear("postgres")
            return
        if self.running():
            pid = self.pid()
            if self._pg_ctl_stop("fast", 30).returncode == 0:
                say(f"stopped postgres (pid {pid})")
            elif self._pg_ctl_stop("immediate", 10).returncode == 0:
                warn("postgres needed an immediate shutdown")
            else:
                processes.stop("postgres", pid)
        elif self.pidfiles.read("postgres").pid is not None:
            say("postgres was not running (stale pid file removed)")
        self.pidfiles.clear("postgres")

    def stop_immediately(self):
        """An immediate shutdown, as a crash would leave the data (recovery runs on the next
        start); a StackError when pg_ctl fails. The pid files are left for `start_again`."""
        result = self._pg_ctl_stop("immediate", 30, capture=True)
        if result.returncode != 0:
            raise StackError(f"pg_ctl stop failed: {result.stderr.strip()}")

    def start_again(self, timeout=60):
        """Starts the server after `stop_immediately` with the configuration it had (port and
        socket unchanged, whatever the environment says now) and records its new pid."""
        result = as_postgres([tool("pg_ctl"), "-D", str(self.data), "-l", str(self.log_file), "-w", "-t", str(timeout), "start"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if result.returncode != 0:
            raise StackError(f"pg_ctl start failed: {result.stderr.strip()}")
        self.pidfiles.replace_pid("postgres", self.pid())

    def ensure_database(self, port):
        """Creates the `tally` database unless it exists."""
        environ = dict(os.environ, PGCONNECT_TIMEOUT="5")
        query = subprocess.run([tool("psql"), "-X", "-q", "-h", HOST, "-p", str(port), "-U", USER, "-d", "postgres", "-tAc",
                                f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"], stdout=subprocess.PIPE, text=True, env=environ)
        if query.returncode != 0:
            raise StackError(f"cannot query postgres on port {port}")
        if query.stdout.strip() != "1":
            if subprocess.run([tool("createdb"), "-h", HOST, "-p", str(port), "-U", USER, DATABASE], env=environ).returncode != 0:
                raise StackError(f"createdb {DATABASE} failed")
            say(f"created database {DATABASE}")

    # --- helpers --------------------------------------------------------------------------

    def _pg_ctl_stop(self, mode, timeout, capture=False):
        output = {"capture_output": True, "text": True} if capture else {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        return as_postgres([tool("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", str(timeout), "stop"], **output)

    def _fail(self, message):
        sys.stderr.write(processes.tail(self.log_file, 20))
        sys.stderr.flush()
        raise StackError(message)

    def _postgres_can_traverse(self, path):
        if os.geteuid() != 0:
            return True
        return subprocess.run(["runuser", "-u", USER, "--", "test", "-x", str(path)]).returncode == 0

    def _prepare_directories(self):
        """Creates PostgreSQL's directories, owned by the postgres user, choosing /tmp when the
        repository is not reachable by that user (and recording the choice)."""
        run_dir = self.profile.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(layout.RUN_ROOT, 0o755)
        os.chmod(run_dir, 0o755)
        if not self.location_record.is_file() or self.location_record.stat().st_size == 0:
            directory = run_dir / "pg"
            if not self._postgres_can_traverse(run_dir):
                directory = layout.tmp_root() / self.profile.name / "pg"
                warn(f"user {USER} cannot traverse {run_dir}; PostgreSQL data goes to {directory}")
            self.location_record.write_text(f"{directory}\n")
        log_file, logs = self.log_file, self.profile.logs
        for directory in (self.directory, self.socket_dir, logs):
            directory.mkdir(parents=True, exist_ok=True)
        log_file.touch()
        if log_file != logs / "postgres.log":
            link = logs / "postgres.log"
            link.unlink(missing_ok=True)
            link.symlink_to(log_file)
        if os.geteuid() == 0:
            for directory in (self.directory, self.socket_dir, logs):
                os.chmod(directory, 0o755)
            for path in (self.directory, self.socket_dir, log_file):
                os.chown(path, *_postgres_owner())

    def _write_config(self, port):
        """Writes tally.conf (port, socket, limits; durability off for the test profile) and
        makes postgresql.conf include it."""
        socket_dir = str(self.socket_dir).replace("'", "''")
        lines = ["# Written by ops/tallystack on every start; edits are overwritten.",
                 f"listen_addresses = '{HOST}'", f"port = {port}", f"unix_socket_directories = '{socket_dir}'",
                 "max_connections = 200", "timezone = 'UTC'"]
        if self.profile.fast_postgres:
            lines += ["fsync = off", "full_page_writes = off"]
        conf = self.data / "tally.conf"
        conf.write_text("\n".join(lines) + "\n")
        main = self.data / "postgresql.conf"
        include = "include_if_exists = 'tally.conf'"
        if not any(line.startswith(include) for line in main.read_text().splitlines()):
            with open(main, "a") as out:
                out.write(include + "\n")
        if os.geteuid() == 0:
            os.chown(conf, *_postgres_owner())


def _postgres_owner():
    """(uid, gid) of the postgres user and its login group, as `chown postgres:` sets them."""
    import pwd
    entry = pwd.getpwnam(USER)
    return entry.pw_uid, entry.pw_gid
