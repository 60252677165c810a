"""Real multi-process data parallelism: `launch.train` as 2 processes x 2 CPU devices.

The same run (the default experiment's smoke variant, 6 steps) is trained as one process with 4
CPU devices and as two processes with 2 devices each, coordinated by `jax.distributed` over a
free localhost port (CPU collectives: gloo). The global batch, its split over the 4 devices and
the step's randomness are the same, so the final parameters agree up to float reduction order.
The 2-process run stops after 3 steps and resumes for 3 more (every process restores the
checkpoint that both wrote together), includes the final evaluation and sample writing (gathered
across the processes), and only process 0 writes config.json, metrics and samples. Last,
`launch.evaluate` as 2 processes reproduces the run's final evaluation.
"""

import importlib.util
import json
import os
import sys

import jax
import numpy as np

from jaxgen.runtime import run as run_lib
from tests import processes

EXP = 'experiments/rectified_flow/toy2d.py:smoke'
FLAGS = ['--config.train.checkpoint_every=3', '--config.train.log_every=3',
         '--config.train.progress=false', '--config.optim.warmup_steps=2',
         # nll: the gathered per-example log-probs and evaluation masks (ODE likelihood)
         "--config.eval.metrics=('loss','sliced_wasserstein','straightness','nll')"]


def _train_cmd(workdir, steps: int) -> list[str]:
  return [sys.executable, '-m', 'launch.train', '--config', EXP, '--workdir', str(workdir),
          f'--config.train.steps={steps}', *FLAGS]


def _train(workdir, steps: int, count: int, devices: int) -> list[str]:
  return processes.launch(_train_cmd(workdir, steps), count, devices)




def test_two_processes_train_like_one_and_resume(tmp_path):
  one, two = tmp_path / 'one', tmp_path / 'two'
  _train(one, 6, count=1, devices=4)
  first = _train(two, 3, count=2, devices=2)
  second = _train(two, 6, count=2, devices=2)
  assert all('Resumed from step 3' in out for out in second)
  # Process 0 alone reports (the summary and evaluation lines).
  for outs in (first, second):
    assert 'Evaluation:' in outs[0] and 'Evaluation:' not in outs[1]

  a, b = ([run_lib.open_run(str(w), {'eval.use_ema': u}) for u in ('false', 'true')]
          for w in (one, two))   # the raw params, then the EMA
  assert a[0].step == b[0].step == 6
  a, b = jax.device_get([r.params for r in a]), jax.device_get([r.params for r in b])
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_allclose(y, x, rtol=1e-5, atol=1e-5 * float(np.abs(x).max() + 1e-3))

  # One writer: every metrics line once (no duplicates from process 1), one TensorBoard event
  # file per launch, the samples of both launches.
  lines = [json.loads(l) for l in open(two / 'metrics.jsonl')]
  assert [l['step'] for l in lines if 'loss' in l] == [3, 6]
  assert [l['step'] for l in lines if 'eval/loss' in l] == [3, 6]
  if importlib.util.find_spec('tensorboardX') is not None:  # optional (see test_minimal_deps)
    assert len(os.listdir(two / 'tb')) == 2
  assert sorted(os.listdir(two / 'samples')) == [  # each picture with its record (SHA-256s)
      'step_3.json', 'step_3.npz', 'step_3.png', 'step_6.json', 'step_6.npz', 'step_6.png']
  with np.load(two / 'samples' / 'step_6.npz') as z, np.load(one / 'samples' / 'step_6.npz') as w:
    assert z['samples'].shape == w['samples'].shape == (64, 2)
    np.testing.assert_allclose(z['samples'], w['samples'], rtol=1e-4, atol=1e-4)
  ref = [json.loads(l) for l in open(one / 'metrics.jsonl')][-1]
  np.testing.assert_allclose(lines[-1]['eval/sliced_wasserstein'],
                             ref['eval/sliced_wasserstein'], rtol=1e-3)
  np.testing.assert_allclose(lines[-1]['eval/nll'], ref['eval/nll'], rtol=1e-4)

  # launch.evaluate as 2 processes restores the shared checkpoint on both, gathers, and process
  # 0 alone writes the same metrics as the run's final evaluation.
  outs = processes.launch([sys.executable, '-m', 'launch.evaluate', '--workdir', str(two)], 2, 2)
  assert 'Wrote' in outs[0] and 'Wrote' not in outs[1]
  got = json.load(open(two / 'eval_6.json'))
  final = [l for l in lines if 'eval/loss' in l][-1]
  for k in ('eval/loss', 'eval/sliced_wasserstein', 'eval/straightness', 'eval/nll'):
    np.testing.assert_allclose(got[k], final[k], rtol=1e-5)
