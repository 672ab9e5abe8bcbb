#!/usr/bin/env bash
# How bookings scale with instances on one machine, in one run: one booking-service instance, then
# three behind a round-robin client (each booking's hold on one instance, its confirmation on the
# next), each figure beside the same run's /healthz rate and pgbench's booking-shaped rate.
#   bench/fleet.sh [BOOKINGS=3000] [CONCURRENCY=64]
# Uses the national territory of bench/national.sh (database bench_national; seeded if needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bookings=${1:-3000}
conc=${2:-64}
export DATABASE_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/bench_national}
export APP_SECRET=${APP_SECRET:-bench-only-secret-bench-only-secret-0123}
export REDIS_KEY_PREFIX=bench-fleet
cargo build --release -q -p booking-service -p e2e-tests --bins
lg=target/release/loadgen
target/release/booking-service seed-national --appointments 10000 2>&1 | grep -v INFO || true
psql -q "$DATABASE_URL" -c "DELETE FROM appointments WHERE reference NOT LIKE 'NAT-%'"
redis-cli --scan --pattern "$REDIS_KEY_PREFIX:*" | xargs -r redis-cli del > /dev/null

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
start() { # start N: instances on 18091..
  pids=()
  for i in $(seq 1 "$1"); do
    BIND_ADDR=127.0.0.1:$((18090 + i)) TRUSTED_PROXIES=127.0.0.1 RUST_LOG=warn DATABASE_MAX_CONNECTIONS=$((48 / $1)) \
      target/release/booking-service serve > "/tmp/bench-fleet-$i.log" 2>&1 &
    pids+=($!)
  done
  for i in $(seq 1 "$1"); do
    for _ in $(seq 300); do curl -sf "http://127.0.0.1:$((18090 + i))/readyz" > /dev/null && break; sleep 0.2; done
  done
}
stop() { kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; }
bases() { seq -s, -f "http://127.0.0.1:%g" 18091 $((18090 + $1)); }

echo "== one instance"
start 1
$lg healthz "$(bases 1)" 30000 "$conc"
$lg book "$(bases 1)" "$bookings" "$conc"
stop

echo "== three instances, round-robin"
start 3
$lg healthz "http://127.0.0.1:18091" 30000 "$conc"
$lg book "$(bases 3)" "$bookings" "$conc"
stop

echo "== PostgreSQL alone, the same transaction shape"
bench/pgbench.sh "$conc" 15
