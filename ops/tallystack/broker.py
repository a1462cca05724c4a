"""The Tansu broker (Kafka-compatible, in-memory storage) of one profile, and its topics.

Guarantees: the broker listens and advertises tcp://127.0.0.1:<port>; it is recorded in the pid
files as `broker` with the match string "<tansu binary> broker"; after `start` every topic in
ops/topics.txt exists with its partition count (Tansu forgets topics when it stops, so they are
created on every start; one that already exists counts as created).
"""
import os
import subprocess
import sys

from . import layout, ports, processes, settings, tables
from .messages import StackError, say


def binary():
    """The Tansu executable bootstrap installed (the real file behind .deps/bin/tansu)."""
    return layout.TANSU.resolve()


def url(port):
    return f"tcp://127.0.0.1:{port}"


def bootstrap_servers(port):
    """The `host:port` Kafka clients use for the broker on `port`."""
    return f"127.0.0.1:{port}"


class Broker:
    """The broker of one profile."""

    def __init__(self, profile, pidfiles):
        self.profile = profile
        self.pidfiles = pidfiles

    def running(self):
        """The broker's pid when it is running and is ours, else None."""
        return self.pidfiles.running("broker")

    @property
    def port(self):
        """The port clients must use: the running broker's, else the profile's."""
        if self.running():
            return self.pidfiles.read("broker").port
        return self.profile.broker_port.number

    def start(self):
        """Starts the broker unless it is running, then creates the topics; returns the port
        clients must use. A StackError (after the log's tail) when it does not come up."""
        if self.running():
            port = self.port
            say(f"broker already running (pid {self.running()}, port {port})")
        else:
            port = self.profile.broker_port.number
            self.pidfiles.clear("broker")
            tansu, log_file = str(binary()), self.profile.log_file("broker")
            say(f"starting broker (tansu) on 127.0.0.1:{port}")
            environ = {k: v for k, v in os.environ.items() if k not in ("SCHEMA_REGISTRY", "OTEL_EXPORTER_OTLP_ENDPOINT")}
            environ["NO_COLOR"] = "1"
            pid = processes.spawn([tansu, "broker", "--listener-url", url(port), "--advertised-listener-url", url(port),
                                   "--storage-engine", "memory://tansu/"], log_file, environ)
            self.pidfiles.write("broker", pid, port, f"{tansu} broker")
            outcome = processes.wait_until("broker", settings.start_timeout(), lambda: ports.accepting(port), pid=pid)
            if outcome != "ready":
                sys.stderr.write(processes.tail(log_file, 20))
                if outcome == "exited":
                    raise StackError(f"broker exited during startup (log: {log_file})")
                raise StackError(f"broker is not listening on port {port} (log: {log_file})")
            say(f"broker ready (pid {pid}, port {port})")
        create_topics(port)
        return port

    def stop(self):
        """Stops the broker if it is ours and forgets its pid."""
        self.pidfiles.stop("broker")


def create_topics(port):
    """Creates every topic of ops/topics.txt on the broker at `port` and confirms them with the
    broker's own listing; a StackError names what is wrong."""
    tansu, broker = str(binary()), url(port)
    environ = dict(os.environ, NO_COLOR="1")
    topics = tables.read_table(layout.TOPICS_FILE)
    created = existing = 0
    for name, partitions in topics:
        if not (partitions.isdigit() and int(partitions) > 0 and not partitions.startswith("0")):
            raise StackError(f"bad partition count '{partitions}' for {name} in {layout.TOPICS_FILE}")
        result = _tansu([tansu, "topic", "create", name, "--broker", broker, "--partitions", partitions], environ)
        if result.returncode == 0:
            created += 1
        elif "already exists" in result.stdout:
            existing += 1
        else:
            sys.stderr.write(result.stdout)
            raise StackError(f"could not create topic {name} on {broker}")
    listing = _tansu([tansu, "topic", "list", "--broker", broker], environ)
    if listing.returncode != 0:
        raise StackError(f"could not list topics on {broker}")
    missing = [name for name, _ in topics if f'"name":"{name}"' not in listing.stdout]
    if missing:
        raise StackError(f"topics missing after creation: {' '.join(missing)}")
    say(f"topics: {created} created, {existing} already present")


def _tansu(argv, environ):
    """Runs a tansu client command (30 s at most) with stdout and stderr together."""
    try:
        return subprocess.run(argv, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout.decode(errors="replace") if isinstance(expired.stdout, bytes) else (expired.stdout or "")
        return subprocess.CompletedProcess(argv, 124, output, None)
