"""Profiles: the local stack (`make up`) and the isolated test stack (`make test`).

A profile fixes the ports and the `.run/<profile>/` directory of one stack:

    .run/<profile>/logs/<component>.log   every component's output (postgres.log may be a link)
    .run/<profile>/pids/<component>.pid   see `pidfiles`
    .run/<profile>/data/<component>/      what a sidecar keeps (see `sidecars`), e.g. a Maildir
    .run/<profile>/pg.location            where PostgreSQL's directory is (see `postgres`)
    .run/<profile>/pg/{data,sock}         PostgreSQL's data and socket, unless moved to /tmp

Ports come from the environment when it sets them, else from the defaults below:

    profile  PostgreSQL                   broker                          services
    local    TALLY_PG_PORT (55432)        TALLY_KAFKA_PORT (19092)        ops/services.txt
    test     TALLY_TEST_PG_PORT (56432)   TALLY_TEST_KAFKA_PORT (29092)   ops/services.txt + TALLY_TEST_PORT_OFFSET (10000)

Every port is checked to be 1-65535; a bad one is a StackError naming its variable.
"""
import dataclasses
import os
import pathlib

from . import layout
from .messages import StackError


@dataclasses.dataclass(frozen=True)
class Port:
    """A TCP port on 127.0.0.1 and the variable (or file) that sets it, for error messages."""
    number: int
    variable: str


@dataclasses.dataclass(frozen=True)
class Profile:
    """One stack's name, ports and run directory. `fast_postgres` trades durability for speed
    (fsync and full-page writes off, initdb without sync): for the throw-away test stack only."""
    name: str
    postgres_port: Port
    broker_port: Port
    service_port_offset: int
    fast_postgres: bool

    @property
    def run_dir(self) -> pathlib.Path:
        return layout.RUN_ROOT / self.name

    @property
    def logs(self) -> pathlib.Path:
        return self.run_dir / "logs"

    @property
    def pids(self) -> pathlib.Path:
        return self.run_dir / "pids"

    @property
    def data(self) -> pathlib.Path:
        return self.run_dir / "data"

    def log_file(self, component) -> pathlib.Path:
        return self.logs / f"{component}.log"


NAMES = ("local", "test")


def port(text, variable):
    """`text` as a port number; a StackError naming `variable` unless it is 1-65535."""
    text = str(text)
    if text.isdigit() and 1 <= int(text) <= 65535:
        return Port(int(text), variable)
    raise StackError(f"invalid port '{text}' (from {variable})")


def load(name, environ=None):
    """The profile called `name` ("local" or "test") with the ports `environ` (the process
    environment by default) sets."""
    environ = os.environ if environ is None else environ

    def configured(variable, default):
        return port(environ.get(variable) or default, variable)

    if name == "local":
        return Profile("local", configured("TALLY_PG_PORT", 55432), configured("TALLY_KAFKA_PORT", 19092),
                       service_port_offset=0, fast_postgres=False)
    if name == "test":
        offset = environ.get("TALLY_TEST_PORT_OFFSET") or "10000"
        if not offset.isdigit():
            raise StackError(f"TALLY_TEST_PORT_OFFSET must be a whole number, got '{offset}'")
        return Profile("test", configured("TALLY_TEST_PG_PORT", 56432), configured("TALLY_TEST_KAFKA_PORT", 29092),
                       service_port_offset=int(offset), fast_postgres=True)
    raise StackError(f"unknown profile '{name}'")
