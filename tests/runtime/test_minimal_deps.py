"""jaxgen trains, evaluates and samples on an image with only the JAX stack and ml_collections.

An accelerator image need not hold jaxgen's optional packages (the project's lent GPU image, as
listed on 2026-11-17, has no tensorboardX; other images may lack tqdm, matplotlib or Pillow too).
A subprocess hides tqdm, tensorboardX, matplotlib, Pillow, scikit-learn, TensorFlow, tfds, Grain
and gcsfs (``sys.modules[name] = None`` makes their import fail) and runs the default
experiment's smoke variant from the command line: progress lines replace the tqdm bar,
metrics.jsonl replaces TensorBoard events, the sample picture is still written.
"""

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

HIDDEN = ('tqdm', 'tensorboardX', 'matplotlib', 'PIL', 'sklearn', 'tensorflow',
          'tensorflow_datasets', 'grain', 'gcsfs')

RUNNER = """
import sys
for name in {hidden!r}:
  sys.modules[name] = None
from launch import train
sys.exit(train.main(['--config', 'experiments/rectified_flow/toy2d.py:smoke', '--workdir', {w!r},
                     '--config.train.steps=20', '--config.train.log_every=10',
                     '--config.train.progress=true']))
"""


def test_default_experiment_runs_without_optional_packages(tmp_path):
  w = str(tmp_path / 'run')
  root = ROOT
  env = dict(os.environ, JAX_PLATFORMS='cpu', PYTHONPATH=root)
  proc = subprocess.run([sys.executable, '-c', RUNNER.format(hidden=HIDDEN, w=w)], cwd=root,
                        env=env, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert 'step 20/20' in proc.stdout, proc.stdout  # the plain progress line
  assert 'tensorboardX is not installed' in proc.stderr
  records = [json.loads(line) for line in open(os.path.join(w, 'metrics.jsonl'))]
  assert [r['step'] for r in records if 'loss' in r] == [10, 20]
  assert os.path.exists(os.path.join(w, 'samples', 'step_20.png'))
  assert not os.path.exists(os.path.join(w, 'tb'))
