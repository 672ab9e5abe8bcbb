#!/usr/bin/env bash
# Runs every check and test: formatting, clippy, unit tests, property tests and the end-to-end
# tests against real PostgreSQL and Redis (each test gets its own fresh database, dropped after).
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/services.sh

# The tests create and drop their own databases on this server.
export DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}

ensure_postgres
ensure_redis
ensure_browser
check_pg_login "$DATABASE_URL"

say "deploy/validate.sh (images, compose, Kubernetes manifests, units, proxies, alerts)"
bash deploy/validate.sh
say "cargo fmt --check"
cargo fmt --all --check
say "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
say "cargo build --bins (the fleet tests start the binaries as processes)"
cargo build --workspace --bins
say "cargo test"
cargo test --workspace

say "backup and restore drill (deploy/restore-drill.sh) on a demo database"
drill_db="rdv_drill_source_$$"
drill_url="${DATABASE_URL%/*}/$drill_db"
trap 'psql -q "${DATABASE_URL%/*}/postgres" -c "DROP DATABASE IF EXISTS $drill_db" >/dev/null 2>&1 || true' EXIT
DATABASE_URL=$drill_url "${CARGO_TARGET_DIR:-target}"/debug/booking-service migrate >/dev/null
DATABASE_URL=$drill_url "${CARGO_TARGET_DIR:-target}"/debug/booking-service seed-demo >/dev/null
DATABASE_URL=$drill_url "${CARGO_TARGET_DIR:-target}"/debug/registry seed-demo >/dev/null
DATABASE_URL=$drill_url bash deploy/restore-drill.sh
