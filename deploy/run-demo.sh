#!/usr/bin/env bash
# Runs the whole service with demo data: PostgreSQL and Redis (started if needed), the database
# created and migrated, the m2A demo territory seeded, then the service in the foreground.
# Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/services.sh

export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/mairie_rdv}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export BIND_ADDR=${BIND_ADDR:-127.0.0.1:8080}
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://$BIND_ADDR}

ensure_postgres
ensure_redis
check_pg_login "${DATABASE_URL%/*}/postgres"

say "building"
cargo build --release --bin booking-service
bin=target/release/booking-service

say "migrating and seeding the demo territory"
"$bin" migrate
"$bin" seed-demo

say "serving on $PUBLIC_BASE_URL  (try $PUBLIC_BASE_URL/api/v1/communes)"
exec "$bin" serve
