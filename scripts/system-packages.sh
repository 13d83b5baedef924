#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Wangge needs, only those missing.
#   scripts/system-packages.sh          server side: PostgreSQL + PostGIS, GDAL/GEOS/PROJ
#   scripts/system-packages.sh --test   plus Debian's Chromium and CJK fonts for the browser tests
# Runs apt-get as root, or through sudo when available; otherwise says what to install.
set -euo pipefail

packages=(postgresql postgresql-postgis postgresql-contrib gdal-bin libgeos-c1v5 libproj25 gettext nodejs npm)
if [ "${1:-}" = "--test" ]; then
  packages+=(chromium fonts-noto-cjk)
fi

missing=()
for p in "${packages[@]}"; do
  # nodejs/npm may come from elsewhere (nodesource, nvm): a working command is enough.
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  apt=(apt-get)
elif command -v sudo >/dev/null 2>&1; then
  apt=(sudo apt-get)
else
  echo "Missing system packages: ${missing[*]}" >&2
  echo "Install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${apt[@]}" update -qq
"${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}"
