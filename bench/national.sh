#!/usr/bin/env bash
# Every national-scale figure of BENCHMARKS.md in one run, so that each reads as a ratio to the
# same run's /healthz rate and pgbench booking-shaped rate. Usage:
#   bench/national.sh [APPOINTMENTS=10000] [CONCURRENCY=64]
# Seeds (or reuses) the national territory in BENCH_DATABASE_URL (default: database
# bench_national on the local server), serves it from a release build on 127.0.0.1:18090, runs the
# load generator's scenarios against it, and stops the server. Needs PostgreSQL, Redis, pgbench.
set -euo pipefail
cd "$(dirname "$0")/.."
appointments=${1:-10000}
conc=${2:-64}
export DATABASE_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/bench_national}
export APP_SECRET=${APP_SECRET:-bench-only-secret-bench-only-secret-0123}
export REDIS_KEY_PREFIX=bench-national
base=http://127.0.0.1:18090
token=bench-hub-token-bench-hub-token
cargo build --release -q -p booking-service -p e2e-tests --bins
lg=target/release/loadgen

echo "== seed: $appointments appointments"
/usr/bin/time -f "seed: %e s" target/release/booking-service seed-national --appointments "$appointments" 2>&1 | grep -v INFO || true
# A fresh start: bookings left by an earlier run of this script are removed.
psql -q "$DATABASE_URL" -c "DELETE FROM appointments WHERE reference NOT LIKE 'NAT-%'"
redis-cli --scan --pattern "$REDIS_KEY_PREFIX:*" | xargs -r redis-cli del > /dev/null

BIND_ADDR=127.0.0.1:18090 TRUSTED_PROXIES=127.0.0.1 ANTS_HUB_TOKENS=$token RUST_LOG=warn \
    target/release/booking-service serve > /tmp/bench-national-serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "$base/healthz" > /dev/null && break; sleep 0.2; done
rss() { echo "resident memory: $(( $(ps -o rss= -p "$server") / 1024 )) MB ($1)"; }
rss "started"

echo "== warm-up (every site's calendar loaded once)"
$lg earliest "$base" 20 4 > /dev/null
$lg availability "$base" 2400 16 > /dev/null
rss "territory and calendars in memory"

echo "== reads"
$lg healthz "$base" 50000 "$conc"
$lg availability "$base" 20000 "$conc"
$lg healthz "$base" 50000 "$conc"
$lg earliest "$base" 2000 16
$lg ants "$base" 50 "$token" 50

echo "== bookings (the same concurrency for the service and pgbench)"
$lg book "$base" 5000 "$conc"
bench/pgbench.sh "$conc" 15
$lg rush "$base" 5000 100 500
rss "after the load"
