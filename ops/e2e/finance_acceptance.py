"""End-to-end acceptance of finance on a running stack (real gateway, normalizer, broker, finance).

Provider webhooks go in at the gateway, signed as each provider signs, for a fresh org; the
normalizer turns them into canonical payment and payout events and finance posts its ledger from
them. Every expected value is computed here from what was sent and the postings of the contract
(/work/notes/finance-api.md, `contracts/openapi/finance.yaml`), never read back. Checked:

- Stripe: a capture sent twice under one event id (stored once by the gateway) and again under a
  new event id (same ledger key and content: nothing posted); a partial refund after its capture;
  a refund sent before its capture (held, then posted after it); a refund that would exceed the
  capture (an open `refund_exceeds_capture` conflict, nothing posted); a dispute; a payout;
  a failed payment; zero- and three-decimal currencies (JPY, KWD). Paddle: a capture with a fee
  and an approved refund adjustment.
- the ledger: exactly the expected transactions in posting order (keys, kinds, entries, causes,
  each balanced per currency), balances per account and currency now and `as_of` before the
  payout, an account statement with running balances across pages, the chart of accounts;
- payments (status, captured, refunded, disputed, fee, timeline), payouts and the payout report;
- conflicts: the open one, its resolution (roles, 409 when resolved twice);
- refunds requested by people: roles, self-approval, what is refundable, approval to `offline`
  (the stack has no Stripe key) with `MOCK_REFUND` in finance's log, rejection, replay-offline,
  and the audit entries of each;
- `ledger/verify` (and `tally verify finance` when the harness names the tally binary);
- the journal, read with hledger (`check --strict`, balances, one entry per transaction, the
  closing balance assertions, each currency's decimals);
- the ledger rebuilt from `tally.finance.ledger-postings.v1` read from the beginning equals the
  balances API.

Prints `e2e: N passed, M failed`.
"""
import datetime
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "support"))
import hledger_check  # noqa: E402
from tally_e2e import GATEWAY, Checks, call, canonical_id, consume, fixture, service_url, sign, token  # noqa: E402

FINANCE = service_url("finance")
STARTED = int(time.time())
RUN = "%d%03d" % (STARTED, int(time.time() * 1000) % 1000)
ORG = f"org_fin_{RUN}"
POSTINGS_TOPIC = "tally.finance.ledger-postings.v1"
POSTED_TYPE = "tally.finance.ledger.transaction.posted.v1"
VERIFY_CHECKS = ["transactions_balanced", "trial_balance_zero", "payments_match_ledger", "refunds_within_captures",
                 "hash_chain_intact", "no_stale_conflicts"]
# The people of the refund flow: a support agent who asks, a finance person who approves, an admin.
ALICE, BOB, CAROL = f"alice.support.{RUN}", f"bob.finance.{RUN}", f"carol.admin.{RUN}"
checks = Checks()
check = checks.check
# How long one wait for the pipeline may take: 60 s, and 10 s once a wait has timed out, so a
# stack that does not post fails in minutes rather than waiting out every step.
patience = {"seconds": 60}


def waited_out(deadline):
    """True when `deadline` passed; the waits that follow are then short."""
    if time.time() > deadline:
        patience["seconds"] = 10
        return True
    return False


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------

def bearer(role, subject="e2e", org=ORG):
    return {"Authorization": f"Bearer {token(org, role, subject)}"}


def api(method, path, body=None, role="viewer", subject="e2e"):
    """A finance admin call for ORG: (status, JSON body)."""
    status, answer, _ = call(method, f"{FINANCE}/admin/orgs/{ORG}/{path}", body, bearer(role, subject))
    return status, answer


def text(path, role="viewer"):
    """A finance admin GET whose answer is text: (status, content type, body)."""
    request = urllib.request.Request(f"{FINANCE}/admin/orgs/{ORG}/{path}", headers=bearer(role))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode(errors="replace")


def pages(path, member, limit=200):
    """Every item of a paged list (`after` / `next_cursor`), and how many pages it took; None when
    a page was refused."""
    items, cursor, count = [], None, 0
    while True:
        separator = "&" if "?" in path else "?"
        status, page = api("GET", f"{path}{separator}limit={limit}" + (f"&after={urllib.parse.quote(cursor)}" if cursor else ""))
        count += 1
        if status != 200 or count > 100:
            return None, count
        items += page.get(member, [])
        cursor = page.get("next_cursor")
        if not cursor:
            return items, count


def problem_type(answer):
    return (answer or {}).get("type", "") if isinstance(answer, dict) else ""


def extension(answer, name):
    return ((answer or {}).get("extensions") or {}).get(name)


def alive(url):
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=3) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


# --------------------------------------------------------------------------------------------
# Provider webhooks (built from the samples in contracts/providers/, with this run's ids)
# --------------------------------------------------------------------------------------------

def at(step):
    """The provider time of the step-th event: whole seconds, in sending order."""
    return STARTED - 3600 + 10 * step


def rfc3339(seconds, fraction=".000"):
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def stripe_event(sample, event_id, when, **changes):
    """The Stripe sample `sample` as event `event_id` created at `when`, its object changed by `changes`."""
    event = json.loads(fixture(f"stripe/{sample}.json"))
    event.update(id=event_id, created=when)
    event["data"]["object"].update(changes)
    return json.dumps(event).encode()


def charge_of(intent):
    return "ch_" + intent[3:]


def stripe_capture(event_id, created, intent, amount, currency, customer, order):
    return stripe_event("payment_intent.succeeded", event_id, created, id=intent, amount=amount, amount_received=amount,
                        currency=currency.lower(), customer=customer, metadata={"order_id": order} if order else {},
                        latest_charge=charge_of(intent), invoice=None, created=created - 5)


def stripe_failed(event_id, created, intent, amount, currency):
    return stripe_event("payment_intent.payment_failed", event_id, created, id=intent, amount=amount, currency=currency.lower(),
                        invoice=None, created=created - 5)


def stripe_refund(event_id, created, intent, charge_amount, currency, refunds):
    """`charge.refunded` listing `refunds` [(refund id, amount, created)]; the newest is the one it announces."""
    refunded = sum(amount for _, amount, _ in refunds)
    listed = [{"id": rid, "object": "refund", "amount": amount, "currency": currency.lower(), "reason": "requested_by_customer",
               "status": "succeeded", "created": when} for rid, amount, when in refunds]
    return stripe_event("charge.refunded", event_id, created, id=charge_of(intent), amount=charge_amount, amount_refunded=refunded,
                        currency=currency.lower(), payment_intent=intent, refunded=refunded >= charge_amount,
                        refunds={"object": "list", "data": listed})


def stripe_dispute(event_id, created, dispute, intent, amount, currency):
    return stripe_event("charge.dispute.created", event_id, created, id=dispute, amount=amount, currency=currency.lower(),
                        charge=charge_of(intent), payment_intent=intent, created=created - 5)


def stripe_payout(event_id, created, payout, amount, currency, arrival):
    return stripe_event("payout.paid", event_id, created, id=payout, amount=amount, currency=currency.lower(), arrival_date=arrival)


def paddle_event(sample, event_id, occurred, data):
    event = json.loads(fixture(f"paddle/{sample}.json"))
    event.update(event_id=event_id, occurred_at=rfc3339(occurred, ".000000"), notification_id="ntf_" + event_id[4:])
    event["data"].update(data)
    return json.dumps(event).encode()


def paddle_capture(event_id, occurred, transaction, total, fee, currency):
    sample = json.loads(fixture("paddle/transaction.completed.json"))["data"]
    totals = dict(sample["details"]["totals"], total=str(total), fee=str(fee), earnings=str(total - fee), currency_code=currency)
    payments = [dict(sample["payments"][0], amount=str(total))]
    return paddle_event("transaction.completed", event_id, occurred, {"id": transaction, "currency_code": currency,
                                                                      "details": {"totals": totals}, "payments": payments})


def paddle_refund(event_id, occurred, adjustment, transaction, total, currency):
    sample = json.loads(fixture("paddle/adjustment.created.json"))["data"]
    totals = dict(sample["totals"], total=str(total), currency_code=currency)
    return paddle_event("adjustment.created", event_id, occurred, {"id": adjustment, "transaction_id": transaction, "action": "refund",
                                                                   "status": "approved", "currency_code": currency, "totals": totals})


# --------------------------------------------------------------------------------------------
# What the contract says the ledger holds (debit +, credit −)
# --------------------------------------------------------------------------------------------

class ExpectedLedger:
    """The transactions the contract's postings make from what this test sent, in posting order."""

    def __init__(self):
        self.transactions = []

    def add(self, key, kind, payment, entries, cause, cause_type, occurred):
        self.transactions.append({"key": key, "kind": kind, "payment": payment, "entries": [e for e in entries if e[2] != 0],
                                  "cause": cause, "cause_type": cause_type, "occurred": occurred})

    def capture(self, provider, payment_id, amount, currency, fee, cause, occurred):
        self.add(f"{provider}:{payment_id}:capture", "capture", {"provider": provider, "payment_id": payment_id},
                 [(f"provider:{provider}:clearing", currency, amount - fee), ("expenses:provider_fees", currency, fee),
                  ("income:revenue", currency, -amount)], cause, "tally.payment.captured.v1", occurred)

    def refund(self, provider, payment_id, refund_id, amount, currency, cause, occurred):
        self.add(f"{provider}:{refund_id}:refund", "refund", {"provider": provider, "payment_id": payment_id},
                 [("expenses:refunds", currency, amount), (f"provider:{provider}:clearing", currency, -amount)],
                 cause, "tally.payment.refunded.v1", occurred)

    def dispute_opened(self, provider, payment_id, dispute_id, amount, currency, cause, occurred):
        self.add(f"{provider}:{dispute_id}:dispute_opened", "dispute_opened", {"provider": provider, "payment_id": payment_id},
                 [("expenses:disputes:open", currency, amount), (f"provider:{provider}:clearing", currency, -amount)],
                 cause, "tally.payment.disputed.v1", occurred)

    def payout(self, provider, payout_id, amount, currency, fees, cause, occurred):
        self.add(f"{provider}:{payout_id}:payout", "payout", None,
                 [(f"assets:bank:{provider}", currency, amount), ("expenses:provider_fees", currency, fees),
                  (f"provider:{provider}:clearing", currency, -(amount + fees))], cause, "tally.payout.paid.v1", occurred)

    def keys(self):
        return [t["key"] for t in self.transactions]

    def balances(self, keys=None):
        """{(account, currency): balance} over the transactions (or those whose key is in `keys`); zeros left out."""
        totals = {}
        for transaction in self.transactions:
            if keys is None or transaction["key"] in keys:
                for account, currency, amount in transaction["entries"]:
                    totals[(account, currency)] = totals.get((account, currency), 0) + amount
        return {slot: value for slot, value in totals.items() if value}

    def statement(self, account, currency):
        """[(key, kind, amount, running balance)] of one account and currency, in posting order."""
        rows, running = [], 0
        for transaction in self.transactions:
            for entry_account, entry_currency, amount in transaction["entries"]:
                if (entry_account, entry_currency) == (account, currency):
                    running += amount
                    rows.append((transaction["key"], transaction["kind"], amount, running))
        return rows


def as_map(rows, amount="balance_minor"):
    return {(row["account"], row["currency"]): row[amount] for row in rows}


def sorted_entries(entries):
    return sorted((e["account"], e["currency"], e["amount_minor"]) for e in entries) if isinstance(entries, list) else None


# --------------------------------------------------------------------------------------------
# Sending and waiting
# --------------------------------------------------------------------------------------------

sources = {}


def create_sources():
    for provider in ("stripe", "paddle"):
        status, answer, _ = call("POST", f"{GATEWAY}/admin/orgs/{ORG}/sources", {"provider": provider, "name": f"finance e2e {provider}"},
                                 bearer("admin"))
        check(f"create a {provider} source at the gateway", status == 201, (status, answer))
        sources[provider] = {"id": answer["source"]["id"], "secret": answer["secret"]}


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
    deadline = time.time() + patience["seconds"]
    while True:
        status, entry, _ = call("GET", f"{GATEWAY}/admin/orgs/{ORG}/inbox/{inbox_id}", headers=bearer("admin"))
        if (status == 200 and entry.get("status") in ("processed", "ignored", "superseded", "failed")) or waited_out(deadline):
            return entry.get("status") if status == 200 else None
        time.sleep(0.3)


def posted_transactions():
    items, _ = pages("ledger/transactions", "transactions")
    return items or []


def wait_for_keys(keys):
    """Waits until every ledger key in `keys` is posted; returns the transactions."""
    deadline = time.time() + patience["seconds"]
    while True:
        transactions = posted_transactions()
        if set(keys) <= {t["key"] for t in transactions} or waited_out(deadline):
            return transactions
        time.sleep(0.5)


def wait_for_conflict(key):
    """Waits until an open conflict on ledger key `key` is recorded; returns the open conflicts."""
    deadline = time.time() + patience["seconds"]
    while True:
        found, _ = pages("ledger/conflicts?status=open", "conflicts")
        if any(c["key"] == key for c in found or []) or waited_out(deadline):
            return found or []
        time.sleep(0.5)


def wait_for_payment(provider, payment_id):
    """Waits until finance knows the payment; returns the last status of its GET."""
    deadline = time.time() + patience["seconds"]
    while True:
        status, _ = api("GET", f"payments/{provider}/{payment_id}")
        if status == 200 or waited_out(deadline):
            return status
        time.sleep(0.5)


def send_and_post(provider, body, name, keys, conflict=None):
    """Sends a webhook, waits until the normalizer is done with it and finance posted `keys` (or
    recorded the conflict on `conflict`), and returns its inbox id."""
    inbox_id = post(provider, body, name)
    outcome = normalized(inbox_id)
    check(f"{name}: the normalizer processed it", outcome == "processed", outcome)
    if keys:
        posted = {t["key"] for t in wait_for_keys(keys)}
        check(f"{name}: finance posted {', '.join(keys)}", set(keys) <= posted, sorted(posted))
    if conflict:
        found = wait_for_conflict(conflict)
        check(f"{name}: finance recorded a conflict on {conflict}", any(c["key"] == conflict for c in found), found)
    return inbox_id


# --------------------------------------------------------------------------------------------
# The scenario
# --------------------------------------------------------------------------------------------

def scenario(ledger):
    """Sends every webhook, one at a time, each after finance has taken the one before, so the
    posting order is the sending order. Returns the facts the checks need."""
    facts = {"pi_A": f"pi_finA{RUN}", "pi_B": f"pi_finB{RUN}", "pi_C": f"pi_finC{RUN}", "pi_J": f"pi_finJ{RUN}", "pi_K": f"pi_finK{RUN}",
             "re_A1": f"re_finA1{RUN}", "re_A2": f"re_finA2{RUN}", "re_B1": f"re_finB1{RUN}", "dp_B": f"dp_finB{RUN}",
             "po": f"po_fin{RUN}", "txn_P": f"txn_fin{RUN}", "adj_P": f"adj_fin{RUN}",
             "customer": f"cus_fin{RUN}", "order": f"ord_fin{RUN}", "inbox": {}, "times": {}}
    inbox, times = facts["inbox"], facts["times"]

    def event(name, step):
        """The provider event id of `name`, which happened at `at(step)`."""
        times[name] = at(step)
        return f"evt_fin_{name}_{RUN}"

    # pi_A: a capture of 10000 USD, the same delivery again, the same facts under a new event id.
    pi_a = facts["pi_A"]
    capture_a = stripe_capture(event("capA", 1), at(1), pi_a, 10000, "USD", facts["customer"], facts["order"])
    inbox["capA"] = send_and_post("stripe", capture_a, "stripe capture pi_A 10000 USD", [f"stripe:{pi_a}:capture"])
    ledger.capture("stripe", pi_a, 10000, "USD", 0, inbox["capA"], at(1))
    again = post("stripe", capture_a, "the same capture, same event id", duplicate=True)
    check("the gateway answers the first delivery's inbox id for the repeat", again == inbox["capA"], (again, inbox["capA"]))
    capture_a2 = stripe_capture(event("capA2", 1), at(1), pi_a, 10000, "USD", facts["customer"], facts["order"])
    inbox["capA2"] = send_and_post("stripe", capture_a2, "the same capture under a new event id", [])

    # pi_A: a partial refund of 3000, then one of 8000 that would take refunds above the capture.
    refund_a1 = stripe_refund(event("refA1", 3), at(3), pi_a, 10000, "USD", [(facts["re_A1"], 3000, at(3) - 5)])
    inbox["refA1"] = send_and_post("stripe", refund_a1, "stripe refund of pi_A 3000", [f"stripe:{facts['re_A1']}:refund"])
    ledger.refund("stripe", pi_a, facts["re_A1"], 3000, "USD", inbox["refA1"], at(3))
    refund_a2 = stripe_refund(event("refA2", 4), at(4), pi_a, 10000, "USD",
                              [(facts["re_A1"], 3000, at(3) - 5), (facts["re_A2"], 8000, at(4) - 5)])
    inbox["refA2"] = send_and_post("stripe", refund_a2, "stripe refund of pi_A 8000 (above the capture)", [],
                                   conflict=f"stripe:{facts['re_A2']}:refund")

    # pi_B: its refund of 3000 arrives before its capture of 6000; then a dispute of 2000.
    pi_b = facts["pi_B"]
    refund_b1 = stripe_refund(event("refB1", 6), at(6), pi_b, 6000, "USD", [(facts["re_B1"], 3000, at(6) - 5)])
    inbox["refB1"] = send_and_post("stripe", refund_b1, "stripe refund of pi_B 3000, before its capture", [])
    capture_b = stripe_capture(event("capB", 5), at(5), pi_b, 6000, "USD", facts["customer"], None)
    inbox["capB"] = send_and_post("stripe", capture_b, "stripe capture pi_B 6000 USD (its refund is waiting)",
                                  [f"stripe:{pi_b}:capture", f"stripe:{facts['re_B1']}:refund"])
    ledger.capture("stripe", pi_b, 6000, "USD", 0, inbox["capB"], at(5))
    ledger.refund("stripe", pi_b, facts["re_B1"], 3000, "USD", inbox["refB1"], at(6))
    dispute_b = stripe_dispute(event("dpB", 7), at(7), facts["dp_B"], pi_b, 2000, "USD")
    inbox["dpB"] = send_and_post("stripe", dispute_b, "stripe dispute of pi_B 2000", [f"stripe:{facts['dp_B']}:dispute_opened"])
    ledger.dispute_opened("stripe", pi_b, facts["dp_B"], 2000, "USD", inbox["dpB"], at(7))

    # A failed payment (no posting), and captures in a zero- and a three-decimal currency.
    inbox["failC"] = send_and_post("stripe", stripe_failed(event("failC", 8), at(8), facts["pi_C"], 2500, "USD"), "stripe failed payment pi_C", [])
    check("finance records the failed payment", wait_for_payment("stripe", facts["pi_C"]) == 200, facts["pi_C"])
    for name, step, amount, currency in (("pi_J", 9, 1500, "JPY"), ("pi_K", 10, 12340, "KWD")):
        body = stripe_capture(event("cap" + name[-1], step), at(step), facts[name], amount, currency, facts["customer"], None)
        inbox["cap" + name[-1]] = send_and_post("stripe", body, f"stripe capture {name} {amount} {currency}", [f"stripe:{facts[name]}:capture"])
        ledger.capture("stripe", facts[name], amount, currency, 0, inbox["cap" + name[-1]], at(step))

    # Paddle: a capture of 4760 EUR with a fee of 288, and an approved refund of 1190.
    txn = facts["txn_P"]
    inbox["capP"] = send_and_post("paddle", paddle_capture(event("capP", 11), at(11), txn, 4760, 288, "EUR"),
                                  "paddle transaction.completed 4760 EUR, fee 288", [f"paddle:{txn}:capture"])
    ledger.capture("paddle", txn, 4760, "EUR", 288, inbox["capP"], at(11))
    inbox["refP"] = send_and_post("paddle", paddle_refund(event("refP", 12), at(12), facts["adj_P"], txn, 1190, "EUR"),
                                  "paddle approved refund adjustment 1190 EUR", [f"paddle:{facts['adj_P']}:refund"])
    ledger.refund("paddle", txn, facts["adj_P"], 1190, "EUR", inbox["refP"], at(12))

    # The moment before the payout: the newest posting time so far.
    before_payout = wait_for_keys(ledger.keys())
    facts["before_payout"] = max((t["posted_at"] for t in before_payout), default=None)
    facts["keys_before_payout"] = set(ledger.keys())

    # A payout of 5000 USD to the bank (Stripe states no fees).
    facts["arrival"] = (STARTED // 86400) * 86400
    payout = stripe_payout(event("po", 13), at(13), facts["po"], 5000, "USD", facts["arrival"])
    inbox["po"] = send_and_post("stripe", payout, "stripe payout.paid 5000 USD", [f"stripe:{facts['po']}:payout"])
    ledger.payout("stripe", facts["po"], 5000, "USD", 0, inbox["po"], at(13))
    return facts


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------

def check_transactions(ledger, facts):
    """The ledger's transactions: exactly the expected ones, in posting order; returns them by key."""
    transactions, page_count = pages("ledger/transactions", "transactions", limit=3)
    transactions = transactions or []
    everything = posted_transactions()
    check(f"ledger/transactions pages of 3 ({page_count} pages) list the same as one page of 200",
          [t["id"] for t in transactions] == [t["id"] for t in everything], (len(transactions), len(everything)))
    check(f"exactly {len(ledger.transactions)} ledger transactions, in posting order",
          [t["key"] for t in transactions] == ledger.keys(), [t["key"] for t in transactions])
    sequences = [t.get("sequence") for t in transactions]
    check("sequences ascend, oldest first", all(isinstance(s, int) for s in sequences) and sequences == sorted(set(sequences)), sequences)
    check("posting times never go back", [t["posted_at"] for t in transactions] == sorted(t["posted_at"] for t in transactions),
          [t["posted_at"] for t in transactions])
    unbalanced = []
    for transaction in transactions:
        totals = {}
        for entry in transaction.get("entries", []):
            totals[entry["currency"]] = totals.get(entry["currency"], 0) + entry["amount_minor"]
        if any(totals.values()) or not totals:
            unbalanced.append((transaction["key"], totals))
    check("every transaction balances in each of its currencies", not unbalanced, unbalanced)
    by_key = {t["key"]: t for t in transactions}
    wrong = {}
    for expected in ledger.transactions:
        got = by_key.get(expected["key"], {})
        want = {"kind": expected["kind"], "payment": expected["payment"], "reverses": None,
                "cause_event_id": canonical_id(expected["cause"]), "cause_event_type": expected["cause_type"],
                "occurred_at": rfc3339(expected["occurred"]), "entries": sorted(expected["entries"])}
        have = {name: got.get(name) for name in want}
        have["entries"] = sorted_entries(got.get("entries"))
        if have != want:
            wrong[expected["key"]] = {name: (have[name], want[name]) for name in want if have[name] != want[name]}
    check("each transaction has its kind, payment, cause, provider time and the contract's entries", not wrong, wrong)
    hashes = [(t.get("content_sha256", ""), t.get("chain_sha256", "")) for t in transactions]
    check("each transaction carries a content and a chain SHA-256, every chain value distinct",
          all(len(c) == 64 and len(h) == 64 and set(c + h) <= set("0123456789abcdef") for c, h in hashes)
          and len({h for _, h in hashes}) == len(hashes), hashes)
    if transactions:
        status, one = api("GET", f"ledger/transactions/{transactions[0]['id']}")
        check("ledger/transactions/{id} answers the listed transaction", status == 200 and one == transactions[0], (status, one))
    status, answer = api("GET", "ledger/transactions/999999999999")
    check("an unknown transaction is 404 not-found", status == 404 and problem_type(answer).endswith("/not-found"), (status, answer))
    return by_key


def check_balances(ledger, facts, by_key):
    expected = ledger.balances()
    status, answer = api("GET", "ledger/balances")
    rows = answer.get("balances", []) if status == 200 else []
    check("ledger/balances: every account and currency as the postings of the contract add up", status == 200 and as_map(rows) == expected,
          {"got": as_map(rows), "expected": expected})
    check("balances are sorted by account then currency, with no zero rows, as_of null",
          [(r["account"], r["currency"]) for r in rows] == sorted((r["account"], r["currency"]) for r in rows)
          and all(r["balance_minor"] != 0 for r in rows) and answer.get("as_of") is None, answer)
    sums = {}
    for row in rows:
        sums[row["currency"]] = sums.get(row["currency"], 0) + row["balance_minor"]
    check("every currency sums to zero (trial balance)", rows and not any(sums.values()), sums)

    before = facts.get("before_payout")
    if not check("a posting time before the payout is known", before, facts):
        return
    status, answer = api("GET", "ledger/balances?as_of=" + urllib.parse.quote(before))
    want = ledger.balances(facts["keys_before_payout"])
    check(f"ledger/balances?as_of={before} (before the payout) leaves the payout out",
          status == 200 and as_map(answer.get("balances", [])) == want, {"got": answer, "expected": want})
    check("the as_of asked for is answered", status == 200 and same_instant(answer.get("as_of"), before), answer.get("as_of"))
    payout = by_key.get(f"stripe:{facts['po']}:payout", {})
    status, answer = api("GET", "ledger/balances?as_of=" + urllib.parse.quote(payout.get("posted_at", before)))
    check("ledger/balances as of the payout's posting time include it", status == 200 and as_map(answer.get("balances", [])) == expected,
          {"got": answer, "expected": expected})
    first = min((t["posted_at"] for t in by_key.values()), default=before)
    earlier = rfc3339_ms(parse_instant(first) - datetime.timedelta(milliseconds=1))
    status, answer = api("GET", "ledger/balances?as_of=" + urllib.parse.quote(earlier))
    check("ledger/balances as of just before the first posting are empty", status == 200 and answer.get("balances") == [], (status, answer))
    status, answer = api("GET", "ledger/balances?as_of=yesterday")
    check("a malformed as_of is 400 naming it", status == 400 and extension(answer, "field") == "as_of", (status, answer))
    status, answer, _ = call("GET", f"{FINANCE}/admin/orgs/{ORG}/ledger/balances", headers=bearer("owner", org="org_someone_else"))
    check("a token for another org is refused", status == 403, (status, answer))


def parse_instant(value):
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def rfc3339_ms(instant):
    return instant.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (instant.microsecond // 1000)


def same_instant(a, b):
    try:
        return parse_instant(a) == parse_instant(b)
    except (AttributeError, TypeError, ValueError):
        return False


def check_statement(ledger, by_key):
    account, currency = "provider:stripe:clearing", "USD"
    expected = ledger.statement(account, currency)
    status, answer = api("GET", f"ledger/accounts/{account}/statement?currency={currency}")
    rows = [(e["key"], e["kind"], e["amount_minor"], e["running_balance_minor"]) for e in answer.get("entries", [])] if status == 200 else None
    check(f"the {account} {currency} statement: every entry in posting order with its running balance",
          rows == expected and answer.get("opening_balance_minor") == 0 and answer.get("next_cursor") is None,
          {"got": answer, "expected": expected})
    check("each statement entry names its transaction and sequence",
          status == 200 and all(e["transaction_id"] == by_key.get(e["key"], {}).get("id") and e["sequence"] == by_key.get(e["key"], {}).get("sequence")
                                for e in answer.get("entries", [])), answer.get("entries"))
    # Pages of two: each page opens with the balance before its first entry.
    cursor, seen, openings = None, [], []
    for _ in range(20):
        status, page = api("GET", f"ledger/accounts/{account}/statement?currency={currency}&limit=2" + (f"&after={urllib.parse.quote(cursor)}" if cursor else ""))
        if status != 200:
            break
        if page.get("entries"):
            openings.append(page.get("opening_balance_minor"))
        seen += [(e["key"], e["kind"], e["amount_minor"], e["running_balance_minor"]) for e in page.get("entries", [])]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    want_openings = [0] + [expected[i - 1][3] for i in range(2, len(expected), 2)]
    check("the statement in pages of two: same entries, each page opening with the balance before it",
          seen == expected and openings == want_openings, {"entries": seen, "openings": openings, "expected openings": want_openings})
    status, answer = api("GET", f"ledger/accounts/{account}/statement")
    check("a statement without currency is 400 naming currency", status == 400 and extension(answer, "field") == "currency", (status, answer))
    status, answer = api("GET", "ledger/accounts/assets:bank:hotmart/statement?currency=USD")
    check("a statement of an account the org never used is 404", status == 404, (status, answer))


def check_accounts(ledger):
    used = {account for t in ledger.transactions for account, _, _ in t["entries"]}
    status, answer = api("GET", "ledger/accounts")
    accounts = {a["code"]: a for a in answer.get("accounts", [])} if status == 200 else {}
    check("ledger/accounts: exactly the accounts the postings used", set(accounts) == used, {"got": sorted(accounts), "expected": sorted(used)})
    assets = ["provider:stripe:clearing", "provider:paddle:clearing", "assets:bank:stripe"]
    check("clearing and bank accounts are of kind asset", all(accounts.get(code, {}).get("kind") == "asset" for code in assets),
          {code: accounts.get(code) for code in assets})


def check_payments(facts, by_key):
    def money(amount, currency):
        return {"amount_minor": amount, "currency": currency}
    expected = {
        ("stripe", facts["pi_A"]): {"status": "partially_refunded", "captured": money(10000, "USD"), "refunded_minor": 3000, "disputed_minor": 0,
                                    "fee_minor": 0, "customer_ref": facts["customer"], "order_ref": facts["order"]},
        ("stripe", facts["pi_B"]): {"status": "disputed", "captured": money(6000, "USD"), "refunded_minor": 3000, "disputed_minor": 2000, "fee_minor": 0},
        ("stripe", facts["pi_C"]): {"status": "failed", "captured": None, "refunded_minor": 0, "disputed_minor": 0},
        ("stripe", facts["pi_J"]): {"status": "succeeded", "captured": money(1500, "JPY"), "refunded_minor": 0, "disputed_minor": 0},
        ("stripe", facts["pi_K"]): {"status": "succeeded", "captured": money(12340, "KWD"), "refunded_minor": 0, "disputed_minor": 0},
        ("paddle", facts["txn_P"]): {"status": "partially_refunded", "captured": money(4760, "EUR"), "refunded_minor": 1190, "disputed_minor": 0,
                                     "fee_minor": 288},
    }
    listed, _ = pages("payments", "payments", limit=2)
    listed = listed or []
    keys = [(p["provider"], p["payment_id"]) for p in listed]
    check("payments (in pages of two): exactly the six payments sent, each once", sorted(keys) == sorted(expected), keys)
    for (provider, payment_id), want in expected.items():
        status, payment = api("GET", f"payments/{provider}/{payment_id}")
        have = {name: payment.get(name) for name in want} if status == 200 else status
        check(f"payment {provider}/{payment_id}: " + ", ".join(f"{k} {v}" for k, v in want.items() if k in ("status", "refunded_minor", "disputed_minor")),
              have == want, {"got": have, "expected": want})
    status, answer = api("GET", "payments?status=disputed")
    check("payments?status=disputed lists pi_B alone", status == 200 and [p["payment_id"] for p in answer.get("payments", [])] == [facts["pi_B"]], answer)
    status, answer = api("GET", "payments/stripe/pi_never_seen")
    check("an unknown payment is 404", status == 404 and problem_type(answer).endswith("/not-found"), (status, answer))

    # Timelines: every canonical event about the payment, with what it posted.
    inbox = facts["inbox"]
    tx = {key: t["id"] for key, t in by_key.items()}
    timelines = {
        facts["pi_A"]: {canonical_id(inbox["capA"]): tx.get(f"stripe:{facts['pi_A']}:capture"), canonical_id(inbox["capA2"]): None,
                        canonical_id(inbox["refA1"]): tx.get(f"stripe:{facts['re_A1']}:refund"), canonical_id(inbox["refA2"]): None},
        facts["pi_B"]: {canonical_id(inbox["refB1"]): tx.get(f"stripe:{facts['re_B1']}:refund"), canonical_id(inbox["capB"]): tx.get(f"stripe:{facts['pi_B']}:capture"),
                        canonical_id(inbox["dpB"]): tx.get(f"stripe:{facts['dp_B']}:dispute_opened")},
    }
    for payment_id, want in timelines.items():
        status, payment = api("GET", f"payments/stripe/{payment_id}")
        have = {e["event_id"]: e["transaction_id"] for e in payment.get("timeline", [])} if status == 200 else status
        check(f"the timeline of {payment_id}: each event it got, and the transaction it posted (none for the repeat and the conflict)",
              have == want, {"got": have, "expected": want})


def check_conflicts(facts):
    key = f"stripe:{facts['re_A2']}:refund"
    status, answer = api("GET", "ledger/conflicts")
    open_ = answer.get("conflicts", []) if status == 200 else []
    check("ledger/conflicts (open by default): the refund above the capture, alone",
          [(c["key"], c["code"]) for c in open_] == [(key, "refund_exceeds_capture")], answer)
    conflict = open_[0] if open_ else {}
    check("the conflict names the event that offered it and is unresolved",
          conflict.get("cause_event_id") == canonical_id(facts["inbox"]["refA2"]) and conflict.get("resolved_at") is None
          and conflict.get("resolution_note") is None, conflict)
    if not conflict:
        return None
    cid, note = conflict["id"], f"the provider refunded 3000 only; the 8000 refund was a test ({RUN})"
    status, answer = api("POST", f"ledger/conflicts/{cid}/resolve", {"note": note}, role="support", subject=ALICE)
    check("support may not resolve a conflict (403)", status == 403, (status, answer))
    status, answer = api("POST", f"ledger/conflicts/{cid}/resolve", {"note": ""}, role="finance", subject=BOB)
    check("an empty resolution note is 400 naming note", status == 400 and extension(answer, "field") == "note", (status, answer))
    status, answer = api("POST", f"ledger/conflicts/{cid}/resolve", {"note": "x" * 501}, role="finance", subject=BOB)
    check("a resolution note over 500 characters is 400", status == 400, (status, answer))
    status, answer = api("POST", f"ledger/conflicts/{cid}/resolve", {"note": note}, role="finance", subject=BOB)
    check("finance resolves the conflict with a note", status == 200 and answer.get("id") == cid and answer.get("resolution_note") == note
          and answer.get("resolved_at"), (status, answer))
    status, answer = api("POST", f"ledger/conflicts/{cid}/resolve", {"note": note}, role="owner", subject=BOB)
    check("resolving it again is 409", status == 409, (status, answer))
    lists = {which: api("GET", f"ledger/conflicts?status={which}")[1].get("conflicts", []) for which in ("open", "resolved", "all")}
    check("afterwards: no open conflict; it is listed as resolved and under all",
          lists["open"] == [] and [c["id"] for c in lists["resolved"]] == [cid] and [c["id"] for c in lists["all"]] == [cid], lists)
    status, answer = api("GET", "ledger/conflicts?status=stale")
    check("an unknown conflict status is 400 naming status", status == 400 and extension(answer, "field") == "status", (status, answer))
    return cid


def check_payouts(facts, by_key):
    payout_tx = by_key.get(f"stripe:{facts['po']}:payout", {}).get("id")
    arrival = datetime.datetime.fromtimestamp(facts["arrival"], tz=datetime.timezone.utc).strftime("%Y-%m-%d")
    want = {"provider": "stripe", "payout_id": facts["po"], "status": "paid", "amount": {"amount_minor": 5000, "currency": "USD"}, "fees": None,
            "arrival_date": arrival, "occurred_at": rfc3339(facts["times"]["po"]), "transaction_id": payout_tx}
    status, answer = api("GET", "payouts")
    listed = answer.get("payouts", []) if status == 200 else []
    check("payouts: the one payout, paid, 5000 USD, with its arrival date and transaction",
          [{name: p.get(name) for name in want} for p in listed] == [want], {"got": listed, "expected": want})
    window = (rfc3339(STARTED - 86400), rfc3339(STARTED + 86400))
    status, report = api("GET", f"payouts/report?from={window[0]}&to={window[1]}")
    check("payouts/report over the run's days: one paid USD payout of 5000",
          status == 200 and report.get("groups") == [{"status": "paid", "currency": "USD", "count": 1, "amount_minor": 5000}], (status, report))
    check("the report's recent payouts are that payout", status == 200 and [p.get("payout_id") for p in report.get("recent", [])] == [facts["po"]], report)
    status, report = api("GET", f"payouts/report?from={rfc3339(STARTED - 40 * 86400)}&to={rfc3339(STARTED - 30 * 86400)}")
    check("payouts/report over an earlier month is empty", status == 200 and report.get("groups") == [] and report.get("recent") == [], (status, report))
    status, answer = api("GET", f"payouts/report?from={window[0]}")
    check("payouts/report without to is 400 naming to", status == 400 and extension(answer, "field") == "to", (status, answer))


def request_refund(body, role="support", subject=ALICE):
    return api("POST", "refunds", body, role=role, subject=subject)


def check_refund_requests(facts):
    """The refund flow; returns the ids of the requests it made."""
    pi_a, reason = facts["pi_A"], "customer asked for part of it back"
    status, first = request_refund({"payment_id": pi_a, "provider": "stripe", "amount_minor": 2000, "reason": reason})
    check("support requests a refund of 2000 of pi_A: 201 pending_approval",
          status == 201 and first.get("status") == "pending_approval" and first.get("amount") == {"amount_minor": 2000, "currency": "USD"}
          and first.get("requested_by") == ALICE and first.get("decided_by") is None and first.get("payment_id") == pi_a
          and first.get("provider") == "stripe" and first.get("reason") == reason, (status, first))
    rid = first.get("id", "none")
    status, answer = request_refund({"payment_id": pi_a, "provider": "stripe", "amount_minor": 100, "reason": reason}, role="viewer", subject="viewer")
    check("a viewer may not request a refund (403)", status == 403, (status, answer))
    status, answer = request_refund({"payment_id": pi_a, "provider": "stripe", "amount_minor": 100, "reason": ""})
    check("a request without a reason is 400 naming reason", status == 400 and extension(answer, "field") == "reason", (status, answer))
    status, answer = request_refund({"payment_id": pi_a, "provider": "stripe", "amount_minor": 0, "reason": reason})
    check("a request of 0 is 400 naming amount_minor", status == 400 and extension(answer, "field") == "amount_minor", (status, answer))
    status, answer = request_refund({"payment_id": "pi_never_seen", "provider": "stripe", "amount_minor": 100, "reason": reason})
    check("a request for an unknown payment is 404", status == 404, (status, answer))
    status, answer = request_refund({"payment_id": facts["pi_C"], "provider": "stripe", "amount_minor": 100, "reason": reason})
    check("a request for a failed payment is 409 payment-not-succeeded",
          status == 409 and problem_type(answer).endswith("/payment-not-succeeded"), (status, answer))
    # Refundable now: the capture 10000 less the refund 3000 less the pending request 2000.
    status, answer = request_refund({"payment_id": pi_a, "provider": "stripe", "amount_minor": 7500, "reason": reason})
    check("a second request above what is refundable is 422 refund-exceeds-refundable with refundable_minor 5000",
          status == 422 and problem_type(answer).endswith("/refund-exceeds-refundable") and str(extension(answer, "refundable_minor")) == "5000",
          (status, answer))

    status, answer = api("POST", f"refunds/{rid}/approve", role="support", subject=ALICE)
    check("support may not approve (403)", status == 403, (status, answer))
    status, answer = api("POST", f"refunds/{rid}/approve", role="finance", subject=ALICE)
    check("the requester may not approve their own request, even as finance (403 self-approval)",
          status == 403 and problem_type(answer).endswith("/self-approval"), (status, answer))
    status, answer = api("GET", f"refunds/{rid}")
    check("the refused approvals changed nothing", status == 200 and answer.get("status") == "pending_approval", (status, answer))
    status, approved = api("POST", f"refunds/{rid}/approve", role="finance", subject=BOB)
    check("finance approves it: offline (the stack has no Stripe key), decided by the approver",
          status == 200 and approved.get("status") == "offline" and approved.get("decided_by") == BOB and approved.get("requested_by") == ALICE
          and approved.get("amount") == {"amount_minor": 2000, "currency": "USD"}, (status, approved))
    status, answer = api("POST", f"refunds/{rid}/approve", role="owner", subject=BOB)
    check("approving it again is 409", status == 409, (status, answer))
    check_mock_refund_logged(rid)

    status, second = request_refund({"payment_id": pi_a, "provider": "stripe", "amount_minor": 1000, "reason": "asked twice"})
    check("support requests another 1000", status == 201 and second.get("status") == "pending_approval", (status, second))
    status, rejected = api("POST", f"refunds/{second.get('id')}/reject", {"reason": "duplicate of an approved request"}, role="admin", subject=CAROL)
    check("an admin rejects it", status == 200 and rejected.get("status") == "rejected" and rejected.get("decided_by") == CAROL, (status, rejected))
    status, answer = api("POST", f"refunds/{second.get('id')}/approve", role="finance", subject=BOB)
    check("a rejected request cannot be approved (409)", status == 409, (status, answer))
    # With nothing pending, an omitted amount is all still refundable: 10000 - 3000 - 2000 (offline).
    status, third = request_refund({"payment_id": pi_a, "reason": "whatever is left"})
    check("a request without amount or provider asks for all still refundable (5000 USD)",
          status == 201 and third.get("amount") == {"amount_minor": 5000, "currency": "USD"} and third.get("provider") == "stripe", (status, third))
    status, answer = api("POST", f"refunds/{third.get('id')}/reject", role="owner", subject=BOB)
    check("the owner rejects it without a reason", status == 200 and answer.get("status") == "rejected", (status, answer))

    ids = [rid, second.get("id"), third.get("id")]
    listed, _ = pages("refunds", "refunds")
    check("refunds lists the three requests", sorted(r["id"] for r in listed or []) == sorted(ids), listed)
    by_status = {s: sorted(r["id"] for r in api("GET", f"refunds?status={s}")[1].get("refunds", [])) for s in ("offline", "rejected", "pending_approval")}
    check("refunds?status= filters: one offline, two rejected, none pending",
          by_status == {"offline": [rid], "rejected": sorted(ids[1:]), "pending_approval": []}, by_status)
    status, answer = api("POST", "refunds/replay-offline", role="support", subject=ALICE)
    check("support may not replay offline refunds (403)", status == 403, (status, answer))
    status, replay = api("POST", "refunds/replay-offline", role="finance", subject=BOB)
    check("replay-offline without a Stripe key: the one request stays offline",
          status == 200 and (replay.get("submitted"), replay.get("still_offline"), replay.get("failed")) == (0, 1, 0)
          and [r.get("id") for r in replay.get("refunds", [])] == [rid], (status, replay))
    status, payment = api("GET", f"payments/stripe/{pi_a}")
    check("an offline refund moves no money yet: pi_A still refunded 3000", status == 200 and payment.get("refunded_minor") == 3000, payment)
    return ids


def finance_log():
    """Finance's log file, found through the pid files of the stack whose finance serves FINANCE's
    port (the test stack under `make test`, the local one under `make up`); None when none does."""
    from tallystack import pidfiles, profiles
    port = urllib.parse.urlparse(FINANCE).port
    for name in profiles.NAMES:
        profile = profiles.load(name)
        if pidfiles.PidFiles(profile.pids).read("finance").port == port:
            return profile.log_file("finance")
    return None


def check_mock_refund_logged(refund_id, seconds=10):
    log = finance_log()
    if log is None or not log.exists():
        print(f"  skip MOCK_REFUND in finance's log: no stack's pid files name a finance on {FINANCE}, so its log is not reachable", flush=True)
        return
    deadline, lines = time.time() + seconds, []
    while True:
        lines = [line for line in log.read_text(errors="replace").splitlines() if "MOCK_REFUND" in line and refund_id in line]
        if lines or time.time() > deadline:
            break
        time.sleep(0.5)
    check(f"finance's log ({log}) has a MOCK_REFUND line naming the approved request", lines, f"no line with MOCK_REFUND and {refund_id}")


def check_audit(refund_ids, conflict_id):
    """The audit entries of the refund flow and the resolution. The contract names no action or
    target format, so an entry is about an id when its target (or its before/after) holds it."""
    entries, _ = pages_audit()

    def about(entry, target):
        return target and any(str(target) in (entry.get(field) or "") for field in ("target", "after", "before"))

    def by(target, actor, word=None):
        return [e for e in entries if about(e, target) and e.get("actor") == actor and (word is None or word in e.get("action", ""))]
    first, second, third = refund_ids
    check("audit-log: the first request's creation by the requester and its approval by the approver",
          by(first, ALICE) and by(first, BOB, "approve"), [e for e in entries if about(e, first)])
    check("audit-log: the second request's creation and its rejection by the admin",
          by(second, ALICE) and by(second, CAROL, "reject"), [e for e in entries if about(e, second)])
    check("audit-log: the third request's rejection by the owner", by(third, BOB, "reject"), [e for e in entries if about(e, third)])
    check("audit-log: the conflict's resolution by finance", by(conflict_id, BOB, "resolve"), [e for e in entries if about(e, conflict_id)])


def pages_audit():
    entries, before = [], None
    for count in range(1, 50):
        status, page = api("GET", "audit-log?limit=500" + (f"&before={before}" if before else ""))
        if status != 200:
            return entries, count
        entries += page.get("entries", [])
        before = page.get("next_cursor")
        if not before:
            return entries, count
    return entries, 50


def check_verify(ledger):
    status, answer = api("GET", "ledger/verify")
    check(f"ledger/verify: ok over the {len(ledger.transactions)} transactions, every check passing",
          status == 200 and answer.get("ok") is True and answer.get("transactions") == len(ledger.transactions)
          and answer.get("first_failure") is None and all(c.get("ok") is True for c in answer.get("checks", [])), (status, answer))
    check("ledger/verify runs the six checks of the contract", [c.get("name") for c in answer.get("checks", [])] == VERIFY_CHECKS, answer.get("checks"))
    tally = os.environ.get("TALLY_E2E_TALLY_BIN")
    if not tally or not os.access(tally, os.X_OK):
        print("  skip tally verify finance: the harness names no tally binary (TALLY_E2E_TALLY_BIN)", flush=True)
        return
    done = subprocess.run([tally, "verify", "finance", "--org", ORG, "--finance-url", FINANCE], capture_output=True, text=True, timeout=120)
    check("tally verify finance --org ORG exits 0", done.returncode == 0, done.stdout[-1500:] + done.stderr[-500:])


def check_journal(ledger, by_key):
    status, content_type, journal = text("ledger/journal")
    check("ledger/journal answers text/plain; charset=utf-8", status == 200 and content_type.replace(" ", "").lower() == "text/plain;charset=utf-8",
          (status, content_type, journal[:300]))
    if status != 200:
        return
    try:
        hledger_check.binary()
    except hledger_check.HledgerError as error:
        check("hledger is installed to read the journal", False, str(error))
        return
    with tempfile.TemporaryDirectory(prefix="tally-journal-") as directory:
        path = pathlib.Path(directory) / f"{ORG}.journal"
        path.write_text(journal)
        ok, said = hledger_check.check_strict(path)
        check("hledger check --strict accepts the journal (accounts, commodities, balance assertions)", ok, said[-1500:])
        try:
            balances, entries, style = hledger_check.balances(path), hledger_check.entries(path), hledger_check.style_problems(path)
        except hledger_check.HledgerError as error:
            check("hledger reads the journal, every amount in whole minor units", False, str(error))
            return
    expected = ledger.balances()
    check("hledger's balance per account and currency equals the balances the postings make", balances == expected,
          hledger_check.differences(balances, expected))
    check("every currency is written with its own decimals (USD 2, EUR 2, JPY 0, KWD 3)", not style, style)
    posted = [e for e in entries if e["tx"]]
    check(f"one journal entry per transaction ({len(by_key)}), each tagged tx:<id>",
          sorted(str(e["tx"]) for e in posted) == sorted(str(t["id"]) for t in by_key.values()), [e["tx"] for e in posted])
    wrong = []
    for entry in posted:
        transaction = next((t for t in by_key.values() if str(t["id"]) == str(entry["tx"])), None)
        if transaction is None:
            continue
        if (sorted(entry["postings"]) != sorted_entries(transaction["entries"]) or entry["date"] != transaction["posted_at"][:10]
                or transaction["kind"] not in entry["description"] or transaction["key"] not in entry["description"]):
            wrong.append((entry, transaction["key"]))
    check("each entry: the transaction's postings, dated by its posting day, described by kind and key", not wrong, wrong[:3])
    assertions = {(account, currency): value for e in entries for account, currency, value in e["assertions"]}
    check("the journal ends with one balance assertion per account and currency, each the expected balance",
          assertions == expected and sum(len(e["assertions"]) for e in entries) == len(expected),
          hledger_check.differences(assertions, expected, ("assertion", "expected")))


def check_topic(ledger, by_key):
    """Rebuilds the balances from the postings topic alone and compares them."""
    wanted = len(ledger.transactions)

    def distinct(kept):
        return {e["data"]["transaction_id"] for e in kept if isinstance(e.get("data"), dict) and "transaction_id" in e["data"]}
    events = consume([POSTINGS_TOPIC], f"e2e-finance-{ORG}", lambda e: e.get("tenant") == ORG and e.get("type") == POSTED_TYPE,
                     lambda kept: len(distinct(kept)) >= wanted, seconds=60)
    unique = list({e["id"]: e for e in events}.values())
    ids = [e["data"].get("transaction_id") for e in unique]
    check(f"{POSTINGS_TOPIC}: one {POSTED_TYPE} per transaction ({wanted})",
          sorted(ids) == sorted(t["id"] for t in by_key.values()), sorted(e["data"].get("key", "?") for e in unique))
    # `payment` and `reverses` are left out when absent, as canonical JSON leaves out every absent optional.
    fields = {"ledger", "transaction_id", "sequence", "key", "kind", "cause_event_id", "cause_event_type", "occurred_at", "posted_at", "entries",
              "content_sha256", "chain_sha256"}
    mismatched = []
    for event in unique:
        data = event["data"]
        transaction = by_key.get(data.get("key"), {})
        if (not fields <= set(data) or data.get("ledger") != ORG or data.get("payment") != transaction.get("payment")
                or data.get("reverses") != transaction.get("reverses")
                or sorted_entries(data.get("entries")) != sorted_entries(transaction.get("entries"))
                or data.get("sequence") != transaction.get("sequence") or data.get("chain_sha256") != transaction.get("chain_sha256")
                or data.get("transaction_id") != transaction.get("id")):
            mismatched.append(data.get("key"))
    check("each posted event carries its transaction's fields, entries, sequence and chain hash", unique and not mismatched, mismatched)
    rebuilt = {}
    for event in unique:
        for entry in event["data"].get("entries", []):
            slot = (entry["account"], entry["currency"])
            rebuilt[slot] = rebuilt.get(slot, 0) + entry["amount_minor"]
    rebuilt = {slot: value for slot, value in rebuilt.items() if value}
    status, answer = api("GET", "ledger/balances")
    api_balances = as_map(answer.get("balances", [])) if status == 200 else {}
    check("the balances rebuilt from the topic equal the balances API", rebuilt and rebuilt == api_balances,
          hledger_check.differences(rebuilt, api_balances, ("topic", "API")))
    check("and equal the balances the postings make", rebuilt == ledger.balances(), hledger_check.differences(rebuilt, ledger.balances(), ("topic", "expected")))


def main():
    print(f"  finance at {FINANCE}, org {ORG}", flush=True)
    if not check(f"finance answers /healthz at {FINANCE or 'no URL'}", FINANCE and alive(FINANCE), "is the finance service running?"):
        checks.finish()
    create_sources()
    ledger = ExpectedLedger()
    facts = scenario(ledger)
    by_key = check_transactions(ledger, facts)
    check_balances(ledger, facts, by_key)
    check_statement(ledger, by_key)
    check_accounts(ledger)
    check_payments(facts, by_key)
    conflict_id = check_conflicts(facts)
    check_payouts(facts, by_key)
    refund_ids = check_refund_requests(facts)
    check_audit(refund_ids, conflict_id)
    status, answer = api("GET", "ledger/transactions?limit=200")
    check("the refund requests posted nothing", status == 200 and [t["key"] for t in answer.get("transactions", [])] == ledger.keys(),
          [t["key"] for t in answer.get("transactions", [])])
    check_verify(ledger)
    check_journal(ledger, by_key)
    check_topic(ledger, by_key)
    checks.finish()


if __name__ == "__main__":
    main()
