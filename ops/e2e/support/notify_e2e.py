"""What the notifications acceptance, the crash test and the bench share: request events as
another service's outbox writes them, the delivery id the service derives, and the mail the
SMTP sinks stored (ops/sidecars.txt: a Maildir per sink, under .run/<profile>/data/<sink>/)."""
import collections
import datetime
import email
import email.policy
import hashlib
import json
import mailbox
import pathlib
import uuid

REQUESTS_TOPIC = "tally.notifications.requests.v1"
DELIVERIES_TOPIC = "tally.notifications.deliveries.v1"
REQUESTED_TYPE = "tally.notification.requested.v1"
DELIVERY_TYPE = "tally.notification.delivery.v1"


def rfc3339(seconds):
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def derived_delivery_id(org, dedupe_key):
    """The delivery id the service derives from (org, dedupe key): SHA-256 of both, as a
    version-8 UUID (Store/DeliveryRecord.swift, DeliveryIdentity.deliveryID)."""
    digest = bytearray(hashlib.sha256(f"{org}\n{dedupe_key}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x80
    digest[8] = (digest[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(digest)))


def request_event(org, dedupe_key, template_key, channels, recipient, variables, cause_type, now,
                  locale=None, not_before=None, event_id=None, causation_id=None):
    """A `tally.notification.requested.v1` CloudEvent for `org` (structured JSON, as the outbox
    relay publishes it); `now` is seconds since the epoch."""
    data = {"dedupe_key": dedupe_key, "template_key": template_key, "channels": channels, "recipient": recipient,
            "variables": variables, "cause_type": cause_type}
    if locale:
        data["locale"] = locale
    if not_before:
        data["not_before"] = not_before
    return {"id": event_id or f"e2e-notification-{uuid.uuid4()}", "source": "/tally/e2e", "type": REQUESTED_TYPE, "specversion": "1.0",
            "time": rfc3339(now), "subject": dedupe_key, "datacontenttype": "application/json", "tenant": org,
            "correlationid": str(uuid.uuid4()), "causationid": causation_id or f"e2e-cause-{uuid.uuid4()}", "data": data}


class RequestPublisher:
    """Publishes events the way the outbox relay does (key = the subject, CloudEvents headers),
    to the notification requests topic unless told another."""

    def __init__(self, brokers, topic=None):
        from confluent_kafka import Producer
        self.producer = Producer({"bootstrap.servers": brokers, "linger.ms": 5})
        self.topic = topic or REQUESTS_TOPIC
        self.errors = []

    def publish(self, event):
        def delivered(error, message):
            if error is not None:
                self.errors.append(str(error))
        payload = json.dumps(event, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
        headers = [("ce_id", event["id"]), ("ce_type", event["type"]), ("ce_tenant", event["tenant"]),
                   ("content-type", "application/cloudevents+json")]
        self.producer.produce(self.topic, key=event["subject"].encode(), value=payload, headers=headers, on_delivery=delivered)
        self.producer.poll(0)

    def flush(self, seconds=20):
        """Waits for every message; returns (unflushed count, errors) and clears the errors."""
        remaining = self.producer.flush(seconds)
        errors, self.errors = self.errors, []
        return remaining, errors


Mail = collections.namedtuple("Mail", "message_id delivery to subject sender text html")


def read_maildir(path):
    """Every message in the Maildir at `path` (new/ and cur/), parsed; [] when there is none."""
    path = pathlib.Path(path)
    if not (path / "new").is_dir():
        return []
    mails = []
    for _, message in mailbox.Maildir(str(path), factory=None, create=False).items():
        parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
        text = parsed.get_body(preferencelist=("plain",))
        html = parsed.get_body(preferencelist=("html",))
        mails.append(Mail(str(parsed.get("Message-ID", "")).strip(), str(parsed.get("X-Tally-Delivery", "")).strip(),
                          str(parsed.get("To", "")), str(parsed.get("Subject", "")), str(parsed.get("From", "")),
                          text.get_content() if text is not None else None, html.get_content() if html is not None else None))
    return mails


def for_delivery(mails, delivery_id):
    """The messages of one delivery: its Message-ID is `<delivery-id@…>` or it carries
    `X-Tally-Delivery: delivery-id` (either spelling of the UUID's case)."""
    wanted = delivery_id.lower()
    return [m for m in mails if m.message_id.lower().startswith(f"<{wanted}@") or m.delivery.lower() == wanted]
