"""Crash test of the webhook path: nothing acknowledged is lost, nothing is applied twice.

A sender acts like a provider: it posts N signed Stripe-shaped webhooks (plus a share of duplicate
deliveries) at a fixed rate, and retries anything not answered 2xx later with the same event id.
Meanwhile a killer, at random moments, `kill -9`s and restarts the ingest gateway, the
normalizer and finance, stops PostgreSQL with an immediate shutdown and starts it again, and kills the test
consumer. The test consumer applies canonical payment events through its own inbox (SQLite), so
its effects happen once even when Kafka redelivers.

When everything has drained, the checker asserts:
- every event id answered 2xx is in the gateway inbox, exactly once;
- every inbox row reached the raw topic;
- every raw event has exactly one outcome;
- every canonical event was applied exactly once by the test consumer;
- no inbox row is left pending or published;
- finance posted every captured payment exactly once (one capture transaction per payment,
  each caused by one of the run's canonical events), and its ledger verifies;
- finance's invoices: the run also sends, through an internal source, an `order.placed` for
  every tenth payment (same order id, same amount); each order ends with exactly one invoice,
  the org's invoice numbers run 1, 2, 3… per day without a gap or a repeat, and each invoice is
  `paid` by exactly one settlement of its capture;
- notifications (when it runs): the run also publishes notification requests, each twice under
  two event ids, while notifications is killed like the others; every dedupe key has exactly one
  delivery, every delivery ends `sent`, and the SMTP sinks hold exactly one distinct message
  (Message-ID) per delivery, with no more copies than 1 + its `abandoned` attempts (a kill
  between the relay's 250 and the record resends once, with the same Message-ID).
- billing (when it runs): the run also sends, through a second Stripe source, subscriptions that
  are created, updated and deleted (with duplicates, retries and kills of billing like the
  others); each ends canceled with two seats and access ended, no canonical event changed a
  subscription twice, each subscription's `entitlement.changed` events on the topic are one per
  revision (1, 2, … without gaps, `granted` then `ended`, or only `ended` when the cancellation
  reached billing before the creation, whose delivery was retried), and a billing sync afterwards finds
  every projection equal to the fold of its history.

Negative control: the same checker runs over a consumer with an injected fault (it commits its
Kafka offsets before applying, then crashes mid-batch) and must report the loss.

Against the running `make up` stack: `make crash` (2,000 webhooks) or, long form,
`make crash ARGS="--count 20000 --rate 250"`.
"""
import argparse
import hashlib
import json
import os
import pathlib
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ops"))
sys.path.insert(0, str(ROOT / "ops" / "e2e" / "support"))
from tally_e2e import BROKERS, Checks, call, canonical_id, service_url, sign, token  # noqa: E402
from notify_e2e import RequestPublisher, derived_delivery_id, for_delivery, read_maildir, request_event  # noqa: E402
from tallystack import sidecars  # noqa: E402
from tallystack import postgres  # noqa: E402
from tallystack.stack import Stack  # noqa: E402

CANONICAL_TOPIC = "tally.canonical.payments.v1"
PSQL = postgres.tool("psql")


def log(message):
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", flush=True)


def stripe_body(event_id, amount):
    """A ~1.5 KB Stripe `payment_intent.succeeded` event."""
    intent = "pi_" + hashlib.sha1(event_id.encode()).hexdigest()[:24]
    return json.dumps({
        "id": event_id, "object": "event", "api_version": "2024-06-20", "created": int(time.time()), "livemode": False,
        "pending_webhooks": 1, "request": {"id": "req_" + event_id[-12:], "idempotency_key": str(uuid.uuid5(uuid.NAMESPACE_URL, event_id))},
        "type": "payment_intent.succeeded",
        "data": {"object": {
            "id": intent, "object": "payment_intent", "amount": amount, "amount_capturable": 0, "amount_received": amount,
            "application": None, "capture_method": "automatic", "confirmation_method": "automatic", "currency": "usd",
            "customer": "cus_" + event_id[-14:], "description": "Pro plan, monthly", "invoice": "in_" + event_id[-20:],
            "latest_charge": "ch_" + event_id[-20:], "livemode": False,
            "metadata": {"order_id": "ord_" + event_id[-8:], "plan": "pro_monthly", "seats": "5"},
            "payment_method": "pm_1QAbcLkdIwHu7ix2Card", "payment_method_types": ["card"],
            "payment_method_options": {"card": {"installments": None, "network": None, "request_three_d_secure": "automatic"}},
            "receipt_email": None, "shipping": None, "statement_descriptor": "TALLY PRO", "status": "succeeded",
            "created": int(time.time()) - 2,
            "amount_details": {"tip": {}}, "automatic_payment_methods": {"allow_redirects": "always", "enabled": True},
            "charges": {"object": "list", "data": [], "has_more": False, "url": "/v1/charges?payment_intent=" + intent},
            "next_action": None, "on_behalf_of": None, "processing": None, "review": None, "setup_future_usage": None,
            "source": None, "statement_descriptor_suffix": None, "transfer_data": None, "transfer_group": None,
        }},
    }, separators=(",", ":")).encode()


def order_body(event_id, order_id, amount):
    """An internal `order.placed` for one untaxed line of `amount` cents."""
    line = {"sku": "CRASH", "description": "Crash test order", "quantity": 1, "unit_price_minor": amount, "tax_rate_bps": 0, "tax_minor": 0,
            "total_minor": amount}
    return json.dumps({"id": event_id, "type": "order.placed", "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "data": {"order_id": order_id, "customer_id": "cus_" + order_id[-8:], "currency": "USD", "lines": [line],
                                "subtotal_minor": amount, "tax_minor": 0, "total_minor": amount, "payment_reference": None}},
                      separators=(",", ":")).encode()


def check_invoices(checks, admin_url, org, orders):
    """The invoice invariant over the run's orders (see the module doc)."""
    rows = psql(admin_url, f"SELECT order_id, number, status, paid_minor::text, total_minor::text FROM finance.invoices WHERE org_id = '{org}'")
    per_order = {}
    for order_id, number, status, paid, total in rows:
        per_order.setdefault(order_id, []).append((number, status, paid, total))
    missing = sorted(set(orders) - set(per_order))
    doubled = sorted(order for order, invoices in per_order.items() if len(invoices) > 1)
    checks.check(f"invoices: each of the {len(orders)} orders has exactly one invoice", not missing and not doubled and set(per_order) <= set(orders),
                 {"missing": missing[:5], "doubled": doubled[:5], "foreign": sorted(set(per_order) - set(orders))[:5]})
    by_day = {}
    for invoices in per_order.values():
        for number, *_ in invoices:
            _, day, sequence = number.split("-")
            by_day.setdefault(day, []).append(int(sequence))
    gaps = {day: sorted(numbers)[:10] for day, numbers in by_day.items() if sorted(numbers) != list(range(1, len(numbers) + 1))}
    checks.check("invoices: numbers run 1, 2, 3… per day without a gap or a repeat", not gaps and by_day, gaps or by_day)
    unpaid = sorted(order for order, invoices in per_order.items() if invoices[0][1] != "paid" or invoices[0][2] != invoices[0][3])
    settlements = psql(admin_url, f"SELECT invoice_id, count(*)::text FROM finance.invoice_payments WHERE org_id = '{org}' GROUP BY 1")
    twice = sorted(invoice for invoice, n in settlements if n != "1")
    checks.check("invoices: each is paid by exactly one settlement of its capture", not unpaid and not twice and len(settlements) == len(orders),
                 {"not paid": unpaid[:5], "settled twice": twice[:5], "settlements": len(settlements)})


SUBSCRIPTION_STEPS = (("customer.subscription.created", 1, "active"), ("customer.subscription.updated", 2, "active"),
                      ("customer.subscription.deleted", 2, "canceled"))


def subscription_bodies(org, count):
    """`count` Stripe subscriptions, each created (one seat), updated (two seats) and deleted, a
    minute apart: their bodies by event id, and each subscription's event ids in send order."""
    stripe = ROOT / "contracts" / "providers" / "stripe"
    samples = {sample: (stripe / f"{sample}.json").read_text() for sample, _, _ in SUBSCRIPTION_STEPS}
    base, bodies, per_subscription = int(time.time()) - 3600, {}, {}
    for n in range(count):
        subscription = f"sub_crash_{org[-10:]}_{n:04d}"
        for step, (sample, quantity, status) in enumerate(SUBSCRIPTION_STEPS):
            event = json.loads(samples[sample])
            event_id = f"evt_crash_{org[-10:]}_sub{n:04d}_{step}"
            created = base + n + 60 * step
            event.update(id=event_id, created=created)
            item = event["data"]["object"]
            item.update(id=subscription, customer=f"cus_crash_{n:04d}", status=status)
            if item.get("canceled_at"):
                item["canceled_at"] = created
            item["items"]["data"][0]["quantity"] = quantity
            bodies[event_id] = json.dumps(event, separators=(",", ":")).encode()
            per_subscription.setdefault(subscription, []).append(event_id)
    return bodies, per_subscription


def interleave(first, second):
    """Both lists merged at random, each keeping its own order."""
    merged, i, j = [], 0, 0
    while i < len(first) or j < len(second):
        if j == len(second) or (i < len(first) and random.random() < (len(first) - i) / (len(first) - i + len(second) - j)):
            merged.append(first[i])
            i += 1
        else:
            merged.append(second[j])
            j += 1
    return merged


# ------------------------------------------------------------------------------------------------
# The test consumer: applies canonical payment events once, through its own SQLite inbox.
# ------------------------------------------------------------------------------------------------

def run_consumer(db_path, group, org, fault):
    from confluent_kafka import Consumer
    database = sqlite3.connect(db_path, isolation_level=None)
    database.execute("CREATE TABLE IF NOT EXISTS inbox (event_id TEXT PRIMARY KEY)")
    database.execute("CREATE TABLE IF NOT EXISTS applied (event_id TEXT NOT NULL, at REAL NOT NULL)")
    consumer = Consumer({"bootstrap.servers": BROKERS, "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
    consumer.subscribe([CANONICAL_TOPIC])
    crash_marker = pathlib.Path(db_path + ".crashed")

    def apply(message):
        event = json.loads(message.value())
        if event.get("tenant") != org:
            return
        database.execute("BEGIN IMMEDIATE")
        fresh = database.execute("INSERT OR IGNORE INTO inbox (event_id) VALUES (?)", (event["id"],)).rowcount == 1
        if fresh or fault == "no-inbox":
            database.execute("INSERT INTO applied (event_id, at) VALUES (?, ?)", (event["id"], time.time()))
        database.execute("COMMIT")

    while True:
        messages = [m for m in consumer.consume(num_messages=200, timeout=1.0) if not m.error()]
        if not messages:
            continue
        if fault == "offset-before-apply":
            # The injected fault: the position moves before the effects are durable.
            consumer.commit(asynchronous=False)
            # Crash halfway through the first batch holding at least two of this run's events
            # (the topic also carries earlier runs' events, whose loss the checker cannot see).
            mine = [m for m in messages if json.loads(m.value()).get("tenant") == org]
            if len(mine) >= 2 and not crash_marker.exists():
                for message in mine[: len(mine) // 2]:
                    apply(message)
                crash_marker.touch()
                os._exit(17)  # crash mid-batch, as a kill -9 would
            for message in messages:
                apply(message)
            continue
        for message in messages:
            apply(message)
        consumer.commit(asynchronous=False)  # only after the effects committed


LIVE_CHILDREN = []


def kill_children():
    for child in LIVE_CHILDREN:
        if child.poll() is None:
            child.kill()


class ConsumerProcess:
    """The test consumer as a child process that the killer can kill -9 and restart."""

    def __init__(self, db_path, group, org, fault=None):
        self.args = [sys.executable, __file__, "consumer", "--db", db_path, "--group", group, "--org", org] + (["--fault", fault] if fault else [])
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen(self.args, start_new_session=True, stdout=subprocess.DEVNULL)
        LIVE_CHILDREN.append(self.process)

    def kill(self):
        self.process.kill()
        self.process.wait()

    def ensure_running(self):
        if self.process.poll() is not None:
            self.start()


# ------------------------------------------------------------------------------------------------
# The run.
# ------------------------------------------------------------------------------------------------

def psql(admin_url, sql):
    """Rows of a query as lists of strings, through psql (no driver needed); retried while PostgreSQL restarts."""
    for _ in range(120):
        result = subprocess.run([PSQL, admin_url, "-X", "-q", "-At", "-F", "\t", "-c", sql], capture_output=True, text=True)
        if result.returncode == 0:
            return [line.split("\t") for line in result.stdout.splitlines() if line]
        time.sleep(0.5)
    raise RuntimeError(f"psql failed: {result.stderr}")


def check_run(checks, label, admin_url, source_id, org, acknowledged, db_path, expect_clean=True, finance=None):
    """The checker. Returns True when every assertion holds."""
    ok = True

    def verify(name, condition, detail):
        nonlocal ok
        ok &= bool(condition)
        if expect_clean:
            checks.check(f"{label}: {name}", condition, detail)
        elif not condition:
            log(f"negative control: checker reports: {name}: {str(detail)[:300]}")

    rows = psql(admin_url, f"SELECT provider_event_id, id::text, status FROM ingest_gateway.webhook_inbox WHERE source_id = '{source_id}'")
    per_event = {}
    for event_id, inbox_id, status in rows:
        per_event.setdefault(event_id, []).append((inbox_id, status))
    missing = sorted(acknowledged - set(per_event))
    doubled = sorted(e for e, v in per_event.items() if len(v) > 1)
    verify(f"all {len(acknowledged)} acknowledged ids are in the inbox exactly once", not missing and not doubled,
           {"missing": missing[:10], "doubled": doubled[:10]})
    inbox_ids = {v[0][0] for v in per_event.values()}
    stuck = sorted(v[0][0] for v in per_event.values() if v[0][1] in ("pending", "published"))
    verify("no inbox row is left pending or published", not stuck, stuck[:10])

    raw_events = read_raw_topic(org, inbox_ids)
    unpublished = sorted(inbox_ids - set(raw_events.values()))
    verify(f"all {len(inbox_ids)} inbox rows reached the raw topic", not unpublished, unpublished[:10])

    outcomes = psql(admin_url, f"SELECT raw_event_id, count(*) FROM normalizer.raw_outcomes WHERE org_id = '{org}' GROUP BY 1")
    outcome_count = {raw: int(n) for raw, n in outcomes}
    no_outcome = sorted(set(raw_events) - set(outcome_count))
    many = sorted(r for r, n in outcome_count.items() if n != 1)
    verify(f"all {len(raw_events)} raw events have exactly one outcome", not no_outcome and not many, {"none": no_outcome[:10], "several": many[:10]})

    expected = {canonical_id(i) for i in inbox_ids}
    database = sqlite3.connect(db_path)
    applied = {}
    for event_id, n in database.execute("SELECT event_id, count(*) FROM applied GROUP BY event_id"):
        applied[event_id] = n
    database.close()
    lost = sorted(expected - set(applied))
    twice = sorted(e for e, n in applied.items() if n > 1)
    verify(f"all {len(expected)} canonical events were applied exactly once by the test consumer", not lost and not twice,
           {"lost": len(lost), "twice": len(twice), "examples": (lost + twice)[:5]})
    if finance:
        posted = psql(admin_url, f"SELECT cause_event_id, count(*) OVER (PARTITION BY payment_id) FROM finance.ledger_transactions "
                                 f"WHERE org_id = '{org}' AND kind = 'capture'")
        causes = {cause for cause, _ in posted}
        verify(f"finance posted all {len(inbox_ids)} captures exactly once",
               len(posted) == len(inbox_ids) and causes <= expected and all(n == "1" for _, n in posted),
               {"posted": len(posted), "foreign causes": sorted(causes - expected)[:5]})
        status, verified, _ = call("GET", f"{finance}/admin/orgs/{org}/ledger/verify", headers={"Authorization": f"Bearer {token(org, 'viewer')}"})
        verify("the finance ledger verifies after the drain", status == 200 and verified.get("ok") is True,
               (status, (verified or {}).get("first_failure")))
    return ok


NOTIFY_VARIABLES = {"customer_name": "Crash Test", "amount": "$10.00", "invoice_number": "INV-CRASH", "pay_url": "https://pay.example/crash",
                    "due_date": "2026-12-31"}


def notification_requests(org, count):
    """`count` dunning requests to explicit addresses, each as two events (a redelivery under a
    new event id, as a replayed outbox would send): the dedupe keys and the events in send order."""
    keys = [f"crash:{org}:{n:05d}" for n in range(count)]
    events = []
    for key in keys:
        for copy in range(2):
            events.append(request_event(org, key, "dunning.payment_failed", ["email"], {"address": {"email": f"crash.{key.split(':')[-1]}@example.com"}},
                                        NOTIFY_VARIABLES, "crash_test", time.time(), event_id=f"crash-{key}-{copy}"))
    return keys, events


def check_notifications(checks, admin_url, org, keys, maildirs):
    """The notifications invariant over the run's dedupe keys (see the module doc)."""
    rows = psql(admin_url, f"SELECT dedupe_key, id, status, (SELECT count(*) FROM notifications.delivery_attempts a WHERE a.org_id = d.org_id "
                           f"AND a.delivery_id = d.id AND a.outcome = 'abandoned') FROM notifications.deliveries d WHERE org_id = '{org}'")
    by_key = {}
    for key, delivery_id, status, abandoned in rows:
        by_key.setdefault(key, []).append((delivery_id, status, int(abandoned)))
    checks.check(f"notifications: every one of {len(keys)} dedupe keys has exactly one delivery",
                 set(by_key) == set(keys) and all(len(v) == 1 for v in by_key.values()),
                 {"missing": len(set(keys) - set(by_key)), "doubled": sum(1 for v in by_key.values() if len(v) > 1)})
    unsent = {k: v[0][1] for k, v in by_key.items() if v[0][1] != "sent"}
    checks.check("notifications: every delivery ended sent", not unsent, dict(list(unsent.items())[:5]))
    mails = [mail for path in maildirs for mail in read_maildir(path)]
    wrong, copies_total, resends = [], 0, 0
    for key in keys:
        delivery_id = derived_delivery_id(org, key)
        found = for_delivery(mails, delivery_id)
        abandoned = by_key.get(key, [(None, None, 0)])[0][2]
        copies_total += len(found)
        resends += max(len(found) - 1, 0)
        if len({m.message_id for m in found}) != 1 or len(found) > 1 + abandoned:
            wrong.append({"key": key, "copies": len(found), "message_ids": len({m.message_id for m in found}), "abandoned": abandoned})
    checks.check("notifications: one distinct message per delivery, resent only after an abandoned attempt", not wrong,
                 {"wrong": wrong[:5], "copies": copies_total, "resends": resends})
    log(f"notifications: {len(keys)} deliveries, {copies_total} messages in the sinks ({resends} resends after a kill mid-send)")


def check_billing(checks, admin_url, org, source_id, per_subscription, billing):
    """The billing invariant over the run's subscriptions (see the module doc)."""
    rows = psql(admin_url, f"SELECT subscription_id, status, projection->>'quantity', entitlement->>'access', entitlement_revision::text "
                           f"FROM billing.subscriptions WHERE org_id = '{org}'")
    final = {row[0]: tuple(row[1:]) for row in rows}
    wrong = {sub: final.get(sub) for sub in per_subscription if final.get(sub, ())[:3] != ("canceled", "2", "ended")}
    checks.check(f"billing: each of {len(per_subscription)} subscriptions ends canceled with two seats and access ended",
                 len(rows) == len(per_subscription) and not wrong, {"rows": len(rows), "wrong": dict(list(wrong.items())[:5])})

    inbox = psql(admin_url, f"SELECT id::text FROM ingest_gateway.webhook_inbox WHERE source_id = '{source_id}'")
    causes = {canonical_id(inbox_id) for inbox_id, in inbox}
    history = psql(admin_url, f"SELECT cause_event_id, count(*) FROM billing.subscription_history WHERE org_id = '{org}' GROUP BY 1")
    twice = [cause for cause, n in history if n != "1"]
    foreign = [cause for cause, _ in history if cause not in causes]
    checks.check("billing: no canonical event changed a subscription twice, and every change has one of the run's events as its cause",
                 history and not twice and not foreign, {"history": len(history), "twice": twice[:5], "foreign": foreign[:5]})

    # Each subscription's stored revision is how many entitlement changes it published.
    expected_messages = sum(int(row[3] or 0) for row in final.values())
    published = read_topic("tally.billing.entitlements.v1", org, lambda seen: len({e["id"] for e in seen}) >= expected_messages)
    per_revision = {}
    for event in published:
        key = (event["data"]["subscription"]["subscription_id"], event["data"]["revision"])
        per_revision.setdefault(key, {})[event["id"]] = event["data"]["access"]
    doubled = sorted(key for key, ids in per_revision.items() if len(ids) != 1)
    sequences = {}
    for (sub, revision), ids in sorted(per_revision.items()):
        sequences.setdefault(sub, []).append((revision, next(iter(ids.values()))))
    bad = {sub: sequences.get(sub) for sub in per_subscription
           if [revision for revision, _ in sequences.get(sub, [])] != list(range(1, len(sequences.get(sub, [])) + 1))
           or [access for _, access in sequences.get(sub, [])] not in (["granted", "ended"], ["ended"])
           or str(len(sequences.get(sub, []))) != final.get(sub, ("",) * 4)[3]}
    # A subscription whose cancellation reached billing before its creation (the creation's
    # delivery failed during a kill and was retried later, so the normalizer fenced it as older)
    # was never granted: its one change is revision 1, ended.
    checks.check("billing: one entitlement.changed per subscription and revision: granted then ended, or only ended, matching the stored revision",
                 not doubled and not bad, {"doubled": doubled[:5], "bad": dict(list(bad.items())[:3])})

    status, run, _ = call("POST", f"{billing}/admin/orgs/{org}/billing/sync", {}, {"Authorization": f"Bearer {token(org, 'admin', 'crash-test')}"}, timeout=60)
    checks.check(f"billing: a sync afterwards looks at {len(per_subscription)} subscriptions and finds nothing to repair",
                 status == 200 and run.get("items_processed") == len(per_subscription) and run.get("difference_count") == 0
                 and not run.get("errors"), (status, {k: run.get(k) for k in ("items_processed", "difference_count", "errors")}))
    log(f"billing: {len(per_subscription)} subscriptions, {len(history)} history rows, {len(published)} entitlement messages read")


def read_topic(topic, org, done):
    """The org's events on `topic`, read from the beginning of every partition (no group join),
    until `done(events)` holds and the topic is quiet, or it stays quiet for ten seconds."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": BROKERS, "group.id": f"crash-check-{uuid.uuid4()}", "enable.auto.commit": False})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    events, started, idle = [], time.time(), 0
    while time.time() < started + 120:
        batch = [m for m in consumer.consume(num_messages=1000, timeout=1.0) if not m.error()]
        idle = 0 if batch else idle + 1
        events.extend(event for event in (json.loads(m.value()) for m in batch) if event.get("tenant") == org)
        if done(events) and idle >= 2 or idle >= 10:
            break
    consumer.close()
    return events


def read_raw_topic(org, inbox_ids):
    """The org's raw-webhook events until all of `inbox_ids` were seen: raw event id to inbox id."""
    events = read_topic("tally.ingest.raw-webhooks.v1", org, lambda seen: inbox_ids <= {e["data"]["inbox_id"] for e in seen})
    return {event["id"]: event["data"]["inbox_id"] for event in events}


def inbox_count(db_path):
    """How many events a test consumer's inbox holds (0 before it created its tables)."""
    database = sqlite3.connect(db_path)
    try:
        return database.execute("SELECT count(*) FROM inbox").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        database.close()


def wait_until(predicate, seconds, step=0.5):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "consumer"])
    parser.add_argument("--count", type=int, default=int(os.environ.get("TALLY_CRASH_COUNT", "2000")), help="unique webhooks to send")
    parser.add_argument("--rate", type=float, default=float(os.environ.get("TALLY_CRASH_RATE", "200")), help="deliveries per second")
    parser.add_argument("--duplicates", type=float, default=0.10, help="share of deliveries that repeat an earlier id")
    parser.add_argument("--kill-every", type=float, default=1.5, help="mean seconds between kills")
    parser.add_argument("--profile", default=os.environ.get("TALLY_CRASH_PROFILE", "test"), help="which stack (.run/<profile>)")
    parser.add_argument("--service", nargs="*", default=[])
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--db"), parser.add_argument("--group"), parser.add_argument("--org"), parser.add_argument("--fault")
    args = parser.parse_args()
    if args.mode == "consumer":
        run_consumer(args.db, args.group, args.org, args.fault)
        return

    import atexit
    atexit.register(kill_children)
    random.seed(args.seed)
    checks = Checks()
    stack = Stack.load(args.profile)
    urls = {service.name: service.url for service in stack.services()}
    gateway = service_url("ingest-gateway", os.environ.get("TALLY_E2E_GATEWAY_URL") or urls["ingest-gateway"])
    admin_url = os.environ.get("TALLY_DATABASE_ADMIN_URL") or postgres.admin_url(stack.postgres.port)
    org = "org_crash_%d" % int(time.time())
    auth = {"Authorization": f"Bearer {token(org)}"}
    log(f"crash test: {args.count} webhooks + {args.duplicates:.0%} duplicates at {args.rate:.0f}/s, seed {args.seed}, org {org}")

    status, created, _ = call("POST", f"{gateway}/admin/orgs/{org}/sources", {"provider": "stripe", "name": "crash test"}, auth)
    if not checks.check("create the stripe source", status == 201, created):
        checks.finish()
    source_id, secret = created["source"]["id"], created["secret"]

    # Billing joins when the stack runs it: its subscription webhooks go to a second source, so
    # the payment checks above see only payments.
    billing = service_url("billing", urls.get("billing")) if stack.processes.running("billing") else None
    subscription_webhooks, per_subscription, billing_source, billing_secret = {}, {}, None, None
    if billing:
        status, created = call("POST", f"{gateway}/admin/orgs/{org}/sources", {"provider": "stripe", "name": "crash test subscriptions"}, auth)[:2]
        if not checks.check("create the stripe source for subscriptions", status == 201, created):
            checks.finish()
        billing_source, billing_secret = created["source"]["id"], created["secret"]
        subscription_webhooks, per_subscription = subscription_bodies(org, max(10, args.count // 40))

    # Finance's invoices: an order for every tenth payment, through an internal source.
    status, created = call("POST", f"{gateway}/admin/orgs/{org}/sources", {"provider": "internal", "name": "crash test orders"}, auth)[:2]
    if not checks.check("create the internal source for orders", status == 201, created):
        checks.finish()
    order_source, order_secret = created["source"]["id"], created["secret"]

    workdir = tempfile.mkdtemp(prefix="tally-crash-")
    consumer = ConsumerProcess(f"{workdir}/consumer.db", f"crash-consumer-{org}", org)

    # The deliveries: every id once, plus duplicates of ids sent earlier, in a fixed order.
    ids = [f"evt_crash_{org[-10:]}_{n:06d}" for n in range(args.count)]
    routes = {event_id: (source_id, secret, "stripe") for event_id in ids}
    routes.update({event_id: (billing_source, billing_secret, "stripe") for event_id in subscription_webhooks})
    orders = {f"ord_evt_{event_id}": ("ord_" + event_id[-8:], 1000 + n) for n, event_id in enumerate(ids) if n % 10 == 0}
    routes.update({event_id: (order_source, order_secret, "internal") for event_id in orders})
    everything = set(routes)
    deliveries = interleave(interleave(ids, [e for events in per_subscription.values() for e in events]), list(orders))
    for _ in range(int(args.count * args.duplicates)):
        position = random.randrange(1, len(deliveries))
        deliveries.insert(position, random.choice(deliveries[:position]))
    bodies = {event_id: stripe_body(event_id, 1000 + n) for n, event_id in enumerate(ids)}
    bodies.update(subscription_webhooks)
    bodies.update({event_id: order_body(event_id, order_id, amount) for event_id, (order_id, amount) in orders.items()})

    acknowledged, pending_retry = set(), []
    state = {"sent": 0, "non2xx": 0, "errors": 0, "done": False, "answers": {}}
    lock = threading.Lock()

    def deliver(event_id):
        body = bodies[event_id]
        source, key, provider = routes[event_id]
        try:
            status, _, _ = call("POST", f"{gateway}/webhooks/{source}", raw=body, headers=sign(provider, body, key, event_id if provider == "internal" else None),
                                timeout=10)
        except Exception:  # connection refused or reset while the gateway is down
            status = 0
        with lock:
            state["sent"] += 1
            state["answers"][status] = state["answers"].get(status, 0) + 1
            if 200 <= status < 300:
                acknowledged.add(event_id)
            else:
                state["non2xx" if status else "errors"] += 1
                pending_retry.append((time.time() + random.uniform(0.5, 1.5), event_id))

    def sender():
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=32) as pool:
            start = time.time()
            for n, event_id in enumerate(deliveries):
                delay = start + n / args.rate - time.time()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(deliver, event_id)
                if notify and n == len(deliveries) // 2:
                    publish(notify_events[half:])
            # Retries, as a provider does, until every id has been acknowledged once.
            deadline, report = time.time() + 600, time.time() + 5
            while time.time() < deadline:
                if time.time() > report:
                    report = time.time() + 5
                    with lock:
                        log(f"{len(acknowledged)}/{len(everything)} acknowledged, {len(pending_retry)} awaiting retry, answers so far: {dict(state['answers'])}")
                with lock:
                    now = time.time()  # one instant, so no retry falls between "due" and "later"
                    due = [e for t, e in pending_retry if t <= now]
                    pending_retry[:] = [(t, e) for t, e in pending_retry if t > now]
                    remaining = everything - acknowledged
                for event_id in due:
                    pool.submit(deliver, event_id)
                if not remaining and not pending_retry:
                    break
                time.sleep(0.1)
        state["done"] = True

    kills = {"ingest-gateway": 0, "normalizer": 0, "finance": 0, "postgres": 0, "test consumer": 0}
    # Notifications joins when the stack runs it with its SMTP sinks: requests go out during the
    # run (the first half at the start, the rest once half the webhooks were sent).
    notify = bool(stack.processes.running("notifications")) and all(
        stack.sidecars.running(name) for name in ("smtp-sink", "smtp-fallback-sink"))
    notify_keys, notify_events = notification_requests(org, max(20, args.count // 20)) if notify else ([], [])
    if billing:
        kills["billing"] = 0
    if notify:
        kills["notifications"] = 0
        publisher = RequestPublisher(BROKERS)
        half = len(notify_events) // 2

        def publish(events):
            for event in events:
                publisher.publish(event)
            remaining, errors = publisher.flush()
            checks.check(f"notifications: {len(events)} request events published", remaining == 0 and not errors, errors[:3])
        publish(notify_events[:half])

    def killer():
        targets = list(kills)
        while not state["done"] or min(kills.values()) == 0:
            random.shuffle(targets)
            for target in targets:
                time.sleep(random.uniform(0.5, 1.5) * args.kill_every)
                if state["done"] and min(kills.values()) > 0:
                    return
                log(f"kill -9 {target}" if target != "postgres" else "postgres: immediate shutdown")
                if target == "postgres":
                    stack.postgres.stop_immediately()
                    time.sleep(random.uniform(0.2, 1.0))
                    stack.postgres.start_again()
                elif target == "test consumer":
                    consumer.kill()
                    time.sleep(random.uniform(0.1, 0.5))
                    consumer.start()
                else:
                    launch = stack.processes.kill(target)
                    time.sleep(random.uniform(0.2, 1.0))
                    if not stack.processes.relaunch(target, launch):
                        # Nothing would ever acknowledge the rest: fail now instead of waiting
                        # for a run that cannot finish.
                        log(f"FAIL {target} did not become healthy after restart; see its log")
                        os._exit(1)
                kills[target] += 1

    threads = [threading.Thread(target=sender), threading.Thread(target=killer)]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log(f"sending done in {time.time() - started:.1f}s: {state['sent']} requests, {len(acknowledged)} ids acknowledged, "
        f"{state['non2xx']} non-2xx answers and {state['errors']} connection errors retried; kills: {kills}")
    checks.check("every target was killed at least once", all(n > 0 for n in kills.values()), kills)
    checks.check("every id was eventually acknowledged", acknowledged == everything, len(everything - acknowledged))
    payments_acknowledged = acknowledged & set(ids)

    # Drain: the inbox settles and the test consumer catches up.
    settled = wait_until(lambda: psql(admin_url, f"SELECT count(*) FROM ingest_gateway.webhook_inbox WHERE source_id IN ('{source_id}', '{billing_source}', '{order_source}') "
                                                 "AND status IN ('pending', 'published')")[0][0] == "0", 180)
    log(f"inbox settled: {settled}")

    def consumer_count():
        consumer.ensure_running()
        return inbox_count(f"{workdir}/consumer.db")
    wait_until(lambda: consumer_count() >= len(ids), 180)
    finance = service_url("finance", urls["finance"])
    wait_until(lambda: int(psql(admin_url, f"SELECT count(*) FROM finance.ledger_transactions WHERE org_id = '{org}'")[0][0]) >= len(ids), 180)
    paid = f"SELECT count(*) FROM finance.invoices WHERE org_id = '{org}' AND status = 'paid'"
    wait_until(lambda: int(psql(admin_url, paid)[0][0]) >= len(orders), 180)
    if billing:
        ended = f"SELECT count(*) FROM billing.subscriptions WHERE org_id = '{org}' AND status = 'canceled' AND projection->>'quantity' = '2'"
        wait_until(lambda: int(psql(admin_url, ended)[0][0]) >= len(per_subscription), 180)
    if notify:
        final = f"SELECT count(*) FROM notifications.deliveries WHERE org_id = '{org}' AND status IN ('sent', 'dead', 'undeliverable')"
        wait_until(lambda: int(psql(admin_url, final)[0][0]) >= len(notify_keys), 180)
    time.sleep(2)  # let any redelivery after the last kill arrive before counting
    consumer.kill()
    check_run(checks, "crash run", admin_url, source_id, org, payments_acknowledged, f"{workdir}/consumer.db", finance=finance)
    check_invoices(checks, admin_url, org, [order_id for order_id, _ in orders.values()])
    if billing:
        check_billing(checks, admin_url, org, billing_source, per_subscription, billing)
    if notify:
        sinks = {sidecar.name: sidecar.data for sidecar in sidecars.catalog(stack.profile)}
        check_notifications(checks, admin_url, org, notify_keys, [sinks["smtp-sink"], sinks["smtp-fallback-sink"]])

    # Negative control: the same checker over a consumer that stores its offset before applying.
    faulty = ConsumerProcess(f"{workdir}/faulty.db", f"crash-faulty-{org}", org, fault="offset-before-apply")
    wait_until(lambda: faulty.process.poll() is not None, 60)
    faulty.start()  # it restarts after its crash and goes on from the committed offset

    def faulty_count():
        return inbox_count(f"{workdir}/faulty.db")
    last = [-1]

    def settled():
        count, previous = faulty_count(), last[0]
        last[0] = count
        return count > 0 and count == previous
    wait_until(settled, 90, step=3)
    faulty.kill()
    log(f"negative control: the faulty consumer applied {faulty_count()} of {len(ids)} before settling")
    clean = check_run(checks, "negative control", admin_url, source_id, org, payments_acknowledged, f"{workdir}/faulty.db", expect_clean=False)
    checks.check("negative control: the faulty consumer ran, and the checker reports its loss", faulty_count() > 0 and not clean, faulty_count())
    checks.finish()


if __name__ == "__main__":
    main()
