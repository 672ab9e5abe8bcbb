-- Reminders that free slots, and the no-show policy.
-- A citizen confirms they will come ("je confirme", from the reminder) or frees the slot
-- ("je libère", the cancellation). A site may ask addresses with repeated no-shows to confirm:
-- after `noshow_limit` no-shows within `noshow_months` (0: no policy), a new appointment of that
-- address must be confirmed at least `confirm_hours` before its start, or it is released to the
-- waiting list. Staff can lift the requirement on an appointment.
ALTER TABLE appointments
    ADD COLUMN presence_confirmed_at timestamptz,
    ADD COLUMN must_confirm boolean NOT NULL DEFAULT false;

ALTER TABLE sites
    ADD COLUMN noshow_limit  integer NOT NULL DEFAULT 0 CHECK (noshow_limit BETWEEN 0 AND 20),
    ADD COLUMN noshow_months integer NOT NULL DEFAULT 12 CHECK (noshow_months BETWEEN 1 AND 36),
    ADD COLUMN confirm_hours integer NOT NULL DEFAULT 24 CHECK (confirm_hours BETWEEN 1 AND 168);

-- The lifecycle job's question: which appointments still wait for a required confirmation.
CREATE INDEX appointments_awaiting_confirmation ON appointments (lower(during))
    WHERE must_confirm AND presence_confirmed_at IS NULL AND status = 'booked';
-- The booking's question: how many no-shows an address has had lately.
CREATE INDEX appointments_no_shows ON appointments (email_key, lower(during)) WHERE status = 'no_show';

-- An appointment released because its required confirmation did not come is cancelled by the
-- service itself.
ALTER TABLE appointments DROP CONSTRAINT appointments_cancelled_by_check;
ALTER TABLE appointments ADD CONSTRAINT appointments_cancelled_by_check
    CHECK (cancelled_by IN ('citizen', 'staff', 'system'));
