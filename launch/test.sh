#!/usr/bin/env bash
# The README's second command: the test suite (8 virtual CPU devices, two workers), then the 15
# slowest tests and the reason of every skip.
#   bash launch/test.sh               # default suite (slow checks excluded)
#   bash launch/test.sh -m slow       # only the slow checks
#   bash launch/test.sh tests/ode     # one folder (any pytest arguments pass through)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash launch/setup.sh
exec .venv/bin/python -m pytest -n "${JAXGEN_TEST_WORKERS:-2}" --dist loadgroup --durations=15 -rs "$@"
