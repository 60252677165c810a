#!/usr/bin/env bash
# Cloud TPU VMs (a single host or a pod slice) with gcloud: create, set up, train, delete.
#   bash launch/tpu_pod.sh [options] create TPU ZONE
#   bash launch/tpu_pod.sh [options] setup  TPU ZONE
#   bash launch/tpu_pod.sh [options] run    TPU ZONE EXPERIMENT WORKDIR [--config.k=v ...]
#   bash launch/tpu_pod.sh [options] delete TPU ZONE
# e.g.
#   bash launch/tpu_pod.sh --type v4-32 create my-tpu us-central2-b
#   bash launch/tpu_pod.sh setup my-tpu us-central2-b
#   bash launch/tpu_pod.sh run my-tpu us-central2-b experiments/score_sde/ddpmpp_cont_vp.py \
#       /mnt/shared/runs/vp "--config.eval.metrics=('loss',)"
# create: `gcloud compute tpus tpu-vm create` with --accelerator-type and --version.
# setup:  copies this checkout (its tracked and untracked, not ignored, files) to every worker, or
#         clones --git URL there, and runs `bash launch/setup.sh --accelerator tpu` on all workers.
# run:    the same `launch.train` command on every worker (--worker=all); jax.distributed's
#         coordinator is worker 0 (its internal IP from `gcloud ... describe`), the process count
#         and ids come from the TPU metadata. WORKDIR must be shared by every worker (a
#         bucket or an NFS mount); a relative one is relative to the repository.
# Every argument reaches the workers' shell quoted (launch/quote.sh), so any --config.k=v survives.
# Options (before the action):
#   --dry-run            print every command, run none
#   --repo PATH          the repository on the workers (default: jaxgen, i.e. ~/jaxgen)
#   --workdir DIR        run: the workdir, instead of the WORKDIR argument
#   --type TYPE          create: accelerator type (default v4-8)
#   --version VERSION    create: TPU software version (default: the base image of the type)
#   --project PROJECT    every gcloud command: the project (default: gcloud's)
#   --spot               create: a Spot VM
#   --git URL            setup: clone (or pull) URL on the workers instead of copying this checkout
#   --install-python     setup: install Python 3.12 (deadsnakes) on workers that lack one
#   --coordinator H:P    run: the jax.distributed coordinator (default: worker 0's IP, port 8482)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/launch/quote.sh"  # sq, show_line, run (prints instead with DRY_RUN=1)

DRY_RUN=0 REPO=jaxgen WORKDIR= TYPE=v4-8 VERSION= PROJECT= SPOT=0 GIT_URL= INSTALL_PYTHON=0
COORDINATOR=
usage() { sed -n '2,35s/^# \{0,1\}//p' "$0"; }
die() { echo "error: $*" >&2; exit 2; }
need() { [ "$2" -ge 2 ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) DRY_RUN=1; shift ;;
    --repo) need "$1" $#; REPO=$2; shift 2 ;;
    --repo=*) REPO=${1#*=}; shift ;;
    --workdir) need "$1" $#; WORKDIR=$2; shift 2 ;;
    --workdir=*) WORKDIR=${1#*=}; shift ;;
    --type) need "$1" $#; TYPE=$2; shift 2 ;;
    --type=*) TYPE=${1#*=}; shift ;;
    --version) need "$1" $#; VERSION=$2; shift 2 ;;
    --version=*) VERSION=${1#*=}; shift ;;
    --project) need "$1" $#; PROJECT=$2; shift 2 ;;
    --project=*) PROJECT=${1#*=}; shift ;;
    --spot) SPOT=1; shift ;;
    --git) need "$1" $#; GIT_URL=$2; shift 2 ;;
    --git=*) GIT_URL=${1#*=}; shift ;;
    --install-python) INSTALL_PYTHON=1; shift ;;
    --coordinator) need "$1" $#; COORDINATOR=$2; shift 2 ;;
    --coordinator=*) COORDINATOR=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option '$1' (try: bash launch/tpu_pod.sh --help)" ;;
    *) break ;;
  esac
done
[ $# -ge 3 ] || die "usage: bash launch/tpu_pod.sh [options] create|setup|run|delete TPU ZONE [EXPERIMENT WORKDIR [--config.k=v ...]]"
ACTION=$1 TPU=$2 ZONE=$3
shift 3
case $ACTION in
  create|setup|delete) [ $# -eq 0 ] || die "$ACTION takes only TPU and ZONE, not '$*'" ;;
  run)
    [ $# -ge 1 ] || die "run needs EXPERIMENT and WORKDIR (or --workdir DIR)"
    EXPERIMENT=$1; shift
    if [ -z "$WORKDIR" ]; then
      case ${1:-} in
        --workdir) [ $# -ge 2 ] || die "--workdir needs a value"; WORKDIR=$2; shift 2 ;;
        --workdir=*) WORKDIR=${1#*=}; shift ;;
        ''|--config.*) die "run needs WORKDIR after EXPERIMENT (or --workdir DIR)" ;;
        *) WORKDIR=$1; shift ;;
      esac
    fi ;;
  *) die "the action must be create, setup, run or delete, not '$ACTION'" ;;
esac

# One word for the workers' shell (quote.sh's sq), except that a leading ~/ stays unquoted so that
# the remote shell expands it to the worker's home.
word() {
  local s=$1
  if [ "$s" = '~' ]; then printf '~'
  elif [ "${s:0:2}" = '~/' ]; then printf '~/%s' "$(sq "${s:2}")"
  else sq "$s"; fi
}
words() {  # the command line of its arguments, each a quoted word
  local out= a
  for a in "$@"; do out+="${out:+ }$(word "$a")"; done
  printf '%s' "$out"
}

GCLOUD=(gcloud compute tpus tpu-vm)
WHERE=(--zone="$ZONE")
[ -n "$PROJECT" ] && WHERE+=(--project="$PROJECT")
ssh_all() { run "${GCLOUD[@]}" ssh "$TPU" "${WHERE[@]}" --worker=all --command="$1"; }

default_version() {  # the base image of each TPU generation (cloud.google.com/tpu/docs/runtimes)
  case $1 in
    v5litepod-*|v5e-*) echo v2-alpha-tpuv5-lite ;;
    v5p-*) echo v2-alpha-tpuv5 ;;
    v6e-*) echo v2-alpha-tpuv6e ;;
    *) echo tpu-ubuntu2204-base ;;
  esac
}

case $ACTION in
  create)
    args=("${GCLOUD[@]}" create "$TPU" "${WHERE[@]}" --accelerator-type="$TYPE"
          --version="${VERSION:-$(default_version "$TYPE")}")
    [ "$SPOT" = 1 ] && args+=(--spot)
    run "${args[@]}" ;;

  setup)
    prepare=
    if [ "$INSTALL_PYTHON" = 1 ]; then
      prepare='{ command -v python3.12 >/dev/null || { sudo apt-get update -q && sudo apt-get install -y -q software-properties-common && sudo add-apt-repository -y ppa:deadsnakes/ppa && sudo apt-get install -y -q python3.12 python3.12-venv; }; } && '
    fi
    R=$(word "$REPO")
    if [ -n "$GIT_URL" ]; then
      U=$(word "$GIT_URL")
      ssh_all "${prepare}if [ -d $R/.git ]; then git -C $R pull --ff-only; else git clone $U $R; fi && cd $R && bash launch/setup.sh --accelerator tpu"
    else
      git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1 ||
        die "$ROOT is not a git checkout: copy it yourself or pass --git URL"
      TARBALL=${TMPDIR:-/tmp}/jaxgen-src-$TPU.tar.gz
      PACK="git -C $(sq "$ROOT") ls-files -z --cached --others --exclude-standard | tar -C $(sq "$ROOT") --null --ignore-failed-read -T - -czf $(sq "$TARBALL")"
      if [ "$DRY_RUN" = 1 ]; then echo "$PACK"; else bash -o pipefail -c "$PACK"; fi
      run "${GCLOUD[@]}" scp "$TARBALL" "$TPU:jaxgen-src.tar.gz" "${WHERE[@]}" --worker=all
      ssh_all "${prepare}mkdir -p $R && tar -xzf jaxgen-src.tar.gz -C $R && rm jaxgen-src.tar.gz && cd $R && bash launch/setup.sh --accelerator tpu"
      run rm -f "$TARBALL"
    fi ;;

  run)
    if [ -z "$COORDINATOR" ]; then
      DESCRIBE=("${GCLOUD[@]}" describe "$TPU" "${WHERE[@]}" '--format=value(networkEndpoints[0].ipAddress)')
      if [ "$DRY_RUN" = 1 ]; then
        run "${DESCRIBE[@]}"
        COORDINATOR=WORKER0_IP:8482
      else
        ip=$("${DESCRIBE[@]}")
        [ -n "$ip" ] || { echo "error: no internal IP for worker 0 of $TPU in $ZONE" >&2; exit 1; }
        COORDINATOR=$ip:8482
      fi
    fi
    TRAIN=(.venv/bin/python -m launch.train --config "$EXPERIMENT" --workdir "$WORKDIR" "$@")
    ssh_all "cd $(word "$REPO") && JAX_COORDINATOR_ADDRESS=$(word "$COORDINATOR") $(words "${TRAIN[@]}")" ;;

  delete)
    run "${GCLOUD[@]}" delete "$TPU" "${WHERE[@]}" --quiet ;;
esac
