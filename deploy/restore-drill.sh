#!/usr/bin/env bash
# Backup and restore drill: dumps the database of DATABASE_URL (pg_dump, custom format, the same
# command as the nightly backup), restores the dump into a scratch database next to it, checks
# that every table has the same number of rows and the schema's migrations are all there, then
# drops the scratch database. Exit status 0 = the backup restores. Usage:
#   DATABASE_URL=postgres://…/mairie_rdv deploy/restore-drill.sh [DUMP_FILE]
# With DUMP_FILE, that dump is restored instead of a fresh one (drill an existing backup).
set -euo pipefail
url=${DATABASE_URL:?set DATABASE_URL to the database to drill}
dump=${1:-}
work=$(mktemp -d)
scratch="drill_$(date +%Y%m%d%H%M%S)_$$"
base=${url%/*}
cleanup() {
  psql -q "$base/postgres" -c "DROP DATABASE IF EXISTS $scratch" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "$dump" ]; then
  dump=$work/backup.dump
  started=$(date +%s%N)
  pg_dump --format=custom --no-owner --file "$dump" "$url"
  echo "dump: $(du -h "$dump" | cut -f1) in $(( ($(date +%s%N) - started) / 1000000 )) ms"
fi

psql -q "$base/postgres" -c "CREATE DATABASE $scratch" >/dev/null
started=$(date +%s%N)
pg_restore --no-owner --exit-on-error --dbname "$base/$scratch" "$dump"
echo "restore: $(( ($(date +%s%N) - started) / 1000000 )) ms into $scratch"

# Exact row counts of every table of the public schema, on both sides.
counts() {
  psql -Atq "$1" <<'SQL'
SELECT format('SELECT %L || '' '' || count(*) FROM %I;', table_name, table_name)
  FROM information_schema.tables
 WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
 ORDER BY table_name
\gexec
SQL
}
counts "$url" > "$work/live"
counts "$base/$scratch" > "$work/restored"
if ! diff -u "$work/live" "$work/restored"; then
  echo "DRILL FAILED: row counts differ (a live database may have moved during the dump: rerun, or drill a dump file)" >&2
  exit 1
fi
migrations=$(psql -Atq "$base/$scratch" -c "SELECT count(*) FROM _sqlx_migrations WHERE success")
echo "drill ok: $(wc -l < "$work/live") tables, $(awk '{s+=$2} END {print s}' "$work/live") rows, $migrations migrations"
