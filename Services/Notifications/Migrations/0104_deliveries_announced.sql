-- A delivery that becomes due-able (new, rescheduled, replayed, woken by a contact) is announced
-- on `<schema>_deliveries` when its transaction commits, so the worker sends it at once instead
-- of finding it on its next poll. PostgreSQL folds identical notifications of one transaction
-- into one, so a batch of inserts wakes the worker once.
CREATE FUNCTION announce_delivery() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_deliveries', '');
    RETURN NULL;
END
$fn$;

CREATE TRIGGER deliveries_announced
    AFTER INSERT OR UPDATE OF status, next_attempt_at ON deliveries
    FOR EACH ROW WHEN (NEW.status IN ('scheduled', 'retrying'))
    EXECUTE FUNCTION announce_delivery();
