-- A citizen's erasure through the management link: when it happened. The row stays (status, motif,
-- site and times make the statistics) with no person in it; the token's hash stays too, so the link
-- can say "effacé" rather than "unknown". Numbers still owed an ANTS withdrawal are kept until the
-- notifier has sent it; the lifecycle job then finishes the erasure (see db/citizen_data.rs).
ALTER TABLE appointments ADD COLUMN erased_at timestamptz;
CREATE INDEX appointments_erasing ON appointments (id) WHERE erased_at IS NOT NULL AND manage_token_sealed IS NOT NULL;
