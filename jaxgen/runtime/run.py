"""The Run record: everything a run is built from its validated config, and `open_run`.

    from jaxgen.runtime import run as run_lib
    run = run_lib.open_run('runs/rf_moons')          # newest checkpoint
    x, info = run.model.sample(run.params, jax.random.PRNGKey(0), 64, run.config.sampling)

``run.params`` are the parameters the run evaluates and samples with: the EMA parameters if
``config.eval.use_ema``, else the raw ones. Keys derived from the run's base key ``state.rng``:
step s trains with ``fold_in(rng, s)``; evaluation uses ``fold_in(rng, EVAL_SALT)`` and the
sample file of step s ``fold_in(fold_in(rng, SAMPLE_SALT), s)``.
"""

from __future__ import annotations

from typing import Any, Optional

import jax
import numpy as np

from jaxgen import data as data_lib
from jaxgen.models import base as models_base
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import optim
from jaxgen.runtime import overrides as overrides_lib
from jaxgen.runtime import parallel
from jaxgen.runtime import state as state_lib
from jaxgen.runtime import workdir as workdir_lib
from jaxgen.store import checkpoint as ckpt_lib
from jaxgen.store import paths

# Keys of the run's base key kept apart from the per-step keys fold_in(rng, step < 2**30).
EVAL_SALT, SAMPLE_SALT = 2**31 - 1, 2**31 - 2


class Run:
  """A run built once from a validated config: data, model, mesh, schedule, optimizer and the
  jit-compiled data-parallel train step; `state` is set by `open_run` (or the caller)."""

  def __init__(self, config, mesh=None):
    self.config = config
    self.mesh = mesh if mesh is not None else parallel.make_mesh(config.train.num_devices)
    n_dev = self.mesh.devices.size
    if config.train.batch_size % n_dev:
      raise cfg_lib.ConfigError(
          f'config.train.batch_size={config.train.batch_size} must be divisible by the '
          f'{n_dev} devices in use (set train.batch_size or train.num_devices)')
    _check_devices(config, self.mesh)
    self.data = data_lib.build(config.data, config.seed)
    self.model: models_base.Model = models_base.family_module(config.model.family).build(
        config, self.data.spec)
    self._check_model()
    self.schedule = optim.learning_rate(config.optim, config.train.steps)
    self.tx = optim.make_optimizer(config.optim, config.train.steps)
    rep, bat = parallel.replicated(self.mesh), parallel.batch_sharding(self.mesh)
    self.train_step = jax.jit(
        state_lib.make_train_step(self.model, self.tx, config.optim.ema_rate, self.schedule,
                                  config.optim.ema_warmup),
        in_shardings=(rep, bat), out_shardings=(rep, rep), donate_argnums=0)
    self.state: Optional[state_lib.TrainState] = None

  def _check_model(self) -> None:
    """Traces the model's init on the data's shape (nothing is computed), so that a network
    that cannot be built from this config (a value its code refuses, a net for another data
    shape) is one ConfigError here, before anything is written, not a traceback mid-start."""
    x = self.example_x()
    try:
      jax.eval_shape(self.model.init, jax.random.PRNGKey(0), jax.ShapeDtypeStruct(x.shape, x.dtype))
    except Exception as e:  # noqa: BLE001  (any failure of the user's network settings)
      mc = self.config.model
      net = f'config.model.{mc.net}' if 'net' in mc and mc.net in mc else 'config.model'
      text = (str(e).strip().splitlines() or [''])[0][:300].rstrip('.')
      raise cfg_lib.ConfigError(
          f'{net}: the {mc.family} network cannot be built for config.data.name='
          f'{self.config.data.name} (shape {tuple(self.data.spec.shape)}): '
          f'{type(e).__name__}: {text}. Check the {net}.* values (and config.model.net)') from None

  @property
  def step(self) -> int:
    return int(self.state.step)

  @property
  def params(self):
    """The evaluation parameters of `state`: EMA if config.eval.use_ema, else the raw ones."""
    return eval_params(self.config, self.state)

  def example_x(self) -> np.ndarray:
    return self.data.train_batch(0, self.mesh.devices.size, 0, 1)['x']

  def init(self) -> state_lib.TrainState:
    return state_lib.init_state(self.model, self.tx, self.config.seed, self.example_x(),
                                self.mesh)

  def abstract_state(self) -> state_lib.TrainState:
    shapes = jax.eval_shape(self.init)
    return ckpt_lib.abstract(shapes, parallel.replicated(self.mesh))

  def batch(self, step: int) -> dict:
    host = self.data.train_batch(step, self.config.train.batch_size)
    return parallel.shard_batch(host, self.mesh)

  def eval_rng(self) -> jax.Array:
    return jax.random.fold_in(self.state.rng, EVAL_SALT)

  def sample_rng(self, step: int) -> jax.Array:
    return jax.random.fold_in(jax.random.fold_in(self.state.rng, SAMPLE_SALT), step)


def _check_devices(config, mesh) -> None:
  """Refuses settings the devices in use cannot run: ``attn_impl='cudnn'`` off a GPU."""
  platform = mesh.devices.flat[0].platform
  flat = cfg_lib.flatten(config.model.to_dict(), 'model.')
  for key, value in sorted(flat.items()):
    if key.endswith('.attn_impl') and value == 'cudnn' and platform != 'gpu':
      raise cfg_lib.ConfigError(
          f"config.{key}='cudnn' needs an NVIDIA GPU (cuDNN); the devices here are {platform}: "
          f"set --config.{key}=xla (or '' to let XLA choose)")


def eval_params(config, state):
  return state.ema_params if config.eval.use_ema else state.params


def open_run(workdir: str, overrides=None, step: Optional[int] = None) -> Run:
  """The Run of a finished or running `workdir` with its checkpoint `step` (default: newest)
  restored into ``run.state``. `overrides` (``{'sampling.steps': '50'}``) may change only
  `workdir.USE_KEYS` (keys that do not alter the trained model)."""
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
  run = Run(config)
  checkpointer = ckpt_lib.Checkpointer(workdir, keep=config.train.keep_checkpoints)
  try:
    run.state = checkpointer.restore(run.abstract_state(), step)
  finally:
    checkpointer.close()
  return run


def init_params(run: Run, source: str) -> tuple[Any, dict]:
  """The parameters a fresh run with ``train.init_from=source`` starts from, and a record of them.

  They are `source`'s newest checkpoint's EMA params if the source run evaluates with them (its
  ``eval.use_ema``, as `launch.reflow` and `launch.sample` do), else its raw params. The record is
  ``{'source': abs path, 'step': int, 'params': 'ema_params' | 'params'}``. Reads only: a source
  without a checkpoint (FileNotFoundError), with another model.* config or with parameters of
  other shapes (data of another shape; ConfigError naming the leaves) is refused before the
  caller writes anything.
  """
  old, step = workdir_lib.check_init_from(source, run.config)
  tx = optim.make_optimizer(old.optim, old.train.steps)  # the source's state structure
  shapes = jax.eval_shape(lambda: state_lib.init_state(run.model, tx, old.seed, run.example_x(),
                                                       run.mesh))
  which = 'ema_params' if old.eval.use_ema else 'params'
  checkpointer = ckpt_lib.Checkpointer(source)
  try:
    try:
      restored = checkpointer.restore(ckpt_lib.abstract(shapes, parallel.replicated(run.mesh)))
      step = checkpointer.restored_step  # the newest good one (damaged newer ones are skipped)
    except ckpt_lib.CheckpointError as e:
      raise _init_from_error(checkpointer, step, shapes, source, run, e) from e
  finally:
    checkpointer.close()
  record = {'source': paths.abspath(source), 'step': int(step), 'params': which}
  return getattr(restored, which), record


def init_from(run: Run, state: state_lib.TrainState, source: str) -> state_lib.TrainState:
  """`state` with params and ema_params both set to `init_params(run, source)` (the optimizer
  state, step and rng stay those of the fresh `state`)."""
  return state_lib.start_from(state, init_params(run, source)[0])


def _shape_mismatches(stored, expected) -> list[str]:
  """``'path: stored S vs E here'`` for each leaf whose shape differs (or exists on one side)."""
  flat = lambda tree: {jax.tree_util.keystr(k): tuple(np.shape(v))
                       for k, v in jax.tree_util.tree_flatten_with_path(tree)[0]}
  a, b = flat(stored), flat(expected)
  return [f'{k}: stored {a.get(k, "absent")} vs {b.get(k, "absent")} here'
          for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _init_from_error(checkpointer, step, shapes, source, run, error) -> Exception:
  """Why `source`'s checkpoint does not restore into this run: the leaves of other shapes if the
  stored tree can be read without a target, else the restore error (never advice to move the
  source's checkpoint aside: it is not damaged for its own run)."""
  cause = error.__cause__ or error
  marker = 'holds a different model ('
  if marker in str(error):  # the checkpointer compared the stored shapes with the target's
    bad = [str(error).split(marker, 1)[1].rsplit(')', 1)[0]]
  else:
    try:
      stored = checkpointer.restore(None, step)
      bad = _shape_mismatches(stored['ema_params'], shapes.ema_params)
    except Exception:  # noqa: BLE001  (unreadable without a target: report the first error)
      bad = []
  if bad:
    return cfg_lib.ConfigError(
        f'train.init_from={source}: its parameters (step {step}) do not fit this run, whose data '
        f'{run.config.data.name} has shape {tuple(run.data.spec.shape)}: '
        + '; '.join(bad[:6]) + (f' (and {len(bad) - 6} more)' if len(bad) > 6 else '')
        + ". Initialise from a run on data of the same shape, or set train.init_from=''.")
  return cfg_lib.ConfigError(
      f'train.init_from={source}: its checkpoint at step {step} could not be restored into this '
      f'run ({type(cause).__name__}: {str(cause)[:300]}). Nothing was written. Check the source '
      "with python -m launch.evaluate --workdir SOURCE, or set train.init_from=''.")
