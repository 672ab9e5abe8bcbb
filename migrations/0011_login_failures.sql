-- Wrong passwords are counted per account AND per client (an HMAC of its address): five from one
-- client lock that client out of that account for a while, so nobody can lock a member out by
-- guessing from elsewhere; the sum over clients caps a distributed guess. An attempt is counted
-- before its password is checked, so concurrent guesses cannot get past the count.
CREATE TABLE staff_login_failures (
    account_id   uuid NOT NULL REFERENCES staff_accounts (id) ON DELETE CASCADE,
    client_key   text NOT NULL,
    failures     integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (account_id, client_key)
);
