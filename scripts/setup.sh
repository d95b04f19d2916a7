#!/usr/bin/env bash
# Installs everything thaisign and its test suite need on a fresh Debian machine (idempotent).
# System packages: poppler (pdfsig, pdftoppm), qpdf, SoftHSM2 + OpenSC, PostgreSQL, NSS tools, Thai fonts,
# libfaketime (the suite also runs with the clock moved years ahead), Debian's chromium + chromium-driver
# (the desk's browser tests: headless, no browser download).
# Python: a virtual environment in .venv with thaisign installed editable, plus the dev tools, pinned by
# constraints.txt (the versions CI tests; scripts/lock.sh regenerates it).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(python3-venv poppler-utils qpdf softhsm2 opensc postgresql libnss3-tools fonts-thai-tlwg openssl curl wrk faketime
  oathtool chromium chromium-driver)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.thaisign-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  echo "setup: installing Python packages into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[dev]'
  touch "$stamp"
fi

# The OpenID Connect provider the service tests run (npm oidc-provider on Node.js), from the
# committed package-lock.json; node_modules is never committed.
OP_DIR=tests/support/oidc
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing Node.js (Debian nodejs, npm)" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ ! -d "$OP_DIR/node_modules/oidc-provider" ] || [ "$OP_DIR/package-lock.json" -nt "$OP_DIR/node_modules/.package-lock.json" ]; then
  echo "setup: installing the test OpenID provider's npm packages" >&2
  (cd "$OP_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
