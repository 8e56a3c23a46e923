#!/usr/bin/env bash
# Install everything the kiosk, the clinic server and the tests need on a fresh Debian 12
# machine: system packages (virtual display, GL, Chromium, fonts, PostgreSQL client tools for
# backups, systemd-analyze for the shipped units, cage + Xwayland for the kiosk session test,
# Node.js + npm for the pinned axe-core of the accessibility tests)
# and a .venv with the project installed in editable mode with all extras, at the exact
# versions of constraints.txt (scripts/lock.sh regenerates it). Safe to run again: it skips
# what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(xvfb xauth espeak-ng alsa-utils xclip libgl1-mesa-dri libegl1 libgl1 libmtdev1 fonts-noto-core fonts-noto-cjk chromium
  postgresql-client systemd cage xwayland
  faketime nodejs)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# Debian's nodejs comes without npm (a separate package); some builds of nodejs include it.
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "setup: installing system packages: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml setup.py constraints.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[kiosk,server,test]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# axe-core for the accessibility tests (tests/browser/test_axe_*.py), at the version and
# checksum of tests/browser/axe/package-lock.json; reinstalled when the lock file changes.
axe_dir=tests/browser/axe
axe_stamp=$axe_dir/node_modules/.installed-$(sha256sum <"$axe_dir/package-lock.json" | cut -c1-16)
if [ ! -f "$axe_stamp" ]; then
  (cd "$axe_dir" && npm ci --ignore-scripts --no-audit --no-fund --silent)
  touch "$axe_stamp"
fi
# The build compiles the catalogs; in a checkout a .po may have changed since the install.
.venv/bin/python -m scripts.compile_catalogs >/dev/null
