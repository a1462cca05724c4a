"""Shared pieces of the end-to-end scripts: checks, admin tokens, HTTP calls, provider signing.

Where the stack is comes from `make test` (TALLY_E2E_GATEWAY_URL, TALLY_E2E_KAFKA_BROKERS and
`--service name=url` arguments); run by hand without them, the scripts use the local stack as
ops/tallystack configures it (the same port variables `make up` reads).

Each provider's signature is made the way that provider makes it (Stripe's and Standard Webhooks'
own SDKs; Paddle's SDK only verifies, so its header is built here and checked with the SDK).
"""
import base64
import datetime
import hashlib
import hmac
import json
import os
import pathlib
import sys
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "ops"))
from tallystack import broker, profiles, services  # noqa: E402

LOCAL = profiles.load("local")
LOCAL_SERVICES = {service.name: service.url for service in services.catalog(LOCAL)}
GATEWAY = os.environ.get("TALLY_E2E_GATEWAY_URL", LOCAL_SERVICES["ingest-gateway"])
BROKERS = os.environ.get("TALLY_E2E_KAFKA_BROKERS", broker.bootstrap_servers(LOCAL.broker_port.number))
SECRET = os.environ.get("TALLY_ADMIN_TOKEN_SECRET", "tally-dev-admin-secret")


def service_url(name, default=None):
    """The URL of a service from `--service name=url` arguments (as `make test` passes them),
    else `default` when given, else the service's URL on the local stack ("" for a name that
    ops/services.txt does not list)."""
    for argument in sys.argv[1:]:
        if argument.startswith(name + "="):
            return argument.split("=", 1)[1]
    return default if default is not None else LOCAL_SERVICES.get(name, "")


class Checks:
    """Named pass/fail checks; `finish` prints `e2e: N passed, M failed` and exits with the result."""

    def __init__(self):
        self.results = []

    def check(self, name, condition, detail=""):
        self.results.append((name, bool(condition)))
        print(("  ok   " if condition else "  FAIL ") + name + ("" if condition else f": {detail}"), flush=True)
        return bool(condition)

    def finish(self):
        passed = sum(1 for _, ok in self.results if ok)
        print(f"e2e: {passed} passed, {len(self.results) - passed} failed")
        sys.exit(0 if passed == len(self.results) else 1)


def token(org, role="admin", subject="e2e"):
    """An HS256 admin token for `org` with `role`, signed with the stack's admin secret; `subject`
    is the `sub` claim, the person the service records as the actor."""
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"sub": subject, "org": org, "role": role, "exp": int(time.time()) + 3600}).encode())
    signature = hmac.new(SECRET.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64(signature)}"


def call(method, url, body=None, headers=None, raw=None, timeout=10):
    """One HTTP call; returns (status, decoded JSON body, headers). Never raises on an HTTP error."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}"), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}"), dict(error.headers)


def canonical_id(inbox_id, position=0):
    """The normalizer's canonical event id: SHA-256 of the inbox id and position, as a version-8 UUID."""
    import uuid
    digest = bytearray(hashlib.sha256(f"tally.canonical:{inbox_id}#{position}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x80
    digest[8] = (digest[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(digest)))


def fixture(name):
    return (ROOT / "contracts" / "providers" / name).read_bytes()


def provider_event_id(provider, body):
    document = json.loads(body)
    return document["event_id"] if provider == "paddle" else document["id"]


def sign(provider, body, secret, event_id=None):
    """The headers `provider` would send with `body` under `secret`."""
    if provider == "stripe":
        import stripe
        return {"Stripe-Signature": stripe.WebhookSignature.generate_signature_header(body.decode(), secret)}
    if provider == "paddle":
        ts = str(int(time.time()))
        return {"Paddle-Signature": f"ts={ts};h1=" + hmac.new(secret.encode(), f"{ts}:".encode() + body, hashlib.sha256).hexdigest()}
    if provider == "hotmart":
        return {"X-HOTMART-HOTTOK": secret}
    if provider in ("internal", "standard"):
        from standardwebhooks.webhooks import Webhook
        message_id, now = event_id or provider_event_id(provider, body), int(time.time())
        signature = Webhook(secret).sign(message_id, datetime.datetime.fromtimestamp(now, tz=datetime.timezone.utc), body.decode())
        return {"webhook-id": message_id, "webhook-timestamp": str(now), "webhook-signature": signature}
    raise ValueError(provider)


def paddle_sdk_accepts(headers, body, secret):
    """Whether Paddle's own SDK verifies the header this module built."""
    from paddle_billing.Notifications import Secret, Verifier

    class Request:
        def __init__(self, payload):
            self.headers = headers
            self.body = payload
    return Verifier().verify(Request(body), Secret(secret))


def consume(topics, group, accept, until, seconds=45):
    """Reads `topics` from the beginning with a fresh group, keeping messages `accept`ed (given the
    decoded event), until `until(kept)` holds or `seconds` pass. Returns the kept events."""
    from confluent_kafka import Consumer
    consumer = Consumer({"bootstrap.servers": BROKERS, "group.id": group, "auto.offset.reset": "earliest",
                         "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
    consumer.subscribe(topics)
    kept, deadline = [], time.time() + seconds
    try:
        while time.time() < deadline and not until(kept):
            message = consumer.poll(1)
            if message is None or message.error():
                continue
            event = json.loads(message.value())
            if accept(event):
                kept.append(event)
    finally:
        consumer.close()
    return kept
