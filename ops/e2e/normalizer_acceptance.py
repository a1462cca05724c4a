"""End-to-end acceptance of the normalizer on a running stack (real gateway, broker, normalizer).

Posts every provider fixture under contracts/providers/ to the gateway, signed as its provider signs,
and checks what downstream services and operators would see:
- each fixture's canonical events on their topics, byte-for-byte the normalizer's golden mapping
  (apart from the inbox id and provider event id), with ids derived from the inbox id;
- inbox rows moving to processed / ignored / superseded (and failed for a poison payload, which goes
  to the dead-letter topic without holding anything up);
- subscription events sent late and out of order are superseded, so the last state is the newest;
- the gateway's and the normalizer's delta reports agree, with nothing unexplained.
"""
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "support"))
from tally_e2e import GATEWAY, ROOT, Checks, call, canonical_id, consume, fixture, service_url, sign, token  # noqa: E402

NORMALIZER = service_url("normalizer")
ORG = "org_norm_%d" % int(time.time())
GOLDEN = ROOT / "Tests" / "NormalizerTests" / "Golden"
PROVIDERS = ["stripe", "paddle", "hotmart", "internal"]
# Sent after the newer deletion of the same subscription: they must be superseded, not applied.
LATE = ["stripe/customer.subscription.paused.json", "stripe/customer.subscription.resumed.json"]
checks = Checks()
check = checks.check
auth = {"Authorization": f"Bearer {token(ORG, 'admin')}"}


def comparable(data):
    """An event's data without the parts that differ per delivery (inbox id, provider event id)."""
    data = json.loads(json.dumps(data))
    data["origin"].pop("source_inbox_id")
    data["origin"].pop("provider_event_id")
    return data


def post(source, provider, name, body=None):
    body = body if body is not None else fixture(name)
    status, answer, _ = call("POST", f"{GATEWAY}/webhooks/{source['id']}", raw=body, headers=sign(provider, body, source["secret"]))
    check(f"{name} accepted", status == 200 and answer.get("duplicate") is False, (status, answer))
    return answer.get("inbox_id")


def inbox_statuses():
    statuses, cursor = {}, None
    while True:
        status, page, _ = call("GET", f"{GATEWAY}/admin/orgs/{ORG}/inbox?limit=200" + (f"&cursor={cursor}" if cursor else ""), headers=auth)
        for entry in page.get("entries", []):
            statuses[entry["id"]] = entry["status"]
        cursor = page.get("next_cursor")
        if status != 200 or not cursor:
            return statuses


def wait_for(inbox_ids, final=("processed", "ignored", "superseded", "failed"), seconds=60):
    deadline = time.time() + seconds
    while True:
        statuses = inbox_statuses()
        if all(statuses.get(i) in final for i in inbox_ids) or time.time() > deadline:
            return statuses
        time.sleep(0.3)


# One source per provider.
sources = {}
for provider in PROVIDERS:
    status, answer, _ = call("POST", f"{GATEWAY}/admin/orgs/{ORG}/sources", {"provider": provider, "name": f"normalizer e2e {provider}"}, auth)
    check(f"create {provider} source", status == 201, answer)
    sources[provider] = {"id": answer["source"]["id"], "secret": answer["secret"]}

# Every fixture and what its golden mapping says it becomes.
golden = {}
for provider in PROVIDERS:
    for path in sorted((ROOT / "contracts" / "providers" / provider).glob("*.json")):
        name = f"{provider}/{path.name}"
        golden[name] = json.loads((GOLDEN / name).read_text())
stateful = {n for n, g in golden.items() if any(e["type"].startswith(("tally.subscription.", "tally.invoice.")) for e in g.get("events", []))}
expected_status = {n: ("ignored" if "ignored" in g else "superseded" if n in LATE else "processed") for n, g in golden.items()}

# A poison payload first: signed correctly, unreadable to the normalizer. It must not hold up what follows.
poison = json.dumps({"id": "evt_poison_%d" % int(time.time()), "object": "event", "type": "payment_intent.succeeded",
                     "created": int(time.time()), "data": {"object": {"id": "pi_poison"}}}).encode()
inbox = {"poison": post(sources["stripe"], "stripe", "a poison stripe payload", poison)}

# Additive facts and ignored types, as fast as the gateway takes them.
for name in golden:
    if name not in stateful:
        inbox[name] = post(sources[name.split("/")[0]], name.split("/")[0], name)

# State-bearing events one at a time in the order of their provider times, the late ones last.
def occurred(name):
    return min(e["data"]["origin"]["occurred_at"] for e in golden[name]["events"])
for name in sorted((n for n in stateful if n not in LATE), key=occurred) + LATE:
    inbox[name] = post(sources[name.split("/")[0]], name.split("/")[0], name)
    wait_for([inbox[name]], seconds=30)

statuses = wait_for(list(inbox.values()))
wrong = {n: (statuses.get(inbox[n]), s) for n, s in expected_status.items() if statuses.get(inbox[n]) != s}
check(f"all {len(expected_status)} fixtures reached their expected inbox status (processed / ignored / superseded)", not wrong, wrong)
check("the poison payload is failed, not stuck", statuses.get(inbox["poison"]) == "failed", statuses.get(inbox["poison"]))

# The canonical events, as each fixture's golden file says, with ids derived from the inbox id.
wanted = {}
for name, g in golden.items():
    if expected_status[name] != "processed":
        continue
    for position, event in enumerate(g["events"]):
        wanted[canonical_id(inbox[name], position)] = (name, event)
topics = ["tally.canonical.payments.v1", "tally.canonical.subscriptions.v1", "tally.canonical.invoices.v1",
          "tally.canonical.orders.v1", "tally.canonical.payouts.v1", "tally.canonical.customers.v1", "tally.canonical.usage.v1"]
events = consume(topics, f"e2e-normalizer-{ORG}", lambda e: e.get("tenant") == ORG,
                 lambda kept: set(wanted) <= {e["id"] for e in kept}, seconds=60)
by_id = {}
for event in events:
    by_id.setdefault(event["id"], []).append(event)
missing = sorted(wanted[i][0] for i in wanted if i not in by_id)
check(f"all {len(wanted)} expected canonical events are on their topics", not missing, missing)
check("no canonical event is published twice", all(len(v) == 1 for v in by_id.values()), [k for k, v in by_id.items() if len(v) > 1])
mismatched = [wanted[i][0] for i, (name, event) in wanted.items()
              if i in by_id and (by_id[i][0]["type"] != event["type"] or comparable(by_id[i][0]["data"]) != comparable(event["data"])
                                 or by_id[i][0]["data"]["origin"]["source_inbox_id"] != inbox[name])]
check("each canonical event carries exactly its golden mapping, with lineage to its inbox row", not mismatched, mismatched)
check("nothing else was published for this org", set(by_id) <= set(wanted), sorted(set(by_id) - set(wanted)))

stripe_subscription = [e["type"] for e in events if e["type"].startswith("tally.subscription.") and e["data"]["origin"]["provider"] == "stripe"]
check("the late Stripe pause and resume were not applied; the subscription ends canceled",
      stripe_subscription == ["tally.subscription.activated.v1", "tally.subscription.changed.v1", "tally.subscription.canceled.v1"], stripe_subscription)
contact = [e for e in events if json.dumps(e["data"]).find("example.com") >= 0]
check("contact details appear only in customer.upserted", all(e["type"] == "tally.customer.upserted.v1" for e in contact), [e["type"] for e in contact])

dead = consume(["tally.normalizer.dead-letters.v1"], f"e2e-dlq-{ORG}", lambda e: e.get("tenant") == ORG and e["data"]["inbox_id"] == inbox["poison"],
               lambda kept: len(kept) >= 1, seconds=30)
check("the poison payload is on the normalizer's dead-letter topic", len(dead) == 1, len(dead))

# Lineage, delta and freshness from the normalizer; the gateway's side of the delta agrees.
status, lineage, _ = call("GET", f"{NORMALIZER}/admin/orgs/{ORG}/lineage/{inbox['stripe/customer.subscription.paused.json']}", headers=auth)
check("lineage shows the late pause as superseded", status == 200 and lineage.get("outcome") == "superseded"
      and [e["disposition"] for e in lineage.get("canonical_events", [])] == ["superseded"], lineage)
status, delta, _ = call("GET", f"{NORMALIZER}/admin/orgs/{ORG}/reports/delta", headers=auth)
status2, report, _ = call("GET", f"{GATEWAY}/admin/orgs/{ORG}/inbox/report", headers=auth)
def totals(rows, keys):
    out = {}
    for row in rows:
        slot = out.setdefault(row["provider"], {k: 0 for k in keys})
        for k in keys:
            slot[k] += row[k]
    return out
keys = ["received", "processed", "ignored", "superseded", "failed"]
normalizer_totals, gateway_totals = totals(delta.get("days", []), keys), totals(report.get("days", []), keys)
check("the gateway's and the normalizer's delta reports agree per provider", status == 200 and status2 == 200 and normalizer_totals == gateway_totals,
      {"normalizer": normalizer_totals, "gateway": gateway_totals})
check("zero unexplained rows: nothing awaits an outcome, nothing pending in the normalizer",
      all(r["awaiting_outcome"] == 0 and r["unexplained"] == 0 for r in report.get("days", []))
      and all(r["pending"] == 0 for r in delta.get("days", [])), (report, delta))
check("received equals the webhooks posted", sum(t["received"] for t in gateway_totals.values()) == len(inbox), (gateway_totals, len(inbox)))
status, freshness, _ = call("GET", f"{NORMALIZER}/admin/orgs/{ORG}/reports/freshness", headers=auth)
check("every provider is fresh", status == 200 and sorted(p["provider"] for p in freshness.get("providers", []) if p["state"] == "fresh") == sorted(PROVIDERS), freshness)

checks.finish()
