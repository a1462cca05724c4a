/// The tables and functions every service has in its own schema, applied before the service's
/// own migrations (versions 1–99 are reserved for them; service files start at 0100).
enum PlatformMigrations {
    static let all: [Migration] = [
        Migration(
            version: 1, name: "platform_outbox",
            sql: """
                CREATE TABLE outbox (
                    id bigserial PRIMARY KEY,
                    event_id text NOT NULL UNIQUE,
                    topic text NOT NULL,
                    message_key text NOT NULL,
                    payload bytea NOT NULL,
                    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
                    org_id text,
                    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                    published_at timestamptz,
                    attempts integer NOT NULL DEFAULT 0,
                    last_error text
                );
                CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
                CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $fn$
                BEGIN
                    PERFORM pg_notify(TG_TABLE_SCHEMA || '_outbox', '');
                    RETURN NULL;
                END $fn$;
                CREATE TRIGGER outbox_inserted AFTER INSERT ON outbox
                    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
                """),
        Migration(
            version: 2, name: "platform_inbox",
            sql: """
                CREATE TABLE inbox (
                    event_id text PRIMARY KEY,
                    topic text NOT NULL,
                    kafka_partition integer NOT NULL,
                    kafka_offset bigint NOT NULL,
                    outcome text NOT NULL,
                    processed_at timestamptz NOT NULL DEFAULT now()
                );
                """),
        Migration(
            version: 3, name: "platform_audit_log",
            sql: """
                CREATE TABLE audit_log (
                    id bigserial PRIMARY KEY,
                    org_id text NOT NULL,
                    actor text NOT NULL,
                    action text NOT NULL,
                    target text NOT NULL,
                    before jsonb,
                    after jsonb,
                    correlation_id text,
                    recorded_at timestamptz NOT NULL DEFAULT now()
                );
                ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
                ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
                CREATE POLICY audit_log_tenant ON audit_log
                    USING (org_id = current_setting('tally.org_id', true))
                    WITH CHECK (org_id = current_setting('tally.org_id', true));
                """),
        // Superseded by version 8, which re-creates the policy through `enable_tenant_isolation`.
        Migration(
            version: 4, name: "platform_audit_log_policy_reads_the_org_once",
            sql: """
                ALTER POLICY audit_log_tenant ON audit_log
                    USING (org_id = (SELECT current_setting('tally.org_id', true)))
                    WITH CHECK (org_id = (SELECT current_setting('tally.org_id', true)));
                """),
        // An outbox row is written once, read once by the relay and marked once; the mark is
        // not a HOT update (the unpublished index names `published_at`), so it copies the
        // row. With the default storage, a payload that makes the row exceed ~2 KB (a raw
        // webhook of 1.4 KB is ~2.6 KB once its body is base64 in the event) was compressed
        // with pglz on insert and decompressed again by the relay; a payload that compressed
        // below the limit stayed in the row and was copied by the mark. Out of line and
        // uncompressed, the payload is neither compressed nor copied: the mark copies a pointer.
        // Measured in docs/benchmarks.md (peak 1,419/s against 1,245/s with the default and
        // 1,314/s with payloads kept in the row; about 12% less WAL than the latter).
        Migration(
            version: 5, name: "platform_outbox_payloads_out_of_line",
            sql: """
                ALTER TABLE outbox ALTER COLUMN payload SET STORAGE EXTERNAL;
                """),
        // The event type beside each id (what a typed consumer ignored is then visible by name),
        // and the outcomes `InboxOutcome.recordedValues` lists, enforced. NOT VALID: rows already
        // there are trusted instead of scanned, so the upgrade does not read a large inbox.
        Migration(
            version: 6, name: "platform_inbox_event_types_and_outcomes",
            sql: """
                ALTER TABLE inbox ADD COLUMN event_type text;
                ALTER TABLE inbox ADD CONSTRAINT inbox_outcome_known
                    CHECK (outcome IN ('applied', 'ignored', 'dead-lettered')) NOT VALID;
                """),
        Migration(version: 7, name: "platform_tenant_isolation_function", sql: TenantIsolation.functionSQL),
        Migration(
            version: 8, name: "platform_audit_log_through_tenant_isolation",
            sql: """
                SELECT enable_tenant_isolation('audit_log');
                """),
        Migration(
            version: 9, name: "platform_job_heartbeats",
            sql: """
                -- One row per time-driven job of the service (not per org: a job serves every org):
                -- when it last ran, last succeeded, and how many runs in a row failed.
                CREATE TABLE job_heartbeats (
                    job text PRIMARY KEY,
                    last_run_at timestamptz NOT NULL,
                    last_success_at timestamptz,
                    consecutive_failures integer NOT NULL DEFAULT 0,
                    last_error text,
                    runs bigint NOT NULL DEFAULT 0
                );
                """),
        // The outbox in commit order (see `CommitOrderProgress`): the relay no longer marks each
        // row it published (a non-HOT update of every row, since the unpublished index named
        // `published_at`), it appends one entry per acknowledged batch to
        // `outbox_publications`. Rows carry the id of the transaction that wrote them. Rows
        // published before keep a NULL txid and their `published_at` (never written again);
        // rows still waiting get the lowest position, so the relay publishes them first.
        // Attempts and errors were never read from the rows: they are in the relay's log and
        // metrics. `outbox_messages` shows every row with its publication time, for operators.
        Migration(
            version: 10, name: "platform_outbox_in_commit_order",
            sql: """
                ALTER TABLE outbox ADD COLUMN txid xid8;
                ALTER TABLE outbox ALTER COLUMN txid SET DEFAULT pg_current_xact_id();
                UPDATE outbox SET txid = '1' WHERE published_at IS NULL;
                CREATE INDEX outbox_publication_order ON outbox (txid, id) WHERE txid IS NOT NULL;
                DROP INDEX outbox_unpublished;
                ALTER TABLE outbox DROP COLUMN attempts, DROP COLUMN last_error;
                CREATE TABLE outbox_publications (
                    id bigserial PRIMARY KEY,
                    up_to_txid xid8 NOT NULL,
                    up_to_id bigint NOT NULL,
                    messages integer NOT NULL,
                    published_at timestamptz NOT NULL DEFAULT clock_timestamp()
                );
                CREATE INDEX outbox_publications_position ON outbox_publications (up_to_txid, up_to_id);
                INSERT INTO outbox_publications (up_to_txid, up_to_id, messages) VALUES ('0', 0, 0);
                CREATE VIEW outbox_messages AS
                SELECT o.id, o.event_id, o.topic, o.message_key, o.org_id, o.headers, o.payload, o.created_at, o.txid,
                       COALESCE(o.published_at, p.published_at) AS published_at
                FROM outbox o
                LEFT JOIN LATERAL (
                    SELECT r.published_at FROM outbox_publications r
                    WHERE o.txid IS NOT NULL AND (r.up_to_txid, r.up_to_id) >= (o.txid, o.id)
                    ORDER BY r.up_to_txid, r.up_to_id LIMIT 1
                ) p ON true;
                """),
        // The horizon of the schema's commit-ordered feeds, and the outbox read below it. A
        // feed reads only rows of transactions below the horizon: every transaction below it
        // that could write the schema's tables has ended. `pg_snapshot_xmin` is such a horizon,
        // but cluster-wide: another service's batch transaction held it back for seconds under
        // load (finance's ran 3-4 s), and with it every relay. Only the schema's own role writes
        // its feeds, so the horizon is the oldest transaction id held by a session of that role,
        // or the next transaction id when none holds one. A row another role writes into a feed
        // (a superuser by hand) is not covered: it may be passed over if the relay reads while
        // that transaction is open. (A transaction prepared for two-phase commit is not in
        // pg_stat_activity; Tally prepares none.)
        // Readers evaluate it in a statement of its own, before the read, each with its own
        // snapshot: a transaction that ended before the horizon was taken is visible to the
        // read, and one that gets its id later gets one above the horizon.
        Migration(
            version: 11, name: "platform_feed_horizon_of_the_schemas_role",
            sql: """
                CREATE FUNCTION feed_horizon() RETURNS xid8 LANGUAGE sql VOLATILE AS $fn$
                    WITH next AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xid),
                    running AS (
                        SELECT ((next.xid % 4294967296) - a.backend_xid::text::bigint + 4294967296) % 4294967296 AS behind
                        FROM next, pg_stat_activity a
                        WHERE a.backend_xid IS NOT NULL AND a.pid <> pg_backend_pid()
                          AND a.usename = current_user
                    )
                    SELECT (next.xid - coalesce((SELECT max(behind) FROM running WHERE behind BETWEEN 1 AND 2147483647), 0))::text::xid8
                    FROM next
                $fn$;
                CREATE FUNCTION outbox_unpublished(p_txid xid8, p_id bigint, p_limit int) RETURNS SETOF outbox
                LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $fn$
                DECLARE
                    v_below xid8 := feed_horizon();
                BEGIN
                    RETURN QUERY
                    SELECT o.* FROM outbox o
                    WHERE o.txid IS NOT NULL AND (o.txid, o.id) > (p_txid, p_id) AND o.txid < v_below
                    ORDER BY o.txid, o.id
                    LIMIT p_limit;
                END
                $fn$;
                """),
    ]
}
