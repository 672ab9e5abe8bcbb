-- A forgotten password: a one-time link sent to the member's address. Only the token's hash is
-- kept (the notifier gets it sealed in the outbox row); it expires and is used once.
CREATE TABLE staff_password_resets (
    token_hash  bytea PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES staff_accounts (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX staff_password_resets_account ON staff_password_resets (account_id);

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('confirmation', 'reschedule', 'cancellation', 'reminder', 'ants_declare', 'ants_delete',
                    'ants_warning', 'staff_password_reset'));
