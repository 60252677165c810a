"""The README's custom-solver example runs on a trained run: a user-written SSP-RK3 (from its
Butcher tableau) on a grid array samples the tiny rectified-flow smoke run through
``model.sample(params, rng, n, SolverSpec(...))`` with nfe = 3 stages x (len(grid) - 1)."""

import os
import re
import subprocess
import sys

import numpy as np

from tests.conftest import EXP, ROOT


def readme_example() -> str:
  with open(os.path.join(ROOT, 'README.md')) as f:
    text = f.read()
  m = re.search(r'<!-- solver-example -->\n```python\n(.*?)```\n<!-- /solver-example -->', text,
                re.S)
  assert m, 'README.md lost its <!-- solver-example --> python block'
  return m.group(1)


def test_readme_example_has_under_15_lines():
  assert len(readme_example().strip().splitlines()) < 15


def test_readme_solver_example_samples_a_trained_run(tmp_path):
  workdir = str(tmp_path / 'rf')
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.train', '--config', EXP, '--workdir', workdir],
      cwd=ROOT, env=dict(os.environ, JAX_PLATFORMS='cpu', PYTHONPATH=ROOT), capture_output=True,
      text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  scope = {'workdir': workdir}
  exec(compile(readme_example(), 'README.md:solver-example', 'exec'), scope)
  samples, info, grid = scope['samples'], scope['info'], scope['grid']
  assert samples.shape == (256, 2) and np.all(np.isfinite(np.asarray(samples)))
  assert int(info['nfe']) == 3 * (len(grid) - 1) == 24
