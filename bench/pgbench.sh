#!/usr/bin/env bash
# The database's ceiling for bookings: pgbench running the booking-shaped transaction
# (bench/booking_tx.sql) against the stations of the database in DATABASE_URL, at the given
# concurrency, for the given seconds; then removes every row it wrote. Usage:
#   bench/pgbench.sh [CLIENTS=64] [SECONDS=20]
set -euo pipefail
: "${DATABASE_URL:?DATABASE_URL names the database (the national territory, say)}"
clients=${1:-64}
seconds=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
psql -q "$DATABASE_URL" -v ON_ERROR_STOP=1 <<'SQL'
DROP TABLE IF EXISTS pgbench_stations;
CREATE TABLE pgbench_stations AS
    SELECT row_number() OVER (ORDER BY id)::int AS n, id AS station_id, site_id FROM stations WHERE active;
ALTER TABLE pgbench_stations ADD PRIMARY KEY (n);
SQL
stations=$(psql -tA "$DATABASE_URL" -c "SELECT count(*) FROM pgbench_stations")
threads=$(( clients < 2 ? 1 : 2 ))
pgbench -n -M prepared -c "$clients" -j "$threads" -T "$seconds" -D stations="$stations" \
    -f "$here/booking_tx.sql" "$DATABASE_URL" | grep -E "^(number of (clients|transactions actually processed|failed)|latency average|tps)"
psql -q "$DATABASE_URL" -v ON_ERROR_STOP=1 <<'SQL'
DELETE FROM appointments WHERE reference LIKE 'PGB-%';
DROP TABLE pgbench_stations;
SQL
