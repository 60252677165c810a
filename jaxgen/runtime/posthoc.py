"""Post-hoc EMA of a run (EDM2): its snapshots and the reconstruction of any sigma_rel from them.

A run with ``optim.posthoc_ema = (s_1, ..., s_k)`` tracks k power-function EMAs of its parameters
in its state (`jaxgen.runtime.state.PosthocTrainState`) and saves them every
``train.posthoc_every`` steps (0: ``train.checkpoint_every``) and at ``train.steps`` as

    workdir/posthoc/<step>/   {'step', 'posthoc': k params trees, 'rng'} + config + digest

through the checkpoint layer (`jaxgen.store.checkpoint`: verified, atomic), every one kept
(``keep_checkpoints`` does not apply: reconstruction uses them all). A snapshot is a pure
function of the state, which the run's checkpoints hold, so a resumed run saves the snapshots of
an uninterrupted one; the loop waits for pending snapshots before each checkpoint save, so a
resume never starts after a snapshot that was not committed.

`reconstruct` combines the snapshots of steps <= t into the profile of another sigma_rel at time
t (`jaxgen.distributions.power_ema.coefficients`, time in updates), summed in float64 on the
host; ``eval.posthoc_sigma_rel`` makes `jaxgen.runtime.run.open_run` evaluate and sample with it.
"""

from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.distributions import power_ema
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import parallel
from jaxgen.store import checkpoint as ckpt_lib
from jaxgen.store import paths

FOLDER = 'posthoc'


def every(config) -> int:
  """Steps between snapshots; 0 for a run that tracks no profiles."""
  if not config.optim.posthoc_ema:
    return 0
  return int(config.train.posthoc_every or config.train.checkpoint_every)


class Snapshots:
  """The snapshot saver of a training run (a no-op for a run without profiles)."""

  def __init__(self, workdir: str, config):
    self.workdir, self.config = workdir, config
    self.every, self.steps = every(config), int(config.train.steps)
    self._checkpointer: Optional[ckpt_lib.Checkpointer] = None

  def due(self, step: int) -> bool:
    return bool(self.every) and (step % self.every == 0 or step == self.steps)

  def save(self, step: int, state) -> None:
    """Starts saving the snapshot of `state` (after `step` updates); one already there is kept."""
    if self._checkpointer is None:
      self._checkpointer = ckpt_lib.Checkpointer(self.workdir, keep=0, folder=FOLDER)
    self._checkpointer.save(step, {'step': state.step, 'posthoc': state.posthoc, 'rng': state.rng},
                            cfg_lib.to_json(self.config))

  def wait(self) -> None:
    """Waits for the pending snapshot save (CheckpointError if it failed)."""
    if self._checkpointer is not None:
      self._checkpointer.wait()

  def close(self) -> None:
    if self._checkpointer is not None:
      self._checkpointer.close()


def snapshot_steps(workdir: str) -> list[int]:
  """The step folders of `workdir`'s snapshots (damaged ones too: restoring one refuses it),
  ascending; creates nothing."""
  if not paths.isdir(paths.join(workdir, FOLDER)):
    return []
  checkpointer = ckpt_lib.Checkpointer(workdir, keep=0, folder=FOLDER)
  try:
    return checkpointer.all_steps()
  finally:
    checkpointer.close()


def check(config, workdir: str, sigma_rel: float, what: str) -> None:
  """Refuses (`what` names the flag or key) a bad `sigma_rel` or a run without profiles."""
  if not power_ema.valid_sigma_rel(sigma_rel):
    raise cfg_lib.ConfigError(
        f'{what}={sigma_rel!r} is out of range: a power-function EMA has sigma_rel in (0, '
        f'{power_ema.SIGMA_REL_MAX:.4f}) (EDM2 uses 0.05 to 0.15)')
  if not config.optim.posthoc_ema:
    raise cfg_lib.ConfigError(
        f'{what}: {workdir} tracked no post-hoc EMA profiles (optim.posthoc_ema=()); train with '
        '--config.optim.posthoc_ema="(0.05, 0.1)" to reconstruct any sigma_rel afterwards')


def reconstruct(run, workdir: str, sigma_rel: float, step: Optional[int] = None,
                what: str = '--sigma_rel') -> tuple[Any, dict]:
  """``(params, record)``: the power-function EMA of width `sigma_rel` at `step` (default: the
  newest snapshot) from `workdir`'s snapshots of steps <= `step`, replicated on `run`'s mesh.
  ``record``: sigma_rel, gamma, step, the snapshot steps, the coefficients (``[snapshot][profile]``)
  and the run's base key ``rng`` (numpy). Reads only; ConfigError / FileNotFoundError /
  CheckpointError (a damaged snapshot) before anything is returned."""
  config = run.config
  check(config, workdir, sigma_rel, what)
  present = snapshot_steps(workdir)
  steps = [s for s in present if step is None or s <= step]
  if not steps:
    where = 'any' if step is None else f'step {step} or before (present: {present})'
    raise FileNotFoundError(f'{what}: {workdir} has no post-hoc EMA snapshot at {where} in '
                            f'{paths.join(workdir, FOLDER)}; train it further (snapshots every '
                            f'{every(config)} steps)')
  t = steps[-1] if step is None else int(step)
  sigmas = tuple(config.optim.posthoc_ema)
  gamma = power_ema.sigma_rel_to_gamma(sigma_rel)
  times = np.repeat(np.asarray(steps, np.float64), len(sigmas))
  gammas = np.tile([power_ema.sigma_rel_to_gamma(s) for s in sigmas], len(steps))
  coef = power_ema.coefficients(times, gammas, t, gamma).reshape(len(steps), len(sigmas))
  abstract_params = run.abstract_params()
  key = jax.eval_shape(lambda: jax.random.PRNGKey(0))
  target = ckpt_lib.abstract(
      {'step': jax.ShapeDtypeStruct((), jnp.int32), 'posthoc': (abstract_params,) * len(sigmas),
       'rng': key}, parallel.replicated(run.mesh))
  total, rng = None, None
  checkpointer = ckpt_lib.Checkpointer(workdir, keep=0, folder=FOLDER)
  try:
    for s, row in zip(steps, coef):
      snap = jax.device_get(checkpointer.restore(target, s))
      rng = snap['rng']
      for c, tree in zip(row, snap['posthoc']):
        part = jax.tree.map(lambda x, c=c: c * np.asarray(x, np.float64), tree)
        total = part if total is None else jax.tree.map(np.add, total, part)
  finally:
    checkpointer.close()
  params = jax.tree.map(lambda x, a: np.asarray(x, a.dtype), total, abstract_params)
  params = jax.device_put(params, parallel.replicated(run.mesh))
  record = {'sigma_rel': float(sigma_rel), 'gamma': gamma, 'step': t, 'snapshots': steps,
            'profiles': list(sigmas), 'coefficients': coef.tolist(), 'rng': np.asarray(rng)}
  return params, record
