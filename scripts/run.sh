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
python manage.py seed_demo

cat <<BANNER

  Tracking Access Portal is starting:
    portal     http://127.0.0.1:8000/
    admin      http://127.0.0.1:8000/admin/   (demo logins printed above)
    health     http://127.0.0.1:8000/healthz
    localstripe http://127.0.0.1:8420/
  Ctrl-C stops web, worker, beat and localstripe together.

BANNER
exec honcho start -f Procfile
