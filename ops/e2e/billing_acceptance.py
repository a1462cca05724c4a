"""End-to-end acceptance of billing on a running stack (real gateway, normalizer, broker, billing,
notifications and the stack's SMTP sinks).

Signed Stripe and Paddle webhooks go in at the gateway for a fresh org; the normalizer turns them
into canonical subscription and invoice events that billing consumes. Every expected value is
computed here from what was sent, never read back. Checked:

- the plan catalog (201 for a new version, 200 for an unchanged one) and price mappings (404 for
  an unknown plan, 403 for a viewer);
- a Stripe subscription on a mapped price: created (sent twice under one event id: stored once by
  the gateway), a quantity change (sent again under a new event id with the same provider time:
  applied once), a provider pause and resume, and a late past-due update older than both (the
  normalizer's fence supersedes it): active on its plan, its history exactly the applied facts;
- a Paddle subscription on a price with no mapping: activated (twice, one event id), changed,
  past due, a late pause (superseded); `GET …/subscriptions/unmapped` lists its price,
  `PUT …/price-mappings` maps it (the subscription gets the plan and its limits), then canceled;
- a plan correction (`POST …/plan`), audited with its actor;
- an operator's pause and resume with reason codes: 409 for pausing twice and for resuming an
  active subscription, 403 for a viewer; `GET …/billing/status` shows the pause, then the resume;
- `invoice.payment_failed` for the Stripe subscription posted three times (one event id twice,
  then a new event id for the same invoice): one notification request with the dedupe key
  `invoice:{invoice}:dunning:payment_failed` on tally.notifications.requests.v1, and one
  `dunning.payment_failed` email in the SMTP sinks' Maildirs for the customer, whose contact a
  signed `customer.created` gave notifications;
- the overdue steps on billing's controlled clock (TALLY_BILLING_CLOCK_OFFSET_FILE): 3 days on,
  the reminder; 8 days on, the block (`GET …/dunning` blocked, next action final_notice, the
  entitlement blocked by `dunning`, a `dunning.access_blocked` email); a signed `invoice.paid`
  then lifts it at once and the account leaves `GET …/dunning`;
- the audit log of every change (plan.revise, price_mapping.set, subscription.plan,
  subscription.pause, subscription.resume, dunning_policy.set, job.run) with its actor, and none
  for the refused ones;
- `tally.entitlement.changed.v1` on tally.billing.entitlements.v1 for each subscription:
  revisions 1..n without gaps or duplicates, each with the expected access, previous access,
  plan, limits, blocks and cause, and the last one what the API shows.

- the engagement cadence: 8 days after activation, one `engagement.day_7` message;
- usage: signed internal `usage.recorded` webhooks (one resent under a new event id with the same
  transaction id) counted once each in `GET …/billing/usage/report`, with the plan's limit and
  the overage flag; a counter changed by hand shows `drift_detected` with both numbers;
- billing sync: a projection changed by hand (the seed runbook's raw SQL) is reported and
  repaired by `POST …/billing/sync`, a second run finds nothing, and `GET …/sync-runs` lists both.

The clock offset file is found in billing's own environment (the stack's pid files name the
process); it is set to 0 at the start and at the end. Prints `e2e: N passed, M failed`.
"""
import collections
import datetime
import json
import os
import pathlib
import sys
import time
import urllib.parse
import uuid

SUPPORT = pathlib.Path(__file__).resolve().parent / "support"
sys.path.insert(0, str(SUPPORT))
from tally_e2e import GATEWAY, Checks, call, canonical_id, consume, fixture, service_url, sign, token  # noqa: E402
from notify_e2e import REQUESTED_TYPE, REQUESTS_TOPIC, derived_delivery_id, for_delivery, read_maildir  # noqa: E402
from service_control import RunningService  # noqa: E402
from tallystack.messages import StackError  # noqa: E402

BILLING = service_url("billing")
NOTIFY = service_url("notifications")
STARTED = time.time()
RUN = "%d%03d" % (int(STARTED), int(STARTED * 1000) % 1000)
ORG = f"org_billing_{RUN}"
ENTITLEMENTS_TOPIC = "tally.billing.entitlements.v1"
ENTITLEMENT_TYPE = "tally.entitlement.changed.v1"
DAY = 86400
# The people: an admin who keeps the catalog and corrects plans, a finance person who pauses and
# resumes, an owner who runs the dunning job.
ADMIN, FINANCE, OWNER = f"ada.admin.{RUN}", f"fiona.finance.{RUN}", f"olga.owner.{RUN}"
PLANS = {
    "pro": {"name": "Pro", "interval": {"unit": "month", "count": 1}, "prices": {"USD": 4900}, "limits": {"projects": 10, "seats": 5}},
    "team": {"name": "Team", "interval": {"unit": "month", "count": 1}, "prices": {"USD": 9900}, "limits": {"projects": 100, "seats": 20}},
}
# Stripe: the plan is the price's lookup key when it has one (StripeMapping.state).
STRIPE_PRICE, STRIPE_LOOKUP = f"price_billing{RUN}", "pro_monthly"
PADDLE_PRICE = f"pri_billing{RUN}"
STRIPE_SUB, PADDLE_SUB = f"sub_billing{RUN}", f"sub_billing_paddle_{RUN}"
CUSTOMER, PADDLE_CUSTOMER = f"cus_billing{RUN}", f"ctm_billing{RUN}"
EMAIL, NAME = f"billing.customer.{RUN}@example.com", f"Bea Billing {RUN}"
INVOICE, INVOICE_NUMBER = f"in_billing{RUN}", f"BILL-{RUN}"
# The provider times of the subscription events: whole seconds, from 15 minutes ago, 10 s apart.
BASE = int(STARTED) - 900

checks = Checks()
check = checks.check
# How long one wait may take: 30 s, and 8 s once a wait has timed out, so a stack that does not
# answer fails quickly rather than waiting out every step.
patience = {"seconds": 30}
# What the entitlement events of each subscription must be, in revision order: appended as each
# action that changes the entitlement is taken.
EXPECTED = {STRIPE_SUB: [], PADDLE_SUB: []}
# Where things are on the stack (found in main).
STACK = {"clock": None, "sinks": [], "pay_url": "http://localhost:8080/pay/{invoice_id}"}


def log(message):
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------

def bearer(role, subject="e2e", org=ORG):
    return {"Authorization": f"Bearer {token(org, role, subject)}"}


def api(method, path, body=None, role="viewer", subject="e2e"):
    """A billing admin call for ORG: (status, JSON body)."""
    status, answer, _ = call(method, f"{BILLING}/admin/orgs/{ORG}/{path}", body, bearer(role, subject))
    return status, answer


def problem(answer):
    """The problem type's name (`subscription-already-paused`), or "" for anything else."""
    kind = answer.get("type", "") if isinstance(answer, dict) else ""
    return kind.rsplit("/", 1)[-1] if kind.startswith("https://tally.dev/problems/") else ""


def field_of(answer):
    return ((answer or {}).get("extensions") or {}).get("field") if isinstance(answer, dict) else None


def alive(url):
    try:
        status, _, _ = call("GET", url + "/healthz", timeout=3)
        return status == 200
    except OSError:
        return False


def rfc3339(seconds, fraction=".000"):
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def epoch(text):
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def day_of(seconds):
    return rfc3339(seconds)[:10]


def at(step):
    return BASE + 10 * step


def wait(fetch, done, seconds=None):
    """Polls `fetch()` until `done(value)` holds or the patience runs out; returns the last value."""
    deadline = time.time() + (seconds or patience["seconds"])
    while True:
        value = fetch()
        if done(value):
            return value
        if time.time() > deadline:
            patience["seconds"] = 8
            return value
        time.sleep(0.3)


# --------------------------------------------------------------------------------------------
# Provider webhooks (the samples in contracts/providers/ with this run's ids and times)
# --------------------------------------------------------------------------------------------

sources = {}


def create_sources():
    for provider in ("stripe", "paddle", "internal"):
        status, answer, _ = call("POST", f"{GATEWAY}/admin/orgs/{ORG}/sources", {"provider": provider, "name": f"billing e2e {provider}"},
                                 bearer("admin"))
        if check(f"create a {provider} source at the gateway", status == 201, (status, answer)):
            sources[provider] = {"id": answer["source"]["id"], "secret": answer["secret"]}
    return len(sources) == 3


def post(provider, body, name, duplicate=False):
    """Posts one signed webhook; returns its inbox id."""
    source = sources[provider]
    status, answer, _ = call("POST", f"{GATEWAY}/webhooks/{source['id']}", raw=body, headers=sign(provider, body, source["secret"]))
    check(f"{name}: the gateway accepts it" + (" as a duplicate" if duplicate else ""),
          status == 200 and answer.get("duplicate") is duplicate, (status, answer))
    return answer.get("inbox_id")


def normalized(inbox_id):
    """Waits until the normalizer reported an outcome for the webhook; returns its inbox status."""
    if not inbox_id:
        return None

    def fetch():
        status, entry, _ = call("GET", f"{GATEWAY}/admin/orgs/{ORG}/inbox/{inbox_id}", headers=bearer("admin"))
        return entry.get("status") if status == 200 else None
    return wait(fetch, lambda s: s in ("processed", "ignored", "superseded", "failed"))


def send(provider, body, name, outcome="processed"):
    """Posts a webhook and waits for the normalizer's outcome, checked; returns the inbox id."""
    inbox_id = post(provider, body, name)
    got = normalized(inbox_id)
    check(f"{name}: the normalizer's outcome is {outcome}", got == outcome, got)
    return inbox_id


def event_id(name):
    return f"evt_billing_{name}_{RUN}"


def stripe_subscription(sample, name, created, quantity, status, previous=None):
    """The Stripe sample `sample` for the Stripe subscription of this run, created at `created`."""
    event = json.loads(fixture(f"stripe/{sample}.json"))
    event.update(id=event_id(name), created=created)
    subscription = event["data"]["object"]
    subscription.update(id=STRIPE_SUB, customer=CUSTOMER, status=status, current_period_start=BASE, current_period_end=BASE + 30 * DAY)
    item = subscription["items"]["data"][0]
    item["quantity"] = quantity
    item["price"] = dict(item["price"], id=STRIPE_PRICE, lookup_key=STRIPE_LOOKUP)
    if previous is not None:
        event["data"]["previous_attributes"] = previous
    return json.dumps(event).encode()


def paddle_subscription(sample, name, occurred, quantity, status):
    """The Paddle sample `sample` for the Paddle subscription of this run, occurred at `occurred`."""
    event = json.loads(fixture(f"paddle/{sample}.json"))
    event.update(event_id=event_id(name), occurred_at=rfc3339(occurred, ".000000"), notification_id=f"ntf_billing_{name}_{RUN}")
    data = event["data"]
    data.update(id=PADDLE_SUB, customer_id=PADDLE_CUSTOMER, status=status, updated_at=rfc3339(occurred, ".000000"),
                current_billing_period={"starts_at": rfc3339(BASE, ".000000"), "ends_at": rfc3339(BASE + 30 * DAY, ".000000")})
    item = dict(data["items"][0], quantity=quantity)
    item["price"] = dict(item["price"], id=PADDLE_PRICE)
    data["items"] = [item]
    if status == "canceled":
        data["canceled_at"] = rfc3339(occurred, ".000000")
    return json.dumps(event).encode()


def stripe_customer():
    event = json.loads(fixture("stripe/customer.created.json"))
    now = int(time.time())
    event.update(id=event_id("customer"), created=now)
    event["data"]["object"].update(id=CUSTOMER, email=EMAIL, name=NAME, phone=None, preferred_locales=["en"], created=now)
    return json.dumps(event).encode()


def stripe_invoice(sample, name, created, **changes):
    event = json.loads(fixture(f"stripe/{sample}.json"))
    event.update(id=event_id(name), created=created)
    event["data"]["object"].update(id=INVOICE, number=INVOICE_NUMBER, customer=CUSTOMER, subscription=STRIPE_SUB, amount_due=4900,
                                   currency="usd", **changes)
    return json.dumps(event).encode()


# --------------------------------------------------------------------------------------------
# Billing's state
# --------------------------------------------------------------------------------------------

def status_of(subscription_id):
    """The billing status row of a provider subscription id (or billing's id), or None."""
    status, answer = api("GET", "billing/status?subscription_id=" + urllib.parse.quote(subscription_id))
    rows = answer.get("subscriptions", []) if status == 200 else []
    return rows[0] if rows else None


def detail(billing_id):
    if not billing_id:
        return None
    status, answer = api("GET", f"subscriptions/{billing_id}")
    return answer if status == 200 else None


def history(billing_id):
    """[(kind, cause event id, actor)] of the subscription's history, in order."""
    found = detail(billing_id) or {}
    return [pick(h, "kind", "cause_event_id", "actor") for h in found.get("history", [])]


def pick(row, *names):
    """The values of `names` in `row` (None for a missing row or field), as a tuple."""
    return tuple((row or {}).get(name) for name in names)


def blocks(row):
    return [pick(b, "kind", "reason", "source") for b in (row or {}).get("blocks", [])]


def same_id(a, b):
    return bool(a) and bool(b) and str(a).lower() == str(b).lower()


def expect(subscription, access, previous, plan, blocked, cause):
    """One more entitlement event the subscription must publish."""
    limits = PLANS[plan]["limits"] if plan else {}
    EXPECTED[subscription].append((access, previous, plan, 1 if plan else None, limits, blocked, cause))


# --------------------------------------------------------------------------------------------
# The scenarios
# --------------------------------------------------------------------------------------------

def scenario_catalog():
    for code, body in PLANS.items():
        status, plan = api("PUT", f"plans/{code}", body, role="admin", subject=ADMIN)
        check(f"PUT plans/{code}: 201, version 1 with its prices and limits",
              status == 201 and pick(plan, "code", "version", "prices", "limits") == (code, 1, body["prices"], body["limits"]),
              (status, plan))
    status, plan = api("PUT", "plans/pro", PLANS["pro"], role="admin", subject=ADMIN)
    check("PUT plans/pro unchanged: 200 with version 1 (no new version)", status == 200 and plan.get("version") == 1, (status, plan))
    status, answer = api("PUT", "plans/pro", dict(PLANS["pro"], name="Pro by a viewer"), role="viewer")
    check("PUT plans/pro as a viewer is 403", status == 403, (status, answer))
    status, versions = api("GET", "plans/pro")
    check("GET plans/pro lists its one version", status == 200 and [p.get("version") for p in versions.get("plans", [])] == [1], (status, versions))
    status, answer = api("GET", f"plans/nosuch{RUN}")
    check("GET plans/{unknown code} is 404", status == 404, (status, answer))
    status, listed = api("GET", "plans")
    check("GET plans lists pro and team at version 1",
          status == 200 and sorted(pick(p, "code", "version") for p in listed.get("plans", [])) == [("pro", 1), ("team", 1)], (status, listed))
    status, answer = api("PUT", "price-mappings", {"provider": "stripe", "provider_plan": STRIPE_LOOKUP, "plan_code": "pro"}, role="admin", subject=ADMIN)
    check(f"PUT price-mappings stripe {STRIPE_LOOKUP} -> pro: 200, no subscription waiting on it yet",
          status == 200 and (answer.get("mapping") or {}).get("plan_code") == "pro" and answer.get("subscriptions_mapped") == 0, (status, answer))
    status, policy = api("GET", "dunning/policy")
    standard = [{"action": "notice", "day": 0}, {"action": "reminder", "day": 3}, {"action": "block", "day": 7}, {"action": "final_notice", "day": 14}]
    check("GET dunning/policy: the standard policy (notice 0, reminder 3, block 7, final notice 14)",
          status == 200 and policy.get("steps") == standard, (status, policy))
    status, answer = api("PUT", "dunning/policy", {"notice": 2}, role="admin", subject=ADMIN)
    check("PUT dunning/policy with a notice after day 0 is 400 naming the step", status == 400 and field_of(answer) == "notice", (status, answer))
    status, policy = api("PUT", "dunning/policy", {step["action"]: step["day"] for step in standard}, role="admin", subject=ADMIN)
    check("PUT dunning/policy (the standard steps) is 200", status == 200 and policy.get("steps") == standard, (status, policy))


def scenario_stripe(facts):
    """The Stripe subscription: repeats, a late update, a provider pause and resume."""
    body = stripe_subscription("customer.subscription.created", "s_created", at(1), 3, "active")
    created = send("stripe", body, "stripe subscription created")
    again = post("stripe", body, "stripe subscription created, the same event id again", duplicate=True)
    check("the gateway answers the first delivery's inbox id for the repeat", again and again == created, (again, created))
    expect(STRIPE_SUB, "granted", None, "pro", [], "provider.activated")
    row = wait(lambda: status_of(STRIPE_SUB), lambda r: r is not None and r.get("access") == "granted")
    if not check("stripe subscription: active on pro, access granted, for the customer",
                 row and pick(row, "status", "plan_code", "access", "customer_ref") == ("active", "pro", "granted", CUSTOMER), row):
        return False
    facts["stripe_id"] = row["id"]
    found = detail(row["id"]) or {}
    plan = (found.get("subscription") or {}).get("plan") or {}
    check(f"stripe subscription: provider_plan is the price's lookup key ({STRIPE_LOOKUP}), the plan pro v1 from the mapping, the plan's limits",
          pick(found, "provider_plan", "unmapped") == (STRIPE_LOOKUP, False) and pick(plan, "code", "version", "source") == ("pro", 1, "mapping")
          and (found.get("entitlement") or {}).get("limits") == PLANS["pro"]["limits"],
          {"plan": plan, **{k: found.get(k) for k in ("provider_plan", "unmapped", "entitlement")}})

    changed_body = stripe_subscription("customer.subscription.updated", "s_changed", at(2), 5, "active")
    changed = send("stripe", changed_body, "stripe quantity 3 -> 5")
    row = wait(lambda: detail(facts["stripe_id"]), lambda d: d is not None and (d.get("subscription") or {}).get("quantity") == 5)
    check("stripe subscription: quantity 5 applied, still active on pro", row and pick(row["subscription"], "quantity", "status") == (5, "active"),
          row and row.get("subscription"))
    repeat = json.loads(changed_body)
    repeat["id"] = event_id("s_changed_repeat")
    send("stripe", json.dumps(repeat).encode(), "stripe quantity change again under a new event id, same provider time")

    paused = send("stripe", stripe_subscription("customer.subscription.paused", "s_paused", at(4), 5, "paused"), "stripe subscription paused")
    expect(STRIPE_SUB, "blocked", "granted", "pro", [("paused", "provider_pause", "stripe")], "provider.paused")
    row = wait(lambda: status_of(STRIPE_SUB), lambda r: r is not None and r.get("status") == "paused")
    check("stripe pause: paused by stripe at its provider time, access blocked (paused)",
          row and row.get("status") == "paused" and row.get("pause_source") == "stripe" and epoch(row.get("paused_at")) == at(4)
          and row.get("access") == "blocked" and blocks(row) == [("paused", "provider_pause", "stripe")], row)

    resumed = send("stripe", stripe_subscription("customer.subscription.resumed", "s_resumed", at(5), 5, "active"), "stripe subscription resumed")
    expect(STRIPE_SUB, "granted", "blocked", "pro", [], "provider.resumed")
    row = wait(lambda: status_of(STRIPE_SUB), lambda r: r is not None and r.get("status") == "active")
    check("stripe resume: active again, resumed by stripe at its provider time, access granted",
          row and row.get("status") == "active" and row.get("pause_reason_code") is None and row.get("resume_reason_code") == "provider_resume"
          and epoch(row.get("resumed_at")) == at(5) and row.get("access") == "granted" and blocks(row) == [], row)

    late = stripe_subscription("customer.subscription.updated", "s_late_past_due", at(3), 5, "past_due", previous={"status": "active"})
    send("stripe", late, "a late stripe past_due update (older than the pause and the resume)", outcome="superseded")
    row = status_of(STRIPE_SUB)
    check("stripe subscription after the late update: still active on pro, granted",
          row and pick(row, "status", "plan_code", "access") == ("active", "pro", "granted"), row)
    facts["stripe_history"] = [("provider.activated", canonical_id(created), None), ("provider.changed", canonical_id(changed), None),
                               ("provider.paused", canonical_id(paused), None), ("provider.resumed", canonical_id(resumed), None)]
    check("stripe history: exactly the four applied facts, each caused by its first delivery (the repeats and the late one left none)",
          history(facts["stripe_id"]) == facts["stripe_history"], {"got": history(facts["stripe_id"]), "expected": facts["stripe_history"]})
    return True


def scenario_paddle(facts):
    """The Paddle subscription on an unmapped price: repeats, a late pause, then the mapping."""
    body = paddle_subscription("subscription.activated", "p_activated", at(1), 2, "active")
    activated = send("paddle", body, "paddle subscription activated (price without a mapping)")
    post("paddle", body, "paddle subscription activated, the same event id again", duplicate=True)
    expect(PADDLE_SUB, "granted", None, None, [], "provider.activated")
    row = wait(lambda: status_of(PADDLE_SUB), lambda r: r is not None)
    if not check("paddle subscription: active without a plan, access granted",
                 row and pick(row, "status", "plan_code", "access", "customer_ref") == ("active", None, "granted", PADDLE_CUSTOMER), row):
        return False
    facts["paddle_id"] = row["id"]
    changed = send("paddle", paddle_subscription("subscription.updated", "p_changed", at(2), 3, "active"), "paddle quantity 2 -> 3")
    past_due = send("paddle", paddle_subscription("subscription.past_due", "p_past_due", at(4), 3, "past_due"), "paddle subscription past due")
    row = wait(lambda: status_of(PADDLE_SUB), lambda r: r is not None and r.get("status") == "past_due")
    check("paddle past due: status past_due, access still granted (dunning decides when to block)",
          row and pick(row, "status", "access") == ("past_due", "granted"), row)
    send("paddle", paddle_subscription("subscription.paused", "p_late_paused", at(3), 3, "paused"), "a late paddle pause (older than past due)",
         outcome="superseded")
    found = detail(facts["paddle_id"]) or {}
    check("paddle subscription after the late pause: past due, quantity 3, unmapped, provider_plan the Paddle price id",
          (found.get("subscription") or {}).get("status") == "past_due" and (found.get("subscription") or {}).get("quantity") == 3
          and found.get("unmapped") is True and found.get("provider_plan") == PADDLE_PRICE, found.get("subscription"))

    # The unmapped price, and its mapping.
    status, unmapped = api("GET", "subscriptions/unmapped")
    entries = [pick(u, "provider", "provider_plan", "subscriptions") for u in unmapped.get("unmapped", [])] if status == 200 else None
    check(f"GET subscriptions/unmapped lists exactly paddle {PADDLE_PRICE} with one subscription", entries == [("paddle", PADDLE_PRICE, 1)],
          (status, unmapped))
    status, listed = api("GET", "subscriptions?unmapped=true")
    check("GET subscriptions?unmapped=true lists only the paddle subscription",
          status == 200 and [s.get("subscription_id") for s in listed.get("subscriptions", [])] == [PADDLE_SUB], (status, listed))
    mapping = {"provider": "paddle", "provider_plan": PADDLE_PRICE, "plan_code": "team"}
    status, answer = api("PUT", "price-mappings", dict(mapping, plan_code=f"nosuch{RUN}"), role="admin", subject=ADMIN)
    check("PUT price-mappings to a plan not in the catalog is 404 not-found naming the plan",
          status == 404 and problem(answer) == "not-found" and f"nosuch{RUN}" in answer.get("detail", ""), (status, answer))
    status, answer = api("PUT", "price-mappings", mapping, role="viewer")
    check("PUT price-mappings as a viewer is 403", status == 403, (status, answer))
    status, answer = api("PUT", "price-mappings", mapping, role="admin", subject=ADMIN)
    check(f"PUT price-mappings paddle {PADDLE_PRICE} -> team: 200, one subscription mapped, by the admin",
          status == 200 and answer.get("subscriptions_mapped") == 1 and (answer.get("mapping") or {}).get("plan_code") == "team"
          and (answer.get("mapping") or {}).get("updated_by") == ADMIN, (status, answer))
    expect(PADDLE_SUB, "granted", "granted", "team", [], "mapping")
    found = detail(facts["paddle_id"]) or {}
    plan = (found.get("subscription") or {}).get("plan") or {}
    check("the paddle subscription has team v1 from the mapping and the plan's limits",
          found.get("unmapped") is False and pick(plan, "code", "version", "source") == ("team", 1, "mapping")
          and (found.get("entitlement") or {}).get("limits") == PLANS["team"]["limits"], {"plan": plan, "entitlement": found.get("entitlement")})
    status, unmapped = api("GET", "subscriptions/unmapped")
    check("GET subscriptions/unmapped is empty after the mapping", status == 200 and unmapped.get("unmapped") == [], (status, unmapped))
    status, mappings = api("GET", "price-mappings")
    check("GET price-mappings lists both mappings",
          status == 200 and sorted(pick(m, "provider", "provider_plan", "plan_code") for m in mappings.get("mappings", []))
          == [("paddle", PADDLE_PRICE, "team"), ("stripe", STRIPE_LOOKUP, "pro")], (status, mappings))

    canceled = send("paddle", paddle_subscription("subscription.canceled", "p_canceled", at(6), 3, "canceled"), "paddle subscription canceled")
    expect(PADDLE_SUB, "ended", "granted", "team", [("canceled", "canceled", "paddle")], "provider.canceled")
    row = wait(lambda: status_of(PADDLE_SUB), lambda r: r is not None and r.get("status") == "canceled")
    check("paddle subscription ends canceled at its provider time, on team, access ended",
          row and pick(row, "status", "plan_code", "access") == ("canceled", "team", "ended") and epoch(row.get("canceled_at")) == at(6), row)
    expected = [("provider.activated", canonical_id(activated), None), ("provider.changed", canonical_id(changed), None),
                ("provider.past_due", canonical_id(past_due), None), ("mapping", None, ADMIN), ("provider.canceled", canonical_id(canceled), None)]
    check("paddle history: the applied facts and the mapping (by the admin), nothing from the repeat or the late pause",
          history(facts["paddle_id"]) == expected, {"got": history(facts["paddle_id"]), "expected": expected})
    return True


def scenario_lists(facts):
    status, canceled = api("GET", "subscriptions?status=canceled")
    check("GET subscriptions?status=canceled gives the paddle subscription only",
          status == 200 and [s.get("subscription_id") for s in canceled.get("subscriptions", [])] == [PADDLE_SUB], (status, canceled))
    seen, cursor = [], None
    for _ in range(5):
        status, page = api("GET", "subscriptions?limit=1" + (f"&after={urllib.parse.quote(cursor)}" if cursor else ""))
        if status != 200:
            break
        seen += [s.get("subscription_id") for s in page.get("subscriptions", [])]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    check("GET subscriptions pages of 1 give both subscriptions once", sorted(seen) == sorted([STRIPE_SUB, PADDLE_SUB]), seen)
    status, answer = api("GET", f"subscriptions/{uuid.uuid4()}")
    check("GET subscriptions/{unknown id} is 404", status == 404, (status, answer))
    status, answer = api("GET", "billing/status")
    check("GET billing/status without customer_ref or subscription_id lists every subscription of the org",
          status == 200 and sorted(s.get("subscription_id") for s in answer.get("subscriptions", [])) == sorted([STRIPE_SUB, PADDLE_SUB]), (status, answer))
    status, answer = api("GET", "billing/status?subscription_id=" + facts["stripe_id"])
    check("GET billing/status?subscription_id=<billing's id> finds the stripe subscription",
          status == 200 and [s.get("subscription_id") for s in answer.get("subscriptions", [])] == [STRIPE_SUB], (status, answer))


def scenario_plan_correction(facts):
    sid = facts["stripe_id"]
    reason = f"upgraded by phone {RUN}"
    status, answer = api("POST", f"subscriptions/{sid}/plan", {"plan_code": f"nosuch{RUN}", "reason": reason}, role="admin", subject=ADMIN)
    check("POST …/plan to a plan not in the catalog is 404 not-found", status == 404 and problem(answer) == "not-found", (status, answer))
    status, answer = api("POST", f"subscriptions/{sid}/plan", {"plan_code": "team", "reason": reason}, role="viewer")
    check("POST …/plan as a viewer is 403", status == 403, (status, answer))
    status, answer = api("POST", f"subscriptions/{sid}/plan", {"plan_code": "team", "reason": reason}, role="admin", subject=ADMIN)
    expect(STRIPE_SUB, "granted", "granted", "team", [], "operator.plan")
    check("POST …/plan team: 200, the stripe subscription on team, still active and granted",
          status == 200 and pick(answer, "plan_code", "status", "access") == ("team", "active", "granted"), (status, answer))
    plan = ((detail(sid) or {}).get("subscription") or {}).get("plan") or {}
    check("the correction is recorded on the plan: team v1, source operator, the reason and the admin",
          pick(plan, "code", "version", "source", "reason", "actor") == ("team", 1, "operator", reason, ADMIN)
          and plan.get("corrected_at"), plan)
    facts["stripe_history"].append(("operator.plan", None, ADMIN))
    facts["plan_reason"] = reason


def scenario_pause_resume(facts):
    sid = facts["stripe_id"]
    status, answer = api("POST", f"subscriptions/{sid}/pause", {"reason_code": "customer_request"}, role="viewer")
    check("pause as a viewer is 403", status == 403, (status, answer))
    status, answer = api("POST", f"subscriptions/{sid}/pause", {"reason_code": "Customer Request!"}, role="finance", subject=FINANCE)
    check("pause with a reason code outside a-z0-9_.- is 400 naming reason_code", status == 400 and field_of(answer) == "reason_code", (status, answer))
    status, answer = api("POST", f"subscriptions/{uuid.uuid4()}/pause", {"reason_code": "customer_request"}, role="finance", subject=FINANCE)
    check("pause of an unknown subscription is 404", status == 404, (status, answer))
    status, answer = api("POST", f"subscriptions/{sid}/resume", {"reason_code": "payment_plan_agreed"}, role="finance", subject=FINANCE)
    check("resume of an active subscription is 409 subscription-not-paused", status == 409 and problem(answer) == "subscription-not-paused", (status, answer))

    before = time.time()
    status, answer = api("POST", f"subscriptions/{sid}/pause", {"reason_code": "customer_request"}, role="finance", subject=FINANCE)
    after = time.time()
    expect(STRIPE_SUB, "blocked", "granted", "team", [("paused", "customer_request", "operator")], "operator.pause")
    check("pause by finance: 200, paused for customer_request by the operator, access blocked (paused), plan kept",
          status == 200 and pick(answer, "status", "pause_reason_code", "pause_source", "access", "plan_code")
          == ("paused", "customer_request", "operator", "blocked", "team") and blocks(answer) == [("paused", "customer_request", "operator")], (status, answer))
    status, again = api("POST", f"subscriptions/{sid}/pause", {"reason_code": "customer_request"}, role="finance", subject=FINANCE)
    check("pausing it again is 409 subscription-already-paused", status == 409 and problem(again) == "subscription-already-paused", (status, again))
    row = status_of(STRIPE_SUB)
    paused_at = epoch((row or {}).get("paused_at"))
    check("GET billing/status shows the pause: paused, customer_request, paused_at the time of the request",
          row and row.get("status") == "paused" and row.get("pause_reason_code") == "customer_request" and paused_at is not None
          and before - 2 <= paused_at <= after + 2, row)
    status, answer = api("POST", f"subscriptions/{sid}/resume", {"reason_code": "payment_plan_agreed"}, role="viewer")
    check("resume as a viewer is 403", status == 403, (status, answer))

    before = time.time()
    status, answer = api("POST", f"subscriptions/{sid}/resume", {"reason_code": "payment_plan_agreed"}, role="finance", subject=FINANCE)
    after = time.time()
    expect(STRIPE_SUB, "granted", "blocked", "team", [], "operator.resume")
    check("resume by finance: 200, active again, access granted",
          status == 200 and pick(answer, "status", "access") == ("active", "granted") and blocks(answer) == [], (status, answer))
    status, again = api("POST", f"subscriptions/{sid}/resume", {"reason_code": "payment_plan_agreed"}, role="finance", subject=FINANCE)
    check("resuming it again is 409 subscription-not-paused", status == 409 and problem(again) == "subscription-not-paused", (status, again))
    row = status_of(STRIPE_SUB)
    resumed_at = epoch((row or {}).get("resumed_at"))
    check("GET billing/status shows the resume: active, payment_plan_agreed, resumed_at the time of the request, the pause gone",
          row and row.get("status") == "active" and row.get("resume_reason_code") == "payment_plan_agreed" and row.get("pause_reason_code") is None
          and resumed_at is not None and before - 2 <= resumed_at <= after + 2, row)
    facts["stripe_history"] += [("operator.pause", None, FINANCE), ("operator.resume", None, FINANCE)]


# --------------------------------------------------------------------------------------------
# Dunning
# --------------------------------------------------------------------------------------------

def contact():
    status, answer, _ = call("GET", f"{NOTIFY}/admin/orgs/{ORG}/contacts/stripe/{CUSTOMER}", headers=bearer("support"))
    return answer if status == 200 else None


def delivery(key):
    status, answer, _ = call("GET", f"{NOTIFY}/admin/orgs/{ORG}/deliveries/{derived_delivery_id(ORG, key)}", headers=bearer("viewer"))
    return answer if status == 200 else None


def all_mail():
    return [mail for sink in STACK["sinks"] for mail in read_maildir(sink)]


def wait_mail(name, key, template):
    """Waits until the delivery of `key` is final at notifications and its message is in a sink;
    checks it reached the customer once, with the invoice's number, amount and pay link."""
    found = wait(lambda: delivery(key), lambda d: d is not None and d.get("status") in ("sent", "dead", "undeliverable"))
    check(f"{name}: notifications sent the {template} delivery by email",
          found and pick(found, "status", "channel", "template_key") == ("sent", "email", template),
          found and {k: found.get(k) for k in ("status", "channel", "template_key", "last_reason", "last_detail")})
    if not STACK["sinks"]:
        return
    delivery_id = derived_delivery_id(ORG, key)
    mails = wait(lambda: for_delivery(all_mail(), delivery_id), lambda found: bool(found), seconds=10)
    pay_url = STACK["pay_url"].replace("{invoice_id}", INVOICE)
    check(f"{name}: one {template} message in the SMTP sinks, to the customer's address",
          len(mails) == 1 and EMAIL in mails[0].to, [(m.message_id, m.to) for m in mails])
    if mails:
        text = mails[0].text or ""
        check(f"{name}: it names the invoice number, USD 49.00, the pay link and greets the customer",
              INVOICE_NUMBER in mails[0].subject and "USD 49.00" in text and pay_url in text and NAME in text,
              {"subject": mails[0].subject, "text": text[:400]})


def dunning_account():
    status, answer = api("GET", "dunning")
    accounts = [a for a in answer.get("accounts", []) if a.get("invoice_id") == INVOICE] if status == 200 else []
    return accounts[0] if accounts else None


def set_clock(seconds):
    path = STACK["clock"]
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f"{int(seconds)}\n")
    os.replace(partial, path)
    log(f"billing's clock offset is now {int(seconds)} s ({seconds / DAY:.2f} days)")


def run_job(runs):
    status, answer = api("POST", "jobs/billing.dunning/run", role="owner", subject=OWNER)
    runs.append(status)
    check("POST jobs/billing.dunning/run as owner: ran (200), or busy (409) while the scheduled run holds the claim",
          (status == 200 and answer.get("outcome") == "ran" and isinstance(answer.get("processed"), int))
          or (status == 409 and answer.get("outcome") == "busy"), (status, answer))


def scenario_payment_failed(facts):
    """The customer's contact, then the invoice's payment failure three times."""
    body = stripe_customer()
    send("stripe", body, "stripe customer.created for the subscription's customer")
    found = wait(contact, lambda c: c is not None)
    check("notifications has the customer's contact (email and name from the webhook)",
          found and pick(found, "email", "name") == (EMAIL, NAME), found)

    failed_at = int(time.time()) - 60
    facts["failed_at"] = failed_at
    first = stripe_invoice("invoice.payment_failed", "i_failed", failed_at, attempt_count=1, next_payment_attempt=failed_at + 3 * DAY, amount_paid=0)
    inbox = send("stripe", first, "invoice.payment_failed")
    again = post("stripe", first, "invoice.payment_failed, the same event id again", duplicate=True)
    check("the gateway answers the first failure's inbox id for the repeat", again and again == inbox, (again, inbox))
    second = stripe_invoice("invoice.payment_failed", "i_failed_again", failed_at + 30, attempt_count=2, next_payment_attempt=failed_at + 4 * DAY,
                            amount_paid=0)
    send("stripe", second, "invoice.payment_failed for the same invoice under a new event id (a later attempt)")
    account = wait(dunning_account, lambda a: a is not None)
    check("GET dunning: the account, its invoice (number, USD 49.00), failed at the first failure's time, day 0, notice done, reminder next at day 3",
          pick(account, "provider", "subscription_id", "customer_ref", "invoice_number", "unpaid_invoices", "amount_due", "days", "step", "next_action",
               "blocked")
          == ("stripe", STRIPE_SUB, CUSTOMER, INVOICE_NUMBER, 1, {"amount_minor": 4900, "currency": "USD"}, 0, "notice", "reminder", False)
          and epoch((account or {}).get("failed_at")) == failed_at and epoch((account or {}).get("next_action_at")) == failed_at + 3 * DAY, account)
    key = f"invoice:{INVOICE}:dunning:payment_failed"
    facts["requests"] = {key: ("dunning.payment_failed", failed_at + 7 * DAY)}
    wait_mail("payment failed", key, "dunning.payment_failed")


def scenario_overdue(facts):
    """The reminder and the block on billing's clock, then the payment."""
    failed_at, runs = facts["failed_at"], facts.setdefault("job_runs", [])
    status, answer = api("POST", "jobs/billing.dunning/run", role="finance", subject=FINANCE)
    check("POST jobs/billing.dunning/run as finance is 403", status == 403, (status, answer))
    status, answer = api("POST", "jobs/billing.nosuch/run", role="owner", subject=OWNER)
    check("POST jobs/billing.nosuch/run is 404", status == 404, (status, answer))

    set_clock(3 * DAY + 3600)
    run_job(runs)
    account = wait(dunning_account, lambda a: a is not None and a.get("step") == "reminder")
    check("3 days on: GET dunning shows day 3, the reminder done, the block next at day 7, not blocked; failed_at still the first failure's",
          pick(account, "days", "step", "next_action", "blocked") == (3, "reminder", "block", False)
          and epoch(account.get("next_action_at")) == failed_at + 7 * DAY and epoch(account.get("failed_at")) == failed_at, account)
    row = status_of(STRIPE_SUB)
    check("3 days on: access is still granted", row and row.get("access") == "granted" and blocks(row) == [], row)
    key = f"dunning:{INVOICE}:reminder"
    facts["requests"][key] = ("dunning.reminder", failed_at + 7 * DAY)
    wait_mail("reminder", key, "dunning.reminder")

    set_clock(8 * DAY + 3600)
    run_job(runs)
    expect(STRIPE_SUB, "blocked", "granted", "team", [("dunning", "invoice_overdue", "dunning")], "dunning.block")
    account = wait(dunning_account, lambda a: a is not None and a.get("blocked") is True)
    check("8 days on: GET dunning shows the account blocked at day 8, the final notice next at day 14",
          pick(account, "days", "step", "next_action", "blocked") == (8, "block", "final_notice", True)
          and epoch(account.get("next_action_at")) == failed_at + 14 * DAY and epoch(account.get("failed_at")) == failed_at, account)
    row = status_of(STRIPE_SUB)
    check("8 days on: GET billing/status shows the billing status active, access blocked by dunning (invoice_overdue)",
          row and pick(row, "status", "access") == ("active", "blocked") and blocks(row) == [("dunning", "invoice_overdue", "dunning")], row)
    key = f"dunning:{INVOICE}:block"
    facts["requests"][key] = ("dunning.access_blocked", failed_at)
    wait_mail("access blocked", key, "dunning.access_blocked")
    facts["stripe_history"].append(("dunning.block", None, None))

    # Eight days after activation the engagement cadence's day-7 message is due, once.
    status, answer = api("POST", "jobs/billing.engagement/run", role="owner", subject=OWNER)
    runs.append(status)
    check("POST jobs/billing.engagement/run as owner: ran (200), or busy (409) while the scheduled run holds the claim",
          (status == 200 and answer.get("outcome") == "ran") or (status == 409 and answer.get("outcome") == "busy"), (status, answer))
    key = f"engagement:stripe:{STRIPE_SUB}:engagement.day_7"
    facts["engagement"] = {key: "engagement.day_7"}
    found = wait(lambda: delivery(key), lambda d: d is not None and d.get("status") in ("sent", "dead", "undeliverable"))
    check("8 days after activation: notifications sent the engagement.day_7 delivery by email",
          found and pick(found, "status", "channel", "template_key") == ("sent", "email", "engagement.day_7"), found)

    paid_at = int(time.time())
    body = stripe_invoice("invoice.paid", "i_paid", paid_at, amount_paid=4900, attempt_count=3, payment_intent=f"pi_billing{RUN}",
                          status="paid", status_transitions={"finalized_at": failed_at - 100, "paid_at": paid_at})
    paid = send("stripe", body, "invoice.paid for the overdue invoice")
    expect(STRIPE_SUB, "granted", "blocked", "team", [], "dunning.lift")
    row = wait(lambda: status_of(STRIPE_SUB), lambda r: r is not None and r.get("access") == "granted")
    check("after invoice.paid: access granted again, no block, still on team",
          row and pick(row, "status", "access", "plan_code") == ("active", "granted", "team") and blocks(row) == [], row)
    status, answer = api("GET", "dunning")
    check("after invoice.paid: GET dunning no longer lists the account", status == 200 and answer.get("accounts") == [], (status, answer))
    facts["stripe_history"].append(("dunning.lift", canonical_id(paid), None))


# --------------------------------------------------------------------------------------------
# Checks over everything
# --------------------------------------------------------------------------------------------

def psql(sql):
    """Rows of a statement through psql with the stack's admin URL, or None when that is not possible."""
    import subprocess
    from tallystack import postgres
    admin = os.environ.get("TALLY_DATABASE_ADMIN_URL")
    if not admin:
        return None
    try:
        result = subprocess.run([postgres.tool("psql"), admin, "-X", "-q", "-At", "-F", "\t", "-c", sql], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired, StackError):
        return None
    return [line.split("\t") for line in result.stdout.splitlines() if line] if result.returncode == 0 else None


def usage_report(month):
    status, answer = api("GET", f"billing/usage/report?month={month}&subscription_id={STRIPE_SUB}", role="finance", subject=FINANCE)
    lines = {}
    if status == 200:
        for subscription in answer.get("subscriptions", []):
            for line in subscription.get("metrics", []):
                lines[line.get("metric")] = line
    return status, answer, lines


def scenario_usage(facts):
    """The product backend's usage reports for the stripe subscription (on team: seats 20)."""
    month = time.strftime("%Y-%m", time.gmtime())
    reports = [("u_1", "txn_a", 12), ("u_2", "txn_b", 9), ("u_1_resent", "txn_a", 12)]
    for name, transaction, quantity in reports:
        body = json.dumps({
            "id": event_id(name), "type": "usage.recorded", "occurred_at": rfc3339(int(time.time()), fraction=""),
            "data": {"transaction_id": f"{transaction}_{RUN}", "subscription": {"provider": "stripe", "subscription_id": STRIPE_SUB},
                     "customer_ref": CUSTOMER, "metric": "seats", "quantity": quantity},
        }).encode()
        send("internal", body, f"usage.recorded {name}")
    status, answer = api("GET", f"billing/usage/report?month={month}", role="support")
    check("GET billing/usage/report as support is 403", status == 403, (status, answer))
    status, answer = api("GET", "billing/usage/report?month=2026-13", role="finance", subject=FINANCE)
    check("GET billing/usage/report?month=2026-13 is 400 naming month", status == 400 and field_of(answer) == "month", (status, answer))
    status, answer, lines = wait(lambda: usage_report(month), lambda r: r[2].get("seats", {}).get("counted") == 21)
    seats = lines.get("seats", {})
    check("usage report: seats counted 21 (txn_a once, txn_b), the counter agrees, over team's limit of 20",
          pick(seats, "recorded", "counted", "limit", "overage", "drift_detected") == (21, 21, 20, True, False), (status, answer))
    check("usage report: projects has team's limit and no usage", pick(lines.get("projects", {}), "recorded", "counted", "limit") == (0, 0, 100), lines)
    changed = psql(f"UPDATE billing.usage_counters SET quantity = 15 WHERE org_id = '{ORG}' AND metric = 'seats' RETURNING quantity")
    if check("a usage counter changed by hand (psql with the stack's admin URL)", changed == [["15"]], changed):
        status, answer, lines = usage_report(month)
        check("usage report: the changed counter shows drift_detected with both numbers (recorded 15, counted 21)",
              pick(lines.get("seats", {}), "recorded", "counted", "drift_detected") == (15, 21, True) and answer.get("drift_detected") is True,
              (status, answer))


def scenario_sync(facts):
    """A projection changed by hand is repaired by billing sync."""
    changed = psql(f"UPDATE billing.subscriptions SET projection = jsonb_set(projection, '{{status}}', '\"canceled\"') "
                   f"WHERE org_id = '{ORG}' AND subscription_id = '{STRIPE_SUB}' RETURNING status")
    if not check("a subscription's projection changed by hand to canceled (the seed's raw SQL)", changed == [["canceled"]], changed):
        return
    status, run = api("POST", "billing/sync", role="viewer")
    check("POST billing/sync as a viewer is 403", status == 403, (status, run))
    status, run = api("POST", "billing/sync", role="finance", subject=FINANCE)
    facts["syncs"] = facts.get("syncs", 0) + 1
    differences = [pick(d, "item", "field", "stored", "rebuilt") for d in run.get("differences", [])] if status == 200 else []
    check("billing sync: both subscriptions looked at, the stripe one's status reported (stored canceled, rebuilt active) and repaired",
          status == 200 and pick(run, "status", "items_processed", "difference_count") == ("completed", 2, 1)
          and differences == [(f"subscription:stripe:{STRIPE_SUB}", "status", '"canceled"', '"active"')], (status, run))
    row = status_of(STRIPE_SUB)
    check("after sync: GET billing/status shows the stripe subscription active again", row and row.get("status") == "active", row)
    time.sleep(0.01)
    status, again = api("POST", "billing/sync", role="finance", subject=FINANCE)
    facts["syncs"] += 1
    check("a second sync finds nothing to repair", status == 200 and again.get("difference_count") == 0, (status, again))
    status, runs = api("GET", "sync-runs")
    check("GET sync-runs lists both runs, newest first",
          status == 200 and [r.get("difference_count") for r in runs.get("runs", [])] == [0, 1] and runs["runs"][1].get("id") == run.get("id"), (status, runs))


def check_history(facts):
    expected = facts.get("stripe_history", [])
    got = history(facts.get("stripe_id"))
    check(f"stripe history: {len(expected)} entries in order, providers' facts by their event, commands by their person",
          got == expected, {"got": got, "expected": expected})


def check_audit(facts):
    status, page = api("GET", "audit-log?limit=500")
    entries = page.get("entries", []) if status == 200 else []

    def of(action):
        return [e for e in entries if e.get("action") == action]

    def after(entry):
        try:
            return json.loads(entry.get("after") or "null") or {}
        except ValueError:
            return {}
    sid = facts.get("stripe_id")
    revised = sorted(pick(e, "target", "actor") for e in of("plan.revise"))
    check("audit-log: plan.revise once per new plan (pro, team) by the admin; the unchanged PUT wrote none",
          revised == [("plan:pro", ADMIN), ("plan:team", ADMIN)], revised)
    mapped = sorted((e.get("target"), e.get("actor"), after(e).get("subscriptions_mapped")) for e in of("price_mapping.set"))
    check("audit-log: price_mapping.set for both mappings by the admin (the paddle one mapped 1 subscription)",
          mapped == [(f"price_mapping:paddle:{PADDLE_PRICE}", ADMIN, "1"), (f"price_mapping:stripe:{STRIPE_LOOKUP}", ADMIN, "0")], mapped)
    plans = of("subscription.plan")
    check("audit-log: subscription.plan once, for the stripe subscription, by the admin, to team from pro",
          len(plans) == 1 and same_id(plans[0].get("target"), f"subscription:{sid}") and plans[0].get("actor") == ADMIN
          and pick(after(plans[0]), "plan_code", "plan_source") == ("team", "operator")
          and '"pro"' in (plans[0].get("before") or ""), plans)
    for action, field, value in (("subscription.pause", "pause_reason_code", "customer_request"),
                                 ("subscription.resume", "resume_reason_code", "payment_plan_agreed")):
        found = of(action)
        check(f"audit-log: {action} once (the refused one wrote none), by finance, {field} {value}",
              len(found) == 1 and same_id(found[0].get("target"), f"subscription:{sid}") and found[0].get("actor") == FINANCE
              and after(found[0]).get(field) == value, found)
    policies = of("dunning_policy.set")
    check("audit-log: dunning_policy.set once (the refused policy wrote none), by the admin",
          len(policies) == 1 and policies[0].get("actor") == ADMIN, policies)
    runs = facts.get("job_runs", [])
    jobs = of("job.run")
    check(f"audit-log: job.run for each of the owner's {len(runs)} runs, none for the refused ones",
          len(jobs) == len(runs) and all(e.get("actor") == OWNER and e.get("target") in ("job:billing.dunning", "job:billing.engagement") for e in jobs),
          jobs)
    syncs = of("billing.sync")
    check(f"audit-log: billing.sync for each of finance's {facts.get('syncs', 0)} runs",
          len(syncs) == facts.get("syncs", 0) and all(e.get("actor") == FINANCE for e in syncs), syncs)


def check_topics(facts):
    """The entitlement events and the notification requests of the org, read from the beginning."""
    subjects = {STRIPE_SUB: ("stripe", facts.get("stripe_id")), PADDLE_SUB: ("paddle", facts.get("paddle_id"))}
    published = {sub: (detail(billing_id) or {}) for sub, (_, billing_id) in subjects.items()}
    # The dunning messages asked for, each with its template and the date it names.
    keys = facts.get("requests", {})
    wanted_revisions = {sub: max(len(EXPECTED[sub]), published[sub].get("entitlement_revision") or 0) for sub in subjects}
    settled = {"since": None}

    def complete(kept):
        revisions = collections.defaultdict(set)
        requested = set()
        for event in kept:
            data = event.get("data") or {}
            if event.get("type") == ENTITLEMENT_TYPE:
                revisions[(data.get("subscription") or {}).get("subscription_id")].add(data.get("revision"))
            else:
                requested.add(data.get("dedupe_key"))
        done = all(set(range(1, n + 1)) <= revisions[sub] for sub, n in wanted_revisions.items()) and set(keys) <= requested
        if done and settled["since"] is None:
            settled["since"] = time.time()
        # Once everything expected is there, read two seconds more for anything extra.
        return done and time.time() - settled["since"] >= 2
    events = consume([ENTITLEMENTS_TOPIC, REQUESTS_TOPIC], f"e2e-billing-{RUN}",
                     lambda e: e.get("tenant") == ORG and e.get("type") in (ENTITLEMENT_TYPE, REQUESTED_TYPE), complete, seconds=30)
    entitlements = [e for e in events if e.get("type") == ENTITLEMENT_TYPE]
    requests = [e for e in events if e.get("type") == REQUESTED_TYPE]

    for sub, (provider, _) in subjects.items():
        mine = sorted((e for e in entitlements if (e.get("data") or {}).get("subscription") == {"provider": provider, "subscription_id": sub}),
                      key=lambda e: e["data"].get("revision") or 0)
        expected = EXPECTED[sub]
        revisions = [e["data"].get("revision") for e in mine]
        check(f"{ENTITLEMENTS_TOPIC}: the {provider} subscription's revisions are 1..{len(expected)}, no gap, no duplicate",
              revisions == list(range(1, len(expected) + 1)), revisions)
        check(f"{provider} entitlement: billing's last revision is {len(expected)}", published[sub].get("entitlement_revision") == len(expected),
              published[sub].get("entitlement_revision"))
        got = [(d.get("access"), d.get("previous_access"), d.get("plan_code"), d.get("plan_version"), d.get("limits"),
                [pick(b, "kind", "reason", "source") for b in d.get("blocks", [])], d.get("cause")) for d in (e["data"] for e in mine)]
        check(f"{provider} entitlement: access {' -> '.join(x[0] for x in expected)}",
              [g[0] for g in got] == [x[0] for x in expected], [g[0] for g in got])
        wrong = {i + 1: {"got": g, "expected": x} for i, (g, x) in enumerate(zip(got, expected)) if g != x}
        check(f"{provider} entitlement: each revision's previous access, plan, version, limits, blocks and cause", len(got) == len(expected) and not wrong,
              wrong or got)
        customer = CUSTOMER if provider == "stripe" else PADDLE_CUSTOMER
        envelopes = [e for e in mine if e.get("source") != "/tally/billing" or e["data"].get("customer_ref") != customer]
        check(f"{provider} entitlement: every event from /tally/billing, naming the customer", mine and not envelopes, [e.get("id") for e in envelopes])
        last = mine[-1]["data"] if mine else {}
        shown = published[sub].get("entitlement") or {}
        check(f"{provider} entitlement: the last event is what the API shows",
              pick(last, "access", "plan_code", "limits", "blocks") == pick(shown, "access", "plan_code", "limits", "blocks"),
              {"event": last, "api": shown})

    by_key = collections.defaultdict(list)
    for event in requests:
        by_key[event["data"].get("dedupe_key")].append(event)
    engagement = facts.get("engagement", {})
    check(f"{REQUESTS_TOPIC}: exactly one request for each dunning message ({', '.join(t for t, _ in keys.values())})"
          f" and each engagement message ({', '.join(engagement.values()) or 'none'}), nothing else",
          sorted((key, len(found)) for key, found in by_key.items()) == sorted((key, 1) for key in [*keys, *engagement]), {k: len(v) for k, v in by_key.items()})
    for key, template in engagement.items():
        data = (by_key.get(key) or [{}])[0].get("data") or {}
        check(f"request {key}: {template} to the stripe customer, with the product's name and its getting-started link",
              data.get("template_key") == template and data.get("recipient") == {"customer": {"provider": "stripe", "customer_id": CUSTOMER}}
              and set(data.get("variables") or {}) == {"product_name", "getting_started_url"}
              and (data.get("variables") or {}).get("getting_started_url", "").endswith("/getting-started"), data)
    pay_url = STACK["pay_url"].replace("{invoice_id}", INVOICE)
    for key, (template, due) in keys.items():
        data = (by_key.get(key) or [{}])[0].get("data") or {}
        check(f"request {key}: {template} to the stripe customer, the invoice's number, USD 49.00, due {day_of(due)}, the pay link",
              data.get("template_key") == template and data.get("recipient") == {"customer": {"provider": "stripe", "customer_id": CUSTOMER}}
              and data.get("variables") == {"amount": "USD 49.00", "invoice_number": INVOICE_NUMBER, "due_date": day_of(due), "pay_url": pay_url},
              data)
    if STACK["sinks"]:
        to_customer = sorted(m.message_id for m in all_mail() if EMAIL in m.to)
        expected_ids = sorted(m.message_id for key in [*keys, *engagement] for m in for_delivery(all_mail(), derived_delivery_id(ORG, key)))
        count = len(keys) + len(engagement)
        check(f"the SMTP sinks hold exactly {count} messages for the customer, one per dunning and engagement message",
              len(to_customer) == count and to_customer == expected_ids, {"to customer": to_customer, "of the deliveries": expected_ids})


# --------------------------------------------------------------------------------------------

def locate_stack():
    """Billing's clock offset file and pay link (from its running process's environment) and the
    SMTP sinks' Maildirs of the same stack."""
    try:
        service = RunningService("billing", BILLING)
    except StackError as error:
        check("billing runs on a stack this script can read (its pid files)", False, str(error))
        return
    environ = service.environ
    STACK["pay_url"] = environ.get("TALLY_BILLING_PAY_URL") or STACK["pay_url"]
    clock = environ.get("TALLY_BILLING_CLOCK_OFFSET_FILE")
    if check(f"billing runs with a clock offset file (the {service.profile.name} stack)", clock,
             "TALLY_BILLING_CLOCK_OFFSET_FILE is not set; the controlled clock is the test stack's (make test)"):
        STACK["clock"] = pathlib.Path(clock)
    STACK["sinks"] = [sidecar.data for sidecar in (service.sidecar("smtp-sink"), service.sidecar("smtp-fallback-sink")) if sidecar]
    check("the stack has its SMTP sinks", STACK["sinks"], "no smtp-sink sidecar in ops/sidecars.txt")


def main():
    print(f"  billing at {BILLING}, notifications at {NOTIFY}, org {ORG}", flush=True)
    up = [check(f"{name} answers /healthz at {url or 'no URL'}", url and alive(url), f"is {name} running?")
          for name, url in (("billing", BILLING), ("notifications", NOTIFY), ("ingest-gateway", GATEWAY))]
    if not all(up):
        checks.finish()
    locate_stack()
    facts = {}
    try:
        if STACK["clock"]:
            set_clock(0)
        if create_sources():
            scenario_catalog()
            stripe_ok = scenario_stripe(facts)
            paddle_ok = scenario_paddle(facts)
            if stripe_ok and paddle_ok:
                scenario_lists(facts)
            if stripe_ok:
                scenario_plan_correction(facts)
                scenario_pause_resume(facts)
                scenario_payment_failed(facts)
                if STACK["clock"]:
                    scenario_overdue(facts)
                scenario_usage(facts)
                scenario_sync(facts)
    finally:
        if STACK["clock"]:
            set_clock(0)
    if facts.get("stripe_id"):
        check_history(facts)
        check_audit(facts)
        check_topics(facts)
    print(f"  {time.time() - STARTED:.1f} s", flush=True)
    checks.finish()


if __name__ == "__main__":
    main()
