#!/usr/bin/env bash
# The README's second command: the test suite (8 virtual CPU devices, two workers).
#   bash launch/test.sh               # default suite (slow checks excluded)
#   bash launch/test.sh -m slow       # only the slow checks
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash launch/setup.sh
exec .venv/bin/python -m pytest -n "${JAXGEN_TEST_WORKERS:-2}" --dist loadgroup "$@"
