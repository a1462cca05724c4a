"""End-to-end acceptance of every service's OpenAPI document against the running service.

Run by `make test` after the Swift tests, like the other `ops/e2e/*_acceptance.py` scripts, with
`--service name=url` arguments. For each `contracts/openapi/<service>.yaml` it runs schemathesis
(all phases: examples, coverage, fuzzing, stateful) against `<service>`'s URL, as an admin of a
fresh org, and checks that:

- no request is answered with a 5xx;
- no answer has a status code the document does not list for the operation;
- every answer matches the documented schema and content type;
- no request the document forbids is accepted (negative data is rejected with a 4xx);
- no request the document allows is refused with 400/422 (positive data is accepted).

The run is bounded: a fixed seed, a fixed number of examples per operation and a time limit per
service (TALLY_OPENAPI_SEED, TALLY_OPENAPI_MAX_EXAMPLES, TALLY_OPENAPI_BUDGET_SECONDS change them).
Each failure is printed with the request as a curl command and the response it got.
Prints `e2e: N passed, M failed`.
"""
import json
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SUPPORT = pathlib.Path(__file__).resolve().parent / "support"
sys.path.insert(0, str(SUPPORT))
import yaml  # noqa: E402
from tally_e2e import ROOT, Checks, call, service_url, token  # noqa: E402

SEED = int(os.environ.get("TALLY_OPENAPI_SEED", "20260415"))
MAX_EXAMPLES = int(os.environ.get("TALLY_OPENAPI_MAX_EXAMPLES", "50"))
# The whole script stays under about eight minutes: this is shared among the documents by their
# number of operations (the finance document alone takes 75 to 90 s against a service that
# answers at once, more on a loaded 2-core machine); a run that finishes early leaves its time to
# the documents after it.
BUDGET = float(os.environ.get("TALLY_OPENAPI_BUDGET_SECONDS", "420"))
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
PHASES = "examples,coverage,fuzzing,stateful"
ORG = "org_openapi_%d" % int(time.time())
SCHEMATHESIS = [sys.executable, "-m", "schemathesis.cli"]
# Query parameters that take only a cursor this API returned (`next_cursor`).
CURSORS = ("cursor", "after")

# What this script asserts, and the schemathesis checks that decide it.
ASSERTIONS = [
    ("no 5xx answer", ["not_a_server_error"]),
    ("no undocumented status code", ["status_code_conformance"]),
    ("every answer matches its documented schema and content type", ["response_schema_conformance", "content_type_conformance"]),
    ("no request the document forbids is accepted", ["negative_data_rejection"]),
    ("no request the document allows is refused", ["positive_data_acceptance"]),
]
CHECK_NAMES = sorted({name for _, names in ASSERTIONS for name in names})

checks = Checks()
check = checks.check


def alive(url):
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=3) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def seed_gateway(url, admin):
    """Real values for the gateway's parameters: a Standard Webhooks source whose webhooks
    openapi_hooks.py signs (`POST /webhooks/{sourceID}` is pinned to it, so its bodies are what is
    fuzzed), a second source for the admin operations to disable and rotate, two accepted webhooks
    and the inbox cursor after the first of them."""
    from tally_e2e import sign
    known = {"pins": {}, "examples": {}, "env": {}}
    sources = []
    for name in ("openapi acceptance webhooks", "openapi acceptance admin"):
        status, answer, _ = call("POST", f"{url}/admin/orgs/{ORG}/sources", {"provider": "internal", "name": name}, admin)
        if not check(f"ingest-gateway: source '{name}' to test with", status == 201, answer):
            return known
        sources.append((answer["source"]["id"], answer["secret"]))
    (webhook_source, secret), (admin_source, _) = sources
    known["pins"][("/webhooks/{sourceID}", "sourceID")] = webhook_source
    known["examples"]["sourceID"] = admin_source
    known["env"] = {"TALLY_OPENAPI_WEBHOOK_SOURCE": webhook_source, "TALLY_OPENAPI_WEBHOOK_SECRET": secret}
    for number in (1, 2):
        body = json.dumps({"id": f"evt_openapi_{number}", "type": "order.placed", "data": {}}).encode()
        status, accepted, _ = call("POST", f"{url}/webhooks/{webhook_source}", raw=body, headers=sign("internal", body, secret))
        check(f"ingest-gateway: webhook {number} to test with accepted", status == 200, accepted)
        known["examples"].setdefault("inboxID", accepted.get("inbox_id"))
    status, page, _ = call("GET", f"{url}/admin/orgs/{ORG}/inbox?limit=1", headers=admin)
    if status == 200 and page.get("next_cursor"):
        known["cursor"] = page["next_cursor"]
    return known


def pinned_document(source, known):
    """A test copy of the document that says what the document can only say in words:
    - the `org` path parameter can only be ORG, the org of the token (others are 403);
    - an opaque string cursor (`in: query`, named `cursor` or `after`) can only be one the API
      returned, so it is pinned to a real one (or the parameter is dropped when there is none);
    - `known["pins"]` pins a path parameter of one path to one value (the webhook source);
    - path parameters with a known real id (`known["examples"]`) get it as an example, so the
      examples and stateful phases reach past 404."""
    document = yaml.safe_load(source.read_text())
    pins, examples = known.get("pins", {}), known.get("examples", {})

    def pin(parameter, path=None):
        """Pins `parameter` in place; False when it is to be left out."""
        if not isinstance(parameter, dict):
            return True
        name, where, schema = parameter.get("name"), parameter.get("in"), parameter.get("schema", {})
        if where == "path" and name == "org":
            parameter["schema"] = {"type": "string", "enum": [ORG]}
        elif where == "path" and (path, name) in pins:
            parameter["schema"] = {"type": "string", "enum": [pins[(path, name)]]}
        elif where == "path" and examples.get(name):
            parameter["schema"] = {**schema, "examples": [examples[name]]}
        elif where == "query" and name in CURSORS and schema.get("type") == "string":
            if "cursor" not in known:
                return False
            parameter["schema"] = {"type": "string", "enum": [known["cursor"]]}
        return True

    components = document.get("components", {}).get("parameters", {})
    dropped = {f"#/components/parameters/{key}" for key, parameter in components.items() if not pin(parameter)}

    def kept(parameters, path):
        return [p for p in parameters if p.get("$ref") not in dropped and ("$ref" in p or pin(p, path))]

    for path, item in document.get("paths", {}).items():
        if "parameters" in item:
            item["parameters"] = kept(item["parameters"], path)
        for operation in item.values():
            if isinstance(operation, dict) and "parameters" in operation:
                operation["parameters"] = kept(operation["parameters"], path)
    return document


def curl(request):
    """The request as a curl command (the bearer token shortened)."""
    parts = ["curl", "-sS", "-X", request.get("method", "GET")]
    for name, values in sorted(request.get("headers", {}).items()):
        for value in values if isinstance(values, list) else [values]:
            if name.lower() == "authorization":
                value = "Bearer $TOKEN"
            parts += ["-H", f"{name}: {value}"]
    body = request.get("body")
    if isinstance(body, dict) and "$base64" in body:
        import base64
        body = base64.b64decode(body["$base64"]).decode("utf-8", "replace")
    if body is not None:
        parts += ["--data-raw", body if isinstance(body, str) else json.dumps(body)]
    parts.append(request.get("uri", "?"))
    return " ".join(shlex.quote(part) for part in parts)


def response_text(response):
    if not response:
        return "no response"
    content = response.get("content")
    if isinstance(content, dict) and "$base64" in content:
        import base64
        content = base64.b64decode(content["$base64"]).decode("utf-8", "replace")
    return f"{response.get('status_code')} {str(content)[:300]}"


def failures_from(ndjson):
    """{check name: [(operation, failure title, message, curl, response)]}: one per distinct
    (check, operation, title), from the NDJSON event stream schemathesis wrote."""
    found, seen = {}, set()
    if not ndjson.exists():
        return found
    for line in ndjson.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished.get("recorder", {})
        interactions = recorder.get("interactions", {})
        for case_id, nodes in recorder.get("checks", {}).items():
            for node in nodes:
                if node.get("status") != "failure":
                    continue
                info = node.get("failure_info") or {}
                failure = info.get("failure") or {}
                name = node.get("name", "?")
                title = failure.get("title", "")
                operation = failure.get("operation") or recorder.get("label", "?")
                key = (name, operation, title, failure.get("message", "")[:120])
                if key in seen:
                    continue
                seen.add(key)
                interaction = interactions.get(case_id) or {}
                found.setdefault(name, []).append((operation, title, failure.get("message", ""),
                                                   curl(interaction.get("request") or {}), response_text(interaction.get("response"))))
    return found


def run_schemathesis(service, url, document, budget, workdir, env):
    spec = workdir / f"{service}.json"
    spec.write_text(json.dumps(document))
    report, ndjson = workdir / f"{service}-report.json", workdir / f"{service}-events.ndjson"
    command = SCHEMATHESIS + [
        "run", str(spec), "--url", url,
        "-H", f"Authorization: Bearer {token(ORG, 'admin')}",
        "--phases", PHASES, "--checks", ",".join(CHECK_NAMES),
        "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "1",
        "--request-timeout", "10", "--suppress-health-check", "all", "--generation-database", "none",
        "--report", "json,ndjson", "--report-json-path", str(report), "--report-ndjson-path", str(ndjson),
        "--no-color", "--warnings", "off",
    ]
    started = time.time()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=budget, cwd=workdir, env=env)
        output, timed_out = done.stdout + done.stderr, False
    except subprocess.TimeoutExpired as expired:
        output, timed_out = (expired.stdout or b"").decode(errors="replace") if isinstance(expired.stdout, bytes) else (expired.stdout or ""), True
    elapsed = time.time() - started
    try:
        summary = json.loads(report.read_text()) if report.exists() else None
    except json.JSONDecodeError:
        summary = None  # schemathesis was stopped while writing it (the budget ran out)
    return summary, failures_from(ndjson), output, timed_out, elapsed


def operation_count(source):
    """How many operations a document has (at least 1): its share of the time budget."""
    paths = (yaml.safe_load(source.read_text()) or {}).get("paths") or {}
    return max(1, sum(1 for item in paths.values() for method in (item or {}) if method in HTTP_METHODS))


def main():
    documents = sorted((ROOT / "contracts" / "openapi").glob("*.yaml"))
    check("there is at least one OpenAPI document", documents, "contracts/openapi/ is empty")
    deadline = time.time() + BUDGET
    weights = [operation_count(source) for source in documents]
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="tally-openapi-"))
    for index, source in enumerate(documents):
        service = source.stem
        url = service_url(service)
        if not check(f"{service}: a URL and a live /healthz ({url or 'none given'})", url and alive(url), "is the service running?"):
            continue
        admin = {"Authorization": f"Bearer {token(ORG, 'admin')}"}
        known = seed_gateway(url, admin) if service == "ingest-gateway" else {}
        budget = max(30.0, (deadline - time.time()) * weights[index] / sum(weights[index:]))
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "openapi_hooks", **known.get("env", {}),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(SUPPORT), os.environ.get("PYTHONPATH")]))}
        summary, failures, output, timed_out, elapsed = run_schemathesis(service, url, pinned_document(source, known), budget, workdir, env)
        print(f"  {service}: schemathesis {'timed out' if timed_out else 'finished'} in {elapsed:.0f} s "
              f"(seed {SEED}, {MAX_EXAMPLES} examples per operation, phases {PHASES})", flush=True)
        if not check(f"{service}: schemathesis ran to completion within {budget:.0f} s", summary and summary.get("complete") and not timed_out,
                     output[-2000:]):
            continue
        phases = summary.get("phases") or {}
        ran = sorted(name for name, phase in phases.items() if phase.get("status") not in ("skipped", None))
        check(f"{service}: every phase ran ({', '.join(ran)})", set(PHASES.split(",")) <= set(ran),
              {name: phase for name, phase in phases.items()})
        cases = summary.get("test_cases", {})
        print(f"  {service}: {cases.get('generated')} test cases, {cases.get('with_failures')} with failures, "
              f"{cases.get('unique_failures')} unique failures", flush=True)
        check(f"{service}: schemathesis reported no errors", not summary.get("errors"), summary.get("errors"))
        for label, names in ASSERTIONS:
            found = [failure for name in names for failure in failures.get(name, [])]
            detail = "".join(f"\n      {operation}: {title}: {message.strip()[:300]}\n        {command}\n        -> {response}"
                             for operation, title, message, command, response in found)
            check(f"{service}: {label}", not found, f"{len(found)} distinct failure(s):{detail}")
    if all(ok for _, ok in checks.results):
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"  schemathesis reports (JSON, NDJSON) and the test copies of the documents: {workdir}")
    checks.finish()


if __name__ == "__main__":
    main()
