"""Restarting one service of the running stack with a changed environment, for acceptance scripts
that must point a service somewhere else for a while (notifications at an SMTP server that fails
on purpose), kill it mid-work, and leave it as they found it.

    from service_control import RunningService

    with RunningService("notifications", NOTIFY) as service:
        service.restart({"TALLY_SMTP_PORT": "40025", "TALLY_WEBHOOK_ALLOW_LOOPBACK_HTTP": None})
        ...                          # None removes a variable; the rest is as the stack started it
        service.kill()               # kill -9, the crash fault ...
        service.relaunch()           # ... and the same process started again, as it ran before
    # leaving the block restarts the service exactly as it ran when the block was entered

Every `restart` is relative to how the service ran when the block was entered (not to the last
restart), and waits for /readyz (database, migrations, broker and consumer), so the caller can
publish at once. The stack is found through its pid files: the profile (`make test`'s `test`,
`make up`'s `local`) whose record for the service names the port of the URL the script was
given. Everything goes through ops/tallystack (`ServiceProcesses.restart`, `kill`, `relaunch`),
so the pid files stay right and `make down` stops what is running.
"""
import pathlib
import sys
import time
import urllib.parse

ROOT = pathlib.Path(__file__).resolve().parents[3]
if str(ROOT / "ops") not in sys.path:
    sys.path.insert(0, str(ROOT / "ops"))
from tallystack import pidfiles, profiles, services, sidecars  # noqa: E402
from tallystack.messages import StackError  # noqa: E402
from tallystack.stack import Stack  # noqa: E402


def stack_serving(name, url):
    """The Stack whose pid files record service `name` running on the port of `url`, or None."""
    port = urllib.parse.urlparse(url).port
    for profile_name in profiles.NAMES:
        profile = profiles.load(profile_name)
        files = pidfiles.PidFiles(profile.pids)
        if files.read(name).port == port and files.running(name):
            return Stack(profile)
    return None


class RunningService:
    """One running service of the stack that serves `url`, restartable with another environment.

    A StackError from the constructor when no stack's pid files name the service on that port
    (a service started by hand cannot be restarted from here)."""

    def __init__(self, name, url):
        self.name, self.url = name, url
        self.stack = stack_serving(name, url)
        if self.stack is None:
            raise StackError(f"no stack's pid files name {name} running on {url}; start it with make up or make test")
        self.original = self.stack.processes.launch_of(name)
        self._killed = None

    # --- what the service runs with ----------------------------------------------------------

    @property
    def profile(self):
        return self.stack.profile

    @property
    def environ(self):
        """The environment of the service as the block found it."""
        return dict(self.original.environ)

    @property
    def log_file(self):
        return pathlib.Path(self.original.log_file)

    def sidecar(self, sidecar_name):
        """The sidecar `sidecar_name` of the same profile (port, data directory), or None."""
        return next((sidecar for sidecar in sidecars.catalog(self.profile) if sidecar.name == sidecar_name), None)

    def current_environ(self):
        """The environment of the process running now."""
        return dict(self.stack.processes.launch_of(self.name).environ)

    # --- changing it -------------------------------------------------------------------------

    def restart(self, changes=None, seconds=90):
        """Restarts the service as the block found it with `changes` to its environment
        ({variable: value or None}) and waits for /readyz; a StackError when it does not get
        there within `seconds`."""
        self.stack.processes.restart(self.name, changes, launch=self.original, seconds=seconds)
        self.wait_ready(seconds)

    def kill(self):
        """`kill -9` of the service as it runs now; `relaunch` starts it again the same way."""
        self._killed = self.stack.processes.kill(self.name)

    def relaunch(self, seconds=90):
        """Starts the killed service again exactly as it ran before `kill`, and waits for /readyz."""
        if self._killed is None:
            raise StackError(f"{self.name} was not killed through this object")
        launch, self._killed = self._killed, None
        if not self.stack.processes.relaunch(self.name, launch, seconds=seconds):
            raise StackError(f"{self.name} did not become healthy after kill -9 and relaunch; see {launch.log_file}")
        self.wait_ready(seconds)

    def restore(self, seconds=90):
        """The service as the block found it: relaunched when it was killed, restarted when it
        runs with another environment, left alone when it runs as it was."""
        if self._killed is not None or not self.stack.processes.running(self.name):
            self._killed = None
            if not self.stack.processes.relaunch(self.name, self.original, seconds=seconds):
                raise StackError(f"{self.name} did not come back as it was; see {self.original.log_file}")
        elif self.current_environ() != self.original.environ:
            self.stack.processes.restart(self.name, launch=self.original, seconds=seconds)
        self.wait_ready(seconds)

    def wait_ready(self, seconds=90):
        port = urllib.parse.urlparse(self.url).port
        deadline = time.monotonic() + seconds
        while not services.ready(port):
            if time.monotonic() >= deadline:
                raise StackError(f"{self.name} is not ready (/readyz) {seconds} s after its start; see {self.log_file}")
            time.sleep(0.3)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.restore()
        return False
