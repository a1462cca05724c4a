"""Validates contracts/fixtures against contracts/schemas with jsonschema (Draft 2020-12)."""
import copy
import json
import pathlib
import sys

import jsonschema

root = pathlib.Path(sys.argv[1])
fixtures = sorted((root / "fixtures").glob("*.json"))
schemas = {p.stem: p for p in (root / "schemas").glob("*.json")}
asyncapi = (root / "asyncapi.yaml").read_text()
failures = []
checked = 0


def other_type(value):
    """A value of a different JSON type than `value`."""
    if isinstance(value, bool):
        return "true"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return 12345
    if isinstance(value, list):
        return {"not": "a list"}
    if isinstance(value, dict):
        return ["not", "an", "object"]
    return 0


def mutations(document, schema, path=()):
    """Yields (description, mutated document) for each required field removed or retyped."""
    for field in schema.get("required", []):
        if field in document:
            removed = copy.deepcopy(document)
            target = removed
            for key in path:
                target = target[key]
            del target[field]
            yield f"without {'.'.join(path + (field,))}", removed
    for field, value in (document_at(document, path) or {}).items():
        retyped = copy.deepcopy(document)
        target = retyped
        for key in path:
            target = target[key]
        target[field] = other_type(value)
        yield f"with {'.'.join(path + (field,))} of another type", retyped
        sub = schema.get("properties", {}).get(field, {})
        if isinstance(value, dict) and sub.get("type") == "object":
            yield from mutations(document, sub, path + (field,))


def document_at(document, path):
    for key in path:
        document = document[key]
    return document


for fixture in fixtures:
    name = fixture.stem
    schema_path = schemas.get(name)
    if schema_path is None:
        failures.append(f"{fixture}: no schema contracts/schemas/{name}.json")
        continue
    if f"schemas/{name}.json" not in asyncapi:
        failures.append(f"{name}: not referenced from asyncapi.yaml")
    schema = json.loads(schema_path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    document = json.loads(fixture.read_text())
    errors = [e.message for e in validator.iter_errors(document)]
    if errors:
        failures.append(f"{fixture}: {errors}")
    checked += 1
    for description, mutated in mutations(document, schema):
        checked += 1
        if validator.is_valid(mutated):
            failures.append(f"{name}: schema accepted the fixture {description}")

for name in schemas:
    if not (root / "fixtures" / f"{name}.json").exists():
        failures.append(f"schema {name} has no golden fixture")

# Every OpenAPI document is a valid OpenAPI 3.1 document.
import yaml
from openapi_spec_validator import validate as validate_openapi

for document in sorted((root / "openapi").glob("*.yaml")):
    checked += 1
    try:
        spec = yaml.safe_load(document.read_text())
        if spec.get("openapi") != "3.1.0":
            raise ValueError("expected openapi: 3.1.0")
        validate_openapi(spec)
    except Exception as error:  # the validator raises its own error types
        failures.append(f"{document}: {error}")

for failure in failures:
    print(f"FAIL {failure}")
print(f"contracts: {checked - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
