"""Real multi-process FSDP: `launch.train` with ``train.fsdp=4`` as 2 processes x 2 CPU devices
(jax.distributed, gloo), so every split array of the training state has its slices on both
processes, trains the parameters, EMA and Adam moments of 1 process x 4 devices (the same
``fsdp=4``) up to float reduction order; the checkpoints both processes wrote together restore,
verified, in one process: on one device, whole (the optimizer state too), and as a run to
evaluate."""

import sys

import jax
import numpy as np

from jaxgen.runtime import run as run_lib
from jaxgen.runtime import state as state_lib
from jaxgen.runtime import workdir as workdir_lib
from jaxgen.store import checkpoint as ckpt_lib
from tests import processes

EXP = 'experiments/rectified_flow/toy2d.py:smoke'
FLAGS = ['--config.train.steps=6', '--config.train.checkpoint_every=3',
         '--config.train.log_every=3', '--config.train.progress=false',
         '--config.optim.warmup_steps=2', '--config.train.fsdp=4',
         "--config.eval.metrics=('loss',)"]


def _assert_close(a, b):
  for x, y in zip(jax.tree.leaves(jax.device_get(a)), jax.tree.leaves(jax.device_get(b))):
    x, y = np.asarray(x), np.asarray(y)
    np.testing.assert_allclose(y, x, rtol=1e-5, atol=1e-5 * float(np.abs(x).max() + 1e-3))


def _whole_state(workdir: str, step: int):
  """The full training state of `workdir`'s checkpoint `step`, restored onto one device."""
  config = workdir_lib.read_config(workdir)
  config.train.num_devices, config.train.fsdp = 1, 1
  trainer = state_lib.Trainer(run_lib.Run(config))
  checkpointer = ckpt_lib.Checkpointer(workdir)
  try:
    return checkpointer.restore(trainer.abstract_state(), step)
  finally:
    checkpointer.close()


def test_two_processes_train_fsdp_like_one_and_restore_in_one(tmp_path):
  one, two = tmp_path / 'one', tmp_path / 'two'
  cmd = lambda w: [sys.executable, '-m', 'launch.train', '--config', EXP, '--workdir', str(w),
                   *FLAGS]
  processes.launch(cmd(one), 1, 4)
  outs = processes.launch(cmd(two), 2, 2)
  assert 'Evaluation:' in outs[0] and 'Evaluation:' not in outs[1]
  assert workdir_lib.checkpoint_steps(str(two)) == [3, 6]

  for step in (3, 6):   # params, EMA, Adam's moments and counts, the step and the key
    a, b = _whole_state(str(one), step), _whole_state(str(two), step)
    assert int(a.step) == int(b.step) == step
    np.testing.assert_array_equal(jax.device_get(a.rng), jax.device_get(b.rng))
    _assert_close(a, b)

  for use_ema in ('false', 'true'):   # opened to evaluate, replicated on this process's devices
    a, b = (run_lib.open_run(str(w), {'eval.use_ema': use_ema}) for w in (one, two))
    assert a.step == b.step == 6
    _assert_close(a.params, b.params)
