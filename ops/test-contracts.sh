#!/usr/bin/env bash
# Contract checks that need Python's jsonschema: every golden fixture validates against its
# schema, and the schema rejects the fixture with any required field removed or any field's
# JSON type changed (so a schema that accepts anything fails here); and the bank statement
# test files are valid camt.053.
set -euo pipefail
cd "$(dirname "$0")/.."
"${TALLY_PYTHON:-python3}" ops/check_contracts.py contracts
# The camt.053 test statements validate against the published ISO 20022 schema.
exec "${TALLY_PYTHON:-python3}" ops/check_bank_statements.py .
