-- ANTS coordination: what was checked for each number at booking, what ANTS was last told per
-- number, ordered declaration processing, and the warning email after a failed reconciliation.

ALTER TABLE appointment_pre_demandes
    ADD COLUMN ants_check text NOT NULL DEFAULT 'not_checked'
        CHECK (ants_check IN ('not_checked', 'validated', 'unchecked', 'flagged')),
    -- Why a number was flagged, for the staff agenda.
    ADD COLUMN ants_note text;

-- What ANTS was last told for a number (no row: nothing declared).
CREATE TABLE ants_declarations (
    number           text PRIMARY KEY CHECK (number ~ '^[A-Z0-9]{10}$'),
    meeting_point_id uuid NOT NULL,
    appointment_date text NOT NULL,
    management_url   text NOT NULL,
    told_at          timestamptz NOT NULL
);

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('confirmation', 'reschedule', 'cancellation', 'reminder', 'ants_declare', 'ants_delete',
                    'ants_warning'));

-- Declarations are sent in order per number: the worker looks for the earliest pending row of each.
CREATE INDEX outbox_ants_pending ON outbox ((payload ->> 'number'), id)
    WHERE status = 'pending' AND kind IN ('ants_declare', 'ants_delete');
