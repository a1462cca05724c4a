"""The whitespace tables under ops/ (services.txt, topics.txt, sidecars.txt,
service-environment.txt): `field1 field2 ...` per line, `#` starts a comment, blank lines are
skipped."""
from .messages import StackError


def read_table(path):
    """(first, second) field of every row, in file order; a StackError when the file is
    missing. A row with one field gives (first, "")."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise StackError(f"missing {path}") from None
    rows = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            rows.append((fields[0], fields[1] if len(fields) > 1 else ""))
    return rows


def read_rows(path, maxsplit=-1):
    """(line number, fields) of every row, in file order, the line split on whitespace at most
    `maxsplit` times (so the last field may hold spaces); a StackError when the file is missing."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise StackError(f"missing {path}") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if content:
            rows.append((number, content.split(None, maxsplit)))
    return rows
