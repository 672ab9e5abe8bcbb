#!/usr/bin/env bash
# Runs the whole service with demo data: PostgreSQL and Redis (started if needed), the database
# created and migrated, the m2A demo territory and registry seeded, the notifier (emails written as
# .eml files in demo-data/mail), the registry (port 8081), then the booking service in the
# foreground (port 8080). Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/services.sh

export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/mairie_rdv}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export BIND_ADDR=${BIND_ADDR:-127.0.0.1:8080}
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://$BIND_ADDR}
export MAIL_DIR=${MAIL_DIR:-$PWD/demo-data/mail}

# One secret shared by the service and the notifier, drawn once and kept with the demo data.
mkdir -p demo-data
if [ -z "${APP_SECRET:-}" ]; then
  [ -s demo-data/app-secret ] || head -c 48 /dev/urandom | base64 | tr -d '\n' > demo-data/app-secret
  APP_SECRET=$(cat demo-data/app-secret)
  export APP_SECRET
fi

ensure_postgres
ensure_redis
check_pg_login "${DATABASE_URL%/*}/postgres"

say "building"
cargo build --release --bin booking-service --bin notifier --bin registry
bin=target/release

say "migrating and seeding the demo territory"
"$bin/booking-service" migrate
"$bin/booking-service" seed-demo
"$bin/registry" seed-demo
# A platform administrator for the staff pages (/agents) and the registry's (/registre); the
# password is the demo's, printed below: never use this script's accounts beyond a demo.
DEMO_STAFF_EMAIL=${DEMO_STAFF_EMAIL:-admin@demo.m2a.fr}
DEMO_STAFF_PASSWORD=${DEMO_STAFF_PASSWORD:-demonstration-m2a}
if printf '%s\n' "$DEMO_STAFF_PASSWORD" | "$bin/booking-service" create-admin --email "$DEMO_STAFF_EMAIL" >/dev/null 2>&1; then
  say "staff pages: $PUBLIC_BASE_URL/agents as $DEMO_STAFF_EMAIL / $DEMO_STAFF_PASSWORD"
else
  say "staff pages: $PUBLIC_BASE_URL/agents as $DEMO_STAFF_EMAIL (already created by an earlier run)"
fi

say "starting the notifier (emails in $MAIL_DIR)"
"$bin/notifier" run &
notifier_pid=$!
REGISTRY_BIND_ADDR=${REGISTRY_BIND_ADDR:-127.0.0.1:8081}
say "starting the registry on http://$REGISTRY_BIND_ADDR  (try /api/v1/allocations?period=2026)"
"$bin/registry" serve --bind-addr "$REGISTRY_BIND_ADDR" &
registry_pid=$!
trap 'kill $notifier_pid $registry_pid 2>/dev/null || true' EXIT INT TERM

say "serving on $PUBLIC_BASE_URL  (try $PUBLIC_BASE_URL/api/v1/communes)"
"$bin/booking-service" serve
