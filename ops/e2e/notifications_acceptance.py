"""End-to-end acceptance of notifications on a running stack (real broker, PostgreSQL, gateway,
normalizer, notifications and real SMTP servers).

Requests are published to `tally.notifications.requests.v1` as the outbox relay writes them
(CloudEvents structured JSON, keyed by the dedupe key, `ce_id` / `ce_type` / `ce_tenant`
headers), for a fresh org. Every expected value is computed here from what was sent (the
variables, addresses, settings and fault schedules this script chose), never read back. Checked:

- requests published twice (same event id) and again under a new event id reach the stack's
  SMTP sink (aiosmtpd) exactly once each: one message per delivery, by Message-ID
  `<delivery-id@…>` and `X-Tally-Delivery`, to the address sent, with the subject, text and HTML
  the template preview renders for the same variables (HTML-escaped in the HTML part);
- a customer created by a signed Stripe `customer.created` webhook through the gateway (mapped
  to `tally.customer.upserted.v1` by the normalizer): a request for that customer, published
  before the webhook, waits for the contact and reaches SMTP at the customer's email, in the
  customer's locale, greeting the customer's name; the contact is read and erased through
  `…/contacts/{provider}/{customer_id}` (roles, audited); a customer that never arrives ends
  `undeliverable` (`no_contact`) after the contact wait;
- a person's `POST …/notifications` (202, then 200 for the same dedupe key; roles; audited);
- the templates list and previews (variables over samples, HTML escaping, locale fallback, 404);
  a request lacking a variable ends `undeliverable` (`template_variable_missing`) naming it;
- WhatsApp offline (`WA_OFFLINE=1`): the delivery is `sent` with `offline: true`, the message is
  stored, and the notifications log says `mode=mock`; a recipient with no address for any
  allowed channel ends `undeliverable` (`no_address`); the channel preference picks the first
  channel the recipient has an address for;
- tenant webhook endpoints on 127.0.0.1 (ops/e2e/support/webhook_receiver.py, which verifies
  each request with the `standardwebhooks` SDK and refuses one signed with another secret): the
  delivery arrives once with `webhook-id` = the delivery id and a signature the SDK verifies; an
  endpoint answering 410 kills the delivery (`endpoint_gone`) and is disabled, so a later request
  for it is `undeliverable`; one answering 503 with `Retry-After` is retried no sooner than it
  asked; endpoints at private (10.0.0.1, IPv4-mapped ::ffff:10.0.0.1), metadata
  (169.254.169.254), CGNAT, userinfo, plain http and — with the loopback test setting off —
  loopback and IPv4-mapped loopback addresses are refused at creation (422
  `endpoint-url-refused` naming the rule); roles; disable and enable, audited;
- a flaky SMTP server (451 to the first two transactions) makes the retry schedule visible in
  the delivery's attempt_log: the attempts are spaced as the retry settings say (base, factor,
  ±20 % jitter) and the delivery ends sent;
- a primary that drops every connection: after TALLY_NOTIFY_FAILOVER_AFTER failures the fallback
  relay takes over (`provider: smtp:fallback`), and the next delivery goes to it at once;
- a relay that rejects every recipient (550): the deliveries end `dead` after one attempt; one is
  replayed through `POST …/deliveries/{id}/replay` (roles, 404, 409 for one not dead) and is then
  sent, with an audit entry; a bulk replay dry run counts the rest per reason and filter, an
  execution replays them (audited) and a second one within a minute is 429;
- the service killed with `kill -9` while a slow SMTP server holds the DATA replies, then started
  again: every dedupe key still yields exactly one distinct message (at most one resend, the
  stated crash window), the interrupted attempts are `abandoned`, and every delivery ends final;
- a `tally.notification.delivery.v1` event on `tally.notifications.deliveries.v1` for each
  outcome of each delivery (sent, failed, dead, undeliverable), without addresses;
- the admin list's keyset pages and filters, and `GET /admin/jobs/status`.

The faults need the service pointed at this script's own SMTP servers for a while: it is
restarted through ops/e2e/support/service_control.py (the stack's pid files) with the test
profile's settings of ops/service-environment.txt and the fault's relays, and restored as it was
at the end. Prints `e2e: N passed, M failed`.
"""
import asyncio
import base64
import collections
import datetime
import json
import mailbox
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

SUPPORT = pathlib.Path(__file__).resolve().parent / "support"
sys.path.insert(0, str(SUPPORT))
from tally_e2e import GATEWAY, Checks, call, consume, fixture, service_url, sign, token  # noqa: E402
from service_control import RunningService  # noqa: E402
from notify_e2e import (DELIVERIES_TOPIC, DELIVERY_TYPE, REQUESTS_TOPIC, RequestPublisher, derived_delivery_id,  # noqa: E402
                        for_delivery, read_maildir, request_event, rfc3339)
from tallystack import postgres, profiles  # noqa: E402
from tallystack import services as stack_services  # noqa: E402
from tallystack.messages import StackError  # noqa: E402

NOTIFY = service_url("notifications")
SMTP_SINK = SUPPORT / "smtp_sink.py"
WEBHOOK_RECEIVER = SUPPORT / "webhook_receiver.py"
STARTED = time.time()
RUN = "%d%03d" % (int(STARTED), int(STARTED * 1000) % 1000)
ORG = f"org_notif_{RUN}"
FINAL = ("sent", "dead", "undeliverable")
# RetryPolicy's jitter: each delay is the backoff x (1 +- 0.2).
JITTER = 0.2
# People of the admin flows.
SUPPORT_AGENT, ADMIN, OWNER = f"sam.support.{RUN}", f"ada.admin.{RUN}", f"olga.owner.{RUN}"
# The variables of the templates this script sends, should GET /templates not answer (its own
# check fails then; the rest still runs).
KNOWN_VARIABLES = {
    "invoice.link": ["amount", "customer_name", "expires_at", "invoice_number", "invoice_url"],
    "dunning.payment_failed": ["amount", "customer_name", "due_date", "invoice_number", "pay_url"],
    "dunning.reminder": ["amount", "customer_name", "due_date", "invoice_number", "pay_url"],
}
SHIPPED_TEMPLATES = ["dunning.access_blocked", "dunning.final_notice", "dunning.payment_failed", "dunning.reminder", "engagement.day_14", "engagement.day_30",
                     "engagement.day_60", "engagement.day_7", "engagement.day_90", "installment.overdue", "invoice.link", "nps.day_45"]

checks = Checks()
check = checks.check
# The SMTP servers' Maildirs and logs (made by main; kept when a check failed).
WORK = None
# dedupe key -> the statuses its delivery events must show (one distinct event per outcome).
EXPECTED_EVENTS = {}
# Every address this script handed to the service: none may appear in a delivery event.
ADDRESSES = set()
# How long one wait may take: 60 s, and 15 s once a wait has timed out, so a stack that does not
# deliver fails in minutes rather than waiting out every step.
patience = {"seconds": 60}


def log(message):
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------

def bearer(role="admin", subject="e2e", org=ORG):
    return {"Authorization": f"Bearer {token(org, role, subject)}"}


def api(method, path, body=None, role="admin", subject="e2e", raw=None):
    """A notifications admin call for ORG: (status, JSON body)."""
    status, answer, _ = call(method, f"{NOTIFY}/admin/orgs/{ORG}/{path}", body, bearer(role, subject), raw=raw)
    return status, answer


def problem(answer):
    """The problem type's name (`delivery-not-dead`), or "" when the answer is not a problem."""
    kind = answer.get("type", "") if isinstance(answer, dict) else ""
    return kind.rsplit("/", 1)[-1] if kind.startswith("https://tally.dev/problems/") else ""


def extension(answer, name):
    return ((answer or {}).get("extensions") or {}).get(name) if isinstance(answer, dict) else None


def alive(url):
    try:
        status, _, _ = call("GET", url + "/healthz", timeout=3)
        return status == 200
    except OSError:
        return False


def epoch(text):
    """An RFC 3339 time as seconds since the epoch (fractions kept), or None."""
    if not text:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --------------------------------------------------------------------------------------------
# Requests on the topic
# --------------------------------------------------------------------------------------------

class Publisher(RequestPublisher):
    """Publishes request events the way the outbox relay does; each flush is a check."""

    def __init__(self):
        from tally_e2e import BROKERS
        super().__init__(BROKERS)

    def flush(self, name):
        remaining, errors = super().flush(20)
        check(f"{name}: published to {REQUESTS_TOPIC}", remaining == 0 and not errors, {"unflushed": remaining, "errors": errors[:3]})


PUBLISHER = None


def request(dedupe_key, template_key, channels, recipient, variables, locale=None, not_before=None, event_id=None):
    """A `tally.notification.requested.v1` event for ORG, as another service's outbox writes it."""
    for field in ("email", "phone"):
        if (recipient.get("address") or {}).get(field):
            ADDRESSES.add(recipient["address"][field])
    return request_event(ORG, dedupe_key, template_key, channels, recipient, variables, "e2e.notifications_acceptance", time.time(),
                         locale=locale, not_before=not_before, event_id=event_id, causation_id=f"e2e-cause-{RUN}")


def publish(events, name):
    for event in events:
        PUBLISHER.publish(event)
    PUBLISHER.flush(name)


def email_to(label):
    address = f"{label}.{RUN}@example.com"
    ADDRESSES.add(address)
    return address


# --------------------------------------------------------------------------------------------
# Templates and variables
# --------------------------------------------------------------------------------------------

TEMPLATES = {}


def variables_for(template_key, n, omit=()):
    """Values for every variable `template_key` needs, recognisable as this run's: URLs, an
    invoice number, and a name with HTML's special characters (escaped in the HTML part only)."""
    names = TEMPLATES.get(template_key, {}).get("required_variables") or KNOWN_VARIABLES.get(template_key, [])
    values = {}
    for name in names:
        if name in omit:
            continue
        if name.endswith("_url"):
            values[name] = f"https://billing.example.com/e2e/{RUN}/{n}/{name}?a=1&b=2"
        elif name == "customer_name":
            values[name] = f'Ana "<Silva & Co>" {n}'
        elif name == "invoice_number":
            values[name] = f"INV-{RUN}-{n}"
        else:
            values[name] = f"{name.replace('_', ' ')} {RUN}-{n}"
    return values


def preview(template_key, variables, locale=None):
    """The service's rendering of `template_key` with `variables`: (status, answer)."""
    body = {"variables": variables}
    if locale:
        body["locale"] = locale
    return api("POST", f"templates/{template_key}/preview", body)


def check_templates():
    status, answer = api("GET", "templates", role="viewer")
    listed = {t.get("key"): t for t in answer.get("templates", [])} if status == 200 else {}
    TEMPLATES.update(listed)
    check("templates: every shipped template is listed (dunning x4, invoice link, engagement 7/14/30/60/90, NPS 45)",
          set(SHIPPED_TEMPLATES) <= set(listed), (status, sorted(listed)))
    check("templates: each lists `en` among its locales, its required variables and a sample for each",
          listed and all("en" in t.get("locales", []) and set(t.get("required_variables", [])) <= set(t.get("sample_variables", {}))
                         for t in listed.values()), [k for k, t in listed.items() if "en" not in t.get("locales", [])])
    key = "invoice.link"
    variables = variables_for(key, 0)
    status, rendered = preview(key, variables)
    check("preview: invoice.link renders with the variables sent (subject names the invoice number, text holds the URL as sent)",
          status == 200 and variables["invoice_number"] in rendered.get("subject", "") and variables["invoice_url"] in rendered.get("text", "")
          and rendered.get("locale") == "en", (status, rendered))
    name, html = variables["customer_name"], rendered.get("html", "")
    check("preview: the HTML part escapes the variables (<, & and > of the name), the text part does not",
          status == 200 and name in rendered.get("text", "") and "<Silva & Co>" not in html and "&lt;Silva &amp; Co&gt;" in html,
          {"raw name in html": "<Silva & Co>" in html, "escaped name in html": "&lt;Silva &amp; Co&gt;" in html})
    status, rendered = preview(key, variables, locale="pt-PT")
    check("preview: pt-PT falls back to the pt-BR template", status == 200 and rendered.get("locale") == "pt-BR", (status, rendered.get("locale")))
    status, rendered = preview(key, variables, locale="de-DE")
    check("preview: a locale without a template falls back to en", status == 200 and rendered.get("locale") == "en", (status, rendered.get("locale")))
    # A preview fills what the body leaves out from the samples (a delivery has no samples: see
    # scenario_channels for a request that lacks a variable).
    samples = listed.get(key, {}).get("sample_variables", {})
    status, partial = preview(key, {"invoice_number": variables["invoice_number"]})
    check("preview: variables the body leaves out come from the samples",
          status == 200 and variables["invoice_number"] in partial.get("subject", "") and samples.get("invoice_url", "?") in partial.get("text", ""),
          (status, partial))
    status, refused = preview(f"nosuch.template_{RUN}", variables)
    check("preview: an unknown template key is 404", status == 404 and problem(refused) == "not-found", (status, refused))
    status, sample = api("POST", f"templates/{key}/preview")
    check("preview: without a body it renders the template's sample variables",
          status == 200 and samples and all(value in sample.get("text", "") for value in samples.values() if value), (status, sample))


# --------------------------------------------------------------------------------------------
# Deliveries through the admin API
# --------------------------------------------------------------------------------------------

def all_deliveries(query=""):
    """Every delivery of ORG (newest first), paging with `after`; None when a page was refused."""
    items, cursor = [], None
    for _ in range(100):
        path = "deliveries?limit=200" + (f"&{query}" if query else "") + (f"&after={urllib.parse.quote(cursor)}" if cursor else "")
        status, page = api("GET", path, role="viewer")
        if status != 200:
            return None
        items += page.get("deliveries", [])
        cursor = page.get("next_cursor")
        if not cursor:
            return items
    return None


def delivery(delivery_id):
    status, answer = api("GET", f"deliveries/{delivery_id}", role="viewer")
    return answer if status == 200 else None


def wait_for(keys, statuses=FINAL, seconds=None, where=None):
    """Waits until the delivery of every dedupe key in `keys` is in one of `statuses` (and
    `where(detail)` holds, when given); returns {key: detail with attempt_log} of what was seen
    last (a key without a delivery maps to None)."""
    deadline = time.time() + (seconds or patience["seconds"])
    while True:
        listed = {d.get("dedupe_key"): d for d in all_deliveries() or []}
        found = {key: listed.get(key) for key in keys}
        if all(d and d.get("status") in statuses for d in found.values()):
            details = {key: delivery(d["id"]) for key, d in found.items()}
            if all(d and d.get("status") in statuses and (where is None or where(d)) for d in details.values()):
                return details
        if time.time() > deadline:
            patience["seconds"] = 15
            return {key: (delivery(d["id"]) if d else None) for key, d in found.items()}
        time.sleep(0.3)


def summary(detail):
    if not detail:
        return None
    return {k: detail.get(k) for k in ("id", "status", "channel", "provider", "attempts", "round", "offline", "last_reason", "last_detail")} | {
        "attempt_log": [(a.get("number"), a.get("provider"), a.get("outcome"), a.get("reply_code"), a.get("reason")) for a in detail.get("attempt_log") or []]}


# --------------------------------------------------------------------------------------------
# Mail as the SMTP servers stored it
# --------------------------------------------------------------------------------------------

def same_text(a, b):
    """Equal after normalising line ends and trailing spaces (the wire uses CRLF)."""
    def norm(text):
        return "\n".join(line.rstrip() for line in (text or "").replace("\r\n", "\n").strip().split("\n"))
    return norm(a) == norm(b)


def wait_mail(path, delivery_ids, seconds=15):
    """Waits until every delivery in `delivery_ids` has a message in the Maildir; returns them all."""
    deadline = time.time() + seconds
    while True:
        mails = read_maildir(path)
        if all(for_delivery(mails, d) for d in delivery_ids) or time.time() > deadline:
            return mails
        time.sleep(0.3)


def check_message(name, mails, detail, address, expected):
    """One delivery reached SMTP exactly once, to `address`, as `expected` (a preview) renders it."""
    delivery_id = (detail or {}).get("id", "?")
    mine = for_delivery(mails, delivery_id)
    check(f"{name}: exactly one message for the delivery (Message-ID <{delivery_id}@…>)", len(mine) == 1, [m.message_id for m in mine])
    if not mine:
        return
    mail = mine[0]
    check(f"{name}: Message-ID is <delivery-id@…> and X-Tally-Delivery is the delivery id",
          re.fullmatch(rf"<{delivery_id}@[^<>@\s]+>", mail.message_id.lower()) and mail.delivery.lower() == delivery_id, (mail.message_id, mail.delivery))
    check(f"{name}: sent to the address asked for", address in mail.to, (mail.to, address))
    if expected:
        check(f"{name}: subject, text and HTML are what the preview renders for the same variables",
              mail.subject == expected.get("subject") and same_text(mail.text, expected.get("text")) and same_text(mail.html, expected.get("html")),
              {"subject": (mail.subject, expected.get("subject")), "text equal": same_text(mail.text, expected.get("text")),
               "html equal": same_text(mail.html, expected.get("html"))})


# --------------------------------------------------------------------------------------------
# SMTP servers of this script
# --------------------------------------------------------------------------------------------

SERVERS = []


class SinkProcess:
    """ops/e2e/support/smtp_sink.py in a mode (normal, flaky, drop, reject-rcpt) on a free port."""

    def __init__(self, label, mode="normal", fail_first=1, fail_code=451):
        self.label, self.maildir = label, WORK / label
        ready = WORK / f"{label}.port"
        argv = [sys.executable, str(SMTP_SINK), "--port", "0", "--maildir", str(self.maildir), "--mode", mode,
                "--fail-first", str(fail_first), "--fail-code", str(fail_code), "--ready-file", str(ready)]
        self.process = subprocess.Popen(argv, stdout=open(WORK / f"{label}.log", "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        SERVERS.append(self)
        deadline = time.time() + 15
        while not ready.exists() and time.time() < deadline and self.process.poll() is None:
            time.sleep(0.05)
        if not ready.exists():
            raise StackError(f"smtp_sink ({mode}) did not start; see {WORK / (label + '.log')}")
        self.port = int(ready.read_text().strip())

    def mails(self):
        return read_maildir(self.maildir)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()


class SlowSmtp:
    """A real SMTP server (aiosmtpd) in this process that takes each message into its Maildir as
    soon as the data is complete, but holds the reply of the first `hold_first` transactions for
    `hold_seconds`: a relay that has accepted a message whose sender never hears so."""

    def __init__(self, label, hold_first, hold_seconds=60):
        from aiosmtpd.smtp import SMTP
        self.maildir = WORK / label
        self.store = mailbox.Maildir(str(self.maildir), create=True)
        self.hold_first, self.hold_seconds = hold_first, hold_seconds
        self.lock = threading.Lock()
        self.transactions = 0
        self.held = 0
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        handler = self

        def serve():
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(self.loop.create_server(lambda: SMTP(handler, hostname="tally-slow-smtp"), "127.0.0.1", 0))
            self.port = self.server.sockets[0].getsockname()[1]
            started.set()
            self.loop.run_forever()
        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        started.wait(10)
        SERVERS.append(self)

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.store.add(envelope.original_content or envelope.content)
            self.transactions += 1
            hold = self.transactions <= self.hold_first
            if hold:
                self.held += 1
        if hold:
            await asyncio.sleep(self.hold_seconds)  # cancelled when the client's connection goes away
        return "250 2.0.0 OK: queued"

    def mails(self):
        return read_maildir(self.maildir)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)


class ReceiverProcess:
    """ops/e2e/support/webhook_receiver.py for one endpoint: it verifies every request with the
    `standardwebhooks` SDK and the endpoint's secret, answers as its mode says and logs one JSON
    line per request (webhook id, verified, status, path; never the body)."""

    def __init__(self, label, port, secret, mode="ok", busy_first=0, retry_after=1):
        self.log = WORK / f"{label}.jsonl"
        ready, secret_file = WORK / f"{label}.ready", WORK / f"{label}.secret"
        secret_file.write_text(secret)
        secret_file.chmod(0o600)
        argv = [sys.executable, str(WEBHOOK_RECEIVER), "--port", str(port), "--secret-file", str(secret_file), "--mode", mode,
                "--busy-first", str(busy_first), "--retry-after", str(retry_after), "--log", str(self.log), "--ready", str(ready)]
        self.process = subprocess.Popen(argv, stdout=open(WORK / f"{label}.out", "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        SERVERS.append(self)
        deadline = time.time() + 15
        while not ready.exists() and time.time() < deadline and self.process.poll() is None:
            time.sleep(0.05)
        if not ready.exists():
            raise StackError(f"webhook_receiver ({mode}) did not start; see {WORK / (label + '.out')}")

    def requests(self):
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now (an endpoint's URL names it before its
    receiver can start, since the receiver needs the endpoint's secret)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_servers():
    for server in SERVERS:
        try:
            server.stop()
        except Exception:  # a server that is already gone
            pass


# --------------------------------------------------------------------------------------------
# The database, for times finer than the API's
# --------------------------------------------------------------------------------------------

def psql(sql):
    """Rows of a query through psql with the stack's admin URL, or None when that is not possible."""
    admin = os.environ.get("TALLY_DATABASE_ADMIN_URL") or (SERVICE and postgres.admin_url(SERVICE.stack.postgres.port))
    if not admin:
        return None
    try:
        result = subprocess.run([postgres.tool("psql"), admin, "-X", "-q", "-At", "-F", "\t", "-c", sql], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired, StackError):
        return None
    return [line.split("\t") for line in result.stdout.splitlines() if line] if result.returncode == 0 else None


def attempt_times(detail):
    """[(number, started, finished)] of a delivery's attempts in seconds: from the database when it
    can be read (microseconds), else from the API's attempt_log; and which one it was."""
    rows = psql(f"SELECT number, extract(epoch FROM started_at), extract(epoch FROM finished_at) FROM notifications.delivery_attempts "
                f"WHERE org_id = '{ORG}' AND delivery_id = '{detail['id']}' ORDER BY number")
    if rows:
        return [(int(n), float(s), float(f) if f else None) for n, s, f in rows], "database"
    return [(a["number"], epoch(a.get("started_at")), epoch(a.get("finished_at"))) for a in detail.get("attempt_log") or []], "api"


# --------------------------------------------------------------------------------------------
# The service and its environment
# --------------------------------------------------------------------------------------------

SERVICE = None


RELAY_ADDRESS = ("TALLY_SMTP_HOST", "TALLY_SMTP_PORT", "TALLY_SMTP_FALLBACK_HOST", "TALLY_SMTP_FALLBACK_PORT")


def test_settings():
    """The notifications settings of the test profile (ops/service-environment.txt) but where its
    relays are: what every restart of this script runs with, on either stack."""
    configured = stack_services.configured_environment(profiles.load("test"), "notifications")
    return {k: v for k, v in configured.items() if k not in RELAY_ADDRESS}


def relays(primary, fallback):
    return {"TALLY_SMTP_HOST": "127.0.0.1", "TALLY_SMTP_PORT": str(primary.port),
            "TALLY_SMTP_FALLBACK_HOST": "127.0.0.1", "TALLY_SMTP_FALLBACK_PORT": str(fallback.port)}


def restart(name, changes):
    """Restarts notifications with `changes`; False (and a failed check) when it did not come up."""
    log(f"restarting notifications: {name}")
    try:
        SERVICE.restart(changes)
        return check(f"{name}: notifications restarted with its settings and became ready", True)
    except StackError as error:
        return check(f"{name}: notifications restarted with its settings and became ready", False, str(error)[-1500:])


def setting(environ, name, default):
    try:
        return int(environ.get(name) or default)
    except ValueError:
        return default


# --------------------------------------------------------------------------------------------
# Scenarios on the stack as it runs
# --------------------------------------------------------------------------------------------

def scenario_exactly_once(sink_dir):
    """Requests published twice under one event id and again under a new one reach the sink once."""
    keys, events, expected, addresses = [], [], {}, {}
    for n in (1, 2, 3):
        key = f"e2e:{RUN}:once:{n}"
        address = email_to(f"once{n}")
        variables = variables_for("invoice.link", n)
        event = request(key, "invoice.link", ["email"], {"address": {"email": address, "name": f"Once {n}"}}, variables)
        again = dict(event, id=f"e2e-notification-{uuid.uuid4()}", time=rfc3339(time.time()))
        events += [event, event, again]
        keys.append(key)
        addresses[key] = address
        status, rendered = preview("invoice.link", variables)
        expected[key] = rendered if status == 200 else None
        EXPECTED_EVENTS[key] = ["sent"]
    publish(events, "exactly once: 3 requests, each published twice and again under a new event id")
    details = wait_for(keys)
    check("exactly once: every delivery is sent",
          all(d and d["status"] == "sent" for d in details.values()), {k: summary(d) for k, d in details.items()})
    listed = all_deliveries() or []
    per_key = collections.Counter(d.get("dedupe_key") for d in listed)
    check("exactly once: one delivery per dedupe key (nine publications, three deliveries)",
          all(per_key[k] == 1 for k in keys), {k: per_key[k] for k in keys})
    check("exactly once: each delivery's id is derived from the org and the dedupe key",
          all(d and d["id"] == derived_delivery_id(ORG, k) for k, d in details.items()),
          {k: (d or {}).get("id") for k, d in details.items()})
    check("exactly once: one attempt each, through smtp:primary, by email, delivered with 250",
          all(d and d["attempts"] == 1 and d["channel"] == "email" and d["provider"] == "smtp:primary"
              and [(a["outcome"], a["reply_code"]) for a in d.get("attempt_log", [])] == [("delivered", "250")] for d in details.values()),
          {k: summary(d) for k, d in details.items()})
    time.sleep(1)  # a second copy, if any were sent, has arrived by now
    mails = wait_mail(sink_dir, [d["id"] for d in details.values() if d])
    for n, key in enumerate(keys, start=1):
        check_message(f"exactly once #{n}", mails, details[key], addresses[key], expected[key])
    detail = details[keys[0]] or {}
    address = addresses[keys[0]]
    check("exactly once: the API shows the recipient masked and never the whole address",
          (detail.get("recipient") or {}).get("email") == address[0] + "•••" + address[address.index("@"):] and address not in json.dumps(detail),
          detail.get("recipient"))
    return details


def scenario_customer(sink_dir):
    """A request for a customer that a signed Stripe webhook creates afterwards."""
    customer_id, name, address = f"cus_e2e{RUN}", f"Maria Oliveira {RUN}", email_to("customer")
    key = f"e2e:{RUN}:customer:dunning"
    variables = variables_for("dunning.payment_failed", 7, omit=("customer_name",))
    publish([request(key, "dunning.payment_failed", ["email"], {"customer": {"provider": "stripe", "customer_id": customer_id}}, variables)],
            "customer: the request, before its customer exists")
    EXPECTED_EVENTS[key] = ["sent"]
    time.sleep(1.5)
    waiting = next((d for d in all_deliveries() or [] if d.get("dedupe_key") == key), None)
    check("customer: before the customer exists the delivery waits (scheduled, awaiting its contact)",
          waiting and waiting["status"] == "scheduled" and waiting.get("last_reason") in (None, "awaiting_contact") and waiting["attempts"] == 0,
          summary(waiting))
    status, source, _ = call("POST", f"{GATEWAY}/admin/orgs/{ORG}/sources", {"provider": "stripe", "name": "notifications e2e"}, bearer("admin"))
    if not check("customer: a Stripe source at the gateway", status == 201, (status, source)):
        return
    event = json.loads(fixture("stripe/customer.created.json"))
    event.update(id=f"evt_e2e_customer_{RUN}", created=int(time.time()))
    event["data"]["object"].update(id=customer_id, email=address, name=name, phone=f"+55119{RUN[-8:]}", preferred_locales=["pt-BR"],
                                   created=int(time.time()))
    ADDRESSES.add(event["data"]["object"]["phone"])
    body = json.dumps(event).encode()
    status, accepted, _ = call("POST", f"{GATEWAY}/webhooks/{source['source']['id']}", raw=body, headers=sign("stripe", body, source["secret"]))
    check("customer: the gateway accepts the signed customer.created webhook", status == 200 and accepted.get("duplicate") is False, (status, accepted))
    details = wait_for([key])
    detail = details[key]
    check("customer: the delivery is sent by email once the customer's contact arrived",
          detail and detail["status"] == "sent" and detail["channel"] == "email" and detail.get("recipient", {}).get("customer")
          == {"provider": "stripe", "customer_id": customer_id}, summary(detail))
    status, expected = preview("dunning.payment_failed", dict(variables, customer_name=name), locale="pt-BR")
    mails = wait_mail(sink_dir, [detail["id"]] if detail else [])
    check_message("customer", mails, detail, address, expected if status == 200 else None)
    mine = for_delivery(mails, (detail or {}).get("id", "?"))
    check("customer: in the customer's locale (pt-BR) and greeting the customer's name from the webhook",
          mine and name in (mine[0].text or "") and expected.get("locale") == "pt-BR", [m.subject for m in mine])
    # The contact notifications keeps, read and erased by people.
    path = f"contacts/stripe/{customer_id}"
    status, contact = api("GET", path, role="support")
    check("contacts: support reads the customer's contact as the webhook gave it",
          status == 200 and (contact.get("email"), contact.get("name"), contact.get("locale")) == (address, name, "pt-BR"), (status, contact))
    for role, method in (("viewer", "GET"), ("support", "DELETE"), ("finance", "DELETE")):
        status, answer = api(method, path, role=role)
        check(f"contacts: a {role} may not {'read' if method == 'GET' else 'erase'} it (403)", status == 403, (status, answer))
    status, erased = api("DELETE", path, role="admin", subject=ADMIN)
    check("contacts: an admin erases it: one contact, the customer's one delivery redacted",
          status == 200 and (erased.get("erased") or {}).get("contacts") == 1 and (erased.get("erased") or {}).get("deliveries_redacted") == 1,
          (status, erased))
    status, gone = api("GET", path, role="admin")
    check("contacts: after erasure the contact is gone (404)", status == 404, (status, gone))
    entries = api("GET", "audit-log?limit=500", role="viewer")[1].get("entries", [])
    audited = [e for e in entries if e.get("action") == "contact.erase" and customer_id in (e.get("target") or "")]
    check("contacts: the erasure is audited without the details", len(audited) == 1 and audited[0].get("actor") == ADMIN
          and address not in json.dumps(audited) and name not in json.dumps(audited), audited)


def scenario_unknown_customer(contact_wait):
    """A customer that never arrives: undeliverable once the contact wait is over."""
    key = f"e2e:{RUN}:customer:never"
    publish([request(key, "invoice.link", ["email"], {"customer": {"provider": "stripe", "customer_id": f"cus_never{RUN}"}},
                     variables_for("invoice.link", 8))], "a request for a customer that never arrives")
    EXPECTED_EVENTS[key] = ["undeliverable"]
    return key, time.time() + contact_wait


def scenario_channels(sink_dir):
    """WhatsApp offline, no address, the channel preference, and a variable missing."""
    phone = f"+55119{RUN[-8:-1]}1"
    ADDRESSES.add(phone)
    keys = {"whatsapp": f"e2e:{RUN}:whatsapp", "none": f"e2e:{RUN}:no-address", "preference": f"e2e:{RUN}:preference",
            "missing": f"e2e:{RUN}:variable-missing"}
    preference_address = email_to("preference")
    missing_variable = "amount"
    publish([
        request(keys["whatsapp"], "dunning.payment_failed", ["whatsapp"], {"address": {"phone": phone, "name": "Wanda"}},
                variables_for("dunning.payment_failed", 11)),
        request(keys["none"], "invoice.link", ["email", "whatsapp"], {"address": {"name": "Nobody Knows"}}, variables_for("invoice.link", 12)),
        request(keys["preference"], "invoice.link", ["whatsapp", "email"], {"address": {"email": preference_address}}, variables_for("invoice.link", 13)),
        request(keys["missing"], "invoice.link", ["email"], {"address": {"email": email_to("missing")}},
                variables_for("invoice.link", 14, omit=(missing_variable,))),
    ], "channels: a WhatsApp request, one without an address, one preferring WhatsApp with only an email, one lacking a variable")
    EXPECTED_EVENTS.update({keys["whatsapp"]: ["sent"], keys["none"]: ["undeliverable"], keys["preference"]: ["sent"],
                            keys["missing"]: ["undeliverable"]})
    details = wait_for(list(keys.values()))
    whatsapp, none, preference, missing = (details[keys[k]] for k in ("whatsapp", "none", "preference", "missing"))
    check("whatsapp offline: the delivery is sent, offline, on whatsapp, its attempt delivered_offline",
          whatsapp and whatsapp["status"] == "sent" and whatsapp["offline"] is True and whatsapp["channel"] == "whatsapp"
          and [a["outcome"] for a in whatsapp.get("attempt_log", [])] == ["delivered_offline"], summary(whatsapp))
    stored = psql(f"SELECT channel, message->>'to' FROM notifications.offline_messages WHERE org_id = '{ORG}' "
                  f"AND delivery_id = '{(whatsapp or {}).get('id', derived_delivery_id(ORG, keys['whatsapp']))}'")
    if stored is None:
        print("  skip whatsapp offline: the stored message (no database URL for psql)", flush=True)
    else:
        check("whatsapp offline: the message is stored (offline_messages: whatsapp, to the phone sent)", stored == [["whatsapp", phone]], stored)
    lines = []
    if whatsapp:
        deadline = time.time() + 10
        while time.time() < deadline:
            text = SERVICE.log_file.read_text(errors="replace") if SERVICE and SERVICE.log_file.exists() else ""
            # Swift prints a UUID in upper case: compare ignoring case.
            lines = [line for line in text.splitlines() if whatsapp["id"] in line.lower() and re.search(r'mode"?\s*[=:]\s*"?mock', line)]
            if lines:
                break
            time.sleep(0.5)
    check("whatsapp offline: the notifications log says mode=mock for the delivery", lines, f"no line with {whatsapp and whatsapp['id']} and mode=mock")
    check("whatsapp offline: the phone number is not in the log", SERVICE is None or phone not in SERVICE.log_file.read_text(errors="replace"),
          "the log holds the recipient's phone")
    check("no address: the delivery ends undeliverable (no_address) without an attempt",
          none and none["status"] == "undeliverable" and none["last_reason"] == "no_address" and none["attempts"] == 0, summary(none))
    check("channel preference: WhatsApp first, but only an email is known: sent by email",
          preference and preference["status"] == "sent" and preference["channel"] == "email", summary(preference))
    check(f"variable missing: a request without `{missing_variable}` ends undeliverable (template_variable_missing) naming it, unsent",
          missing and missing["status"] == "undeliverable" and missing["last_reason"] == "template_variable_missing"
          and missing_variable in (missing.get("last_detail") or "") and missing["attempts"] == 0
          and (sink_dir is None or not for_delivery(read_maildir(sink_dir), missing["id"])), summary(missing))
    return details


def scenario_operator(sink_dir):
    """A person asks for a notification through the API."""
    key = f"e2e:{RUN}:operator"
    address = email_to("operator")
    variables = variables_for("invoice.link", 21)
    body = {"dedupe_key": key, "template_key": "invoice.link", "channels": ["email"], "recipient": {"address": {"email": address}},
            "variables": variables}
    for role in ("viewer", "finance"):
        status, answer = api("POST", "notifications", body, role=role)
        check(f"POST notifications: a {role} is 403", status == 403 and problem(answer) == "forbidden", (status, answer))
    status, created = api("POST", "notifications", body, role="support", subject=SUPPORT_AGENT)
    check("POST notifications: support's request is 202 with its scheduled delivery",
          status == 202 and created.get("dedupe_key") == key and created.get("id") == derived_delivery_id(ORG, key)
          and created.get("status") in ("scheduled", "sending", "sent") and created.get("cause_type") == "operator", (status, created))
    status, again = api("POST", "notifications", body, role="admin")
    check("POST notifications: the same dedupe key again is 200 with the same delivery", status == 200 and again.get("id") == created.get("id"),
          (status, again))
    status, refused = api("POST", "notifications", dict(body, extra="x"), role="admin")
    check("POST notifications: an unknown member is 400 naming it", status == 400 and extension(refused, "field") == "extra", (status, refused))
    EXPECTED_EVENTS[key] = ["sent"]
    details = wait_for([key])
    status, expected = preview("invoice.link", variables)
    mails = wait_mail(sink_dir, [details[key]["id"]] if details[key] else [])
    check_message("POST notifications", mails, details[key], address, expected if status == 200 else None)
    return key, created.get("id")


def scenario_webhook():
    """Tenant endpoints on loopback (ops/e2e/support/webhook_receiver.py, which checks every request
    with the standardwebhooks SDK): one that answers 200, one 410 and one 503 with Retry-After."""
    if not WEBHOOK_RECEIVER.is_file():
        check("webhook: ops/e2e/support/webhook_receiver.py is there", False, str(WEBHOOK_RECEIVER))
        return
    ports = {label: free_port() for label in ("ok", "gone", "busy")}
    urls = {label: f"http://127.0.0.1:{port}/hooks/{RUN}/{label}" for label, port in ports.items()}
    for role in ("support", "viewer"):
        status, answer = api("POST", "webhook-endpoints", {"url": urls["ok"]}, role=role)
        check(f"webhook endpoint: a {role} may not create one (403)", status == 403, (status, answer))
    endpoints = {}
    for label, url in urls.items():
        status, endpoint = api("POST", "webhook-endpoints", {"url": url, "description": f"e2e {label}"}, role="admin", subject=ADMIN)
        check(f"webhook endpoint: an admin creates the {label} endpoint on 127.0.0.1 (201, active, a whsec_ secret)",
              status == 201 and endpoint.get("status") == "active" and endpoint.get("url") == url
              and str(endpoint.get("secret", "")).startswith("whsec_"), (status, endpoint))
        if status == 201:
            endpoints[label] = endpoint
    if len(endpoints) < 3:
        return
    status, listed = api("GET", "webhook-endpoints", role="viewer")
    status_one, one = api("GET", f"webhook-endpoints/{endpoints['ok']['id']}", role="viewer")
    secrets = [e["secret"] for e in endpoints.values()]
    check("webhook endpoint: listed (oldest first) and read without their secrets",
          status == 200 and [e.get("id") for e in listed.get("endpoints", [])] == [endpoints[k]["id"] for k in ("ok", "gone", "busy")]
          and not any(secret in json.dumps(listed) or secret in json.dumps(one) for secret in secrets) and "secret" not in json.dumps(listed)
          and status_one == 200 and one.get("id") == endpoints["ok"]["id"] and "secret" not in one, (listed, one))
    retry_after = 3
    receivers = {
        "ok": ReceiverProcess("receiver-ok", ports["ok"], endpoints["ok"]["secret"]),
        "gone": ReceiverProcess("receiver-gone", ports["gone"], endpoints["gone"]["secret"], mode="gone"),
        "busy": ReceiverProcess("receiver-busy", ports["busy"], endpoints["busy"]["secret"], busy_first=1, retry_after=retry_after),
    }
    # The receiver's own check can fail: a request signed with another secret is refused.
    body = json.dumps({"probe": RUN}).encode()
    headers = sign("standard", body, "whsec_" + base64.b64encode(os.urandom(24)).decode(), event_id=f"msg_probe_{RUN}")
    status, _, _ = call("POST", urls["ok"], raw=body, headers=headers)
    probe = [r for r in receivers["ok"].requests() if r.get("webhook_id") == f"msg_probe_{RUN}"]
    check("webhook: the receiver refuses a request signed with another secret (400, not verified)",
          status == 400 and len(probe) == 1 and probe[0].get("verified") is False, (status, probe))
    keys = {label: f"e2e:{RUN}:webhook:{label}" for label in endpoints}
    # engagement.day_30, a template no other scenario sends: the replay scenario's bulk filters
    # by template and must not take the dead "gone" delivery too.
    publish([request(keys[label], "engagement.day_30", ["webhook"], {"address": {"endpoint_id": endpoints[label]["id"]}},
                     variables_for("engagement.day_30", 30 + i))
             for i, label in enumerate(("ok", "gone", "busy"))], "webhook: a request for each endpoint")
    EXPECTED_EVENTS.update({keys["ok"]: ["sent"], keys["gone"]: ["dead"], keys["busy"]: ["failed", "sent"]})
    details = wait_for(list(keys.values()))
    ok, gone, busy = (details[keys[label]] for label in ("ok", "gone", "busy"))

    def received(label, detail):
        wanted = (detail or {}).get("id", "?")
        return [r for r in receivers[label].requests() if (r.get("webhook_id") or "").lower() == wanted]
    check("webhook: the 200 endpoint's delivery is sent on the webhook channel, in one attempt",
          ok and ok["status"] == "sent" and ok["channel"] == "webhook" and ok["provider"] == "webhook"
          and [(a["outcome"], a["reply_code"]) for a in ok.get("attempt_log", [])] == [("delivered", "200")], summary(ok))
    got = received("ok", ok)
    check("webhook: the endpoint received it once, webhook-id = the delivery id, on the path registered, and the SDK verified it",
          len(got) == 1 and got[0].get("verified") is True and got[0].get("status") == 200 and got[0].get("path") == f"/hooks/{RUN}/ok", got)
    check("webhook: an endpoint that answers 410 makes the delivery dead (endpoint_gone) after one attempt",
          gone and gone["status"] == "dead" and [(a["outcome"], a["reply_code"]) for a in gone.get("attempt_log", [])] == [("endpoint_gone", "410")],
          summary(gone))
    status, disabled = api("GET", f"webhook-endpoints/{endpoints['gone']['id']}", role="viewer")
    check("webhook: the 410 disabled that endpoint", status == 200 and disabled.get("status") == "disabled" and disabled.get("disabled_reason"),
          (status, disabled))
    check("webhook: the 410 endpoint was called once, with a signature the SDK verified",
          [(r.get("verified"), r.get("status")) for r in received("gone", gone)] == [(True, 410)], received("gone", gone))
    check("webhook: a 503 with Retry-After is retried, then sent",
          busy and busy["status"] == "sent" and [(a["outcome"], a["reply_code"]) for a in busy.get("attempt_log", [])]
          == [("transient", "503"), ("delivered", "200")], summary(busy))
    if busy and len(busy.get("attempt_log", [])) == 2:
        times, origin = attempt_times(busy)
        gap = times[1][1] - times[0][2] if len(times) == 2 and times[0][2] is not None and times[1][1] is not None else None
        coarse = origin == "api" and gap is not None and float(gap).is_integer()
        check(f"webhook: the retry waited at least the Retry-After of {retry_after} s (times from the {origin})",
              gap is not None and gap >= retry_after - (1.0 if coarse else 0.005), gap)
    check("webhook: the 503 endpoint was called twice for the delivery, each signature verified",
          [(r.get("verified"), r.get("status")) for r in received("busy", busy)] == [(True, 503), (True, 200)], received("busy", busy))
    # A request for the disabled endpoint has no address to go to.
    key = f"e2e:{RUN}:webhook:disabled"
    publish([request(key, "invoice.link", ["webhook"], {"address": {"endpoint_id": endpoints["gone"]["id"]}}, variables_for("invoice.link", 34))],
            "webhook: a request for the disabled endpoint")
    EXPECTED_EVENTS[key] = ["undeliverable"]
    detail = wait_for([key])[key]
    check("webhook: a request for a disabled endpoint ends undeliverable (no_address)",
          detail and detail["status"] == "undeliverable" and detail["last_reason"] == "no_address" and not received("gone", detail), summary(detail))
    endpoint_id = endpoints["ok"]["id"]
    status, disabled = api("POST", f"webhook-endpoints/{endpoint_id}/disable", {"reason": "e2e pause"}, role="owner", subject=OWNER)
    check("webhook endpoint: the owner disables one with a reason", status == 200 and disabled.get("status") == "disabled"
          and disabled.get("disabled_reason") == "e2e pause", (status, disabled))
    status, enabled = api("POST", f"webhook-endpoints/{endpoint_id}/enable", role="admin", subject=ADMIN)
    check("webhook endpoint: an admin enables it again", status == 200 and enabled.get("status") == "active"
          and enabled.get("disabled_reason") is None, (status, enabled))
    status, refused = api("POST", f"webhook-endpoints/{endpoint_id}/disable", role="support")
    check("webhook endpoint: support may not disable it (403)", status == 403, (status, refused))
    status, missing = api("GET", f"webhook-endpoints/ep_nosuch_{RUN}", role="viewer")
    check("webhook endpoint: an unknown id is 404", status == 404, (status, missing))
    entries = api("GET", "audit-log?limit=500", role="viewer")[1].get("entries", [])
    about = [e for e in entries if endpoint_id in (e.get("target") or "")]
    check("webhook endpoint: its creation, disabling and enabling are audited, with no secret in the audit log",
          len(about) >= 3 and not any(secret in json.dumps(entries) for secret in secrets), [(e.get("action"), e.get("actor")) for e in about])
    return endpoint_id


def check_refused(name, urls):
    """Each URL is refused at creation with 422 endpoint-url-refused naming its rule; none is created."""
    before = api("GET", "webhook-endpoints", role="viewer")[1].get("endpoints", [])
    for url, rule in urls:
        status, answer = api("POST", "webhook-endpoints", {"url": url}, role="admin", subject=ADMIN)
        named = rule in (extension(answer, "rule") or "") or rule in (answer.get("detail") or "")
        check(f"{name}: {url} is refused (422 endpoint-url-refused, rule {rule})",
              status == 422 and problem(answer) == "endpoint-url-refused" and named, (status, answer))
    after = api("GET", "webhook-endpoints", role="viewer")[1].get("endpoints", [])
    check(f"{name}: no endpoint was created for a refused URL", len(after) == len(before), [e.get("url") for e in after])


# --------------------------------------------------------------------------------------------
# Scenarios with this script's SMTP servers
# --------------------------------------------------------------------------------------------

def expected_gap(settings, attempt):
    """(shortest, longest) seconds between the end of failed attempt `attempt` and the start of
    the next: the backoff base x factor^(attempt-1), capped, +-JITTER; the longest also allows for
    the worker's poll interval and a second of slack."""
    base, factor, cap = (setting(settings, "TALLY_NOTIFY_RETRY_BASE_SECONDS", 5), setting(settings, "TALLY_NOTIFY_RETRY_FACTOR", 6),
                         setting(settings, "TALLY_NOTIFY_RETRY_MAX_SECONDS", 36000))
    backoff = min(base * factor ** (attempt - 1), cap)
    poll = setting(settings, "TALLY_NOTIFY_POLL_MILLISECONDS", 1000) / 1000
    return backoff * (1 - JITTER) - 0.005, backoff * (1 + JITTER) + poll + 1.0


def scenario_flaky(settings):
    """451 to the first two transactions: two retries, spaced per the settings, then sent."""
    fails = 2
    flaky = SinkProcess("flaky", mode="flaky", fail_first=fails, fail_code=451)
    spare = SinkProcess("flaky-fallback")
    # The breaker would need more failures than a round has attempts: the primary keeps every attempt.
    never = str(setting(settings, "TALLY_NOTIFY_MAX_ATTEMPTS", 8) + 1)
    changes = {**settings, **relays(flaky, spare), "TALLY_NOTIFY_FAILOVER_AFTER": never, "TALLY_WEBHOOK_ALLOW_LOOPBACK_HTTP": None}
    if not restart("flaky relay", changes):
        return
    key = f"e2e:{RUN}:flaky"
    address = email_to("flaky")
    publish([request(key, "invoice.link", ["email"], {"address": {"email": address}}, variables_for("invoice.link", 41))], "flaky: one request")
    EXPECTED_EVENTS[key] = ["failed"] * fails + ["sent"]
    details = wait_for([key])
    detail = details[key]
    outcomes = [(a.get("outcome"), a.get("reply_code"), a.get("provider")) for a in (detail or {}).get("attempt_log", [])]
    check(f"flaky: {fails} transient 451 attempts through smtp:primary, then delivered, and the delivery is sent",
          detail and detail["status"] == "sent" and outcomes == [("transient", "451", "smtp:primary")] * fails + [("delivered", "250", "smtp:primary")],
          summary(detail))
    if detail:
        times, origin = attempt_times(detail)
        # Gap after failed attempt n: the start of attempt n+1 less the end of attempt n.
        gaps = [(n, times[n][1] - times[n - 1][2]) for n in range(1, len(times)) if times[n - 1][2] is not None and times[n][1] is not None]
        # Whole seconds (an API without fractions) blur each time by up to a second.
        coarse = origin == "api" and all(float(t).is_integer() for _, start, end in times for t in (start, end) if t is not None)
        blur = 1.0 if coarse else 0.0
        bounds = {n: (expected_gap(changes, n)[0] - blur, expected_gap(changes, n)[1] + blur) for n, _ in gaps}
        check(f"flaky: the attempts are spaced as the retry settings say (times from the {origin}; "
              f"base {changes.get('TALLY_NOTIFY_RETRY_BASE_SECONDS')} s, factor {changes.get('TALLY_NOTIFY_RETRY_FACTOR')}, +-20 %)",
              len(gaps) == fails and all(bounds[n][0] <= gap <= bounds[n][1] for n, gap in gaps),
              {f"after attempt {n}": f"{gap:.3f} s, expected {bounds[n][0]:.3f}..{bounds[n][1]:.3f}" for n, gap in gaps})
        if not coarse:
            check("flaky: each wait is longer than the one before (exponential)", all(b[1] > a[1] for a, b in zip(gaps, gaps[1:])), gaps)
    mails = flaky.mails()
    check("flaky: the flaky relay holds exactly one copy of the message, the spare relay none",
          detail and len(for_delivery(mails, detail["id"])) == 1 and not spare.mails(), {"flaky": [m.message_id for m in mails]})
    # With the loopback setting off, loopback is refused like every other internal address.
    check_refused("loopback off", [
        ("https://127.0.0.1/hook", "loopback"), ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        (f"http://127.0.0.1:{flaky.port}/hook", "https_required"), ("https://[::1]/hook", "loopback")])


def scenario_failover(settings):
    """A primary that drops every connection; the fallback takes over after N failures."""
    threshold = setting(settings, "TALLY_NOTIFY_FAILOVER_AFTER", 2)
    dropping = SinkProcess("dropping", mode="drop", fail_first=1000)
    fallback = SinkProcess("fallback")
    if not restart("failover", {**settings, **relays(dropping, fallback)}):
        return
    first, second = f"e2e:{RUN}:failover:1", f"e2e:{RUN}:failover:2"
    publish([request(first, "invoice.link", ["email"], {"address": {"email": email_to("failover1")}}, variables_for("invoice.link", 51))],
            "failover: a request while the primary drops every connection")
    EXPECTED_EVENTS[first] = ["failed"] * threshold + ["sent"]
    detail = wait_for([first])[first]
    providers = [(a.get("provider"), a.get("outcome")) for a in (detail or {}).get("attempt_log", [])]
    check(f"failover: {threshold} failed attempts on smtp:primary, then the fallback relay sends it (provider smtp:fallback)",
          detail and detail["status"] == "sent" and detail["provider"] == "smtp:fallback"
          and providers == [("smtp:primary", "transient")] * threshold + [("smtp:fallback", "delivered")], summary(detail))
    publish([request(second, "invoice.link", ["email"], {"address": {"email": email_to("failover2")}}, variables_for("invoice.link", 52))],
            "failover: a second request while the breaker is open")
    EXPECTED_EVENTS[second] = ["sent"]
    again = wait_for([second])[second]
    check("failover: while the breaker is open the next delivery goes to the fallback at once (one attempt)",
          again and again["status"] == "sent" and [(a.get("provider"), a.get("outcome")) for a in again.get("attempt_log", [])]
          == [("smtp:fallback", "delivered")], summary(again))
    mails = fallback.mails()
    check("failover: the fallback relay holds one copy of each, the dropping primary none",
          detail and again and len(for_delivery(mails, detail["id"])) == 1 and len(for_delivery(mails, again["id"])) == 1 and not dropping.mails(),
          [m.message_id for m in mails])


def scenario_dead(settings):
    """A relay that rejects every recipient: the deliveries end dead after one attempt."""
    rejecting, rejecting_too = SinkProcess("rejecting", mode="reject-rcpt"), SinkProcess("rejecting-fallback", mode="reject-rcpt")
    if not restart("rejecting relay", {**settings, **relays(rejecting, rejecting_too)}):
        return {}
    keys = {"a": (f"e2e:{RUN}:dead:a", "invoice.link"), "b": (f"e2e:{RUN}:dead:b", "invoice.link"), "c": (f"e2e:{RUN}:dead:c", "dunning.reminder")}
    publish([request(key, template, ["email"], {"address": {"email": email_to(f"dead{label}")}}, variables_for(template, 60 + i))
             for i, (label, (key, template)) in enumerate(keys.items())], "dead: three requests while the relay answers 550")
    details = wait_for([key for key, _ in keys.values()])
    check("dead: each delivery ends dead after one permanent attempt (550)",
          all(d and d["status"] == "dead" and d["attempts"] == 1 and d["last_reason"]
              and [(a["outcome"], a["reply_code"]) for a in d.get("attempt_log", [])] == [("permanent", "550")] for d in details.values()),
          {k: summary(d) for k, d in details.items()})
    return {label: details[key] for label, (key, _) in keys.items()}


def scenario_replay(dead, sink_dir):
    """On the stack's own relay again: replay one dead delivery, then bulk-replay the others."""
    if not dead or not all(dead.values()):
        check("replay: there are dead deliveries to replay", False, dead)
        return
    one = dead["a"]
    for role in ("viewer", "finance"):
        status, answer = api("POST", f"deliveries/{one['id']}/replay", {"reason": "x"}, role=role)
        check(f"replay: a {role} may not replay (403)", status == 403 and problem(answer) == "forbidden", (status, answer))
    status, answer = api("POST", f"deliveries/{uuid.uuid4()}/replay", role="support")
    check("replay: an unknown delivery is 404", status == 404 and problem(answer) == "not-found", (status, answer))
    status, answer = api("POST", "deliveries/not-a-uuid/replay", role="support")
    check("replay: an id that is not a UUID is 404", status == 404, (status, answer))
    reason = f"relay fixed {RUN}"
    status, replayed = api("POST", f"deliveries/{one['id']}/replay", {"reason": reason}, role="support", subject=SUPPORT_AGENT)
    check("replay: support replays the dead delivery (scheduled, round 2, last_reason replayed)",
          status == 200 and replayed.get("status") in ("scheduled", "sending", "sent") and replayed.get("round") == 2
          and replayed.get("id") == one["id"], (status, replayed))
    key_a = one["dedupe_key"]
    EXPECTED_EVENTS[key_a] = ["dead", "sent"]
    detail = wait_for([key_a])[key_a]
    check("replay: the replayed delivery is sent through the stack's relay (2 attempts over 2 rounds)",
          detail and detail["status"] == "sent" and detail["attempts"] == 2 and detail["round"] == 2 and detail["provider"] == "smtp:primary",
          summary(detail))
    mails = wait_mail(sink_dir, [one["id"]])
    check("replay: the stack's relay holds exactly one copy", len(for_delivery(mails, one["id"])) == 1, [m.message_id for m in for_delivery(mails, one["id"])])
    status, conflict = api("POST", f"deliveries/{one['id']}/replay", role="admin")
    check("replay: replaying it again (sent) is 409 delivery-not-dead with its status",
          status == 409 and problem(conflict) == "delivery-not-dead" and extension(conflict, "status") == "sent", (status, conflict))
    entries = api("GET", "audit-log?limit=500", role="viewer")[1].get("entries", [])
    audited = [e for e in entries if e.get("action") == "delivery.replay" and one["id"] in e.get("target", "")]
    check("replay: audited (delivery.replay, target the delivery, actor the support agent, the reason)",
          len(audited) == 1 and audited[0].get("actor") == SUPPORT_AGENT and reason in (audited[0].get("after") or ""), audited or entries[:3])

    # Bulk replay: the dead ones that are left, counted per reason and filter.
    remaining = [d for d in all_deliveries("status=dead") or []]
    reasons = collections.Counter(d.get("last_reason") or "unknown" for d in remaining)
    status, dry = api("POST", "deliveries/replay", {}, role="support", subject=SUPPORT_AGENT)
    check("bulk replay: a dry run by default counts the org's dead deliveries per reason and replays nothing",
          status == 200 and dry.get("dry_run") is True and dry.get("matched") == len(remaining) >= 2 and dry.get("replayed") == 0
          and dry.get("reasons") == dict(reasons) and set(dry.get("delivery_ids", [])) == {d["id"] for d in remaining}, (status, dry, dict(reasons)))
    status, filtered = api("POST", "deliveries/replay", {"dry_run": True, "template_key": "dunning.reminder"}, role="support")
    check("bulk replay: filtered by template, the dry run matches only that template's dead delivery",
          status == 200 and filtered.get("matched") == 1 and filtered.get("delivery_ids") == [dead["c"]["id"]], (status, filtered))
    status, none = api("POST", "deliveries/replay", {"dry_run": True, "channel": "whatsapp"}, role="support")
    check("bulk replay: filtered by a channel none of them used, it matches nothing", status == 200 and none.get("matched") == 0, (status, none))
    status, refused = api("POST", "deliveries/replay", {"dry_run": True, "limit": 501}, role="support")
    check("bulk replay: a limit over 500 is 400 naming it", status == 400 and extension(refused, "field") == "limit", (status, refused))
    status, refused = api("POST", "deliveries/replay", {"dry_run": False}, role="viewer")
    check("bulk replay: a viewer may not run one (403)", status == 403, (status, refused))
    bulk_reason = f"bulk e2e {RUN}"
    status, ran = api("POST", "deliveries/replay", {"dry_run": False, "template_key": "invoice.link", "reason": bulk_reason},
                      role="admin", subject=ADMIN)
    check("bulk replay: the execution replays the matching dead delivery",
          status == 200 and ran.get("dry_run") is False and ran.get("replayed") == 1 and ran.get("delivery_ids") == [dead["b"]["id"]], (status, ran))
    status, limited = api("POST", "deliveries/replay", {"dry_run": False}, role="admin")
    check("bulk replay: a second execution within 60 s is 429 bulk-replay-rate-limited (retry_after 1-60 s)",
          status == 429 and problem(limited) == "bulk-replay-rate-limited" and str(extension(limited, "retry_after")).isdigit()
          and 1 <= int(extension(limited, "retry_after")) <= 60, (status, limited))
    status, still = api("POST", "deliveries/replay", {"dry_run": True}, role="admin")
    check("bulk replay: dry runs are not rate-limited; the unmatched ones are still dead", status == 200 and still.get("matched") == len(remaining) - 1
          and dead["c"]["id"] in still.get("delivery_ids", []) and dead["b"]["id"] not in still.get("delivery_ids", []), (status, still))
    EXPECTED_EVENTS[dead["b"]["dedupe_key"]] = ["dead", "sent"]
    EXPECTED_EVENTS[dead["c"]["dedupe_key"]] = ["dead"]
    detail = wait_for([dead["b"]["dedupe_key"]])[dead["b"]["dedupe_key"]]
    check("bulk replay: the replayed delivery is sent", detail and detail["status"] == "sent" and detail["round"] == 2, summary(detail))
    entries = api("GET", "audit-log?limit=500", role="viewer")[1].get("entries", [])
    audited = [e for e in entries if e.get("action") == "deliveries.bulk_replay"]
    check("bulk replay: the execution is audited once (actor, the reason), dry runs are not",
          len(audited) == 1 and audited[0].get("actor") == ADMIN and bulk_reason in (audited[0].get("after") or ""), audited)


def scenario_crash(settings):
    """kill -9 while a slow relay holds the DATA replies; then start again."""
    count = 3
    slow = SlowSmtp("slow", hold_first=count)
    if not restart("slow relay", {**settings, **relays(slow, slow)}):
        return
    keys = [f"e2e:{RUN}:crash:{n}" for n in range(1, count + 1)]
    publish([request(key, "invoice.link", ["email"], {"address": {"email": email_to(f"crash{n}")}}, variables_for("invoice.link", 70 + n))
             for n, key in enumerate(keys, start=1)], f"crash: {count} requests to the slow relay")
    deadline = time.time() + 30
    while slow.held < count and time.time() < deadline:
        time.sleep(0.05)
    held = slow.held
    check(f"crash: the slow relay took all {count} messages and holds their replies", held == count, held)
    log(f"kill -9 notifications with {held} replies held")
    try:
        SERVICE.kill()
        SERVICE.relaunch()
        check("crash: notifications came back after kill -9", True)
    except StackError as error:
        check("crash: notifications came back after kill -9", False, str(error))
        return
    lease = setting(settings, "TALLY_NOTIFY_LEASE_SECONDS", 120)
    details = wait_for(keys, seconds=lease + 60)
    for key in keys:
        EXPECTED_EVENTS[key] = ["sent"]
    check("crash: every delivery ends final (sent) after the restart", all(d and d["status"] == "sent" for d in details.values()),
          {k: summary(d) for k, d in details.items()})
    mails = slow.mails()
    per_delivery = {key: for_delivery(mails, (d or {}).get("id", "?")) for key, d in details.items()}
    check("crash: one distinct message per dedupe key (a single Message-ID each)",
          all(len({m.message_id for m in copies}) == 1 for copies in per_delivery.values()), {k: [m.message_id for m in v] for k, v in per_delivery.items()})
    check("crash: at most one resend per delivery (the stated crash window: accepted, not yet recorded)",
          all(1 <= len(copies) <= 2 for copies in per_delivery.values()), {k: len(v) for k, v in per_delivery.items()})
    check("crash: each interrupted attempt is recorded abandoned, and the next one delivered",
          all(d and [a["outcome"] for a in d.get("attempt_log", [])][-2:] == ["abandoned", "delivered"] for d in details.values()),
          {k: summary(d) for k, d in details.items()})


# --------------------------------------------------------------------------------------------
# Checks over everything
# --------------------------------------------------------------------------------------------

def check_events():
    """Every delivery's outcomes on the deliveries topic, one distinct event each."""
    ids = {key: derived_delivery_id(ORG, key) for key in EXPECTED_EVENTS}
    wanted = sum(len(v) for v in EXPECTED_EVENTS.values())

    def enough(events):
        return len({e.get("id") for e in events}) >= wanted
    events = consume([DELIVERIES_TOPIC], f"e2e-notifications-{RUN}", lambda e: e.get("tenant") == ORG and e.get("type") == DELIVERY_TYPE,
                     enough, seconds=45)
    unique = {e["id"]: e for e in events}.values()
    seen = collections.defaultdict(list)
    for event in unique:
        seen[event["data"].get("dedupe_key")].append(event)
    differing = {}
    for key, statuses in EXPECTED_EVENTS.items():
        got = sorted(e["data"].get("status") for e in seen.get(key, []))
        if got != sorted(statuses):
            differing[key] = {"expected": sorted(statuses), "got": got}
    check(f"delivery events: each delivery's outcomes on {DELIVERIES_TOPIC}, one distinct event each ({wanted} in all)", not differing, differing)
    wrong = [e["id"] for e in unique if e["data"].get("delivery_id") != ids.get(e["data"].get("dedupe_key"), e["data"].get("delivery_id"))
             or e.get("subject") != e["data"].get("delivery_id") or e.get("source") != "/tally/notifications"]
    check("delivery events: each names its delivery (id, subject) and comes from /tally/notifications", not wrong, wrong[:5])
    sent = [e for e in unique if e["data"].get("status") == "sent"]
    check("delivery events: every sent event names its channel and provider",
          sent and all(e["data"].get("channel") and e["data"].get("provider") for e in sent), [e["data"] for e in sent if not e["data"].get("provider")][:3])
    offline = [e["data"].get("offline") for e in sent if e["data"].get("channel") == "whatsapp"]
    check("delivery events: the WhatsApp delivery's sent event says offline", offline == [True], offline)
    failed = [e for e in unique if e["data"].get("status") == "failed"]
    check("delivery events: every failed event says when the next attempt is", failed and all(e["data"].get("next_attempt_at") for e in failed),
          [e["data"] for e in failed][:3])
    leaked = sorted(a for a in ADDRESSES if any(a in json.dumps(e) for e in unique))
    check("delivery events: no event holds an address that was sent", not leaked, leaked)


def check_lists():
    everything = all_deliveries() or []
    check("every delivery of the run ends in a final state", everything and all(d.get("status") in FINAL for d in everything),
          [(d.get("dedupe_key"), d.get("status")) for d in everything if d.get("status") not in FINAL])
    pages, cursor, count = [], None, 0
    while count < 100:
        status, page = api("GET", "deliveries?limit=2" + (f"&after={urllib.parse.quote(cursor)}" if cursor else ""), role="viewer")
        count += 1
        if status != 200:
            break
        pages += page.get("deliveries", [])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    check(f"deliveries list: pages of 2 give every delivery once, newest first ({len(everything)} in {count} pages)",
          [d["id"] for d in pages] == [d["id"] for d in everything] and len({d["id"] for d in pages}) == len(pages)
          and all(a["created_at"] >= b["created_at"] for a, b in zip(pages, pages[1:])), len(pages))
    for status_filter in ("sent", "dead", "undeliverable"):
        filtered = all_deliveries(f"status={status_filter}") or []
        expected = [d["id"] for d in everything if d.get("status") == status_filter]
        check(f"deliveries list: status={status_filter} gives exactly those", [d["id"] for d in filtered] == expected, (len(filtered), len(expected)))
    filtered = all_deliveries("channel=whatsapp") or []
    check("deliveries list: channel=whatsapp gives exactly those", [d["id"] for d in filtered] == [d["id"] for d in everything if d.get("channel") == "whatsapp"]
          and filtered, len(filtered))
    for query, field in (("status=bogus", "status"), ("channel=fax", "channel"), ("after=not-a-cursor", "after"), ("limit=201", "limit")):
        status, answer = api("GET", f"deliveries?{query}", role="viewer")
        check(f"deliveries list: {query} is 400 naming {field}", status == 400 and extension(answer, "field") == field, (status, answer))
    status, answer = api("GET", f"deliveries/{uuid.uuid4()}", role="viewer")
    check("deliveries: an unknown id is 404", status == 404 and problem(answer) == "not-found", (status, answer))
    status, answer, _ = call("GET", f"{NOTIFY}/admin/orgs/{ORG}/deliveries", headers=bearer("admin", org=f"org_other_{RUN}"))
    check("deliveries: a token for another org is 403", status == 403, (status, answer))
    status, other, _ = call("GET", f"{NOTIFY}/admin/orgs/org_other_{RUN}/deliveries", headers=bearer("admin", org=f"org_other_{RUN}"))
    check("deliveries: another org sees none of this org's deliveries", status == 200 and other.get("deliveries") == [], (status, other))


def check_jobs():
    status, answer, _ = call("GET", f"{NOTIFY}/admin/jobs/status", headers=bearer("viewer", org=f"org_any_{RUN}"))
    worker = next((j for j in answer.get("jobs", []) if j.get("job") == "notifications.delivery_worker"), None) if status == 200 else None
    check("jobs status: any valid token reads it; the delivery worker has run and succeeded",
          status == 200 and answer.get("service") == "notifications" and worker and worker.get("runs", 0) > 0 and worker.get("last_success_at"),
          (status, answer))
    status, answer, _ = call("GET", f"{NOTIFY}/admin/jobs/status")
    check("jobs status: without a token it is 401", status == 401, (status, answer))


# --------------------------------------------------------------------------------------------

def main():
    global PUBLISHER, SERVICE, WORK
    print(f"  notifications at {NOTIFY}, org {ORG}", flush=True)
    if not check(f"notifications answers /healthz at {NOTIFY or 'no URL'}", NOTIFY and alive(NOTIFY), "is the notifications service running?"):
        checks.finish()
    WORK = pathlib.Path(tempfile.mkdtemp(prefix="tally-notifications-e2e-"))
    try:
        SERVICE = RunningService("notifications", NOTIFY)
    except StackError as error:
        check("notifications runs on a stack this script can restart (its pid files)", False, str(error))
    sink = SERVICE and SERVICE.sidecar("smtp-sink")
    sink_dir = sink.data if sink else None
    check("notifications sends through the stack's smtp-sink (its TALLY_SMTP_PORT is the sidecar's port)",
          SERVICE and sink and SERVICE.environ.get("TALLY_SMTP_PORT") == str(sink.port.number),
          SERVICE and {"TALLY_SMTP_PORT": SERVICE.environ.get("TALLY_SMTP_PORT"), "sidecar": sink and sink.port.number})
    PUBLISHER = Publisher()
    settings = test_settings()
    try:
        # On a stack other than the test one (make up), run with the test profile's settings too.
        if SERVICE and any(SERVICE.environ.get(k) != v for k, v in settings.items()):
            restart("the test profile's settings", settings)
        check_templates()
        unknown_customer = None
        contact_wait = setting(SERVICE.current_environ() if SERVICE else {}, "TALLY_NOTIFY_CONTACT_WAIT_SECONDS", 600)
        if contact_wait <= 120:
            unknown_customer = scenario_unknown_customer(contact_wait)
        else:
            print(f"  skip a customer that never arrives: the contact wait is {contact_wait} s here", flush=True)
        if sink_dir:
            scenario_exactly_once(sink_dir)
            scenario_customer(sink_dir)
            scenario_operator(sink_dir)
        scenario_channels(sink_dir)
        scenario_webhook()
        check_refused("endpoint refusals", [
            ("https://10.0.0.1/hook", "private"), ("https://[::ffff:10.0.0.1]/hook", "private"),
            ("https://169.254.169.254/latest/meta-data/", "metadata"), ("https://100.64.0.1/hook", "cgnat"),
            ("http://hooks.example.com/hook", "https_required"), ("https://user:secret@hooks.example.com/hook", "userinfo")])
        if unknown_customer:
            key, until = unknown_customer
            detail = wait_for([key], seconds=max(5, until - time.time()) + 30)[key]
            check("customer never arrives: undeliverable (no_contact) after the contact wait, without an attempt",
                  detail and detail["status"] == "undeliverable" and detail["last_reason"] == "no_contact" and detail["attempts"] == 0
                  and (epoch(detail.get("finished_at")) or 0) >= (epoch(detail.get("created_at")) or 0) + contact_wait - 1, summary(detail))
        if SERVICE and SMTP_SINK.is_file():
            scenario_flaky(settings)
            scenario_failover(settings)
            dead = scenario_dead(settings)
            restart("back to the stack's relays", settings)
            scenario_replay(dead, sink_dir)
            scenario_crash(settings)
        else:
            check("the fault scenarios can run (a restartable service and ops/e2e/support/smtp_sink.py)", False,
                  {"service": bool(SERVICE), "smtp_sink": SMTP_SINK.is_file()})
    finally:
        if SERVICE:
            log("restoring notifications as it was")
            try:
                SERVICE.restore()
            except StackError as error:
                check("notifications is restored as it was", False, str(error))
        stop_servers()
    check_lists()
    check_events()
    check_jobs()
    if all(ok for _, ok in checks.results):
        shutil.rmtree(WORK, ignore_errors=True)
    else:
        print(f"  the SMTP servers' Maildirs and logs: {WORK}", flush=True)
    checks.finish()


if __name__ == "__main__":
    main()
