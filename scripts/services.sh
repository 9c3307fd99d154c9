#!/usr/bin/env bash
# Make the services the portal needs available, idempotently:
#   a running service is left alone, an installed but stopped one is started,
#   a missing one is installed with apt-get.
#
# Usage: scripts/services.sh [postgres] [redis] [localstripe] [chromium]   (default: postgres redis)
# Env:   PGDATABASE_NAME (portal), LOCALSTRIPE_PORT (8420), VENV (.venv)
# A localstripe started here is recorded in var/run/localstripe-<port>.pid so its caller can stop it.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
DB_NAME=${PGDATABASE_NAME:-portal}
LOCALSTRIPE_PORT=${LOCALSTRIPE_PORT:-8420}
mkdir -p var/run var/log

ADMIN_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres

log() { printf '[services] %s\n' "$*"; }

as_postgres() {  # run a command as the postgres OS user
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

APT_UPDATED=0
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    log "cannot install $* without root; install it and re-run"; exit 1
  fi
  if [ "$APT_UPDATED" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_for() {  # wait_for <description> <command...>
  local what=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  log "$what did not come up in 30 s"; return 1
}

ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    apt_install postgresql
  fi
  if pg_isready -q -h 127.0.0.1 -p 5432; then
    log "postgres: already running"
  else
    local version
    version=$(ls /etc/postgresql | sort -V | tail -1)
    log "postgres: starting cluster $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for postgres pg_isready -q -h 127.0.0.1 -p 5432
  fi
  # One URL must work under both trust and password auth. Only when the TCP login fails is
  # the postgres role given the known development password (needs local superuser access).
  if ! PGCONNECT_TIMEOUT=5 psql "$ADMIN_URL" -qtAc 'SELECT 1' >/dev/null 2>&1; then
    log "postgres: setting the development password for role postgres"
    as_postgres psql -qtAc "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
  fi
  if [ "$(psql "$ADMIN_URL" -qtAc "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'")" != 1 ]; then
    log "postgres: creating database $DB_NAME"
    psql "$ADMIN_URL" -qtAc "CREATE DATABASE \"$DB_NAME\"" >/dev/null
  fi
}

ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server
  fi
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "redis: already running"
  else
    log "redis: starting"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/redis.log
    wait_for redis redis-cli -h 127.0.0.1 -p 6379 ping
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_localstripe() {
  if port_open "$LOCALSTRIPE_PORT"; then
    log "localstripe: already listening on 127.0.0.1:$LOCALSTRIPE_PORT"
    return
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    log "localstripe needs the virtualenv at $VENV (run the install step first)"; exit 1
  fi
  log "localstripe: starting on 127.0.0.1:$LOCALSTRIPE_PORT (from scratch)"
  nohup "$VENV/bin/python" scripts/localstripe_server.py --port "$LOCALSTRIPE_PORT" --from-scratch \
    >"var/log/localstripe-$LOCALSTRIPE_PORT.log" 2>&1 &
  echo $! >"var/run/localstripe-$LOCALSTRIPE_PORT.pid"
  wait_for localstripe port_open "$LOCALSTRIPE_PORT"
}

ensure_chromium() {
  if command -v chromium >/dev/null 2>&1; then
    log "chromium: installed"
  else
    apt_install chromium
  fi
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(postgres redis)
for target in "${targets[@]}"; do
  case "$target" in
    postgres) ensure_postgres ;;
    redis) ensure_redis ;;
    localstripe) ensure_localstripe ;;
    chromium) ensure_chromium ;;
    *) log "unknown service: $target"; exit 2 ;;
  esac
done
