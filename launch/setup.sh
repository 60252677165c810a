#!/usr/bin/env bash
# Creates .venv with a Python >= 3.12, installs the pinned requirements and jaxgen (editable),
# then prints the devices JAX sees. Idempotent.
#   bash launch/setup.sh                        # CPU: requirements.txt
#   bash launch/setup.sh --accelerator cuda12   # NVIDIA GPU: + jax[cuda12] (requirements-cuda12.txt)
#   bash launch/setup.sh --accelerator tpu      # Cloud TPU VM: + jax[tpu] (requirements-tpu.txt)
#   bash launch/setup.sh --system-jax           # keep the jax this image already has (say 0.11 with
#                                               # CUDA): a venv over the system site-packages with
#                                               # requirements.txt minus jax / jaxlib
#   bash launch/setup.sh --dry-run ...          # print every command, run none
# Options: --venv DIR (default .venv). Set PYTHON=/path/to/python3.12 to choose the interpreter.
# Switching accelerators in place removes the other accelerators' plugins.
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/quote.sh  # sq, run (prints instead with DRY_RUN=1)

ACCELERATOR=cpu SYSTEM_JAX=0 DRY_RUN=0 VENV=.venv
usage() { sed -n '2,12s/^# \{0,1\}//p' "$0"; }
die() { echo "error: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --accelerator) [ $# -ge 2 ] || die "--accelerator needs a value: cpu, cuda12 or tpu"
                   ACCELERATOR=$2; shift 2 ;;
    --accelerator=*) ACCELERATOR=${1#*=}; shift ;;
    --system-jax) SYSTEM_JAX=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --venv) [ $# -ge 2 ] || die "--venv needs a folder"; VENV=$2; shift 2 ;;
    --venv=*) VENV=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (try: bash launch/setup.sh --help)" ;;
  esac
done
case $ACCELERATOR in
  cpu) REQUIREMENTS=requirements.txt ;;
  cuda12) REQUIREMENTS=requirements-cuda12.txt ;;
  tpu) REQUIREMENTS=requirements-tpu.txt ;;
  *) die "--accelerator must be cpu, cuda12 or tpu, not '$ACCELERATOR'" ;;
esac
if [ "$SYSTEM_JAX" = 1 ] && [ "$ACCELERATOR" != cpu ]; then
  die "--system-jax keeps the image's jax and its plugins; it does not take --accelerator $ACCELERATOR"
fi
PLUGINS=(jax-cuda12-plugin jax-cuda12-pjrt libtpu)  # what the accelerator files add to jax
case $ACCELERATOR in
  cpu) KEEP=() ;;
  cuda12) KEEP=(jax-cuda12-plugin jax-cuda12-pjrt) ;;
  tpu) KEEP=(libtpu) ;;
esac

# Informational lines; with --dry-run they are shell comments, so the output stays a script.
say() { if [ "$DRY_RUN" = 1 ]; then echo "# $*"; else echo "$*"; fi; }

ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
has_jax() { "$1" -c 'import jax, jaxlib' >/dev/null 2>&1; }
usable() { ok "$1" && { [ "$SYSTEM_JAX" = 0 ] || has_jax "$1"; }; }

find_python() {
  local c
  for c in "${PYTHON:-}" python3.14 python3.13 python3.12 python3 python; do
    [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && usable "$c" && { command -v "$c"; return; }
  done
  # pyenv and other installs that are not on the PATH (a pyenv shim may refuse to run them).
  for c in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 \
               /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9] 2>/dev/null | sort -rV); do
    usable "$c" && { echo "$c"; return; }
  done
  return 1
}

# The venv is reused when its Python is >= 3.12 and it was made the same way (over the system
# site-packages with --system-jax, isolated otherwise).
venv_fits() {
  [ -x "$VENV/bin/python" ] && ok "$VENV/bin/python" || return 1
  local shared=false
  grep -qiE '^include-system-site-packages *= *true' "$VENV/pyvenv.cfg" 2>/dev/null && shared=true
  if [ "$SYSTEM_JAX" = 1 ]; then
    [ "$shared" = true ] && has_jax "$VENV/bin/python"
  else
    [ "$shared" = false ]
  fi
}

PY_BIN=$VENV/bin/python
PIP=("$PY_BIN" -m pip)
Q=(-q --disable-pip-version-check)
FITS=0
venv_fits && FITS=1
if [ "$FITS" = 0 ]; then
  if ! PY=$(find_python); then
    if [ "$SYSTEM_JAX" = 1 ]; then
      echo "error: --system-jax needs a Python >= 3.12 that can 'import jax' and none was found." >&2
      echo "Set PYTHON=/path/to/that/python, or run setup without --system-jax to install the pinned jax." >&2
    else
      echo "error: jaxgen needs Python >= 3.12 (current jax requires it) and none was found." >&2
      echo "Install one (e.g. 'pyenv install 3.12' or your distribution's python3.12) or set PYTHON=/path/to/python3.12." >&2
    fi
    exit 1
  fi
  say "Using $PY ($("$PY" --version 2>&1))"
  if [ -e "$VENV" ]; then run rm -rf "$VENV"; fi
  if [ "$SYSTEM_JAX" = 1 ]; then
    run "$PY" -m venv --system-site-packages "$VENV"
    if [ "$DRY_RUN" = 0 ] && ! has_jax "$PY_BIN"; then
      echo "error: $VENV does not see the jax of $PY (is it itself a venv? Set PYTHON to the" \
           "interpreter whose own site-packages hold jax)." >&2
      exit 1
    fi
  else
    run "$PY" -m venv "$VENV"
  fi
fi

run "${PIP[@]}" install "${Q[@]}" --upgrade pip
if [ "$SYSTEM_JAX" = 1 ]; then
  # requirements.txt without jax / jaxlib, and a constraint that keeps the image's versions: pip
  # stops with a conflict instead of replacing them if a pin needs a newer jax.
  SYS_PY=$PY_BIN
  if [ "$FITS" = 0 ] && [ "$DRY_RUN" = 1 ]; then SYS_PY=$PY; fi  # the venv is not made yet
  SYS_VERSIONS=$("$SYS_PY" -c 'import jax, jaxlib; print(jax.__version__, jaxlib.__version__)')
  read -r JAX_V JAXLIB_V <<<"$SYS_VERSIONS"
  say "Keeping the system's jax $JAX_V (jaxlib $JAXLIB_V)"
  REQ_FILE=$VENV/requirements-system-jax.txt CONSTRAINTS=$VENV/constraints-system-jax.txt
  if [ "$DRY_RUN" = 1 ]; then
    echo "grep -viE '^(jax|jaxlib) *([=<>!~;[]|\$)' requirements.txt > $(sq "$REQ_FILE")"
    echo "printf 'jax==%s\\njaxlib==%s\\n' $JAX_V $JAXLIB_V > $(sq "$CONSTRAINTS")"
  else
    grep -viE '^(jax|jaxlib) *([=<>!~;[]|$)' requirements.txt > "$REQ_FILE"
    printf 'jax==%s\njaxlib==%s\n' "$JAX_V" "$JAXLIB_V" > "$CONSTRAINTS"
  fi
  if ! run "${PIP[@]}" install "${Q[@]}" -r "$REQ_FILE" -c "$CONSTRAINTS"; then
    echo "error: the pins of requirements.txt do not install next to the system's jax $JAX_V" \
         "(see pip's message above); run bash launch/setup.sh without --system-jax." >&2
    exit 1
  fi
else
  # Plugins of another accelerator left in this venv by an earlier setup.
  STALE=()
  if [ "$FITS" = 1 ]; then
    for p in "${PLUGINS[@]}"; do
      [[ " ${KEEP[*]-} " == *" $p "* ]] && continue
      "$PY_BIN" -c 'import importlib.metadata as m, sys; m.version(sys.argv[1])' "$p" \
        >/dev/null 2>&1 && STALE+=("$p")
    done
  fi
  if [ ${#STALE[@]} -gt 0 ]; then
    run "${PIP[@]}" uninstall "${Q[@]}" -y "${STALE[@]}"
  fi
  run "${PIP[@]}" install "${Q[@]}" -r "$REQUIREMENTS"
fi
# jaxgen itself, editable (pyproject.toml), so that scripts anywhere can `import jaxgen`.
run "${PIP[@]}" install "${Q[@]}" --no-deps -e .

# What JAX sees, through jaxgen (so a jax that cannot run jaxgen fails here, not in a run).
CHECK=$(cat <<'EOF'
import sys, jax, jaxgen.runtime.run
kinds = sorted({d.device_kind for d in jax.devices()})
print(f"jax {jax.__version__}: backend {jax.default_backend()}, {jax.device_count()} devices"
      f" ({jax.local_device_count()} on this host, process {jax.process_index()} of"
      f" {jax.process_count()}): {', '.join(kinds)}")
print(jax.devices())
want = {"cuda12": "gpu", "tpu": "tpu"}.get(sys.argv[1])
if want and jax.default_backend() != want:
  print(f"warning: --accelerator {sys.argv[1]} but JAX runs on {jax.default_backend()}: no {want}"
        " on this machine, or its driver does not fit the plugin", file=sys.stderr)
EOF
)
if [ "$DRY_RUN" = 1 ]; then
  run "$PY_BIN" -c "$CHECK" "$ACCELERATOR"
  exit 0
fi
if ! "$PY_BIN" -c "$CHECK" "$ACCELERATOR"; then
  echo "error: jaxgen does not import or JAX finds no device with this environment (see above)." >&2
  exit 1
fi
echo "Environment ready: $("$PY_BIN" --version) in $VENV ($ACCELERATOR$([ "$SYSTEM_JAX" = 1 ] && echo ', system jax'))"
echo "Activate it once per shell: source $VENV/bin/activate (then python -m launch.train ...," \
     "as the README writes it), or call $VENV/bin/python -m launch... directly."
