"""End-to-end acceptance of reconciliation on a running stack (real gateway, normalizer, broker,
reconciliation).

The product's backend places an order (an internal webhook, signed with Standard Webhooks); the
gateway stores it, the normalizer turns it into `tally.order.placed.v1`, and reconciliation records
the order it now expects money for. Checks what an operator would see through reconciliation's
admin API:
- the order with its total in integer minor units and its payment reference;
- the same order placed again under a new event id with the same facts changes nothing;
- another org cannot read it; an unknown order is 404 Problem+JSON.
"""
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "support"))
from tally_e2e import GATEWAY, Checks, call, fixture, service_url, sign, token  # noqa: E402

RECONCILIATION = service_url("reconciliation")
ORG = "org_recon_%d" % int(time.time())
checks = Checks()
check = checks.check
auth = {"Authorization": f"Bearer {token(ORG, 'admin')}"}
viewer = {"Authorization": f"Bearer {token(ORG, 'viewer')}"}


def place(source, body):
    status, answer, _ = call("POST", f"{GATEWAY}/webhooks/{source['id']}", raw=body, headers=sign("internal", body, source["secret"]))
    check(f"order webhook {json.loads(body)['id']} accepted", status == 200, (status, answer))


def expected(order_id, headers, seconds=60):
    """The order as reconciliation answers for it, waiting until it is recorded."""
    deadline = time.time() + seconds
    while True:
        status, answer, _ = call("GET", f"{RECONCILIATION}/admin/orgs/{ORG}/orders/{order_id}", headers=headers)
        if status != 404 or time.time() > deadline:
            return status, answer
        time.sleep(0.5)


status, source, _ = call("POST", f"{GATEWAY}/admin/orgs/{ORG}/sources", {"provider": "internal", "name": "reconciliation e2e"}, auth)
check("create an internal source", status == 201, (status, source))
source = {"id": source["source"]["id"], "secret": source["secret"]}

order = json.loads(fixture("internal/order.placed.json"))
order["id"] = "ord_evt_%d" % int(time.time() * 1000)
order["data"]["order_id"] = "ord_e2e_%d" % int(time.time())
place(source, json.dumps(order).encode())

status, answer = expected(order["data"]["order_id"], viewer)
check("reconciliation expects the order (a viewer may read it)", status == 200, (status, answer))
check("its total is integer minor units with the currency",
      answer.get("total") == {"amount_minor": order["data"]["total_minor"], "currency": "USD"}, answer)
check("its payment reference is kept", answer.get("payment_ref") == order["data"]["payment_reference"], answer)
first_event = answer.get("source_event_id")

again = dict(order, id=order["id"] + "-again")
place(source, json.dumps(again).encode())
time.sleep(3)
status, answer = expected(order["data"]["order_id"], viewer)
check("the same order placed again changes nothing", status == 200 and answer.get("source_event_id") == first_event, (status, answer))

status, answer, _ = call("GET", f"{RECONCILIATION}/admin/orgs/{ORG}/orders/{order['data']['order_id']}",
                         headers={"Authorization": f"Bearer {token('org_someone_else', 'owner')}"})
check("a token for another org is refused", status == 403, (status, answer))
status, answer, _ = call("GET", f"{RECONCILIATION}/admin/orgs/{ORG}/orders/ord_never_placed", headers=viewer)
check("an unknown order is 404 Problem+JSON", status == 404 and "not-found" in (answer or {}).get("type", ""), (status, answer))

checks.finish()
