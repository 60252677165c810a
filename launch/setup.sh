#!/usr/bin/env bash
# Creates .venv with a Python >= 3.12, installs the pinned requirements and jaxgen (editable).
# Idempotent.
#   bash launch/setup.sh            # then: .venv/bin/python -m launch.train ...
# Set PYTHON=/path/to/python3.12 to choose the interpreter yourself.
set -euo pipefail
cd "$(dirname "$0")/.."

ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

find_python() {
  local c
  for c in "${PYTHON:-}" python3.14 python3.13 python3.12 python3 python; do
    [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && ok "$c" && { command -v "$c"; return; }
  done
  # pyenv and other installs that are not on the PATH (a pyenv shim may refuse to run them).
  for c in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 \
               /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9] 2>/dev/null | sort -rV); do
    ok "$c" && { echo "$c"; return; }
  done
  return 1
}

if [ ! -x .venv/bin/python ] || ! ok .venv/bin/python; then
  if ! PY=$(find_python); then
    echo "error: jaxgen needs Python >= 3.12 (current jax requires it) and none was found." >&2
    echo "Install one (e.g. 'pyenv install 3.12' or your distribution's python3.12) or set PYTHON=/path/to/python3.12." >&2
    exit 1
  fi
  echo "Using $PY ($("$PY" --version 2>&1))"
  rm -rf .venv
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
# jaxgen itself, editable (pyproject.toml), so that scripts anywhere can `import jaxgen`.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
echo "Environment ready: $(.venv/bin/python --version), jax $(.venv/bin/python -c 'import jax; print(jax.__version__)')"
