-- What the notifier needs: the sealed management token (for links in emails), a lease on claimed
-- outbox rows, a wake-up on every new row, per-site "what to bring", and a view of failures.

ALTER TABLE appointments ADD COLUMN manage_token_sealed bytea;

-- A claimed row is leased until this instant; a crashed worker's rows come back after it.
ALTER TABLE outbox ADD COLUMN claimed_until timestamptz;

-- NULL: the default list (domain rules); otherwise the site's own, one line per item.
ALTER TABLE booking_policies ADD COLUMN what_to_bring text[];

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', NEW.kind);
    RETURN NEW;
END
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_notify();

-- For operators (and the staff back office): messages that will not be delivered without help.
CREATE VIEW outbox_failures AS
    SELECT o.id, o.kind, o.appointment_id, a.reference, a.site_id, o.attempts, o.last_error, o.created_at, o.due_at
    FROM outbox o LEFT JOIN appointments a ON a.id = o.appointment_id
    WHERE o.status = 'failed';
