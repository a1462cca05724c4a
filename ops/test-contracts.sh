#!/usr/bin/env bash
# Contract checks that need Python's jsonschema: every golden fixture validates against its
# schema, and the schema rejects the fixture with any required field removed or any field's
# JSON type changed (so a schema that accepts anything fails here).
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${TALLY_PYTHON:-python3}" ops/check_contracts.py contracts
