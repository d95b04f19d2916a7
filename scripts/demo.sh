#!/usr/bin/env bash
# The main job on an embedded default: a demo CA in ./thaisign-demo, an officer certificate,
# a signed Thai letter and its verification report. Usage: bash scripts/demo.sh [--dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/thaisign demo "$@"
