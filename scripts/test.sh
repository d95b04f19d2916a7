#!/usr/bin/env bash
# The whole test suite, set-up included: bash scripts/test.sh [pytest args]
#
# Without arguments it runs the whole suite at the real clock, then the time-sensitive tests again
# with the clock moved four years ahead (libfaketime; THAISIGN_CLOCK_SHIFTS for others), so that no test can depend on
# today's date: a test that validates at the wall clock, or a certificate that quietly expires,
# fails here before it fails for everybody on some later morning.
# With arguments it runs just those (THAISIGN_TIME_TRAVEL=1 adds the moved-clock runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export THAISIGN_CORPUS="${THAISIGN_CORPUS:-$(cd .. && pwd)/shared/corpus}"

# tests that validate certificates, time-stamps, OCSP/CRL or run services with clocks
TIME_SENSITIVE=(tests/pades tests/verify tests/tsa tests/hsm tests/ca tests/core tests/files tests/desk)
# the platform's files that validate at times (letters, chains, OCSP/CRL/TSA answers): ~20 s a clock
TIME_SENSITIVE+=(tests/platform/test_platform_lifecycle.py tests/platform/test_platform_status.py
  tests/platform/test_platform_hierarchy.py tests/platform/test_platform_hsm.py tests/platform/test_platform_crl_guard.py)
# how far the clock moves: years ahead, past every OCSP/CRL lifetime and every certificate made at
# the real clock (a date that breaks a test sooner breaks it there too). CI runs +4y only, to stay well
# under its time budget; THAISIGN_CLOCK_SHIFTS="+400d +4y" adds more.
read -r -a CLOCK_SHIFTS <<< "${THAISIGN_CLOCK_SHIFTS:-+4y}"

run_pytest() {
  set +e
  "$@"
  local rc=$?
  set -e
  if [ "$rc" -eq 5 ]; then
    echo "test.sh: pytest collected no tests: that is a failure" >&2
    return 1
  fi
  return "$rc"
}

pytest=(.venv/bin/python -m pytest -p no:cacheprovider -n "${THAISIGN_TEST_WORKERS:-2}")
if [ $# -gt 0 ]; then
  run_pytest "${pytest[@]}" "$@"
  targets=("$@")
else
  run_pytest "${pytest[@]}"
  targets=("${TIME_SENSITIVE[@]}")
fi
if [ $# -eq 0 ] || [ "${THAISIGN_TIME_TRAVEL:-0}" = 1 ]; then
  for shift in "${CLOCK_SHIFTS[@]}"; do
    echo "test.sh: the time-sensitive tests again, with the clock moved $shift (faketime)" >&2
    run_pytest faketime -f "$shift" "${pytest[@]}" -q "${targets[@]}"
  done
fi
