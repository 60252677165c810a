"""The Run record: the trained model a run is, built from its validated config, and `open_run`.

    from jaxgen.runtime import run as run_lib
    run = run_lib.open_run('runs/rf_moons')          # newest checkpoint
    x, info = run.model.sample(run.params, jax.random.PRNGKey(0), 64, run.config.sampling)

``run.params`` are the parameters the run evaluates and samples with: the EMA parameters if
``config.eval.use_ema``, else the raw ones (`eval_leaf`). `open_run` reads only those, the step and
the base key ``rng`` from the checkpoint, never the optimizer state: the trainer (schedule,
optimizer, train step; `jaxgen.runtime.state.Trainer`) is built by training alone. Keys derived
from the base key: step s trains with ``fold_in(rng, s)``; evaluation uses
``fold_in(rng, EVAL_SALT)`` and the sample file of step s ``fold_in(fold_in(rng, SAMPLE_SALT), s)``.
"""

from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import data as data_lib
from jaxgen.models import base as models_base
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import overrides as overrides_lib
from jaxgen.runtime import parallel
from jaxgen.runtime import workdir as workdir_lib
from jaxgen.store import checkpoint as ckpt_lib
from jaxgen.store import paths

# Keys of the run's base key kept apart from the per-step keys fold_in(rng, step < 2**30).
EVAL_SALT, SAMPLE_SALT = 2**31 - 1, 2**31 - 2


class Run:
  """A run built once from a validated config: data, model and mesh; ``params`` (the evaluation
  parameters), ``step`` and ``rng`` (the base key) are set by `open_run` (or the training loop),
  None before; ``workdir`` by `open_run` only. ``teacher``: a frozen network the family's loss
  reads, passed to its ``build`` (consistency distillation's, `jaxgen.tools.teacher_run`; None:
  the family builds alone)."""

  def __init__(self, config, mesh=None, teacher=None):
    self.config = config
    self.mesh = mesh if mesh is not None else parallel.make_mesh(config.train.num_devices,
                                                                 config.train.fsdp)
    n_dev = self.mesh.devices.size
    if config.train.batch_size % n_dev:
      raise cfg_lib.ConfigError(
          f'config.train.batch_size={config.train.batch_size} must be divisible by the '
          f'{n_dev} devices in use (set train.batch_size or train.num_devices)')
    _check_devices(config, self.mesh)
    self.data = data_lib.build(config.data, config.seed)
    family = models_base.family_module(config.model.family)
    self.model: models_base.Model = (family.build(config, self.data.spec) if teacher is None
                                     else family.build(config, self.data.spec, teacher))
    self._check_model()
    self.params: Any = None
    self.step: Optional[int] = None
    self.rng: Optional[jax.Array] = None
    self.workdir: Optional[str] = None

  def _check_model(self) -> None:
    """Traces the model's init on the data's shape (nothing is computed), so that a network
    that cannot be built from this config (a value its code refuses, a net for another data
    shape) is one ConfigError here, before anything is written, not a traceback mid-start."""
    try:
      self.abstract_params()
    except Exception as e:  # noqa: BLE001  (any failure of the user's network settings)
      mc = self.config.model
      net = f'config.model.{mc.net}' if 'net' in mc and mc.net in mc else 'config.model'
      text = (str(e).strip().splitlines() or [''])[0][:300].rstrip('.')
      raise cfg_lib.ConfigError(
          f'{net}: the {mc.family} network cannot be built for config.data.name='
          f'{self.config.data.name} (shape {tuple(self.data.spec.shape)}): '
          f'{type(e).__name__}: {text}. Check the {net}.* values (and config.model.net)') from None

  def abstract_params(self):
    """The shapes and dtypes of the model's parameters (traced, nothing computed)."""
    x = self.example_x()
    return jax.eval_shape(self.model.init, jax.random.PRNGKey(0),
                          jax.ShapeDtypeStruct(x.shape, x.dtype))

  def example_x(self) -> np.ndarray:
    """The first global training batch's ``x`` (the same on every host): what ``model.init``
    sees, so a data-dependent initialisation (Glow's ActNorm) uses a whole batch."""
    return self.data.train_batch(0, self.config.train.batch_size, 0, 1)['x']

  def batch(self, step: int) -> dict:
    host = self.data.train_batch(step, self.config.train.batch_size)
    return parallel.shard_batch(host, self.mesh)

  def eval_rng(self) -> jax.Array:
    return jax.random.fold_in(self.rng, EVAL_SALT)

  def sample_rng(self, step: int) -> jax.Array:
    return jax.random.fold_in(jax.random.fold_in(self.rng, SAMPLE_SALT), step)


def _check_devices(config, mesh) -> None:
  """Refuses settings the devices in use cannot run: ``attn_impl='cudnn'`` off a GPU."""
  platform = mesh.devices.flat[0].platform
  flat = cfg_lib.flatten(config.model.to_dict(), 'model.')
  for key, value in sorted(flat.items()):
    if key.endswith('.attn_impl') and value == 'cudnn' and platform != 'gpu':
      raise cfg_lib.ConfigError(
          f"config.{key}='cudnn' needs an NVIDIA GPU (cuDNN); the devices here are {platform}: "
          f"set --config.{key}=xla (or '' to let XLA choose)")


def eval_leaf(config) -> str:
  """The field of the training state a run evaluates and samples with: ``'ema_params'`` if
  ``config.eval.use_ema``, else ``'params'``."""
  return 'ema_params' if config.eval.use_ema else 'params'


def _restore_params(run: Run, workdir: str, which: str, step: Optional[int] = None,
                    keep: int = 3) -> tuple[dict, ckpt_lib.Checkpointer]:
  """``({'step', which, 'rng'}, checkpointer)``: those leaves of `workdir`'s checkpoint `step`
  (default: the newest good one), shaped by `run`'s model, replicated on its mesh and verified
  against their digests; the optimizer state is not read."""
  key = jax.eval_shape(lambda: jax.random.PRNGKey(0))
  target = {'step': jax.ShapeDtypeStruct((), jnp.int32), which: run.abstract_params(), 'rng': key}
  checkpointer = ckpt_lib.Checkpointer(workdir, keep=keep)
  try:
    leaves = checkpointer.restore(ckpt_lib.abstract(target, parallel.replicated(run.mesh)), step,
                                  partial=True)
  finally:
    checkpointer.close()
  return leaves, checkpointer


def open_run(workdir: str, overrides=None, step: Optional[int] = None,
             teacher_for=None) -> Run:
  """The Run of a finished or running `workdir` with its checkpoint `step` (default: newest)
  restored into ``run.params``, ``run.step`` and ``run.rng`` (nothing else is read; with
  ``eval.posthoc_sigma_rel`` the params are that post-hoc EMA at the step, `posthoc`). `overrides`
  (``{'sampling.steps': '50'}``) may change only `workdir.USE_KEYS` (keys that do not alter the
  trained model); ``run.workdir`` is `workdir`. The parameters are replicated on a mesh of the
  devices in use whatever ``train.fsdp`` (which splits training's state only), so a run opens on
  any device count.
  ``teacher_for(config)``: the frozen network the family's loss reads (a command that evaluates
  the loss of a distilled run passes `jaxgen.tools.teacher_run.open_for`), or None."""
  config = workdir_lib.read_config(workdir)
  if overrides:
    workdir_lib.check_overrides(overrides)
    config = cfg_lib.validate(overrides_lib.apply(config, overrides))
  if workdir_lib.latest_step(workdir) is None:  # before Orbax would create checkpoints/
    raise FileNotFoundError(f'--workdir={workdir} has no checkpoint yet; train it first (python '
                            '-m launch.train --config FILE --workdir DIR; it resumes there)')
  if step is not None and step not in (present := workdir_lib.checkpoint_steps(workdir)):
    raise FileNotFoundError(f'--step={step}: {workdir} has no checkpoint at that step; steps '
                            f'present: {present} (omit --step for the newest)')
  teacher = teacher_for(config) if teacher_for is not None else None
  run = Run(config, parallel.make_mesh(config.train.num_devices), teacher)
  which = eval_leaf(config)
  leaves, _ = _restore_params(run, workdir, which, step, config.train.keep_checkpoints)
  run.params, run.step, run.rng = leaves[which], int(leaves['step']), leaves['rng']
  run.workdir = workdir
  if config.eval.posthoc_sigma_rel:  # the post-hoc EMA at this step, from the run's snapshots
    from jaxgen.runtime import posthoc

    run.params, _ = posthoc.reconstruct(run, workdir, config.eval.posthoc_sigma_rel, run.step,
                                        'config.eval.posthoc_sigma_rel')
  return run


def source_params(run: Run, source: str) -> tuple[Any, dict]:
  """The parameters a fresh run with ``train.init_from=source`` starts from, and a record of them.

  They are `source`'s newest checkpoint's EMA params if the source run evaluates with them (its
  ``eval.use_ema``, as `launch.reflow` and `launch.sample` do), else its raw params; nothing else
  of the checkpoint is read. The record is ``{'source': abs path, 'step': int, 'params':
  'ema_params' | 'params'}``. Reads only: a source without a checkpoint (FileNotFoundError), with
  another model.* config or with parameters of other shapes (data of another shape; ConfigError
  naming the leaves) is refused before the caller writes anything.
  """
  old, step = workdir_lib.check_init_from(source, run.config)
  which = eval_leaf(old)
  try:
    leaves, checkpointer = _restore_params(run, source, which)
  except ckpt_lib.CheckpointError as e:
    raise _init_from_error(step, source, run, e) from e
  record = {'source': paths.abspath(source), 'step': int(checkpointer.restored_step),
            'params': which}
  return leaves[which], record


def _init_from_error(step, source, run, error) -> Exception:
  """Why `source`'s checkpoint does not restore into this run: the leaves of other shapes, else
  the restore error (never advice to move the source's checkpoint aside: it is not damaged for
  its own run)."""
  cause = error.__cause__ or error
  marker = 'holds a different model ('
  if marker in str(error):  # the checkpointer compared the stored shapes with the target's
    bad = str(error).split(marker, 1)[1].rsplit(')', 1)[0]
    return cfg_lib.ConfigError(
        f'train.init_from={source}: its parameters (step {step}) do not fit this run, whose data '
        f'{run.config.data.name} has shape {tuple(run.data.spec.shape)}: {bad}. Initialise from '
        "a run on data of the same shape, or set train.init_from=''.")
  return cfg_lib.ConfigError(
      f'train.init_from={source}: its checkpoint at step {step} could not be restored into this '
      f'run ({type(cause).__name__}: {str(cause)[:300]}). Nothing was written. Check the source '
      "with python -m launch.evaluate --workdir SOURCE, or set train.init_from=''.")
