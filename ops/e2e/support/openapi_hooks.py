"""Schemathesis hooks for ops/e2e/openapi_acceptance.py (loaded through SCHEMATHESIS_HOOKS).

A webhook is only accepted with a valid signature over its exact bytes, which no generator can
produce. So every generated request to `POST /webhooks/{sourceID}` for the test's own Standard
Webhooks source (TALLY_OPENAPI_WEBHOOK_SOURCE, secret TALLY_OPENAPI_WEBHOOK_SECRET) is signed here
the way the `standardwebhooks` SDK signs, over the bytes the transport will send. A request the
document allows is then a webhook the gateway must accept, and one it forbids (a body that is not
a JSON object) one it must refuse, signature or not.
"""
import base64
import datetime
import hashlib
import hmac
import os
import time
import uuid

import schemathesis
from requests.models import complexjson

SOURCE = os.environ.get("TALLY_OPENAPI_WEBHOOK_SOURCE")
SECRET = os.environ.get("TALLY_OPENAPI_WEBHOOK_SECRET")


def wire_bytes(body):
    """The bytes schemathesis' requests transport sends for a JSON `body` (see its serialize_json)."""
    if isinstance(body, bytes):
        return body
    if body is None:
        return b"null"
    return complexjson.dumps(body, allow_nan=False).encode("utf-8")


@schemathesis.hook
def before_call(context, case, kwargs):
    if not SOURCE or case.operation.path != "/webhooks/{sourceID}" or case.path_parameters.get("sourceID") != SOURCE:
        return
    if (case.media_type or "application/json").split(";")[0].strip() != "application/json":
        return
    try:
        body = wire_bytes(case.body)
    except (TypeError, ValueError):
        return
    message_id, now = f"msg_openapi_{uuid.uuid4().hex}", int(time.time())
    try:
        from standardwebhooks.webhooks import Webhook
        signature = Webhook(SECRET).sign(message_id, datetime.datetime.fromtimestamp(now, tz=datetime.timezone.utc), body.decode("utf-8"))
    except UnicodeDecodeError:
        # The SDK signs text only; bytes that are not UTF-8 are signed as the scheme defines it, so
        # the gateway has to refuse them for what they are rather than for their signature.
        key = base64.b64decode(SECRET.removeprefix("whsec_"))
        signature = "v1," + base64.b64encode(hmac.new(key, f"{message_id}.{now}.".encode() + body, hashlib.sha256).digest()).decode()
    case.headers = {**(case.headers or {}), "webhook-id": message_id, "webhook-timestamp": str(now), "webhook-signature": signature}
