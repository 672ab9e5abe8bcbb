-- Staff calendar feeds: one secret subscription URL per site (station_id NULL) and per station.
-- The secret is the credential (calendar applications send no session): it is looked up by its
-- SHA-256 only; the sealed copy (AES-GCM under the service's key, as management tokens in the
-- outbox) lets the page show the URL again to the commune's staff without storing it readable.
-- Renewing replaces the row's hash at once, so the old URL stops working.
CREATE TABLE staff_feed_secrets (
    id            uuid PRIMARY KEY,
    site_id       uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    station_id    uuid REFERENCES stations (id) ON DELETE CASCADE,
    secret_hash   bytea NOT NULL UNIQUE,
    secret_sealed bytea NOT NULL,
    created_at    timestamptz NOT NULL,
    created_by    uuid REFERENCES staff_accounts (id) ON DELETE SET NULL
);
-- One live secret per site feed and per station feed.
CREATE UNIQUE INDEX staff_feed_secrets_one_per_feed
    ON staff_feed_secrets (site_id, COALESCE(station_id, '00000000-0000-0000-0000-000000000000'::uuid));

-- A counter booking whose numbers ANTS reported booked elsewhere, made after the agent checked
-- with the citizen: recorded as such, never as an ordinary validation.
ALTER TABLE appointment_pre_demandes DROP CONSTRAINT appointment_pre_demandes_ants_check_check;
ALTER TABLE appointment_pre_demandes ADD CONSTRAINT appointment_pre_demandes_ants_check_check
    CHECK (ants_check IN ('not_checked', 'validated', 'unchecked', 'flagged', 'overridden'));
