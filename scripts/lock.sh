#!/usr/bin/env bash
# Regenerates constraints.txt: the exact versions of every Python package thaisign, its tests and its
# benchmarks install, resolved afresh in a throw-away virtual environment from pyproject.toml.
#   bash scripts/lock.sh            # then run bash scripts/test.sh and commit constraints.txt
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"${PYTHON:-python3}" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --upgrade pip >/dev/null
"$tmp/venv/bin/python" -m pip install -q -e '.[dev,bench]'
{
  echo "# The Python packages thaisign is tested with (pip constraints). Regenerate: bash scripts/lock.sh"
  echo "# Install exactly these: pip install -c constraints.txt thaisign   (or -e '.[dev]' from a clone)"
  "$tmp/venv/bin/python" -m pip freeze --exclude-editable --all | grep -viE '^(pip|setuptools|wheel)==' | LC_ALL=C sort -f
} > constraints.txt.new
mv constraints.txt.new constraints.txt
echo "lock.sh: wrote constraints.txt ($(grep -vc '^#' constraints.txt) packages)" >&2
