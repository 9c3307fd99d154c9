#!/usr/bin/env bash
# The whole check, as CI runs it: install, start services, lint, migrations check, pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k decision).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
scripts/services.sh postgres redis chromium

# Tests get their own localstripe on 8421 so a running dev portal (8420) is left alone.
export LOCALSTRIPE_PORT=8421
pidfile="var/run/localstripe-$LOCALSTRIPE_PORT.pid"
rm -f "$pidfile"
stop_started() {  # only what this run started (services.sh writes the pid file when it starts one)
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  fi
}
trap stop_started EXIT
scripts/services.sh localstripe

export PATH="$PWD/.venv/bin:$PATH"
export DJANGO_SETTINGS_MODULE=config.settings.test

echo "[test] ruff check"
ruff check .
echo "[test] ruff format --check"
ruff format --check .
echo "[test] makemigrations --check"
python manage.py makemigrations --check --dry-run
echo "[test] pytest"
# pytest exits 5 when it collects nothing; set -e turns that (and any failure) into a red run.
python -m pytest "$@"
