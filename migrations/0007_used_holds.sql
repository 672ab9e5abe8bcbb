-- A hold books once, even after the appointment it created has moved on to another hold: every
-- hold id used by a booking or a move is kept here. And the per-site version counter of 0001 was
-- never used (the availability cache is invalidated per process and bounded by a TTL): dropped.

CREATE TABLE used_holds (
    hold_ref       text PRIMARY KEY,
    appointment_id uuid NOT NULL REFERENCES appointments (id) ON DELETE CASCADE,
    used_at        timestamptz NOT NULL
);
INSERT INTO used_holds (hold_ref, appointment_id, used_at)
    SELECT hold_ref, id, updated_at FROM appointments WHERE hold_ref IS NOT NULL;

ALTER TABLE sites DROP COLUMN calendar_version;
