"""End-to-end acceptance of the ingest gateway on a running stack (real processes, HTTP, broker).

Run by `make test` after the Swift tests, against the test stack's services. Signs each provider's
sample payload with that provider's own SDK (Paddle's SDK only verifies, so its signature is checked
with it), then checks what a provider and an operator would see. Prints `e2e: N passed, M failed`.
"""
import os
import pathlib
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "support"))
import stripe  # noqa: E402
from tally_e2e import GATEWAY, Checks, call as http, fixture, paddle_sdk_accepts, sign, consume, token as admin_token  # noqa: E402

ORG = "org_e2e_%d" % int(time.time())
checks = Checks()
check = checks.check


def call(method, path, body=None, headers=None, raw=None):
    return http(method, GATEWAY + path, body, headers, raw)


def admin(method, path, body=None, role="admin"):
    return call(method, f"/admin/orgs/{ORG}{path}", body, {"Authorization": f"Bearer {admin_token(ORG, role)}"})


def create(provider):
    status, answer, _ = admin("POST", "/sources", {"provider": provider, "name": f"e2e {provider}"})
    check(f"create {provider} source", status == 201 and answer.get("secret"), answer)
    return answer["source"]["id"], answer["secret"]


def paddle_header(body, secret):
    headers = sign("paddle", body, secret)
    check("Paddle's SDK accepts the Paddle signature", paddle_sdk_accepts(headers, body, secret))
    return headers["Paddle-Signature"]


accepted = {}

# Each provider, signed the way it signs.
stripe_id, stripe_secret = create("stripe")
body = fixture("stripe/payment_intent.succeeded.json")
header = stripe.WebhookSignature.generate_signature_header(body.decode(), stripe_secret)
status, answer, _ = call("POST", f"/webhooks/{stripe_id}", raw=body, headers={"Stripe-Signature": header})
check("stripe webhook accepted", status == 200 and answer.get("duplicate") is False, answer)
accepted["stripe"] = answer.get("inbox_id")

status, again, _ = call("POST", f"/webhooks/{stripe_id}", raw=body, headers={"Stripe-Signature": header})
check("the same stripe webhook twice is stored once", status == 200 and again.get("inbox_id") == accepted["stripe"] and again.get("duplicate") is True, again)

paddle_id, paddle_secret = create("paddle")
body = fixture("paddle/transaction.completed.json")
status, answer, _ = call("POST", f"/webhooks/{paddle_id}", raw=body, headers={"Paddle-Signature": paddle_header(body, paddle_secret)})
check("paddle webhook accepted", status == 200, answer)
accepted["paddle"] = answer.get("inbox_id")

hotmart_id, hottok = create("hotmart")
status, answer, _ = call("POST", f"/webhooks/{hotmart_id}", raw=fixture("hotmart/PURCHASE_APPROVED.json"), headers={"X-HOTMART-HOTTOK": hottok})
check("hotmart webhook accepted", status == 200, answer)
accepted["hotmart"] = answer.get("inbox_id")

internal_id, internal_secret = create("internal")
body = fixture("internal/order.placed.json")
status, answer, _ = call("POST", f"/webhooks/{internal_id}", raw=body, headers=sign("internal", body, internal_secret))
check("internal (Standard Webhooks) webhook accepted", status == 200, answer)
accepted["internal"] = answer.get("inbox_id")

# A tampered body is refused with a reason and shows in the refused log.
tampered = fixture("stripe/charge.refunded.json")
header = stripe.WebhookSignature.generate_signature_header(tampered.decode(), stripe_secret)
status, problem, headers = call("POST", f"/webhooks/{stripe_id}", raw=tampered.replace(b"1500", b"9500"), headers={"Stripe-Signature": header})
check("tampered webhook refused as Problem+JSON", status == 401 and problem.get("type", "").endswith("/webhook/bad-signature")
      and headers.get("Content-Type") == "application/problem+json", (status, problem))
status, refused, _ = admin("GET", "/refused", role="viewer")
check("the refusal is in the refused log", status == 200 and any(r["reason"] == "bad-signature" for r in refused.get("refusals", [])), refused)

# Rotation loses no webhook: the old secret works until its expiry, the new one at once.
status, rotated, _ = admin("POST", f"/sources/{stripe_id}/rotate", {"previous_valid_for_seconds": 600})
check("rotate the stripe secret", status == 200 and rotated.get("secret") and rotated["secret"] != stripe_secret, rotated)
for name, secret in [("charge.refunded", stripe_secret), ("payout.paid", rotated.get("secret", ""))]:
    body = fixture(f"stripe/{name}.json")
    status, answer, _ = call("POST", f"/webhooks/{stripe_id}", raw=body,
                             headers={"Stripe-Signature": stripe.WebhookSignature.generate_signature_header(body.decode(), secret)})
    check(f"during rotation, {name} signed with the {'old' if secret == stripe_secret else 'new'} secret is accepted", status == 200, answer)
    accepted[name] = answer.get("inbox_id")

# Every accepted webhook reaches the raw topic and its inbox row becomes 'published'.
wanted = set(accepted.values())
raw_events = consume(["tally.ingest.raw-webhooks.v1"], f"e2e-{ORG}", lambda e: e.get("tenant") == ORG,
                     lambda kept: wanted <= {e["data"]["inbox_id"] for e in kept})
seen = {e["data"]["inbox_id"] for e in raw_events}
check("every accepted webhook is on tally.ingest.raw-webhooks.v1", wanted <= seen, sorted(wanted - seen))

deadline = time.time() + 20
while time.time() < deadline:
    status, page, _ = admin("GET", "/inbox?limit=100", role="support")
    statuses = {entry["id"]: entry["status"] for entry in page.get("entries", [])}
    if all(statuses.get(i) == "published" for i in wanted):
        break
    time.sleep(0.5)
check("every inbox row was published", all(statuses.get(i) in ("published", "processed", "ignored") for i in wanted), statuses)

# The normalizer turns payments into canonical events and reports every outcome back to the inbox.
expected = {accepted["stripe"]: "processed", accepted["paddle"]: "processed", accepted["hotmart"]: "processed",
            accepted["internal"]: "processed", accepted["charge.refunded"]: "processed", accepted["payout.paid"]: "processed"}
deadline = time.time() + 45
while time.time() < deadline:
    status, page, _ = admin("GET", "/inbox?limit=100", role="support")
    statuses = {entry["id"]: entry["status"] for entry in page.get("entries", [])}
    if all(statuses.get(i) == s for i, s in expected.items()):
        break
    time.sleep(0.5)
check("inbox rows moved to processed / ignored from the normalizer's outcomes", all(statuses.get(i) == s for i, s in expected.items()),
      {i: (statuses.get(i), s) for i, s in expected.items()})

captured = consume(["tally.canonical.payments.v1"], f"e2e-payments-{ORG}",
                   lambda e: e.get("tenant") == ORG and e.get("type") == "tally.payment.captured.v1", lambda kept: len(kept) >= 3)
payments = {e["data"]["origin"]["provider"]: e["data"]["amount"] for e in captured}
check("payment.captured events for stripe, paddle and hotmart with minor-unit money",
      payments == {"stripe": {"amount_minor": 4900, "currency": "USD"}, "paddle": {"amount_minor": 4760, "currency": "EUR"},
                   "hotmart": {"amount_minor": 19700, "currency": "BRL"}}, payments)
check("hotmart is stored as low-trust", any(e["trust"] == "low" for e in page.get("entries", []) if e["id"] == accepted["hotmart"]), page)

# The operator CLI sees a healthy deployment.
tally = os.environ.get("TALLY_E2E_TALLY_BIN")
if tally:
    doctor = subprocess.run([tally, "doctor"] + sys.argv[1:], capture_output=True, text=True, timeout=120)
    check("tally doctor passes", doctor.returncode == 0, doctor.stdout[-1500:] + doctor.stderr[-500:])

checks.finish()
