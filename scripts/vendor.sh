#!/usr/bin/env bash
# Fetch the front-end files the portal serves itself (USWDS, axe-core, Chart.js) from the npm
# registry, pinned by scripts/vendor/package-lock.json, into var/vendor/static (served by
# whitenoise through STATICFILES_DIRS). Nothing is loaded from a CDN at run time. A no-op when
# up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=var/vendor
STATIC=$OUT/static
stamp=$OUT/.installed
if [ -f "$stamp" ] && [ "$stamp" -nt scripts/vendor/package-lock.json ] && [ -d "$STATIC/uswds" ] \
  && [ -d "$STATIC/chartjs" ]; then
  echo "[vendor] front-end files up to date"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then echo "[vendor] npm is missing; install nodejs and npm" >&2; exit 1; fi
  echo "[vendor] installing nodejs and npm"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
echo "[vendor] installing USWDS, axe-core and Chart.js from the npm registry"
mkdir -p "$OUT"
cp scripts/vendor/package.json scripts/vendor/package-lock.json "$OUT/"
npm ci --prefix "$OUT" --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
rm -rf "$STATIC" && mkdir -p "$STATIC/axe-core"
mkdir -p "$STATIC/uswds"
for part in css js fonts img; do
  cp -r "$OUT/node_modules/@uswds/uswds/dist/$part" "$STATIC/uswds/"
done
cp "$OUT/node_modules/axe-core/axe.min.js" "$STATIC/axe-core/"
# The UMD build bundles its one dependency (@kurkle/color) and needs no module loader. Its source
# map comes too: the manifest storage of collectstatic refuses a sourceMappingURL to a missing file.
mkdir -p "$STATIC/chartjs"
for file in dist/chart.umd.min.js dist/chart.umd.min.js.map LICENSE.md; do
  cp "$OUT/node_modules/chart.js/$file" "$STATIC/chartjs/"
done
touch "$stamp"
echo "[vendor] done: $(du -sh "$STATIC" | cut -f1) in $STATIC"
