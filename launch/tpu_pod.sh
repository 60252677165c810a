#!/usr/bin/env bash
# Training on a Cloud TPU pod slice: the same command on every worker (JAX finds its peers).
#   bash launch/tpu_pod.sh TPU_NAME ZONE experiments/score_sde/ddpmpp_cont_vp.py /mnt/shared/runs/vp
# The repo must be cloned and `bash launch/setup.sh` run on every worker first, with
# requirements.txt's jax replaced by jax[tpu] of the same version.
set -euo pipefail
TPU=${1:?tpu name}; ZONE=${2:?zone}; CONFIG=${3:?experiment}; WORKDIR=${4:?workdir on a file system every worker shares}
shift 4
gcloud compute tpus tpu-vm ssh "$TPU" --zone "$ZONE" --worker=all --command \
  "cd jaxgen && .venv/bin/python -m launch.train --config $CONFIG --workdir $WORKDIR $*"
