#!/usr/bin/env bash
# The whole test suite, set-up included: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export THAISIGN_CORPUS="${THAISIGN_CORPUS:-$(cd .. && pwd)/shared/corpus}"
set +e
.venv/bin/python -m pytest -p no:cacheprovider -n "${THAISIGN_TEST_WORKERS:-2}" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$rc"
