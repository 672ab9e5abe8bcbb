#!/usr/bin/env bash
# Shared by run-demo.sh and test.sh: make sure PostgreSQL and Redis answer on their usual local
# ports, starting them when installed but stopped, installing them (Debian, as root) when missing.
set -euo pipefail

PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31mERROR: %s\033[0m\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi
}

pg_up() { pg_isready -h "$PG_HOST" -p "$PG_PORT" -q 2>/dev/null; }
redis_up() {
  if command -v redis-cli >/dev/null; then
    [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
  else
    (exec 3<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT") 2>/dev/null
  fi
}

install_missing() {
  local pkgs=()
  command -v pg_ctlcluster >/dev/null || command -v pg_ctl >/dev/null || pkgs+=(postgresql postgresql-contrib)
  command -v redis-server >/dev/null || pkgs+=(redis-server)
  [ ${#pkgs[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing: ${pkgs[*]} (install them with your package manager)"
  say "installing ${pkgs[*]}"
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" \
    || die "could not install ${pkgs[*]}: run 'sudo apt-get install ${pkgs[*]}'"
}

ensure_postgres() {
  pg_up && return 0
  install_missing
  say "starting PostgreSQL"
  if command -v pg_ctlcluster >/dev/null; then
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || as_root systemctl start postgresql || true
  else
    as_root systemctl start postgresql || true
  fi
  for _ in $(seq 1 30); do pg_up && return 0; sleep 0.5; done
  die "PostgreSQL does not answer on $PG_HOST:$PG_PORT"
}

ensure_redis() {
  redis_up && return 0
  install_missing
  say "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null \
    || as_root systemctl start redis-server || true
  for _ in $(seq 1 30); do redis_up && return 0; sleep 0.3; done
  die "Redis does not answer on $REDIS_HOST:$REDIS_PORT"
}

# The URL must let us create databases (the tests create one per test). On a stock Debian install,
# 127.0.0.1 asks for a password: set DATABASE_URL with one, or allow trust for local connections.
check_pg_login() {
  local url=$1
  psql "$url" -Atqc 'SELECT 1' >/dev/null 2>&1 && return 0
  die "cannot log in to PostgreSQL with $url.
  Set DATABASE_URL to a role that may create databases, e.g.
    sudo -u postgres psql -c \"ALTER ROLE postgres PASSWORD 'postgres'\"
    export DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/mairie_rdv"
}

# The browser tests drive Debian's Chromium through chromedriver and inject axe-core (npm).
ensure_browser() {
  if ! command -v chromedriver >/dev/null || [ ! -x /usr/bin/chromium ]; then
    say "installing chromium and chromium-driver"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
      || { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } \
      || die "could not install chromium and chromium-driver (needed by the browser tests)"
  fi
  if [ ! -f tests/browser/node_modules/axe-core/axe.min.js ]; then
    command -v npm >/dev/null || die "npm is needed to install axe-core for the browser tests"
    say "installing axe-core for the accessibility checks"
    npm install --prefix tests/browser --no-audit --no-fund --silent || die "npm install axe-core failed"
  fi
}
