"""SIGKILL at random moments (several during a save), resumed each time: the run ends with the
parameters, EMA, optimizer state and metrics.jsonl of an uninterrupted run (each step logged
once, with the same values), bit for bit. Slow: about a dozen launches."""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from jaxgen.runtime import loop
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import state as state_lib
from jaxgen.store import checkpoint as ckpt_lib
from tests.conftest import EXP, ROOT, tiny_config

STEPS, LOG, CKPT = 2000, 10, 20
FLAGS = ['--config.train.batch_size=32', '--config.optim.ema_rate=0.9',
         '--config.optim.warmup_steps=2', '--config.train.progress=false',
         f'--config.train.steps={STEPS}', f'--config.train.log_every={LOG}',
         f'--config.train.checkpoint_every={CKPT}']
KILLS = 10


def _saving(ckpt_dir) -> bool:
  try:
    return any('tmp' in n for n in os.listdir(ckpt_dir))
  except FileNotFoundError:
    return False


def _started(log):
  """The step this launch started from (its line 'steps S -> N'), or None before it."""
  m = re.search(r'steps (\d+) -> ', log.read_text())
  return int(m.group(1)) if m else None


def _saved_after(ckpt_dir, start) -> bool:
  """Whether a checkpoint after `start` was committed (this launch made progress)."""
  try:
    return any(n.isdigit() and int(n) > start for n in os.listdir(ckpt_dir))
  except FileNotFoundError:
    return False


def _launch(workdir, log):
  env = dict(os.environ, JAX_PLATFORMS='cpu', PYTHONPATH=ROOT,
             XLA_FLAGS='--xla_force_host_platform_device_count=8')
  out = open(log, 'w')
  return subprocess.Popen([sys.executable, '-m', 'launch.train', '--config', EXP, '--workdir',
                           str(workdir), *FLAGS], cwd=ROOT, env=env, stdout=out,
                          stderr=subprocess.STDOUT)


def _metrics(workdir):
  lines = [json.loads(l) for l in open(os.path.join(workdir, 'metrics.jsonl'))]
  for l in lines:  # the timings (throughput: jaxgen.runtime.throughput) differ between launches
    for key in ('steps_per_sec', 'images_per_sec', 'tflops_per_sec', 'mfu'):
      l.pop(key, None)
  return lines


@pytest.mark.slow
def test_random_sigkills_then_resumes_give_the_uninterrupted_run(tmp_path):
  rng = random.Random(0)
  workdir, ckpt_dir = tmp_path / 'w', tmp_path / 'w' / 'checkpoints'
  kills, during_save = 0, 0
  while kills < KILLS:
    log = tmp_path / f'launch{kills}.log'
    p = _launch(workdir, log)
    try:
      while p.poll() is None and _started(log) is None:
        time.sleep(0.02)
      while p.poll() is None and not _saved_after(ckpt_dir, _started(log) or 0):
        time.sleep(0.005)  # at least one save of its own, so each resume starts further on
      time.sleep(rng.uniform(0.0, 1.5))
      if rng.random() < 0.4:  # then at the next save seen
        deadline = time.time() + 5
        while p.poll() is None and time.time() < deadline and not _saving(ckpt_dir):
          time.sleep(0.001)
      if p.poll() is not None:
        break  # finished before the kill
      p.send_signal(signal.SIGKILL)
      p.wait()
    finally:
      if p.poll() is None:
        p.kill()
    kills += 1
    during_save += _saving(ckpt_dir)
  assert kills >= KILLS, f'the run finished after {kills} kills; make it longer'
  p = _launch(workdir, tmp_path / 'last.log')
  assert p.wait(timeout=600) == 0, (tmp_path / 'last.log').read_text()[-3000:]
  print(f'{kills} kills, {during_save} during a save')
  assert during_save >= 2

  config = tiny_config(**{'train.steps': str(STEPS), 'train.log_every': str(LOG),
                          'train.checkpoint_every': str(CKPT)})
  straight = jax.device_get(loop.train(config, str(tmp_path / 'straight')))
  run = run_lib.Run(config)
  c = ckpt_lib.Checkpointer(str(workdir))
  try:
    resumed = jax.device_get(c.restore(state_lib.Trainer(run).abstract_state(), STEPS))
  finally:
    c.close()
  for x, y in zip(jax.tree.leaves(straight), jax.tree.leaves(resumed), strict=True):
    np.testing.assert_array_equal(x, y)
  got, want = _metrics(workdir), _metrics(tmp_path / 'straight')
  assert [l['step'] for l in got if 'loss' in l] == list(range(LOG, STEPS + 1, LOG))
  assert got == want
