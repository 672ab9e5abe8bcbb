-- A confirmation records its hold as used first (one statement that both checks and marks: a second
-- use of the hold waits on the primary key, then fails), before the appointment row it points to
-- exists: the foreign key is checked at commit instead.
ALTER TABLE used_holds ALTER CONSTRAINT used_holds_appointment_id_fkey DEFERRABLE INITIALLY DEFERRED;
