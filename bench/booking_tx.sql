-- pgbench: the booking-shaped transaction, the database's share of one confirmation: an
-- appointment insert checked by the gist exclusion constraint (and announced by the site-version
-- trigger at commit) with its confirmation and reminder rows in the outbox, in one transaction.
-- Run by bench/pgbench.sh, which prepares `pgbench_stations` and removes what this wrote.
\set n random(1, :stations)
\set m random(0, 50000000)
BEGIN;
WITH a AS (
    INSERT INTO appointments (id, reference, site_id, station_id, motif, persons, during, status, source,
                              first_name, last_name, email, created_at, updated_at)
    SELECT x.id, 'PGB-' || x.id, s.site_id, s.station_id, 'CNI', 1,
           tstzrange(x.t, x.t + interval '15 minutes'), 'booked', 'online', 'Camille', 'Martin',
           'pgbench@example.invalid', now(), now()
    FROM pgbench_stations s,
         (SELECT gen_random_uuid() AS id, timestamptz '2040-01-01' + :m * interval '15 minutes' AS t) x
    WHERE s.n = :n
    ON CONFLICT DO NOTHING
    RETURNING id
)
INSERT INTO outbox (kind, appointment_id, payload, due_at, created_at)
SELECT k, a.id, '{}', now(), now() FROM a, (VALUES ('confirmation'), ('reminder')) AS v(k);
COMMIT;
