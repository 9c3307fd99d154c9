#!/usr/bin/env bash
# The whole portal in the foreground: web, Celery worker, Celery beat and localstripe.
# Ctrl-C stops them all (honcho forwards the signal).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
scripts/services.sh postgres redis
export PATH="$PWD/.venv/bin:$PATH"
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings.dev}

python manage.py migrate --noinput

# The processes start first: the demo data adds a card and pays an invoice through localstripe,
# which runs under honcho (Ctrl-C still reaches honcho: it shares this script's process group).
honcho start -f Procfile &
honcho_pid=$!
for _ in $(seq 1 60); do
  (echo >/dev/tcp/127.0.0.1/8420) 2>/dev/null && break
  sleep 0.5
done
python manage.py seed_demo || echo "[run] seed_demo failed; the portal runs without (all of) its demo data" >&2

cat <<BANNER

  Tracking Access Portal is starting:
    portal     http://127.0.0.1:8000/
    admin      http://127.0.0.1:8000/admin/   (demo logins printed above)
    health     http://127.0.0.1:8000/healthz
    localstripe http://127.0.0.1:8420/
  Ctrl-C stops web, worker, beat and localstripe together.

BANNER
wait "$honcho_pid"
