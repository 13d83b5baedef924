#!/usr/bin/env bash
# Installs the locked npm packages and copies the browser files into wangge/static/vendor,
# so pages load MapLibre GL, ECharts and htmx from our own server (no CDN at run time).
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=node_modules/.installed-lock
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi

vendor=wangge/static/vendor
mkdir -p "$vendor"
cp node_modules/maplibre-gl/dist/maplibre-gl.js node_modules/maplibre-gl/dist/maplibre-gl.css "$vendor/"
cp node_modules/echarts/dist/echarts.min.js "$vendor/"
cp node_modules/htmx.org/dist/htmx.min.js "$vendor/"
