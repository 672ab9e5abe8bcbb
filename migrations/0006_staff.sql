-- Staff: accounts (argon2id hashes), sessions (token hashes), and the audit log of staff actions.

CREATE TABLE staff_accounts (
    id              uuid PRIMARY KEY,
    email           text NOT NULL UNIQUE,
    password_hash   text NOT NULL,
    display_name    text NOT NULL DEFAULT '',
    role            text NOT NULL CHECK (role IN ('platform_admin', 'commune_admin', 'agent')),
    -- The commune a commune administrator or agent works for; NULL for a platform administrator.
    commune_insee   text REFERENCES communes (insee_code),
    active          boolean NOT NULL DEFAULT true,
    failed_logins   integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'platform_admin') = (commune_insee IS NULL))
);

CREATE TABLE staff_sessions (
    token_hash  bytea PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES staff_accounts (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX staff_sessions_account ON staff_sessions (account_id);

CREATE TABLE audit_log (
    id             bigserial PRIMARY KEY,
    at             timestamptz NOT NULL,
    account_id     uuid REFERENCES staff_accounts (id),
    commune_insee  text,
    action         text NOT NULL,
    appointment_id uuid,
    target         text,
    details        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_commune_at ON audit_log (commune_insee, at DESC);
