#!/usr/bin/env bash
# One multi-process JAX run on this machine: N CPU processes of D devices each, coordinated by
# jax.distributed over localhost (jaxgen.runtime.parallel.initialize_multihost reads
# JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID; CPU collectives: gloo).
# It trains what N hosts would (train.batch_size is the global batch), to try multi-host code here.
#   bash launch/local.sh [--dry-run] [--devices D] [--port P] N EXPERIMENT WORKDIR [--config.k=v ...]
#   bash launch/local.sh 2 experiments/rectified_flow/toy2d.py:smoke runs/mh --config.train.steps=4
# Process 0 prints as usual; the others' lines start with [i]. If one process fails, the others
# are stopped and the launcher exits with its status. --devices: CPU devices per process
# (default 1); --port: the coordinator's port (default: a free one); --dry-run: print the
# commands, run none. PYTHON (default .venv/bin/python) is the interpreter; the checkout comes
# first on PYTHONPATH.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/launch/quote.sh"  # show_line

DRY_RUN=0 DEVICES=1 PORT=
die() { echo "error: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) DRY_RUN=1; shift ;;
    --devices) [ $# -ge 2 ] || die "--devices needs a value"; DEVICES=$2; shift 2 ;;
    --devices=*) DEVICES=${1#*=}; shift ;;
    --port) [ $# -ge 2 ] || die "--port needs a value"; PORT=$2; shift 2 ;;
    --port=*) PORT=${1#*=}; shift ;;
    -h|--help) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) die "unknown option '$1' (try: bash launch/local.sh --help)" ;;
    *) break ;;
  esac
done
[ $# -ge 3 ] || die "usage: bash launch/local.sh [--dry-run] [--devices D] [--port P] N EXPERIMENT WORKDIR [--config.k=v ...]"
N=$1 EXPERIMENT=$2 WORKDIR=$3
shift 3
[[ $N =~ ^[1-9][0-9]*$ ]] || die "N (the number of processes) must be a positive number, not '$N'"
[[ $DEVICES =~ ^[1-9][0-9]*$ ]] || die "--devices must be a positive number, not '$DEVICES'"
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
[ "$DRY_RUN" = 1 ] || [ -x "$PYTHON" ] || command -v "$PYTHON" >/dev/null ||
  die "no Python at $PYTHON: run bash launch/setup.sh first (or set PYTHON=...)"
if [ -z "$PORT" ]; then
  PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("localhost", 0)); print(s.getsockname()[1])')
fi
[[ $PORT =~ ^[1-9][0-9]*$ ]] || die "--port must be a number, not '$PORT'"

cd "$ROOT"
ENV=(JAX_PLATFORMS=cpu
     "XLA_FLAGS=${XLA_FLAGS:+$XLA_FLAGS }--xla_force_host_platform_device_count=$DEVICES"
     "PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}"
     "JAX_COORDINATOR_ADDRESS=localhost:$PORT" "JAX_NUM_PROCESSES=$N")
CMD=("$PYTHON" -m launch.train --config "$EXPERIMENT" --workdir "$WORKDIR" "$@")
if [ "$DRY_RUN" = 1 ]; then
  echo "cd $(sq "$ROOT")"
  for ((i = 0; i < N; i++)); do
    echo "$(show_line "${ENV[@]}" "JAX_PROCESS_ID=$i" "${CMD[@]}") &"
  done
  echo wait
  exit 0
fi

set -m  # each process in its own process group, so that stopping one stops its pipe too
PIDS=()
stop() { local p; for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done; }
trap 'stop; exit 130' INT TERM
for ((i = 0; i < N; i++)); do
  if [ "$i" = 0 ]; then
    env "${ENV[@]}" JAX_PROCESS_ID=0 "${CMD[@]}" &
  else
    (set -o pipefail; env "${ENV[@]}" JAX_PROCESS_ID="$i" "${CMD[@]}" 2>&1 | sed -u "s/^/[$i] /") &
  fi
  PIDS+=($!)
done
STATUS=0
for ((i = 0; i < N; i++)); do
  wait -n || { STATUS=$?; break; }
done
if [ "$STATUS" != 0 ]; then
  echo "error: a process of the $N exited with $STATUS; stopping the others" >&2
  stop
  wait || true
fi
exit "$STATUS"
