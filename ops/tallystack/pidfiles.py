"""The pid and meta files of one profile's components, read and written only here.

For a component NAME, `.run/<profile>/pids/` holds:

    NAME.pid    line 1: the pid
    NAME.meta   line 1: the port it serves
                line 2: a string its command line contains (the executable, the broker's
                        "<tansu> broker", PostgreSQL's data directory)

A component counts as running only when its pid is alive and that process's command line
contains the recorded string (`processes.matches`), so a recycled pid is never taken for ours.
"""
import dataclasses
import pathlib

from . import processes
from .messages import say


@dataclasses.dataclass(frozen=True)
class Record:
    """What the files say about one component; a field is None when its file or line is absent."""
    name: str
    pid: int | None
    port: int | None
    match: str | None


class PidFiles:
    """The pid and meta files in one directory."""

    def __init__(self, directory):
        self.directory = pathlib.Path(directory)

    def pid_file(self, name):
        return self.directory / f"{name}.pid"

    def meta_file(self, name):
        return self.directory / f"{name}.meta"

    def read(self, name):
        """The record for `name`; absent or malformed lines read as None."""
        pid_lines = _lines(self.pid_file(name))
        meta_lines = _lines(self.meta_file(name))
        return Record(name, _number(pid_lines, 0), _number(meta_lines, 0), meta_lines[1] if len(meta_lines) > 1 and meta_lines[1] else None)

    def write(self, name, pid, port, match):
        """Records a started component: its pid, port and command-line match string."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.pid_file(name).write_text(f"{pid}\n")
        self.meta_file(name).write_text(f"{port}\n{match}\n")

    def replace_pid(self, name, pid):
        """Records a new pid for a component restarted with the same port and command line."""
        self.pid_file(name).write_text(f"{pid}\n")

    def clear(self, name):
        """Forgets `name` (both files); a no-op when there is nothing recorded."""
        self.pid_file(name).unlink(missing_ok=True)
        self.meta_file(name).unlink(missing_ok=True)

    def names(self):
        """Every component with a pid file, sorted by name."""
        if not self.directory.is_dir():
            return []
        return sorted(path.stem for path in self.directory.glob("*.pid"))

    def stop(self, name):
        """Stops `name` if it is running and ours (SIGTERM, then SIGKILL), then forgets it;
        says so when the pid file was stale."""
        record = self.read(name)
        if record.pid is None:
            return
        if self.running(name):
            processes.stop(name, record.pid)
        else:
            say(f"{name} was not running (stale pid file removed)")
        self.clear(name)

    def running(self, name):
        """The pid of `name` when it is running and is ours (see the module docstring), else None."""
        record = self.read(name)
        if record.pid is not None and processes.matches(record.pid, record.match):
            return record.pid
        return None


def _lines(path):
    try:
        return path.read_text().splitlines()
    except OSError:
        return []


def _number(lines, index):
    if len(lines) > index and lines[index].strip().isdigit():
        return int(lines[index].strip())
    return None
