"""The stack's messages: `[tally] ...` on stdout, warnings and errors on stderr."""
import sys


class StackError(Exception):
    """A problem that stops a command. Each line of the message is one problem and names what
    to fix; `code` is the exit status the command ends with."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


def say(message):
    """Prints `[tally] message` on stdout at once (not buffered behind a child's output)."""
    print(f"[tally] {message}", flush=True)


def warn(message):
    """Prints `[tally] warning: message` on stderr."""
    print(f"[tally] warning: {message}", file=sys.stderr, flush=True)


def report(error):
    """Prints every line of a StackError as `[tally] error: line` on stderr."""
    for line in str(error).splitlines() or [""]:
        print(f"[tally] error: {line}", file=sys.stderr, flush=True)
