"""The thin Orbax layer: the only module that imports orbax.

A checkpoint holds the whole `TrainState` (step, params, EMA, optimizer state, RNG) and the run's
config (JSON). Saves are asynchronous and atomic (Orbax writes to a temporary folder and renames it
on commit), the newest `keep` are kept. Restoring takes the *target* shardings, so a checkpoint
written on one device restores onto eight and back.
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional

import jax
import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
  """A checkpoint could not be read; the message says which and what to do."""


class Checkpointer:
  """Saves and restores train states under ``<workdir>/checkpoints``."""

  def __init__(self, workdir: str, keep: int = 3, async_save: bool = True):
    self.directory = os.path.abspath(os.path.join(workdir, 'checkpoints'))
    options = ocp.CheckpointManagerOptions(
        max_to_keep=keep, create=True, enable_async_checkpointing=async_save)
    self._manager = ocp.CheckpointManager(
        self.directory, options=options, item_names=('state', 'config'))

  def latest_step(self) -> Optional[int]:
    return self._manager.latest_step()

  def all_steps(self) -> list[int]:
    return list(self._manager.all_steps())

  def save(self, step: int, state: Any, config_json: str, force: bool = False) -> None:
    self._manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state),
        config=ocp.args.JsonSave(json.loads(config_json))), force=force)

  def restore(self, abstract_state: Any, step: Optional[int] = None) -> Any:
    """Restores the state at `step` (latest if None) with the shardings of `abstract_state`."""
    step = self.latest_step() if step is None else step
    if step is None:
      raise CheckpointError(f'no checkpoint in {self.directory}')
    try:
      out = self._manager.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(abstract_state)))
    except Exception as e:
      raise CheckpointError(
          f'the checkpoint at step {step} in {self.directory} could not be restored '
          f'({type(e).__name__}: {str(e)[:300]}). It may be damaged or from a different model. '
          f'Steps present: {self.all_steps()}. Nothing was changed; to fall back, move '
          f'{os.path.join(self.directory, str(step))} aside and run again.') from e
    return out['state']

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()


def abstract(tree: Any, sharding) -> Any:
  """ShapeDtypeStructs of `tree` with `sharding` on every leaf (a restore target)."""
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)
