-- Bookings: pré-demande numbers (one live appointment per number, service-wide), the hold each
-- appointment came from (a hold books once), and the outbox drained by the notifier.

ALTER TABLE appointments ADD COLUMN hold_ref text;
-- A retried or double-clicked confirmation of one hold can never create a second appointment.
CREATE UNIQUE INDEX appointments_hold_ref ON appointments (hold_ref);
-- The lifecycle job looks for live appointments that are over.
CREATE INDEX appointments_live_end ON appointments (upper(during)) WHERE status IN ('booked', 'checked_in');

CREATE TABLE appointment_pre_demandes (
    appointment_id uuid NOT NULL REFERENCES appointments (id) ON DELETE CASCADE,
    number         text NOT NULL CHECK (number ~ '^[A-Z0-9]{10}$'),
    -- Kept equal to "the appointment is live" by the transactions that change its status.
    live           boolean NOT NULL,
    PRIMARY KEY (appointment_id, number)
);
CREATE UNIQUE INDEX pre_demande_one_live ON appointment_pre_demandes (number) WHERE live;

CREATE TABLE outbox (
    id             bigserial PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('confirmation', 'reschedule', 'cancellation', 'reminder',
                                                 'ants_declare', 'ants_delete')),
    appointment_id uuid REFERENCES appointments (id) ON DELETE CASCADE,
    payload        jsonb NOT NULL DEFAULT '{}',
    due_at         timestamptz NOT NULL,
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'dropped')),
    attempts       integer NOT NULL DEFAULT 0,
    last_error     text,
    created_at     timestamptz NOT NULL,
    sent_at        timestamptz
);
CREATE INDEX outbox_pending_due ON outbox (due_at) WHERE status = 'pending';
CREATE INDEX outbox_appointment ON outbox (appointment_id);
