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
- an installment plan for the unpaid invoice with its first installment already 10 days late:
  the overdue list (days late, amount), the `installment.overdue` reminder notifications records
  (once, at the 7-day step), receivables (aging bucket 1–30 and the priority list), a
  renegotiation that must cover exactly what is open (409 otherwise), the old installments kept;
- a third order whose customer and line descriptions look like spreadsheet formulas; the
  accounting export read with Python's csv module: every invoice and the credit note from their
  snapshots, the formula-looking cells neutralised, the SHA-256 and row count in the trailers
  matching the body; `payments.csv` and `customers.csv`;
- `ledger/verify` passes.

Prints `e2e: N passed, M failed`.
"""
import datetime
import json
import os
import pathlib
import re
import csv
import hashlib
import io
import shutil
import socket
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
ORDER, UNPAID_ORDER, FORMULA_ORDER = f"ord_{RUN}", f"ord_unpaid_{RUN}", f"ord_formula_{RUN}"
# A customer reference and descriptions a spreadsheet would run as formulas.
FORMULA_CUSTOMER = "=HYPERLINK(\"http://evil.example\",\"pay\")"
FORMULA_LINES = [("F1", "@SUM(A1:A9)", 1, 1_000, 1_000), ("F2", "-2+3, \"quoted\"", 1, 500, 0), ("F3", "+cmd|' /C calc'!A0", 2, 250, 0)]
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


def expected_lines(source=None):
    rows = []
    for sku, description, quantity, unit, rate in source or LINES:
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


def internal_order(event_id, order, customer, payment_reference, source_lines=None):
    lines = expected_lines(source_lines)
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


def get_with_trailers(url, headers):
    """A GET over a raw HTTP/1.1 connection that reads a chunked body and its trailers (urllib
    drops trailers): (status, headers, body bytes, trailers), header names lowercased."""
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as connection:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        lines = [f"GET {target} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}", "TE: trailers", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    head_lines = head.decode("latin-1").split("\r\n")
    status = int(head_lines[0].split(" ")[1])
    fields = {line.split(":", 1)[0].strip().lower(): line.split(":", 1)[1].strip() for line in head_lines[1:] if ":" in line}
    if fields.get("transfer-encoding", "").lower() != "chunked":
        return status, fields, rest, {}
    body, trailers = b"", {}
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            for line in rest.decode("latin-1").split("\r\n"):
                if ":" in line:
                    trailers[line.split(":", 1)[0].strip().lower()] = line.split(":", 1)[1].strip()
            break
        body, rest = body + rest[:size], rest[size + 2:]
    return status, fields, body, trailers


def utc_day(seconds):
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc).strftime("%Y-%m-%d")


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

    # An installment plan for the unpaid invoice, its first installment already 10 days late.
    if isinstance(unpaid, dict):
        owed = unpaid["snapshot"]["total_minor"]
        first, second = 4_000, owed - 4_000
        status, plan = api("POST", "plans", {"invoice_id": unpaid["id"], "reason": "customer asked",
                                             "schedule": {"installments": [{"due_on": utc_day(STARTED - 10 * 86_400), "amount_minor": first},
                                                                           {"due_on": utc_day(STARTED + 20 * 86_400), "amount_minor": second}]}},
                           role="finance", subject=FINANCE_PERSON)
        if check("a plan of two installments for the unpaid invoice is 201", status == 201 and [i["amount_minor"] for i in plan["installments"]] == [first, second],
                 (status, plan)):
            status, overdue = api("GET", "installments/overdue?min_days=3")
            rows = [row for row in overdue.get("installments", []) if row.get("plan_id") == plan["id"]] if status == 200 else []
            check("the overdue list shows the first installment, 10 days late, with its amount",
                  len(rows) == 1 and rows[0]["number"] == 1 and rows[0]["days_late"] == 10 and rows[0]["amount_minor"] == first, overdue)
            reminder_key = f"installment-overdue:{plan['id']}:1:7"

            def reminder():
                code, answer = api("GET", "deliveries?limit=200", base=NOTIFICATIONS)
                found = [item for item in answer.get("deliveries", []) if item.get("dedupe_key") == reminder_key] if code == 200 else []
                return found
            reminders = wait(reminder, lambda found: bool(found), seconds=45)
            check("the reminder job asked notifications for one installment.overdue reminder (the 7-day step)",
                  len(reminders) == 1 and reminders[0].get("template_key") == "installment.overdue", reminders)
            status, report = api("GET", "receivables")
            aging = {row["currency"]: row for row in report.get("aging", [])} if status == 200 else {}
            check("receivables: the late installment in 1-30 days", aging.get("USD", {}).get("days_1_30_minor") == first, report)
            top = (report.get("priority") or [{}])[0] if status == 200 else {}
            check("receivables: the customer first in the priority list, owing the late amount for 10 days",
                  top.get("customer_ref") == CUSTOMER and top.get("owed_minor") == first and top.get("days_overdue") == 10 and top.get("score") == first * 10, report)
            status, answer = api("POST", f"plans/{plan['id']}/renegotiate", {"reason": "lost job", "schedule": {"count": 3, "first_due_on": utc_day(STARTED + 86_400)}},
                                 role="finance", subject=FINANCE_PERSON)
            check("a renegotiation covering the open amount is 200", status == 200, (status, answer))
            if status == 200:
                old, new = answer["renegotiated"], answer["plan"]
                check("the old installments are kept as renegotiated", [i["status"] for i in old["installments"]] == ["renegotiated", "renegotiated"], old)
                check("the new plan covers exactly what was open, in three installments",
                      new["total_minor"] == owed and sum(i["amount_minor"] for i in new["installments"]) == owed and len(new["installments"]) == 3, new)
                status, answer = api("POST", f"plans/{new['id']}/renegotiate",
                                     {"reason": "short", "schedule": {"installments": [{"due_on": utc_day(STARTED + 86_400), "amount_minor": 1}]}},
                                     role="finance", subject=FINANCE_PERSON)
                check("a renegotiation that does not cover the open amount is 409 schedule-must-cover",
                      status == 409 and "schedule-must-cover" in answer.get("type", ""), (status, answer))

    # The accounting export, with values that look like formulas.
    send("internal", internal_order(f"ord_evt_formula_{RUN}", FORMULA_ORDER, FORMULA_CUSTOMER, None, FORMULA_LINES), "an order with formula-looking text")
    formula = invoice_of(FORMULA_ORDER)
    check("the formula order has its invoice", isinstance(formula, dict), formula)
    period = f"from={utc_day(STARTED)}&to={utc_day(STARTED + 86_400)}"
    code, fields, body, trailers = get_with_trailers(f"{FINANCE}/admin/orgs/{ORG}/exports/accounting.csv?{period}", bearer("finance", FINANCE_PERSON))
    check("GET exports/accounting.csv is 200 text/csv with its period", code == 200 and fields.get("content-type", "").startswith("text/csv")
          and fields.get("x-export-period") == f"{utc_day(STARTED)}/{utc_day(STARTED + 86_400)}", (code, fields))
    check("the trailers carry the body's SHA-256", trailers.get("x-export-sha256") == hashlib.sha256(body).hexdigest(), trailers)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
    header, records = (rows[0], rows[1:]) if rows else ([], [])
    check("the row count in the trailers is the file's", trailers.get("x-export-rows") == str(len(records)), (trailers, len(records)))
    column = {name: index for index, name in enumerate(header)}
    by_number = {record[column["number"]]: record for record in records} if "number" in column else {}
    invoice_row = by_number.get(invoice["number"])
    check("the first invoice's row holds its snapshot, paid and outstanding",
          invoice_row is not None and [int(invoice_row[column[name]]) for name in ("subtotal_minor", "taxable_subtotal_minor", "tax_minor", "total_minor")]
          == [snapshot["subtotal_minor"], snapshot["taxable_subtotal_minor"], snapshot["tax_minor"], snapshot["total_minor"]]
          and int(invoice_row[column["paid_minor"]]) == snapshot["total_minor"] and int(invoice_row[column["outstanding_minor"]]) == 0, invoice_row)
    note_row = by_number.get(invoice["number"] + "-CN")
    check("the credit note has its row", note_row is not None and note_row[column["record_type"]] == "credit_note"
          and int(note_row[column["total_minor"]]) == refund and int(note_row[column["tax_minor"]]) == note_tax, note_row)
    formula_row = by_number.get(formula["number"]) if isinstance(formula, dict) else None
    check("formula-looking values come back as text, prefixed with an apostrophe",
          formula_row is not None and formula_row[column["customer_ref"]] == "'" + FORMULA_CUSTOMER
          and formula_row[column["description"]] == "'" + FORMULA_LINES[0][1] + " (+2 more)", formula_row)
    dangerous = [cell for record in records for cell in record if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    check("no cell of the file starts with = + - @ tab or CR", not dangerous, dangerous)
    code, _, payments_body, payment_trailers = get_with_trailers(f"{FINANCE}/admin/orgs/{ORG}/exports/payments.csv?from={utc_day(STARTED - 86_400)}&to={utc_day(STARTED + 86_400)}",
                                                                   bearer("finance", FINANCE_PERSON))
    payment_rows = list(csv.DictReader(io.StringIO(payments_body.decode("utf-8"), newline="")))
    check("payments.csv lists the capture with its refund and invoice", code == 200 and any(
        row["payment_id"] == INTENT and int(row["captured_minor"]) == snapshot["total_minor"] and int(row["refunded_minor"]) == refund
        and row["invoice_number"] == invoice["number"] for row in payment_rows), payment_rows)
    code, _, customers_body, _ = get_with_trailers(f"{FINANCE}/admin/orgs/{ORG}/exports/customers.csv?{period}", bearer("finance", FINANCE_PERSON))
    customer_rows = list(csv.DictReader(io.StringIO(customers_body.decode("utf-8"), newline="")))
    check("customers.csv has both customers, the formula one neutralised",
          code == 200 and sorted(row["customer_ref"] for row in customer_rows) == sorted([CUSTOMER, "'" + FORMULA_CUSTOMER]), customer_rows)
    status, _ = api("GET", f"exports/accounting.csv?{period}", role="support")
    check("the export as support is 403", status == 403, status)

    status, verification = api("GET", "ledger/verify")
    check("ledger/verify passes", status == 200 and verification.get("ok") is True, verification)
    checks.finish()


if __name__ == "__main__":
    main()
