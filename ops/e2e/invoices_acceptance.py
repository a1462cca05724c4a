"""End-to-end acceptance of invoices on a running stack (real gateway, normalizer, broker, finance,
notifications, PostgreSQL).

Webhooks go in at the gateway signed as each provider signs, for a fresh org. Every expected
amount is computed here from what was sent (per line, half to even), never read back. Checked:

- an internal `order.placed` with a taxed and an untaxed line → one invoice numbered
  `INV-YYYYMMDD-NNNN` with the right snapshot (subtotal, taxable subtotal, tax, total, effective
  rate), `issued`, its receivable in the ledger; the order sent again under a new event id → still
  one invoice;
- the Stripe capture of that order (`payment_intent.succeeded` naming the order) → `paid`, the
  receivable settled, revenue at the invoice's net and the tax in `liabilities:tax_payable`;
- a change of the org's tax settings leaves the issued invoice as it was;
- a partial refund (`charge.refunded`) → a credit note `-CN` for the refund's amount, split
  into net and tax in the invoice's proportion; a second request finds nothing more to credit;
- a second order left unpaid whose status is tampered to `paid` in the database → the mismatch
  list shows it, reconcile sets it back to `issued` once (a repeat changes nothing), audited;
- a signed link: sent as an `invoice.link` notification request (notifications records the
  delivery), opened without a token, refused when tampered with; the page rendered by headless
  Chromium to PDF and read back with pdftotext shows the number, the lines' amounts and totals;
- `ledger/verify` passes.

Prints `e2e: N passed, M failed`.
"""
import datetime
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "support"))
from tally_e2e import GATEWAY, Checks, call, fixture, service_url, sign, token  # noqa: E402

FINANCE = service_url("finance")
NOTIFICATIONS = service_url("notifications")
STARTED = int(time.time())
RUN = "%d%03d" % (STARTED, int(time.time() * 1000) % 1000)
ORG = f"org_inv_{RUN}"
ORDER, UNPAID_ORDER = f"ord_{RUN}", f"ord_unpaid_{RUN}"
INTENT = f"pi_inv_{RUN}"
CUSTOMER = f"cus_inv_{RUN}"
FINANCE_PERSON = f"fay.finance.{RUN}"
checks = Checks()
check = checks.check

# The order: 2 × 45.00 at 10 %, 3 × 3.33 at 8.25 % (tax 0.824175 → 0.82), 1 × 20.00 untaxed.
LINES = [("BOOK", "Ledger book", 2, 4_500, 1_000), ("PEN", "Fountain pen, \"fine\"", 3, 333, 825), ("SHIP", "Shipping", 1, 2_000, 0)]


def half_even(numerator, denominator):
    quotient, remainder = divmod(numerator, denominator)
    if remainder * 2 > denominator or (remainder * 2 == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def expected_lines():
    rows = []
    for sku, description, quantity, unit, rate in LINES:
        net = quantity * unit
        tax = half_even(net * rate, 10_000)
        rows.append({"sku": sku, "description": description, "quantity": quantity, "unit_price_minor": unit, "net_minor": net,
                     "tax_rate_bps": rate, "tax_minor": tax, "total_minor": net + tax})
    return rows


def expected_snapshot(lines):
    subtotal = sum(line["net_minor"] for line in lines)
    taxable = sum(line["net_minor"] for line in lines if line["tax_rate_bps"] > 0)
    tax = sum(line["tax_minor"] for line in lines)
    return {"subtotal_minor": subtotal, "taxable_subtotal_minor": taxable, "tax_minor": tax, "total_minor": subtotal + tax,
            "tax_rate_basis_bps": half_even(tax * 10_000, taxable) if taxable else 0}


def usd(minor):
    return f"USD {minor // 100}.{minor % 100:02d}"


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------

def bearer(role, subject="e2e"):
    return {"Authorization": f"Bearer {token(ORG, role, subject)}"}


def api(method, path, body=None, role="viewer", subject="e2e", base=None):
    status, answer, _ = call(method, f"{base or FINANCE}/admin/orgs/{ORG}/{path}", body, bearer(role, subject))
    return status, answer


def fetch_text(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode(errors="replace")


def wait(fetch, done, seconds=60):
    deadline = time.time() + seconds
    while True:
        value = fetch()
        if done(value) or time.time() > deadline:
            return value
        time.sleep(0.3)


def psql(sql):
    """Rows of a statement through psql with the stack's admin URL, or None when that is not possible."""
    from tallystack import postgres
    admin = os.environ.get("TALLY_DATABASE_ADMIN_URL")
    if not admin:
        return None
    try:
        result = subprocess.run([postgres.tool("psql"), admin, "-X", "-q", "-At", "-F", "\t", "-c", sql], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return [line.split("\t") for line in result.stdout.splitlines() if line] if result.returncode == 0 else None


# --------------------------------------------------------------------------------------------
# Webhooks
# --------------------------------------------------------------------------------------------

sources = {}


def create_sources():
    for provider in ("stripe", "internal"):
        status, answer, _ = call("POST", f"{GATEWAY}/admin/orgs/{ORG}/sources", {"provider": provider, "name": f"invoices e2e {provider}"}, bearer("admin"))
        if check(f"create a {provider} source at the gateway", status == 201, (status, answer)):
            sources[provider] = {"id": answer["source"]["id"], "secret": answer["secret"]}
    return len(sources) == 2


def send(provider, body, name):
    source = sources[provider]
    status, answer, _ = call("POST", f"{GATEWAY}/webhooks/{source['id']}", raw=body, headers=sign(provider, body, source["secret"]))
    check(f"{name}: the gateway accepts it", status == 200, (status, answer))
    inbox_id = answer.get("inbox_id") if isinstance(answer, dict) else None

    def outcome():
        code, entry, _ = call("GET", f"{GATEWAY}/admin/orgs/{ORG}/inbox/{inbox_id}", headers=bearer("admin"))
        return entry.get("status") if code == 200 else None
    got = wait(outcome, lambda s: s in ("processed", "ignored", "failed")) if inbox_id else None
    check(f"{name}: the normalizer processed it", got == "processed", got)


def internal_order(event_id, order, customer, payment_reference):
    lines = expected_lines()
    data = {"order_id": order, "customer_id": customer, "currency": "USD", "payment_reference": payment_reference,
            "lines": [{"sku": line["sku"], "description": line["description"], "quantity": line["quantity"],
                       "unit_price_minor": line["unit_price_minor"], "tax_rate_bps": line["tax_rate_bps"], "tax_minor": line["tax_minor"],
                       "total_minor": line["total_minor"]} for line in lines]}
    snapshot = expected_snapshot(lines)
    data.update(subtotal_minor=snapshot["subtotal_minor"], tax_minor=snapshot["tax_minor"], total_minor=snapshot["total_minor"])
    occurred = datetime.datetime.fromtimestamp(STARTED - 600, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({"id": event_id, "type": "order.placed", "occurred_at": occurred, "data": data}).encode()


def stripe_event(sample, event_id, when, **changes):
    event = json.loads(fixture(f"stripe/{sample}.json"))
    event.update(id=event_id, created=when)
    event["data"]["object"].update(changes)
    return json.dumps(event).encode()


def stripe_capture(amount):
    return stripe_event("payment_intent.succeeded", f"evt_cap_{RUN}", STARTED - 300, id=INTENT, amount=amount, amount_received=amount, currency="usd",
                        customer=CUSTOMER, metadata={"order_id": ORDER}, latest_charge="ch_" + INTENT[3:], invoice=None, created=STARTED - 305)


def stripe_refund(charge_amount, refund_id, amount):
    listed = [{"id": refund_id, "object": "refund", "amount": amount, "currency": "usd", "reason": "requested_by_customer", "status": "succeeded",
               "created": STARTED - 200}]
    return stripe_event("charge.refunded", f"evt_ref_{RUN}", STARTED - 200, id="ch_" + INTENT[3:], amount=charge_amount, amount_refunded=amount,
                        currency="usd", payment_intent=INTENT, refunded=False, refunds={"object": "list", "data": listed})


def invoice_of(order, done=lambda invoice: invoice is not None):
    def fetch():
        status, page = api("GET", "invoices?limit=200")
        if status != 200:
            return None
        found = [invoice for invoice in page.get("invoices", []) if invoice.get("order_id") == order]
        return found[0] if len(found) == 1 else (found or None)
    return wait(fetch, done)


# --------------------------------------------------------------------------------------------
# The PDF a customer prints
# --------------------------------------------------------------------------------------------

def pdf_text(url):
    """The page at `url` printed to PDF by headless Chromium and read back by pdftotext, or an
    explanation when either tool is missing or fails."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    pdftotext = shutil.which("pdftotext")
    if not chromium or not pdftotext:
        return None, f"chromium={chromium} pdftotext={pdftotext} (ops/stack.sh bootstrap installs both)"
    with tempfile.TemporaryDirectory() as folder:
        pdf = os.path.join(folder, "invoice.pdf")
        run = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer", f"--user-data-dir={folder}/profile",
                              f"--print-to-pdf={pdf}", url], capture_output=True, text=True, timeout=120)
        if not os.path.exists(pdf):
            return None, f"chromium wrote no PDF (exit {run.returncode}): {run.stderr[-500:]}"
        read = subprocess.run([pdftotext, "-layout", pdf, "-"], capture_output=True, text=True, timeout=60)
        return read.stdout, None


# --------------------------------------------------------------------------------------------
# The scenario
# --------------------------------------------------------------------------------------------

def main():
    print(f"  finance at {FINANCE}, notifications at {NOTIFICATIONS}, org {ORG}")
    if not create_sources():
        checks.finish()
    lines = expected_lines()
    snapshot = expected_snapshot(lines)

    status, settings = api("PUT", "invoice-settings", {"tax_rate_bps": 1_000, "payment_terms_days": 14}, role="finance", subject=FINANCE_PERSON)
    check("PUT invoice-settings as finance is 200", status == 200 and settings == {"tax_rate_bps": 1_000, "payment_terms_days": 14}, (status, settings))

    send("internal", internal_order(f"ord_evt_{RUN}", ORDER, CUSTOMER, INTENT), "internal order.placed (taxed and untaxed lines)")
    invoice = invoice_of(ORDER)
    if not check("the order has one invoice", isinstance(invoice, dict), invoice):
        checks.finish()
    day = datetime.datetime.fromisoformat(invoice["issued_at"].replace("Z", "+00:00")).strftime("%Y%m%d")
    check("its number is INV-<issue day>-NNNN", re.fullmatch(rf"INV-{day}-\d{{4,}}", invoice["number"]) is not None, invoice["number"])
    check("its lines are taxed per line, half to even", invoice["lines"] == lines, (invoice["lines"], lines))
    check("its snapshot is the lines' sums", invoice["snapshot"] == snapshot, (invoice["snapshot"], snapshot))
    check("it is issued, nothing paid", invoice["status"] == "issued" and invoice["paid_minor"] == 0 and invoice["outstanding_minor"] == snapshot["total_minor"],
          invoice)
    send("internal", internal_order(f"ord_evt_again_{RUN}", ORDER, CUSTOMER, INTENT), "the same order under a new event id")
    time.sleep(1)
    again = invoice_of(ORDER)
    check("still one invoice for the order, the same one", isinstance(again, dict) and again["id"] == invoice["id"], again)

    send("stripe", stripe_capture(snapshot["total_minor"]), "stripe capture of the order")
    paid = invoice_of(ORDER, lambda found: isinstance(found, dict) and found.get("status") == "paid")
    check("the capture pays the invoice", isinstance(paid, dict) and paid["status"] == "paid" and paid["paid_minor"] == snapshot["total_minor"], paid)
    status, balances = api("GET", "ledger/balances")
    books = {(line["account"], line["currency"]): line["balance_minor"] for line in balances.get("balances", [])} if status == 200 else {}
    check("ledger: the receivable is settled, revenue is the net, the tax is owed",
          ("assets:receivables", "USD") not in books and books.get(("income:revenue", "USD")) == -snapshot["subtotal_minor"]
          and books.get(("liabilities:tax_payable", "USD")) == -snapshot["tax_minor"], books)

    status, _ = api("PUT", "invoice-settings", {"tax_rate_bps": 2_000, "payment_terms_days": 30}, role="finance", subject=FINANCE_PERSON)
    status, after = api("GET", f"invoices/{invoice['id']}")
    check("a tax-settings change leaves the issued invoice as it was",
          status == 200 and after["snapshot"] == snapshot and after["lines"] == lines and after["due_at"] == invoice["due_at"], after)

    refund = 3_000
    send("stripe", stripe_refund(snapshot["total_minor"], f"re_inv_{RUN}", refund), "stripe partial refund of the capture")
    note_tax = half_even(refund * snapshot["tax_minor"], snapshot["total_minor"])
    credited = wait(lambda: api("POST", f"invoices/{invoice['id']}/credit-notes", {"reason": "partial refund"}, role="finance", subject=FINANCE_PERSON),
                    lambda answer: answer[0] == 201, seconds=30)
    note = (credited[1] or {}).get("credit_note", {}) if credited[0] == 201 else {}
    check("a credit note for the refund: 201, number -CN", credited[0] == 201 and note.get("number") == invoice["number"] + "-CN", credited)
    check("the credit note is the refund split in the invoice's proportion",
          note.get("total_minor") == refund and note.get("tax_minor") == note_tax and note.get("net_minor") == refund - note_tax, note)
    status, answer = api("POST", f"invoices/{invoice['id']}/credit-notes", None, role="finance", subject=FINANCE_PERSON)
    check("a second credit note finds no refund left: 409 no-refund-to-credit", status == 409 and "no-refund-to-credit" in answer.get("type", ""), (status, answer))

    # Reconcile a tampered status.
    send("internal", internal_order(f"ord_evt_unpaid_{RUN}", UNPAID_ORDER, CUSTOMER, None), "a second order, left unpaid")
    unpaid = invoice_of(UNPAID_ORDER)
    if check("the second order has its invoice", isinstance(unpaid, dict), unpaid):
        changed = psql(f"UPDATE finance.invoices SET status = 'paid', paid_minor = total_minor WHERE org_id = '{ORG}' AND id = '{unpaid['id']}' RETURNING status")
        if check("its status tampered to paid in the database (psql with the stack's admin URL)", changed == [["paid"]], changed):
            status, listing = api("GET", "reconcile/invoices")
            rows = listing.get("invoices", []) if status == 200 else []
            check("the mismatch list shows it (and only it), expected issued, with its reconcile link",
                  [row["invoice_id"] for row in rows] == [unpaid["id"]] and rows[0]["expected_status"] == "issued"
                  and rows[0]["reconcile_url"].endswith(f"/invoices/{unpaid['id']}/reconcile"), listing)
            status, answer = api("POST", f"invoices/{unpaid['id']}/reconcile", role="viewer")
            check("reconcile as a viewer is 403", status == 403, (status, answer))
            status, answer = api("POST", f"invoices/{unpaid['id']}/reconcile", role="finance", subject=FINANCE_PERSON)
            check("reconcile repairs it: issued, nothing paid, changed",
                  status == 200 and answer["changed"] and answer["invoice"]["status"] == "issued" and answer["after"]["paid_minor"] == 0
                  and answer["before"]["status"] == "paid", (status, answer))
            status, answer = api("POST", f"invoices/{unpaid['id']}/reconcile", role="finance", subject=FINANCE_PERSON)
            check("a repeat changes nothing", status == 200 and not answer["changed"], (status, answer))
            status, listing = api("GET", "reconcile/invoices")
            check("the mismatch list is empty again", status == 200 and listing.get("invoices") == [], listing)
            status, audit = api("GET", "audit-log", role="admin")
            actions = [(entry.get("action"), entry.get("actor")) for entry in audit.get("entries", [])] if status == 200 else []
            check("the reconciles are audited with the person", actions.count(("invoice.reconcile", FINANCE_PERSON)) == 2, actions)

    # The customer's link and the page they print.
    status, link = api("POST", f"invoices/{invoice['id']}/link", {"expires_in_hours": 48}, role="support")
    check("a signed link is sent as a notification request", status == 200 and link.get("sent") is True, (status, link))
    url = link.get("url", "") if status == 200 else ""
    code, kind, page = fetch_text(url) if url else (0, "", "")
    check("the link opens the page without a token", code == 200 and kind.startswith("text/html") and invoice["number"] in page, (code, kind))
    tampered = url.replace(invoice["id"], unpaid["id"]) if isinstance(unpaid, dict) else url + "x"
    check("the same signature for another invoice is 403", fetch_text(tampered)[0] == 403)
    dedupe = link.get("dedupe_key")

    def delivery():
        code, answer = api("GET", "deliveries?limit=200", base=NOTIFICATIONS)
        found = [item for item in answer.get("deliveries", []) if item.get("dedupe_key") == dedupe] if code == 200 else []
        return found[0] if found else None
    recorded = wait(delivery, lambda found: found is not None, seconds=45)
    check("notifications recorded the invoice.link delivery", isinstance(recorded, dict) and recorded.get("template_key") == "invoice.link", recorded)

    text, problem = pdf_text(url) if url else (None, "no link")
    if check("Chromium prints the page to PDF and pdftotext reads it", text is not None, problem):
        flat = " ".join(text.split())
        wanted = [invoice["number"], usd(snapshot["subtotal_minor"]), usd(snapshot["taxable_subtotal_minor"]), usd(snapshot["tax_minor"]),
                  usd(snapshot["total_minor"])] + [usd(line["total_minor"]) for line in lines] + [invoice["number"] + "-CN"]
        missing = [value for value in wanted if value not in flat]
        check("the PDF shows the number, every line total, the snapshot and the credit note", not missing, (missing, flat[:600]))

    status, verification = api("GET", "ledger/verify")
    check("ledger/verify passes", status == 200 and verification.get("ok") is True, verification)
    checks.finish()


if __name__ == "__main__":
    main()
