#!/usr/bin/env bash
# The README's first command: set up the environment, then train the default experiment
# (1-rectified flow on two moons), which checkpoints, evaluates and writes a sample picture.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup.sh
WORKDIR=${WORKDIR:-runs/rf_moons}
.venv/bin/python -m launch.train --config experiments/rectified_flow/toy2d.py --workdir "$WORKDIR" "$@"
echo "Done. Samples: $WORKDIR/samples/, metrics: $WORKDIR/metrics.jsonl, checkpoints: $WORKDIR/checkpoints/"
