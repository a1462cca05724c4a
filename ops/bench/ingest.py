"""Benchmark of the webhook path, next to a pgbench reference on the same PostgreSQL.

Phases, in one run against the running stack (`make bench` starts it from a release build;
`make clean` first for a fresh stack):
1. idle: the whole stack's CPU over 60 s with no traffic, once start-up has settled;
2. work per webhook: `tally bench --rate 1000` for 15 s, then rows and WAL per stored webhook,
   across the pipeline and on the gateway -> normalizer path (WAL by schema, from pg_waldump);
3. reference: pgbench inserts one ~1.5 KB webhook row per transaction with N clients;
4. throughput: `tally bench --rate 0` with the same N connections (closed model), against the
   reference (information);
5. low rate: `tally bench --rate 100`, the whole stack's CPU;
6. capacity: 64 connections as fast as answered; the peak accepted rate against the reference,
   and the stack's CPU per webhook until everything downstream is done;
7. end to end at half that capacity (open model): gateway p99, then from the databases commit ->
   broker latency of the gateway's relay and webhook accepted -> canonical event published by
   the normalizer, and PostgreSQL's work per webhook across the pipeline;
8. the peer: a straightforward intake (ops/bench/peer_intake.py, FastAPI + asyncpg) and the
   gateway alone (everything downstream paused with SIGSTOP), alternated twice with the same
   load: accepted rate and PostgreSQL CPU per webhook;
9. finance: its consumer paused (SIGSTOP) while a burst of captures queues up in Kafka, then
   resumed: the ledger postings per second it reaches draining the backlog (saturation) and its
   CPU per posting; plus its CPU per event during the end-to-end phase's steady load;
10. notifications: its process paused while a burst of notification requests (each to its own
   address) queues up on its topic, then resumed: deliveries per second it reaches taking them
   in and sending them over SMTP to the stack's sink (saturation), and its CPU per delivery;
11. billing: its process paused while a burst of canonical `subscription.activated` events
   (each a subscription of its own) queues up on their topic, then resumed: subscriptions per
   second it projects and its CPU per event;
12. work per webhook again (after the phases), and the reference again, to show how far the
   machine's speed drifted during the run.

Every number printed is measured in this run; targets are printed next to them.
"""
import argparse
import datetime
import glob
import json
import os
import pathlib
import platform
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ops"))
sys.path.insert(0, str(ROOT / "ops" / "e2e" / "support"))
from tally_e2e import BROKERS, call, token  # noqa: E402
from notify_e2e import RequestPublisher, request_event  # noqa: E402
from tallystack import postgres, services  # noqa: E402
from tallystack.pidfiles import PidFiles  # noqa: E402
from tallystack.stack import Stack  # noqa: E402


def say(message):
    print(f"[bench] {message}", flush=True)


def psql(url, sql):
    out = subprocess.run([postgres.tool("psql"), url, "-XAtq", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def create_source(gateway, org, name):
    status, created, _ = call("POST", f"{gateway}/admin/orgs/{org}/sources", {"provider": "stripe", "name": name},
                              {"Authorization": f"Bearer {token(org)}"})
    if status != 201:
        sys.exit(f"[bench] could not create a source: HTTP {status} {created}")
    return created["source"]["id"], created["secret"]


def sample_body(tally):
    """One body exactly as the load generator sends it, for the reference rows."""
    return subprocess.run([tally, "bench", "--print-sample-body"], check=True, capture_output=True, text=True).stdout.strip()


def reference(admin_url, clients, seconds, body):
    """pgbench: one webhook-sized row per transaction, commit waited for, at `clients` clients."""
    psql(admin_url, """
        CREATE SCHEMA IF NOT EXISTS bench_reference;
        DROP TABLE IF EXISTS bench_reference.webhook_rows;
        CREATE SEQUENCE IF NOT EXISTS bench_reference.ids;
        CREATE TABLE bench_reference.webhook_rows (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            source_id text NOT NULL,
            provider_event_id text NOT NULL DEFAULT 'evt_' || nextval('bench_reference.ids'),
            body bytea NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (source_id, provider_event_id)
        );""")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write("INSERT INTO bench_reference.webhook_rows (source_id, body) VALUES ('src_reference', convert_to(:body, 'UTF8'));\n")
    env = dict(os.environ, PGOPTIONS="-c synchronous_commit=on")
    out = subprocess.run([postgres.tool("pgbench"), "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)),
                          "-T", str(seconds), "-f", script.name, "-D", f"body={body}", admin_url],
                         check=True, capture_output=True, text=True, env=env).stdout
    os.unlink(script.name)
    tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out).group(1))
    latency = re.search(r"latency average = ([0-9.]+) ms", out)
    psql(admin_url, "DROP SCHEMA bench_reference CASCADE")
    return tps, float(latency.group(1)) if latency else None


def cpu_ticks():
    """CPU time (clock ticks, user + system) used so far by each running process, with its name."""
    ticks = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = open(stat).read()
        except OSError:
            continue
        name, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        ticks[stat.split("/")[2]] = (name, int(rest[11]) + int(rest[12]))
    return ticks


def cpu_by_process(before, after, seconds):
    """Cores used per process name between two `cpu_ticks` snapshots, busiest first."""
    hertz = os.sysconf("SC_CLK_TCK")
    used = {}
    for pid, (name, ticks) in after.items():
        used[name] = used.get(name, 0) + ticks - before.get(pid, (name, 0))[1]
    return sorted(((name, ticks / hertz / seconds) for name, ticks in used.items() if ticks > 0), key=lambda item: -item[1])


def load(tally, gateway, source, secret, rate, connections, seconds, warmup, duplicates):
    args = [tally, "bench", "--json", "--gateway", gateway, "--source", source, "--rate", str(rate), "--connections", str(connections),
            "--duration", str(seconds), "--warmup", str(warmup), "--duplicates", str(duplicates)]
    before, children, started = cpu_ticks(), resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=dict(os.environ, TALLY_BENCH_SECRET=secret)).stdout
    result = json.loads(out.strip().splitlines()[-1])
    elapsed, finished = time.time() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    usage = cpu_by_process(before, cpu_ticks(), elapsed)
    # The load generator has exited by now: its CPU time is in this process's children usage.
    generator = (finished.ru_utime + finished.ru_stime - children.ru_utime - children.ru_stime) / elapsed
    usage = sorted(usage + [("tally bench (load generator)", generator)], key=lambda item: -item[1])
    result["cpu_cores"] = {name: round(cores, 3) for name, cores in usage}
    result["elapsed_s"] = elapsed
    say("  CPU (cores, whole phase): " + ", ".join(f"{name} {cores:.2f}" for name, cores in usage[:9]) +
        f"; all {sum(cores for _, cores in usage):.2f}")
    return result


class DownstreamPaused:
    """Pauses the stack's services other than the gateway (SIGSTOP) for a `with` block and
    resumes them (SIGCONT) when it ends, however it ends. The pids come from the stack's pid
    files (only processes that are running and ours); `pids` is empty when none of those
    services is running."""

    def __init__(self, pids_dir, keep=("ingest-gateway",)):
        pidfiles = PidFiles(pids_dir)
        running = {name: pidfiles.running(name) for name in services.names() if name not in keep}
        self.pids = {name: pid for name, pid in running.items() if pid}
        self.paused = []

    def __enter__(self):
        for pid in self.pids.values():
            try:
                os.kill(pid, signal.SIGSTOP)
                self.paused.append(pid)
            except OSError:
                pass
        return self

    def __exit__(self, *exc):
        for pid in self.paused:
            try:
                os.kill(pid, signal.SIGCONT)
            except OSError:
                pass
        return False


def unpublished_sql(schema):
    """The outbox rows of `schema` after its relay's latest recorded position (commit order)."""
    return f"""(SELECT count(*) FROM {schema}.outbox o,
                    (SELECT up_to_txid, up_to_id FROM {schema}.outbox_publications ORDER BY id DESC LIMIT 1) p
                WHERE o.txid IS NOT NULL AND (o.txid, o.id) > (p.up_to_txid, p.up_to_id))"""


def wait_drained(admin_url, source=None, seconds=180):
    """Until the source's webhooks (all webhooks when None) have their outcomes and no outbox
    holds unpublished events: the next phase starts on an idle system."""
    which = f"source_id = '{source}' AND" if source else ""
    deadline = time.time() + seconds
    while time.time() < deadline:
        [[open_rows, unpublished]] = psql(admin_url, f"""
            SELECT (SELECT count(*) FROM ingest_gateway.webhook_inbox WHERE {which} status IN ('pending', 'published')),
                   {unpublished_sql("ingest_gateway")} + {unpublished_sql("normalizer")}
                 + (SELECT messages FROM ingest_gateway.raw_webhook_backlog())""")
        if int(open_rows) == 0 and int(unpublished) == 0:
            return True
        time.sleep(1)
    return False


def wait_idle(seconds=120, below=0.3, quiet=3):
    """Until the machine's CPU use stays below `below` cores for `quiet` seconds in a row: the
    consumers off the measured path (billing, finance, reconciliation) and autovacuum have caught
    up too (a single quiet second can fall between two batches of a consumer still draining)."""
    deadline, calm = time.time() + seconds, 0
    while time.time() < deadline:
        before = cpu_ticks()
        time.sleep(1)
        calm = calm + 1 if sum(cores for _, cores in cpu_by_process(before, cpu_ticks(), 1)) < below else 0
        if calm >= quiet:
            return True
    return False


def settle(admin_url, source=None, below=0.3, seconds=120):
    """Between phases: the pipeline drained and the machine idle again."""
    drained = wait_drained(admin_url, source)
    if not wait_idle(seconds=seconds, below=below):
        say(f"  warning: the machine did not go idle within {seconds} s; the next phase shares it")
    return drained


def percentiles(admin_url, sql):
    [[count, p50, p99, top]] = psql(admin_url, f"""
        SELECT count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
               round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2), round(max(ms)::numeric, 2)
        FROM ({sql}) AS samples""")
    return {"count": int(count), "p50_ms": float(p50 or 0), "p99_ms": float(p99 or 0), "max_ms": float(top or 0)}


def end_to_end(admin_url, source, warmup):
    """Relay (commit → broker) and accepted → canonical event published, after the warm-up."""
    window = f"""i.source_id = '{source}' AND i.received_at >=
        (SELECT min(received_at) FROM ingest_gateway.webhooks WHERE source_id = '{source}') + interval '{warmup} seconds'"""
    # A stored webhook is published by the first publication record at or past its position
    # (records only move forward). Measured from received_at, so it includes the intake's
    # commit (a few milliseconds); the gateway's outbox no longer holds raw-webhook events.
    relay = percentiles(admin_url, f"""
        SELECT extract(epoch FROM p.published_at - i.received_at) * 1000 AS ms
        FROM ingest_gateway.webhooks i
        CROSS JOIN LATERAL (
            SELECT r.published_at FROM ingest_gateway.raw_publications r
            WHERE (r.up_to_txid, r.up_to_id) >= (i.txid, i.id)
            ORDER BY r.up_to_txid, r.up_to_id LIMIT 1) p
        WHERE i.txid IS NOT NULL AND {window}""")
    canonical = percentiles(admin_url, f"""
        SELECT extract(epoch FROM p.published_at - i.received_at) * 1000 AS ms
        FROM normalizer.outbox n
        JOIN normalizer.lineage l ON l.canonical_event_id = n.event_id
        JOIN ingest_gateway.webhooks i ON i.id::text = l.source_inbox_id
        CROSS JOIN LATERAL (
            SELECT r.published_at FROM normalizer.outbox_publications r
            WHERE (r.up_to_txid, r.up_to_id) >= (n.txid, n.id)
            ORDER BY r.up_to_txid, r.up_to_id LIMIT 1) p
        WHERE n.txid IS NOT NULL AND {window}""")
    return relay, canonical


def pg_work(admin_url):
    """Counters of the work PostgreSQL has done so far: WAL position, rows written by the
    services (inserts, updates, deletes, of which HOT updates; TOAST tables included) and
    committed transactions. Called on an idle pipeline; it first waits 11 s, since idle sessions
    report their table counters within 10 s."""
    time.sleep(11)
    [[lsn, rows, hot, commits]] = psql(admin_url, """
        SELECT pg_current_wal_lsn(), sum(n_tup_ins + n_tup_upd + n_tup_del), sum(n_tup_hot_upd),
               (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())
        FROM pg_stat_all_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')""")
    return {"lsn": lsn, "rows": int(rows), "hot": int(hot), "commits": int(commits)}


def work_per_webhook(admin_url, before, after, source):
    """The difference between two `pg_work` snapshots per webhook the source stored. Unlike the
    times, these depend little on how fast the machine is at the moment (autovacuum and the
    full-page images after a checkpoint, counted too, vary somewhat), so they compare builds on
    a machine whose speed drifts."""
    [[stored, wal]] = psql(admin_url, f"""
        SELECT (SELECT count(*) FROM ingest_gateway.webhook_inbox WHERE source_id = '{source}'),
               pg_wal_lsn_diff('{after["lsn"]}', '{before["lsn"]}')""")
    stored = max(int(stored), 1)
    return {"webhooks": stored, "wal_bytes": round(float(wal) / stored), "rows": round((after["rows"] - before["rows"]) / stored, 1),
            "hot_updates": round((after["hot"] - before["hot"]) / stored, 1),
            "transactions": round((after["commits"] - before["commits"]) / stored, 1)}


def process_ticks(pid):
    """CPU clock ticks (user + system) one process has used so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def finance_caught_up(admin_url, seconds=300):
    """Until finance's ledger (all orgs) has not grown for 5 s: it has posted what earlier phases sent."""
    deadline, last, since = time.time() + seconds, -1, time.time()
    while time.time() < deadline:
        [[count]] = psql(admin_url, "SELECT count(*) FROM finance.ledger_transactions")
        if int(count) != last:
            last, since = int(count), time.time()
        elif time.time() - since >= 5:
            return True
        time.sleep(0.5)
    return False


def drain(args, pid, fill, done_sql):
    """The process `pid` paused (SIGSTOP) while `fill()` queues its work and returns how many
    items it queued, then resumed and timed until `done_sql` counts them all done (600 s at
    most): items done, seconds, the process's CPU per item, every process's CPU per item, and
    the busiest processes' cores meanwhile."""
    os.kill(pid, signal.SIGSTOP)
    try:
        expected = fill()
    finally:
        ticks, machine_before, started = process_ticks(pid), cpu_ticks(), time.time()
        os.kill(pid, signal.SIGCONT)
    done = 0
    while time.time() < started + 600:
        done = int(psql(args.admin_url, done_sql)[0][0])
        if done >= expected:
            break
        time.sleep(0.2)
    elapsed = time.time() - started
    used = (process_ticks(pid) - ticks) / os.sysconf("SC_CLK_TCK")
    during = cpu_by_process(machine_before, cpu_ticks(), elapsed)
    everything = sum(cores for _, cores in during) * elapsed
    say("  CPU meanwhile (cores): " + ", ".join(f"{name} {cores:.2f}" for name, cores in during[:8]))
    return {"expected": expected, "done": done, "seconds": round(elapsed, 2), "per_s": round(done / elapsed, 1),
            "cpu_ms_per_item": round(used * 1000 / max(done, 1), 3), "all_cpu_ms_per_item": round(everything * 1000 / max(done, 1), 3),
            "cpu_cores": {name: round(cores, 3) for name, cores in during[:8]}}


def finance_consumer(args, org):
    """Finance's consumer at saturation: a backlog of captures built while it is paused, then
    drained. None when finance is not running."""
    pid = PidFiles(args.pids_dir).running("finance")
    if not pid:
        say(f"finance: skipped (not running per {args.pids_dir})")
        return None
    if not finance_caught_up(args.admin_url):
        say("  warning: finance was still posting earlier phases' captures after 300 s; the drain below shares the consumer")
    org = org + "_finance"  # an org of its own: its postings are exactly this phase's
    source, secret = create_source(args.gateway, org, "bench finance")
    say(f"finance: its consumer paused while {args.seconds}s of captures queue up, then resumed and timed until every one is posted")
    burst = {}

    def fill():
        burst.update(load(args.tally, args.gateway, source, secret, 0, args.clients, args.seconds, args.warmup, 0))
        wait_drained(args.admin_url, source)
        [[expected]] = psql(args.admin_url, f"SELECT count(*) FROM ingest_gateway.webhook_inbox WHERE source_id = '{source}'")
        return int(expected)
    run = drain(args, pid, fill, f"SELECT count(*) FROM finance.ledger_transactions WHERE org_id = '{org}'")
    result = {"events": run["expected"], "posted": run["done"], "seconds": run["seconds"], "per_s": run["per_s"],
              "finance_cpu_ms_per_event": run["cpu_ms_per_item"], "all_cpu_ms_per_event": run["all_cpu_ms_per_item"],
              "burst_accepted_per_s": burst.get("accepted_per_s"), "drain_cpu_cores": run["cpu_cores"]}
    say(f"  {result['posted']} of {result['events']} postings in {result['seconds']:.1f}s = {result['per_s']:.0f}/s; finance "
        f"{result['finance_cpu_ms_per_event']} ms CPU per event (everything, PostgreSQL included: {result['all_cpu_ms_per_event']} ms)")
    return result


def notifications_consumer(args, org, count=2000):
    """Notifications at saturation: `count` requests queued while it is paused, then taken in
    and sent. None when notifications or its SMTP sink is not running."""
    pids = PidFiles(args.pids_dir)
    pid = pids.running("notifications")
    if not pid or not pids.running("smtp-sink"):
        say(f"notifications: skipped (notifications or its smtp-sink not running per {args.pids_dir})")
        return None
    org = org + "_notify"
    variables = {"customer_name": "Bench", "amount": "$10.00", "invoice_number": "INV-BENCH", "pay_url": "https://pay.example/b", "due_date": "2026-12-31"}
    say(f"notifications: its process paused while {count} requests queue up on their topic, then resumed and timed until every one is sent")

    def fill():
        publisher = RequestPublisher(BROKERS)
        for n in range(count):
            publisher.publish(request_event(org, f"bench:{org}:{n}", "dunning.payment_failed", ["email"],
                                            {"address": {"email": f"bench.{n}@example.com"}}, variables, "bench", time.time()))
        remaining, errors = publisher.flush(60)
        if remaining or errors:
            say(f"  warning: {remaining} requests unflushed, errors: {errors[:3]}")
        return count
    run = drain(args, pid, fill, f"SELECT count(*) FROM notifications.deliveries WHERE org_id = '{org}' AND status = 'sent'")
    result = {"requests": count, "sent": run["done"], "seconds": run["seconds"], "per_s": run["per_s"],
              "cpu_ms_per_delivery": run["cpu_ms_per_item"], "all_cpu_ms_per_delivery": run["all_cpu_ms_per_item"], "cpu_cores": run["cpu_cores"]}
    say(f"  {result['sent']} of {count} sent in {result['seconds']:.1f}s = {result['per_s']:.0f}/s; notifications {result['cpu_ms_per_delivery']} ms "
        f"CPU per delivery (everything, PostgreSQL, broker and the SMTP sink included: {result['all_cpu_ms_per_delivery']} ms)")
    return result


def billing_consumer(args, org, count=5000):
    """Billing's consumer at saturation: `count` canonical subscription events queued while it is
    paused, then drained. None when billing is not running."""
    pid = PidFiles(args.pids_dir).running("billing")
    if not pid:
        say(f"billing: skipped (not running per {args.pids_dir})")
        return None
    org = org + "_billing"
    sample = json.loads((ROOT / "contracts" / "fixtures" / "tally.subscription.activated.v1.json").read_text())
    say(f"billing: its process paused while {count} subscription.activated events queue up on their topic, then resumed and timed until every one is projected")

    def fill():
        publisher = RequestPublisher(BROKERS, topic="tally.canonical.subscriptions.v1")
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        for n in range(count):
            event = json.loads(json.dumps(sample))
            subscription = f"sub_bench_{org[-10:]}_{n:06d}"
            event.update(id=str(uuid.uuid4()), tenant=org, subject=f"stripe:{subscription}", time=now)
            event["data"]["subscription"].update(subscription_id=subscription, customer_ref=f"cus_bench_{n:06d}")
            event["data"]["origin"].update(occurred_at=now, provider_event_id=f"evt_bench_{org[-10:]}_{n:06d}", source_inbox_id=event["id"])
            publisher.publish(event)
        remaining, errors = publisher.flush(60)
        if remaining or errors:
            say(f"  warning: {remaining} events unflushed, errors: {errors[:3]}")
        return count
    run = drain(args, pid, fill, f"SELECT count(*) FROM billing.subscriptions WHERE org_id = '{org}'")
    result = {"events": count, "projected": run["done"], "seconds": run["seconds"], "per_s": run["per_s"],
              "cpu_ms_per_event": run["cpu_ms_per_item"], "all_cpu_ms_per_event": run["all_cpu_ms_per_item"], "cpu_cores": run["cpu_cores"]}
    say(f"  {result['projected']} of {count} projected in {result['seconds']:.1f}s = {result['per_s']:.0f}/s; billing {result['cpu_ms_per_event']} ms "
        f"CPU per event (everything, PostgreSQL and the broker included: {result['all_cpu_ms_per_event']} ms)")
    return result


def stack_cores(usage):
    """The stack's share of a `cpu_by_process` list: PostgreSQL, the broker, the services and the
    sidecars (python3, as is this script, which waits meanwhile). The load generator, kernel
    threads and the machine's own agents are not the stack."""
    ours = set(services.names()) | {"postgres", "tansu", "python3"}
    return sum(cores for name, cores in usage if name in ours)


def low_rate_phase(args, org, rate=100, target_cores=0.2):
    """The whole stack's CPU while webhooks arrive at `rate`/s (open model), in cores and in
    milliseconds per webhook."""
    source, secret = create_source(args.gateway, org, "bench low rate")
    say(f"low rate: tally bench at {rate}/s for {args.seconds} s")
    result = load(args.tally, args.gateway, source, secret, rate, 8, args.seconds, args.warmup, args.duplicates)
    cores = stack_cores(list(result["cpu_cores"].items()))
    result["stack_cores"] = round(cores, 3)
    result["stack_ms_per_webhook"] = round(cores * 1000 / rate, 2)
    say(f"  the stack used {cores:.3f} cores = {result['stack_ms_per_webhook']} ms per webhook (target <= {target_cores} cores)")
    settle(args.admin_url, source)
    return result


def capacity_phase(args, org, connections=64):
    """The peak accepted rate (closed model, `connections` connections, as fast as answered) and
    the stack's CPU per webhook at that rate, counted from the first request until everything the
    load caused downstream is done (the pipeline drained and the machine idle), so work a lagging
    consumer does after the load is not left out."""
    source, secret = create_source(args.gateway, org, "bench capacity")
    say(f"capacity: tally bench, {connections} connections, as fast as answered; CPU counted until the pipeline has drained")
    before, started = cpu_ticks(), time.time()
    result = load(args.tally, args.gateway, source, secret, 0, connections, args.seconds, args.warmup, args.duplicates)
    wait_drained(args.admin_url, source)
    wait_idle(seconds=600, below=0.15)
    elapsed = time.time() - started
    cores = stack_cores(cpu_by_process(before, cpu_ticks(), elapsed))
    accepted = result["accepted_per_s"] * (result["duration_s"] + result["warmup_s"])
    result["stack_ms_per_webhook"] = round(cores * elapsed * 1000 / max(accepted, 1), 3)
    # The same over the load alone, as the baseline (1.6 ms) was taken: work the
    # consumers left for after the load is not in it.
    during = stack_cores(list(result["cpu_cores"].items()))
    result["stack_ms_per_webhook_during_load"] = round(during * result["elapsed_s"] * 1000 / max(accepted, 1), 3)
    say(f"  {result['accepted_per_s']:.0f} accepted/s; p50 {result['p50_ms']:.1f} p99 {result['p99_ms']:.1f} ms; "
        f"the stack's CPU {result['stack_ms_per_webhook']} ms per webhook until drained ({elapsed:.0f} s; target <= 0.8 ms), "
        f"{result['stack_ms_per_webhook_during_load']} ms during the load alone; errors {result['errors'] or 'none'}")
    return result


def idle_phase(seconds=60, target=0.03):
    """The whole machine's CPU over `seconds` with no traffic, once the pipeline has drained and
    the CPU has settled: every process of the stack (PostgreSQL, the broker, the services, the
    sidecars) and anything else running, so nothing is left out by a name filter."""
    before, started = cpu_ticks(), time.time()
    time.sleep(seconds)
    usage = cpu_by_process(before, cpu_ticks(), time.time() - started)
    total = sum(cores for _, cores in usage)
    stack = stack_cores(usage)
    say(f"  CPU (cores, {seconds} s idle): " + ", ".join(f"{name} {cores:.3f}" for name, cores in usage[:12]) + f"; machine {total:.3f}")
    say(f"  idle: the stack used {stack:.1%} of one core (target <= {target:.0%}); the whole machine {total:.1%}")
    return {"seconds": seconds, "stack_cores": round(stack, 4), "machine_cores": round(total, 4),
            "by_process": {name: round(cores, 4) for name, cores in usage[:20]}}


class PeerIntake:
    """ops/bench/peer_intake.py under uvicorn with two workers, on the stack's PostgreSQL, for a
    `with` block: started and answering when the block begins, stopped when it ends."""

    def __init__(self, admin_url, secret, port=18099):
        self.url, self.port = f"http://127.0.0.1:{port}", port
        self.env = dict(os.environ, TALLY_PEER_DATABASE_URL=admin_url, TALLY_PEER_SECRET=secret)

    def __enter__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "peer_intake:app", "--app-dir", str(ROOT / "ops" / "bench"), "--workers", "2",
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning", "--no-access-log"],
            env=self.env, start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline and self.process.poll() is None:
            try:
                status, _, _ = call("POST", f"{self.url}/webhooks/probe", {}, {}, timeout=2)
                if status == 400:
                    return self
            except OSError:
                pass  # not listening yet
            time.sleep(0.3)
        self.__exit__()
        sys.exit("[bench] the peer intake did not start")

    def __exit__(self, *exc):
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
        return False


def postgres_ms_per_webhook(result):
    """PostgreSQL's CPU in a load phase per accepted webhook, in milliseconds: its cores over the
    phase (warm-up included) against the webhooks accepted at the measured rate in that time."""
    accepted = result["accepted_per_s"] * (result["duration_s"] + result["warmup_s"])
    return result["cpu_cores"].get("postgres", 0) * result["elapsed_s"] * 1000 / max(accepted, 1)


def peer_phase(args, org, rounds=2):
    """The straightforward intake and the gateway alone, alternated `rounds` times with the same
    load (closed model, `--clients` connections): accepted rate and PostgreSQL CPU per webhook."""
    runs = []
    for round_number in range(1, rounds + 1):
        source, secret = create_source(args.gateway, org, f"bench peer round {round_number}")
        with PeerIntake(args.admin_url, secret) as peer:
            say(f"peer intake (FastAPI + asyncpg, uvicorn 2 workers), round {round_number}")
            theirs = load(args.tally, peer.url, source, secret, 0, args.clients, args.seconds, args.warmup, args.duplicates)
        say(f"  {theirs['accepted_per_s']:.0f} accepted/s; p99 {theirs['p99_ms']:.1f} ms; PostgreSQL {postgres_ms_per_webhook(theirs):.2f} ms CPU per webhook; errors {theirs['errors'] or 'none'}")
        wait_idle()
        downstream = DownstreamPaused(args.pids_dir)
        say(f"gateway alone, round {round_number}: {', '.join(downstream.pids) or 'nothing'} paused")
        with downstream:
            ours = load(args.tally, args.gateway, source, secret, 0, args.clients, args.seconds, args.warmup, args.duplicates)
        say(f"  {ours['accepted_per_s']:.0f} accepted/s; p99 {ours['p99_ms']:.1f} ms; PostgreSQL {postgres_ms_per_webhook(ours):.2f} ms CPU per webhook; errors {ours['errors'] or 'none'}")
        settle(args.admin_url, source)
        runs.append({"peer": theirs, "gateway": ours})
    peer_rate = sum(run["peer"]["accepted_per_s"] for run in runs) / rounds
    our_rate = sum(run["gateway"]["accepted_per_s"] for run in runs) / rounds
    peer_pg = sum(postgres_ms_per_webhook(run["peer"]) for run in runs) / rounds
    our_pg = sum(postgres_ms_per_webhook(run["gateway"]) for run in runs) / rounds
    say(f"  gateway alone vs the peer: {our_rate:.0f} vs {peer_rate:.0f} accepted/s = {our_rate / max(peer_rate, 1):.2f}x (target >= 1.5x); "
        f"PostgreSQL {our_pg:.2f} vs {peer_pg:.2f} ms per webhook (target: at most the peer's)")
    return {"runs": runs, "ratio": our_rate / max(peer_rate, 1), "gateway_pg_ms": our_pg, "peer_pg_ms": peer_pg,
            "gateway_per_s": our_rate, "peer_per_s": peer_rate}


def path_work(admin_url, schemas=("ingest_gateway", "normalizer")):
    """Rows written so far in the tables of `schemas` (TOAST tables of theirs included)."""
    names = ", ".join(f"'{schema}'" for schema in schemas)
    [[rows]] = psql(admin_url, f"""
        SELECT coalesce(sum(s.n_tup_ins + s.n_tup_upd + s.n_tup_del), 0)
        FROM pg_stat_all_tables s JOIN pg_class c ON c.oid = s.relid
        WHERE s.schemaname IN ({names})
           OR c.oid IN (SELECT reltoastrelid FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname IN ({names}))""")
    return int(rows)


def wal_by_schema(admin_url, start_lsn, end_lsn):
    """WAL bytes between two LSNs by the schema whose relation each record touched (pg_waldump over
    the data directory: tables, their indexes and TOAST tables count for the table's schema). A
    record without a relation (a commit, mostly) counts for the schema its transaction wrote most.
    Full-page images are in the records' totals. Returns {schema: bytes}."""
    data = Stack.load("local").postgres.data
    names = {}
    for relfilenode, schema in psql(admin_url, """
            SELECT c.relfilenode, coalesce(np.nspname, n.nspname)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_class p ON p.reltoastrelid = c.oid LEFT JOIN pg_namespace np ON np.oid = p.relnamespace
            WHERE c.relfilenode <> 0"""):
        names[relfilenode] = schema
    for index, table in psql(admin_url, """
            SELECT i.relfilenode, t.relfilenode FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid WHERE i.relfilenode <> 0"""):
        names.setdefault(index, names.get(table, "?"))
    out = subprocess.run([postgres.tool("pg_waldump"), "-p", str(data / "pg_wal"), "-s", start_lsn, "-e", end_lsn],
                         capture_output=True, text=True).stdout
    record = re.compile(r"len \(rec/tot\):\s*\d+/\s*(\d+), tx:\s*(\d+)")
    relation = re.compile(r"blkref #0: rel \d+/\d+/(\d+)")
    by_schema, by_tx, unattributed = {}, {}, []
    for line in out.splitlines():
        match = record.search(line)
        if not match:
            continue
        touched = relation.search(line)
        size, tx, relfilenode = int(match.group(1)), match.group(2), touched.group(1) if touched else None
        if relfilenode:
            schema = names.get(relfilenode, "other")
            by_schema[schema] = by_schema.get(schema, 0) + size
            counts = by_tx.setdefault(tx, {})
            counts[schema] = counts.get(schema, 0) + size
        else:
            unattributed.append((tx, size))
    for tx, size in unattributed:
        counts = by_tx.get(tx)
        schema = max(counts, key=counts.get) if counts else "other (no relation)"
        by_schema[schema] = by_schema.get(schema, 0) + size
    return by_schema


def work_phase(args, org, rate=1000, seconds=15):
    """Work per webhook at `rate`/s: WAL and rows across the pipeline, and the rows of the
    gateway → normalizer path alone, counted once everything has drained."""
    source, secret = create_source(args.gateway, org, "bench work per webhook")
    before, path_before = pg_work(args.admin_url), path_work(args.admin_url)
    say(f"work per webhook: tally bench at {rate}/s for {seconds} s")
    load(args.tally, args.gateway, source, secret, rate, 64, seconds, 0, args.duplicates)
    settle(args.admin_url, source)
    after = pg_work(args.admin_url)
    work = work_per_webhook(args.admin_url, before, after, source)
    work["path_rows"] = round((path_work(args.admin_url) - path_before) / max(work["webhooks"], 1), 1)
    wal = wal_by_schema(args.admin_url, before["lsn"], after["lsn"])
    stored = max(work["webhooks"], 1)
    work["wal_by_schema"] = {schema: round(size / stored) for schema, size in sorted(wal.items(), key=lambda item: -item[1])}
    work["path_wal_bytes"] = round((wal.get("ingest_gateway", 0) + wal.get("normalizer", 0)) / stored)
    say(f"  per stored webhook ({work['webhooks']}): {work['wal_bytes']} B of WAL, {work['rows']} rows written across the pipeline; "
        f"on the gateway -> normalizer path {work['path_rows']} rows and {work['path_wal_bytes']} B of WAL "
        f"(targets: <= 10 rows, <= 8 KB on a fresh stack, <= 12 KB after the bench's phases)")
    say("  WAL per webhook by schema: " + ", ".join(f"{schema} {size} B" for schema, size in work["wal_by_schema"].items()))
    return work


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    memory = next((int(line.split()[1]) // 1024 // 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    pg = subprocess.run([postgres.tool("postgres"), "--version"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores ({cpu}), {memory} GiB, {platform.system()} {platform.release()}, {pg}"


def main():
    local = Stack.load("local")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", default=os.environ.get("TALLY_E2E_GATEWAY_URL") or {s.name: s.url for s in local.services()}["ingest-gateway"])
    parser.add_argument("--admin-url", default=os.environ.get("TALLY_DATABASE_ADMIN_URL") or postgres.admin_url(local.postgres.port))
    parser.add_argument("--tally", default=str(ROOT / ".build" / "release" / "tally"))
    parser.add_argument("--clients", type=int, default=8, help="pgbench clients = gateway connections in the throughput phase")
    parser.add_argument("--seconds", type=int, default=20, help="measured seconds per phase")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--e2e-rate", type=float, help="offered rate of the end-to-end phase (default: half the measured capacity)")
    parser.add_argument("--duplicates", type=float, default=0.10)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--only", choices=["finance", "notifications", "billing", "idle", "peer", "work", "low", "capacity"],
                        help="run one phase alone (finance: its consumer draining a backlog; notifications: a burst of requests taken in and sent; "
                             "billing: a burst of subscription events projected)")
    parser.add_argument("--pids-dir", default=str(local.profile.pids),
                        help="the stack's pid files, for pausing everything downstream of the gateway in the gateway-alone phase")
    args = parser.parse_args()

    org = "org_bench_%d" % int(time.time())
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    say(f"machine: {machine()}")
    if args.only == "finance":
        settle(args.admin_url)
        finance = finance_consumer(args, org)
        if finance:
            print(f"\n| measure | this run ({started}) |\n|---|---|\n| finance consumer at saturation (draining a backlog) | "
                  f"{finance['per_s']:.0f} postings/s, {finance['finance_cpu_ms_per_event']} ms finance CPU per event ({finance['all_cpu_ms_per_event']} ms all processes) |")
        return
    if args.only == "notifications":
        settle(args.admin_url)
        notifications = notifications_consumer(args, org)
        if notifications:
            print(f"\n| measure | this run ({started}) |\n|---|---|\n| notifications at saturation (a burst of requests, sent over SMTP) | "
                  f"{notifications['per_s']:.0f} deliveries/s, {notifications['cpu_ms_per_delivery']} ms notifications CPU per delivery "
                  f"({notifications['all_cpu_ms_per_delivery']} ms all processes) |")
        return
    if args.only == "billing":
        settle(args.admin_url)
        billing = billing_consumer(args, org)
        if billing:
            print(f"\n| measure | this run ({started}) |\n|---|---|\n| billing consumer at saturation (a burst of subscription events) | "
                  f"{billing['per_s']:.0f} subscriptions/s, {billing['cpu_ms_per_event']} ms billing CPU per event ({billing['all_cpu_ms_per_event']} ms all processes) |")
        return
    if args.only == "idle":
        settle(args.admin_url)
        time.sleep(10)
        idle_phase()
        return
    if args.only == "peer":
        settle(args.admin_url)
        peer_phase(args, org)
        return
    if args.only == "work":
        settle(args.admin_url)
        work_phase(args, org)
        return
    if args.only in ("low", "capacity"):
        settle(args.admin_url, below=0.15, seconds=300)
        (low_rate_phase if args.only == "low" else capacity_phase)(args, org)
        return
    # Issue 19's targets first, on the stack as `make bench` left it (fresh after `make clean`):
    # idle once start-up has settled, then the work per webhook before any other phase.
    settle(args.admin_url)
    time.sleep(10)
    say("idle: 60 s with no traffic")
    idle = idle_phase()
    fresh_work = work_phase(args, org)

    body = sample_body(args.tally)
    if not settle(args.admin_url):
        say("warning: the stack still has work in flight; numbers will include it")
    say(f"reference: pgbench, {args.clients} clients, one {len(body.encode())}-byte webhook row per transaction, {args.seconds}s")
    reference_tps, reference_latency = reference(args.admin_url, args.clients, args.seconds, body)
    say(f"  {reference_tps:.0f} tps (average latency {reference_latency} ms)")

    source, secret = create_source(args.gateway, org, "bench throughput")
    say(f"throughput: tally bench, {args.clients} connections (the reference's clients), as fast as answered, {args.duplicates:.0%} duplicates")
    throughput = load(args.tally, args.gateway, source, secret, 0, args.clients, args.seconds, args.warmup, args.duplicates)
    ratio = throughput["accepted_per_s"] / reference_tps
    say(f"  {throughput['accepted_per_s']:.0f} accepted/s = {ratio:.2f} x pgbench; p99 {throughput['p99_ms']:.1f} ms; errors {throughput['errors'] or 'none'}")
    settle(args.admin_url, source)

    # The phases that count the stack's CPU start only once every consumer has caught up.
    settle(args.admin_url, below=0.15, seconds=300)
    low = low_rate_phase(args, org)
    settle(args.admin_url, below=0.15, seconds=300)
    capacity = capacity_phase(args, org)
    settle(args.admin_url)

    # Latency at half the capacity just measured (open model), unless a rate was given.
    half_rate = args.e2e_rate or max(round(capacity["accepted_per_s"] / 2), 50)
    source, secret = create_source(args.gateway, org, "bench end to end")
    say(f"end to end at half capacity: tally bench at {half_rate:.0f}/s offered (open model, 64 connections), then relay and canonical latency from the databases")
    work_before = pg_work(args.admin_url)
    posted_sql = f"SELECT count(*) FROM finance.ledger_transactions WHERE org_id = '{org}'"
    posted_before = int(psql(args.admin_url, posted_sql)[0][0])
    steady = load(args.tally, args.gateway, source, secret, half_rate, 64, args.seconds, args.warmup, args.duplicates)
    steady_postings = int(psql(args.admin_url, posted_sql)[0][0]) - posted_before
    drained = wait_drained(args.admin_url, source)
    time.sleep(2)
    relay, canonical = end_to_end(args.admin_url, source, args.warmup)
    say(f"  gateway p50 {steady['p50_ms']:.1f} p99 {steady['p99_ms']:.1f} ms; relay p50 {relay['p50_ms']} p99 {relay['p99_ms']} ms ({relay['count']} events); "
        f"accepted → canonical p50 {canonical['p50_ms']} p99 {canonical['p99_ms']} ms ({canonical['count']} events); drained {drained}")
    settle(args.admin_url, source)
    work = work_per_webhook(args.admin_url, work_before, pg_work(args.admin_url), source)
    say(f"  PostgreSQL work per stored webhook, whole pipeline ({work['webhooks']} webhooks): {work['wal_bytes']} bytes of WAL, "
        f"{work['rows']} rows written ({work['hot_updates']} of them HOT updates), {work['transactions']} transactions")

    peer = peer_phase(args, org)
    settle(args.admin_url)

    finance = finance_consumer(args, org)
    settle(args.admin_url)
    notifications = notifications_consumer(args, org)
    settle(args.admin_url)
    billing = billing_consumer(args, org)
    settle(args.admin_url)
    # Finance's CPU over the phase per posting it made in the phase (not per webhook accepted:
    # finance may lag the gateway).
    phase_seconds = args.seconds + args.warmup
    finance_steady = steady["cpu_cores"].get("finance", 0) * phase_seconds * 1000 / max(steady_postings, 1)
    say(f"  during the end-to-end phase at {half_rate:.0f}/s offered: finance posted {steady_postings} ({steady_postings / phase_seconds:.0f}/s) "
        f"using {steady['cpu_cores'].get('finance', 0):.2f} cores = {finance_steady:.3f} ms CPU per posting")

    say("work per webhook again, after the bench's phases")
    later_work = work_phase(args, org)

    # The same reference once more: this virtual machine's speed drifts (pgbench measured from
    # about 3,400 to 13,000 tps on the same build within an hour), and a run whose two references
    # differ much was taken on a machine that changed under it.
    closing_tps, _ = reference(args.admin_url, args.clients, args.seconds, body)
    drift = closing_tps / reference_tps - 1
    say(f"reference again, after the phases: {closing_tps:.0f} tps ({drift:+.0%} against the first; ratios above use the first)")

    normalized = capacity["accepted_per_s"] / reference_tps
    rows = [
        ("idle: the whole stack over 60 s, no traffic", f"{idle['stack_cores']:.1%} of a core", "<= 3%", idle["stack_cores"] <= 0.03),
        ("low rate: the whole stack at 100 webhooks/s", f"{low['stack_cores']:.3f} cores = {low['stack_ms_per_webhook']} ms per webhook", "<= 0.2 cores",
         low["stack_cores"] <= 0.2 and low["accepted"] >= 0.99 * low["due"]),
        ("gateway -> normalizer path, fresh stack: rows and WAL per webhook", f"{fresh_work['path_rows']} rows, {fresh_work['path_wal_bytes']} B",
         "<= 10 rows, <= 8 KB", fresh_work["path_rows"] <= 10 and fresh_work["path_wal_bytes"] <= 8192),
        ("the same after the bench's phases", f"{later_work['path_rows']} rows, {later_work['path_wal_bytes']} B", "<= 10 rows, <= 12 KB",
         later_work["path_rows"] <= 10 and later_work["path_wal_bytes"] <= 12288),
        ("capacity: peak accepted rate (64 connections) / pgbench", f"{capacity['accepted_per_s']:.0f}/s / {reference_tps:.0f} tps = {normalized:.2f}", ">= 0.2",
         normalized >= 0.2),
        ("capacity: the stack's CPU per webhook at saturation, until everything downstream is done",
         f"{capacity['stack_ms_per_webhook']} ms ({capacity['stack_ms_per_webhook_during_load']} ms during the load alone)", "<= 0.8 ms",
         capacity["stack_ms_per_webhook"] <= 0.8),
        ("gateway alone vs the straightforward intake (FastAPI + asyncpg), accepted rate", f"{peer['gateway_per_s']:.0f} vs {peer['peer_per_s']:.0f}/s = {peer['ratio']:.2f}x",
         ">= 1.5x", peer["ratio"] >= 1.5),
        ("the same, PostgreSQL CPU per webhook", f"{peer['gateway_pg_ms']:.2f} vs {peer['peer_pg_ms']:.2f} ms", "<= the peer's",
         peer["gateway_pg_ms"] <= peer["peer_pg_ms"]),
        (f"gateway p99 at half capacity ({half_rate:.0f}/s offered)", f"{steady['p99_ms']:.1f} ms", "<= 50 ms",
         steady["p99_ms"] <= 50 and steady["accepted"] >= 0.99 * steady["due"]),
        ("relay commit -> broker p99", f"{relay['p99_ms']:.1f} ms (p50 {relay['p50_ms']:.1f})", "<= 100 ms", relay["p99_ms"] <= 100 and relay["count"] > 0),
        (f"accepted -> canonical event p99 at half capacity", f"{canonical['p99_ms']:.1f} ms (p50 {canonical['p50_ms']:.1f})", "<= 250 ms",
         canonical["p99_ms"] <= 250 and canonical["count"] > 0),
        ("sustained accepted rate, 8 connections, vs pgbench", f"{throughput['accepted_per_s']:.0f}/s vs {reference_tps:.0f} tps = {ratio:.2f}x", "(information)", True),
        (f"PostgreSQL work per webhook, whole pipeline, at {half_rate:.0f}/s", f"{work['wal_bytes']} B of WAL, {work['rows']} rows written, {work['transactions']} transactions",
         "(information)", True),
        (f"finance at {half_rate:.0f}/s offered: postings/s and CPU per posting", f"{steady_postings / phase_seconds:.0f}/s, {finance_steady:.3f} ms",
         "(information)", True),
    ]
    if finance:
        rows.append(("finance consumer at saturation (draining a backlog)",
                     f"{finance['per_s']:.0f} postings/s, {finance['finance_cpu_ms_per_event']} ms finance CPU per event "
                     f"({finance['all_cpu_ms_per_event']} ms all processes)", "(information)", finance["posted"] >= finance["events"]))
    if notifications:
        rows.append(("notifications at saturation (a burst of requests, sent over SMTP)",
                     f"{notifications['per_s']:.0f} deliveries/s, {notifications['cpu_ms_per_delivery']} ms notifications CPU per delivery "
                     f"({notifications['all_cpu_ms_per_delivery']} ms all processes)", "(information)", notifications["sent"] >= notifications["requests"]))
    if billing:
        rows.append(("billing consumer at saturation (a burst of subscription events)",
                     f"{billing['per_s']:.0f} subscriptions/s, {billing['cpu_ms_per_event']} ms billing CPU per event "
                     f"({billing['all_cpu_ms_per_event']} ms all processes)", "(information)", billing["projected"] >= billing["events"]))
    print()
    print(f"| measure | this run ({started}) | target | met |")
    print("|---|---|---|---|")
    for name, value, target, met in rows:
        print(f"| {name} | {value} | {target} | {'' if target.startswith('(') else 'yes' if met else 'NO'} |")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({
            "started": started, "machine": machine(), "reference_tps": reference_tps, "reference_latency_ms": reference_latency,
            "closing_reference_tps": closing_tps, "idle": idle, "fresh_work": fresh_work, "later_work": later_work,
            "throughput": throughput, "low_rate": low, "capacity": capacity, "peer": peer, "steady": steady, "relay": relay, "canonical": canonical,
            "work_per_webhook": work, "finance": finance, "finance_steady_cpu_ms_per_posting": finance_steady, "finance_steady_postings": steady_postings,
            "notifications": notifications, "billing": billing,
        }, indent=2))

if __name__ == "__main__":
    main()
