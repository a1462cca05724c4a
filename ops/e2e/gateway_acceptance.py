"""End-to-end acceptance of the ingest gateway on a running stack (real processes, HTTP, broker).

Run by `make test` after the Swift tests, against the test stack's services. Signs each provider's
sample payload with that provider's own SDK (Paddle's SDK only verifies, so its signature is checked
with it), then checks what a provider and an operator would see. Prints `e2e: N passed, M failed`.
"""
import base64
import hashlib
import hmac
import json
import os
import pathlib
import subprocess
import sys
import time
import urllib.error
import urllib.request

import stripe
from confluent_kafka import Consumer
from paddle_billing.Notifications import Secret, Verifier
from standardwebhooks.webhooks import Webhook as StandardWebhook

ROOT = pathlib.Path(__file__).resolve().parents[2]
GATEWAY = os.environ.get("TALLY_E2E_GATEWAY_URL", "http://127.0.0.1:8081")
BROKERS = os.environ.get("TALLY_E2E_KAFKA_BROKERS", "127.0.0.1:19092")
SECRET = os.environ.get("TALLY_ADMIN_TOKEN_SECRET", "tally-dev-admin-secret")
ORG = "org_e2e_%d" % int(time.time())
results = []


def check(name, condition, detail=""):
    results.append((name, bool(condition)))
    print(("  ok   " if condition else "  FAIL ") + name + ("" if condition else f": {detail}"))


def token(role="admin"):
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"sub": "e2e", "org": ORG, "role": role, "exp": int(time.time()) + 3600}).encode())
    signature = hmac.new(SECRET.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64(signature)}"


def call(method, path, body=None, headers=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(GATEWAY + path, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}"), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}"), dict(error.headers)


def admin(method, path, body=None, role="admin"):
    return call(method, f"/admin/orgs/{ORG}{path}", body, {"Authorization": f"Bearer {token(role)}"})


def fixture(name):
    return (ROOT / "contracts" / "providers" / name).read_bytes()


def create(provider):
    status, answer, _ = admin("POST", "/sources", {"provider": provider, "name": f"e2e {provider}"})
    check(f"create {provider} source", status == 201 and answer.get("secret"), answer)
    return answer["source"]["id"], answer["secret"]


def paddle_header(body, secret):
    ts = str(int(time.time()))
    header = f"ts={ts};h1=" + hmac.new(secret.encode(), f"{ts}:".encode() + body, hashlib.sha256).hexdigest()

    class Request:
        headers = {"Paddle-Signature": header}
        def __init__(self, payload):
            self.body = payload
    check("Paddle's SDK accepts the Paddle signature", Verifier().verify(Request(body), Secret(secret)))
    return header


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
message_id, now = "ord_evt_01JD2W5R8T0V2X4Z6B8D0F2H4K", int(time.time())
import datetime
signature = StandardWebhook(internal_secret).sign(message_id, datetime.datetime.fromtimestamp(now, tz=datetime.timezone.utc), body.decode())
status, answer, _ = call("POST", f"/webhooks/{internal_id}", raw=body,
                         headers={"webhook-id": message_id, "webhook-timestamp": str(now), "webhook-signature": signature})
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
consumer = Consumer({"bootstrap.servers": BROKERS, "group.id": f"e2e-{ORG}", "auto.offset.reset": "earliest",
                     "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
consumer.subscribe(["tally.ingest.raw-webhooks.v1"])
wanted, seen, deadline = set(accepted.values()), set(), time.time() + 45
while time.time() < deadline and not wanted <= seen:
    message = consumer.poll(1)
    if message is None or message.error():
        continue
    event = json.loads(message.value())
    if event.get("tenant") == ORG:
        seen.add(event["data"]["inbox_id"])
consumer.close()
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

consumer = Consumer({"bootstrap.servers": BROKERS, "group.id": f"e2e-payments-{ORG}", "auto.offset.reset": "earliest",
                     "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
consumer.subscribe(["tally.canonical.payments.v1"])
payments, deadline = {}, time.time() + 45
while time.time() < deadline and len(payments) < 3:
    message = consumer.poll(1)
    if message is None or message.error():
        continue
    event = json.loads(message.value())
    if event.get("tenant") == ORG and event.get("type") == "tally.payment.captured.v1":
        payments[event["data"]["origin"]["provider"]] = event["data"]["amount"]
consumer.close()
check("payment.captured events for stripe, paddle and hotmart with minor-unit money",
      payments == {"stripe": {"amount_minor": 4900, "currency": "USD"}, "paddle": {"amount_minor": 4760, "currency": "EUR"},
                   "hotmart": {"amount_minor": 19700, "currency": "BRL"}}, payments)
check("hotmart is stored as low-trust", any(e["trust"] == "low" for e in page.get("entries", []) if e["id"] == accepted["hotmart"]), page)

# The operator CLI sees a healthy deployment.
tally = os.environ.get("TALLY_E2E_TALLY_BIN")
if tally:
    doctor = subprocess.run([tally, "doctor"] + sys.argv[1:], capture_output=True, text=True, timeout=120)
    check("tally doctor passes", doctor.returncode == 0, doctor.stdout[-1500:] + doctor.stderr[-500:])

passed = sum(1 for _, ok in results if ok)
print(f"e2e: {passed} passed, {len(results) - passed} failed")
sys.exit(0 if passed == len(results) else 1)
