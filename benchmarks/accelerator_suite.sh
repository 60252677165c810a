#!/usr/bin/env bash
# The prepared accelerator benchmark of jaxgen (benchmarks/accelerator_suite.py has the details).
#
#   bash benchmarks/accelerator_suite.sh [--out DIR] [--sections a,b] [--budget S]   # GPU / TPU
#   JAX_PLATFORMS=cpu bash benchmarks/accelerator_suite.sh --tiny                    # CPU smoke
#
# Writes DIR/accelerator_suite.json and DIR/accelerator_suite.md (default DIR:
# benchmarks/results/). On one GPU the whole run stays inside its budget (default 470 s, under
# 8 minutes); every section has its own time limit and a failed section does not stop the rest.
# Python: $PYTHON if set, else the repository's .venv/bin/python if there is one, else python3.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -n "${PYTHON:-}" ]]; then
  py=$PYTHON
elif [[ -x .venv/bin/python ]]; then
  py=.venv/bin/python
else
  py=python3
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
export JAXGEN_SUITE_PREFIX="bash benchmarks/accelerator_suite.sh"   # recorded in the JSON
exec "$py" -m benchmarks.accelerator_suite "$@"
