"""The bench's peer: a webhook intake written the straightforward way, to measure the gateway against.

FastAPI and asyncpg under uvicorn (two worker processes), as a new user would write it:
- `POST /webhooks/{source_id}` reads the raw body and checks Stripe's signature on those exact
  bytes (`Stripe-Signature: t=…,v1=…`, HMAC-SHA256 of "t.body" with the source's secret, within
  300 s);
- one transaction inserts the inbox row, deduplicated on (source, event id), and an outbox row
  carrying the raw-webhook event (the body in base64 inside a small JSON envelope), then commits;
- it answers 200 `{"inbox_id", "duplicate"}`.

There is no relay and no broker: the rows stay in the outbox. Its tables live in the schema
`bench_peer` of the same PostgreSQL (created on start). Run by ops/bench/ingest.py:

    uvicorn peer_intake:app --app-dir ops/bench --workers 2 --port 18099

with TALLY_PEER_DATABASE_URL (a postgres:// URL) and TALLY_PEER_SECRET (the Stripe signing
secret the load generator signs with) in the environment.
"""
import base64
import hashlib
import hmac
import json
import os
import time

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS bench_peer;
CREATE TABLE IF NOT EXISTS bench_peer.inbox (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_id text NOT NULL,
    event_id text NOT NULL,
    event_type text NOT NULL,
    body bytea NOT NULL,
    body_sha256 text NOT NULL,
    signature text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_id, event_id)
);
CREATE TABLE IF NOT EXISTS bench_peer.outbox (
    id bigserial PRIMARY KEY,
    event_id text NOT NULL UNIQUE,
    topic text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
"""

app = FastAPI()
SECRET = os.environ.get("TALLY_PEER_SECRET", "").encode()
TOLERANCE = 300


@app.on_event("startup")
async def startup():
    app.state.pool = await asyncpg.create_pool(os.environ["TALLY_PEER_DATABASE_URL"], min_size=4, max_size=8)
    async with app.state.pool.acquire() as connection:
        # Both workers start at once; the advisory lock keeps their CREATEs apart.
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(918273)")
            await connection.execute(SCHEMA)


def signature_valid(header, body):
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(time.time() - timestamp) > TOLERANCE:
        return False
    expected = hmac.new(SECRET, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    signatures = [value for key, value in (item.split("=", 1) for item in header.split(",") if "=" in item) if key == "v1"]
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


@app.post("/webhooks/{source_id}")
async def receive(source_id: str, request: Request):
    body = await request.body()
    if not signature_valid(request.headers.get("stripe-signature", ""), body):
        return JSONResponse({"error": "bad signature"}, status_code=400)
    try:
        event = json.loads(body)
        event_id, event_type = event["id"], event["type"]
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "malformed body"}, status_code=400)
    async with app.state.pool.acquire() as connection:
        async with connection.transaction():
            inbox_id = await connection.fetchval(
                """INSERT INTO bench_peer.inbox (source_id, event_id, event_type, body, body_sha256, signature)
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (source_id, event_id) DO NOTHING RETURNING id""",
                source_id, event_id, event_type, body, hashlib.sha256(body).hexdigest(), request.headers["stripe-signature"])
            if inbox_id is None:
                existing = await connection.fetchval(
                    "SELECT id FROM bench_peer.inbox WHERE source_id = $1 AND event_id = $2", source_id, event_id)
                return {"inbox_id": str(existing), "duplicate": True}
            payload = {"id": str(inbox_id), "type": "webhook.received", "source_id": source_id, "event_id": event_id,
                       "event_type": event_type, "body_base64": base64.b64encode(body).decode()}
            await connection.execute(
                "INSERT INTO bench_peer.outbox (event_id, topic, payload) VALUES ($1, $2, $3)",
                str(inbox_id), "tally.ingest.raw-webhooks.v1", json.dumps(payload))
    return {"inbox_id": str(inbox_id), "duplicate": False}
