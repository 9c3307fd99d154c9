#!/usr/bin/env bash
# Create .venv and install the pinned dependencies; a no-op when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "[bootstrap] Python >= 3.11 is required; $PYTHON is $("$PYTHON" --version 2>&1)" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "[bootstrap] creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
# STATIC_ROOT must exist before WhiteNoise starts, even before the first collectstatic.
mkdir -p var/static var/media
stamp="$VENV/.installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
  echo "[bootstrap] installing dependencies from requirements.lock"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c requirements.lock -e '.[dev]'
  touch "$stamp"
else
  echo "[bootstrap] dependencies up to date"
fi
# USWDS and axe-core for the portal pages, from the npm registry (pinned by a lockfile).
scripts/vendor.sh
