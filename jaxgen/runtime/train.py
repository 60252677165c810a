"""One trainer for every family: the state, the jit-compiled data-parallel step, and the loop.

``run(config, workdir)`` trains ``jaxgen.models.<config.model.family>`` on ``config.data`` and
writes into `workdir`::

    config.json          the validated config of the run
    checkpoints/<step>/  Orbax checkpoints (state + config); running again resumes from the newest
    metrics.jsonl        one JSON object per log / evaluation
    tb/                  TensorBoard event files
    samples/step_N.png   sample grids (and step_N.npz with the raw samples)
    init_from.json       with train.init_from: the source, step and params the run started from
    data.json            with pairs: data: the file and its digest (a resume on other pairs is refused)

Determinism: the batch at step s is a pure function of (seed, s) and the step's randomness is
``fold_in(state.rng, s)``, so N steps, a restart and N more give the parameters of 2N steps
straight, and the result does not depend on the number of devices (up to float reduction order).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from typing import Any, Callable, Optional

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgen.runtime import checkpoint as ckpt_lib
from jaxgen.runtime import config as cfg_lib
from jaxgen import data as data_lib
from jaxgen.runtime import parallel
from jaxgen.models import base as models_base


@flax.struct.dataclass
class TrainState:
  """The whole training state, a plain pytree (checkpointed as is).

  Attributes:
    step: int32 scalar, the number of optimizer updates applied.
    params: model parameters.
    ema_params: exponential moving average of `params` (equal to params when ema_rate is 0).
    opt_state: optax state.
    rng: uint32[2] base key; step s uses ``fold_in(rng, s)``.
  """

  step: jax.Array
  params: Any
  ema_params: Any
  opt_state: Any
  rng: jax.Array


class TrainingDiverged(RuntimeError):
  """The loss or the gradients became NaN/inf."""


def learning_rate(optim, total_steps: int) -> Callable[[jax.Array], jax.Array]:
  """Linear warm-up from 0 to optim.lr over warmup_steps, then the chosen decay."""

  def schedule(step):
    step = jnp.asarray(step, jnp.float32)
    lr = optim.lr
    if optim.decay == 'exponential':
      lr = lr * optim.decay_rate ** step
    elif optim.decay == 'cosine':
      frac = jnp.clip(step / max(total_steps, 1), 0.0, 1.0)
      lr = lr * 0.5 * (1 + jnp.cos(jnp.pi * frac))
    if optim.warmup_steps:
      lr = lr * jnp.minimum(1.0, step / optim.warmup_steps)
    return lr

  return schedule


def make_optimizer(optim, total_steps: int) -> optax.GradientTransformation:
  """Clipping (global norm) followed by Adam / AdamW / RMSProp with the schedule."""
  lr = learning_rate(optim, total_steps)
  if optim.optimizer == 'adam':
    opt = optax.adam(lr, b1=optim.b1, b2=optim.b2, eps=optim.eps)
  elif optim.optimizer == 'adamw':
    opt = optax.adamw(lr, b1=optim.b1, b2=optim.b2, eps=optim.eps,
                      weight_decay=optim.weight_decay)
  else:
    opt = optax.rmsprop(lr, decay=optim.b2, eps=optim.eps, momentum=optim.momentum or None)
  parts = [optax.clip_by_global_norm(optim.grad_clip)] if optim.grad_clip else []
  return optax.chain(*parts, opt)


def make_train_step(model: models_base.Model, tx: optax.GradientTransformation, ema_rate: float,
                    schedule: Callable, ema_warmup: bool = False) -> Callable:
  """The pure step ``(state, batch) -> (state, metrics)``.

  EMA: ``ema <- r ema + (1 - r) params`` with ``r = ema_rate``, or with ``ema_warmup``
  ``r = min(ema_rate, (1 + n) / (10 + n))`` where ``n = state.step + 1`` counts the updates
  including this one.

  A step whose loss or gradient norm is not finite leaves the state unchanged and reports
  ``nonfinite = 1``; the loop stops on it (nothing bad is ever checkpointed).
  """

  def train_step(state: TrainState, batch: dict):
    rng = jax.random.fold_in(state.rng, state.step)
    (loss, aux), grads = jax.value_and_grad(model.loss, has_aux=True)(state.params, batch, rng)
    grad_norm = optax.global_norm(grads)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    if ema_rate:
      rate = ema_rate
      if ema_warmup:
        n = (state.step + 1).astype(jnp.float32)
        rate = jnp.minimum(ema_rate, (1 + n) / (10 + n))
      ema = jax.tree.map(lambda e, p: rate * e + (1 - rate) * p, state.ema_params, params)
    else:
      ema = params
    ok = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
    keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, old)
    new_state = TrainState(step=state.step + 1, params=keep(params, state.params),
                           ema_params=keep(ema, state.ema_params),
                           opt_state=keep(opt_state, state.opt_state), rng=state.rng)
    metrics = {'loss': loss, 'grad_norm': grad_norm, 'lr': schedule(state.step),
               'nonfinite': (~ok).astype(jnp.float32), **aux}
    return new_state, metrics

  return train_step


def init_state(model: models_base.Model, tx: optax.GradientTransformation, seed: int,
               example_x: np.ndarray, mesh) -> TrainState:
  """Initial state, replicated on the mesh."""

  def init(x):
    rng = jax.random.PRNGKey(seed)
    params = model.init(jax.random.fold_in(rng, 0), x)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, ema_params=params,
                      opt_state=tx.init(params), rng=rng)

  # Initialisation runs once: compiling it with XLA's optimizations off saves most of its
  # compile time (a minute for a small U-Net on a 2-core CPU) and gives the same values.
  with _low_compile_effort():
    return jax.jit(init, out_shardings=parallel.replicated(mesh))(example_x)


@contextlib.contextmanager
def _low_compile_effort():
  old = jax.config.read('jax_disable_most_optimizations')
  jax.config.update('jax_disable_most_optimizations', True)
  try:
    yield
  finally:
    jax.config.update('jax_disable_most_optimizations', old)


class Trainer:
  """Everything a run needs, built once from a validated config (used by launch/*)."""

  def __init__(self, config, mesh=None):
    self.config = config
    if config.train.fast_compile:
      jax.config.update('jax_disable_most_optimizations', True)
    self.mesh = mesh if mesh is not None else parallel.make_mesh(config.train.num_devices)
    self.data = data_lib.build(config.data, config.seed)
    self.model = models_base.family_module(config.model.family).build(config, self.data.spec)
    self.schedule = learning_rate(config.optim, config.train.steps)
    self.tx = make_optimizer(config.optim, config.train.steps)
    n_dev = self.mesh.devices.size
    if config.train.batch_size % n_dev:
      raise cfg_lib.ConfigError(
          f'config.train.batch_size={config.train.batch_size} must be divisible by the '
          f'{n_dev} devices in use (set train.batch_size or train.num_devices)')
    rep, bat = parallel.replicated(self.mesh), parallel.batch_sharding(self.mesh)
    self.train_step = jax.jit(
        make_train_step(self.model, self.tx, config.optim.ema_rate, self.schedule,
                        config.optim.ema_warmup),
        in_shardings=(rep, bat), out_shardings=(rep, rep), donate_argnums=0)

  def example_x(self) -> np.ndarray:
    n = self.mesh.devices.size
    return self.data.train_batch(0, n, 0, 1)['x']

  def init(self) -> TrainState:
    return init_state(self.model, self.tx, self.config.seed, self.example_x(), self.mesh)

  def abstract_state(self) -> TrainState:
    state = jax.eval_shape(lambda: init_state(
        self.model, self.tx, self.config.seed, self.example_x(), self.mesh))
    return ckpt_lib.abstract(state, parallel.replicated(self.mesh))

  def batch(self, step: int) -> dict:
    host = self.data.train_batch(step, self.config.train.batch_size)
    return parallel.shard_batch(host, self.mesh)


class _Writer:
  """metrics.jsonl + TensorBoard events (tensorboardX, so no TensorFlow is needed; without
  tensorboardX, e.g. on a bare accelerator image, metrics.jsonl only)."""

  def __init__(self, workdir: str, enabled: bool):
    self.enabled = enabled
    if not enabled:
      return
    self._jsonl = open(os.path.join(workdir, 'metrics.jsonl'), 'a')
    try:
      from tensorboardX import SummaryWriter
    except ImportError:
      print('jaxgen.runtime.train: tensorboardX is not installed: metrics go to metrics.jsonl only',
            file=sys.stderr)
      self._tb = None
    else:
      self._tb = SummaryWriter(os.path.join(workdir, 'tb'))

  def write(self, step: int, metrics: dict) -> None:
    if not self.enabled:
      return
    clean = {k: float(v) for k, v in metrics.items()}
    self._jsonl.write(json.dumps({'step': step, **clean}) + '\n')
    self._jsonl.flush()
    if self._tb is not None:
      for k, v in clean.items():
        self._tb.add_scalar(k, v, step)
      self._tb.flush()

  def close(self) -> None:
    if self.enabled:
      self._jsonl.close()
      if self._tb is not None:
        self._tb.close()


# Keys of the run's base key kept apart from the per-step keys fold_in(rng, step < 2**30).
EVAL_SALT, SAMPLE_SALT = 2**31 - 1, 2**31 - 2

RESUMABLE_CHANGES = ('train.steps', 'train.log_every', 'train.checkpoint_every',
                     'train.eval_every', 'train.sample_every', 'train.progress',
                     'train.keep_checkpoints', 'train.init_from', 'eval.', 'sampling.')


def _check_resume_config(workdir: str, config) -> None:
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    return
  with open(path) as f:
    old = cfg_lib.from_json(f.read())
  changed = [k for k in cfg_lib.diff(old, config) if not k.startswith(RESUMABLE_CHANGES)]
  if changed:
    raise cfg_lib.ConfigError(
        f'{workdir} holds a run with a different config ({", ".join(changed)} differ). '
        'Resume it with the same config (only train.steps, the intervals, train.init_from, '
        'eval.* and sampling.* may change), or choose a new --workdir.')


def _latest_step(workdir: str) -> Optional[int]:
  """The newest checkpoint step in `workdir`, or None; creates nothing."""
  if not os.path.isdir(os.path.join(workdir, 'checkpoints')):
    return None
  checkpointer = ckpt_lib.Checkpointer(workdir)
  try:
    return checkpointer.latest_step()
  finally:
    checkpointer.close()


# workdir/data.json: the training data's fingerprint (`Dataset.fingerprint`), checked on resume.
DATA_FINGERPRINT = 'data.json'


def _check_data_fingerprint(workdir: str, data, resuming: bool) -> None:
  """Refuses to resume a run whose recorded data fingerprint (a pairs file's digest) changed."""
  path = os.path.join(workdir, DATA_FINGERPRINT)
  new = data.fingerprint
  if not (resuming and new and os.path.exists(path)):
    return
  with open(path) as f:
    old = json.load(f)
  if old.get('pairs_digest') != new['pairs_digest']:
    raise cfg_lib.ConfigError(
        f'{workdir} was trained on the pairs in {old.get("pairs_file")} (digest '
        f'{str(old.get("pairs_digest"))[:12]}...), but {new["pairs_file"]} now holds other pairs '
        f'(digest {new["pairs_digest"][:12]}...): the file was replaced (launch.reflow --force?). '
        'Put the original pairs back to resume, or train on the new ones in a new --workdir.')


def _read_run_config(workdir: str, what: str):
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    raise FileNotFoundError(f'{what}={workdir} holds no run (no config.json); train one with '
                            'python -m launch.train --config FILE --workdir DIR')
  with open(path) as f:
    return cfg_lib.from_json(f.read())


def _check_init_from(source: str, config):
  """``(config, newest step)`` of the run `source`, after checking that its model.* config is
  `config`'s and that it has a checkpoint. Reads only."""
  old = _read_run_config(source, 'train.init_from')
  changed = [k for k in cfg_lib.diff(old, config) if k.startswith('model.')]
  if changed:
    raise cfg_lib.ConfigError(
        f'train.init_from={source} holds a run with a different model ({", ".join(changed)} '
        'differ). Initialise from a run with the same model.* config, or set '
        "train.init_from=''.")
  step = _latest_step(source)
  if step is None:
    raise FileNotFoundError(f'train.init_from={source} has no checkpoint yet; train it first, '
                            "or set train.init_from=''")
  return old, step


def _shape_mismatches(stored, expected) -> list[str]:
  """``'path: stored S here E'`` for each leaf whose shape differs (or exists on one side)."""
  flat = lambda tree: {jax.tree_util.keystr(k): tuple(np.shape(v))
                       for k, v in jax.tree_util.tree_flatten_with_path(tree)[0]}
  a, b = flat(stored), flat(expected)
  return [f'{k}: stored {a.get(k, "absent")} vs {b.get(k, "absent")} here'
          for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def init_params(trainer: Trainer, source: str) -> tuple[Any, dict]:
  """The parameters a fresh run with ``train.init_from=source`` starts from, and a record of them.

  They are `source`'s newest checkpoint's EMA params if the source run evaluates with them
  (its ``eval.use_ema``, as `launch.reflow` and `launch.sample` do), else its raw params. The
  record is ``{'source': abs path, 'step': int, 'params': 'ema_params' | 'params'}``. Reads only:
  a source without a checkpoint (FileNotFoundError), with another model.* config or with
  parameters of other shapes (data of another shape; ConfigError naming the leaves) is refused
  before the caller writes anything.
  """
  old, step = _check_init_from(source, trainer.config)
  tx = make_optimizer(old.optim, old.train.steps)  # the source's state structure
  shapes = jax.eval_shape(lambda: init_state(trainer.model, tx, old.seed, trainer.example_x(),
                                             trainer.mesh))
  which = 'ema_params' if old.eval.use_ema else 'params'
  checkpointer = ckpt_lib.Checkpointer(source)
  try:
    try:
      restored = checkpointer.restore(ckpt_lib.abstract(shapes, parallel.replicated(trainer.mesh)),
                                      step)
    except ckpt_lib.CheckpointError as e:
      raise _init_from_error(checkpointer, step, shapes, source, trainer, e) from e
  finally:
    checkpointer.close()
  record = {'source': os.path.abspath(source), 'step': int(step), 'params': which}
  return getattr(restored, which), record


def _init_from_error(checkpointer, step, shapes, source, trainer, error) -> Exception:
  """Why `source`'s checkpoint does not restore into this run: the leaves of other shapes if the
  stored tree can be read without a target, else the restore error (never advice to move the
  source's checkpoint aside: it is not damaged for its own run)."""
  cause = error.__cause__ or error
  try:
    stored = checkpointer.restore(None, step)
    bad = _shape_mismatches(stored['ema_params'], shapes.ema_params)
  except Exception:  # noqa: BLE001  (unreadable without a target: report the first error)
    bad = []
  if bad:
    return cfg_lib.ConfigError(
        f'train.init_from={source}: its parameters (step {step}) do not fit this run, whose data '
        f'{trainer.config.data.name} has shape {tuple(trainer.data.spec.shape)}: '
        + '; '.join(bad[:6]) + (f' (and {len(bad) - 6} more)' if len(bad) > 6 else '')
        + ". Initialise from a run on data of the same shape, or set train.init_from=''.")
  return cfg_lib.ConfigError(
      f'train.init_from={source}: its checkpoint at step {step} could not be restored into this '
      f'run ({type(cause).__name__}: {str(cause)[:300]}). Nothing was written. Check the source '
      "with python -m launch.evaluate --workdir SOURCE, or set train.init_from=''.")


def _start_from(state: TrainState, params) -> TrainState:
  return state.replace(params=params, ema_params=jax.tree.map(jnp.copy, params))  # no shared buffers


def init_from(trainer: Trainer, state: TrainState, source: str) -> TrainState:
  """`state` with params and ema_params both set to `init_params(trainer, source)` (the optimizer
  state, step and rng stay those of the fresh `state`)."""
  return _start_from(state, init_params(trainer, source)[0])


def _write_atomic(path: str, text: str) -> None:
  """Writes `text` to `path` through a temporary file and a rename (never seen half-written)."""
  tmp = f'{path}.tmp{os.getpid()}'
  with open(tmp, 'w') as f:
    f.write(text)
  os.replace(tmp, path)


def run(config, workdir: str, mesh=None) -> TrainState:
  """Trains (or resumes) the run described by a validated `config` in `workdir`.

  A fresh run with ``train.init_from`` starts from that run's parameters (`init_params`; recorded
  in ``workdir/init_from.json``); a run with its own checkpoint resumes from it and ignores
  ``train.init_from`` (which may then change, e.g. after the source moved). A run on ``pairs:``
  data records the file's digest (``workdir/data.json``) and refuses to resume on other pairs.
  Everything is checked before anything is written.
  """
  _check_resume_config(workdir, config)
  latest = _latest_step(workdir)
  if config.train.init_from and latest is None:
    _check_init_from(config.train.init_from, config)  # before anything is built or written
  is_main = jax.process_index() == 0
  trainer = Trainer(config, mesh)
  tc = config.train
  _check_data_fingerprint(workdir, trainer.data, latest is not None)
  start_params = record = None
  if tc.init_from and latest is None:
    start_params, record = init_params(trainer, tc.init_from)
  os.makedirs(workdir, exist_ok=True)
  if is_main:  # atomically: the other processes of a multi-process run may be reading them
    _write_atomic(os.path.join(workdir, 'config.json'), cfg_lib.to_json(config))
    fingerprint = os.path.join(workdir, DATA_FINGERPRINT)
    if trainer.data.fingerprint and (latest is None or not os.path.exists(fingerprint)):
      _write_atomic(fingerprint, json.dumps(trainer.data.fingerprint, indent=2))
  checkpointer = ckpt_lib.Checkpointer(workdir, keep=tc.keep_checkpoints)
  if checkpointer.latest_step() is not None:
    state = checkpointer.restore(trainer.abstract_state())
    print(f'Resumed from step {int(state.step)} in {checkpointer.directory}', flush=True)
  else:
    state = trainer.init()
    if start_params is not None:
      state = _start_from(state, start_params)
      if is_main:
        with open(os.path.join(workdir, 'init_from.json'), 'w') as f:
          json.dump(record, f, indent=2)
        print(f'Initialised params and EMA from the {record["params"]} of {tc.init_from} (step '
              f'{record["step"]}; its eval.use_ema decides which)', flush=True)
  writer = _Writer(workdir, is_main)
  start = int(state.step)
  n_params = sum(x.size for x in jax.tree.leaves(state.params))
  if is_main:
    print(f'{config.model.family} on {config.data.name}: {n_params:,} parameters, '
          f'{trainer.mesh.devices.size} device(s), global batch {tc.batch_size}, '
          f'steps {start} -> {tc.steps}', flush=True)
  bar = None
  if tc.progress and is_main and start < tc.steps:
    bar = _progress_bar(tc.steps, start)
  pending: list[dict] = []
  t_last, step_last = time.perf_counter(), start
  last_ckpt = checkpointer.latest_step()
  try:
    for step in range(start, tc.steps):
      state, metrics = trainer.train_step(state, trainer.batch(step))
      pending.append(metrics)
      done = step + 1
      if bar is not None:
        bar.update(1)
      if done % tc.log_every == 0 or done == tc.steps:
        host = jax.device_get(pending)
        pending = []
        summary = {k: float(np.mean([m[k] for m in host])) for k in host[0]}
        if summary['nonfinite'] > 0:
          raise TrainingDiverged(
              f'the loss or its gradient became NaN/inf between steps {done - len(host)} and '
              f'{done} (those updates were skipped). The last checkpoint (step {last_ckpt}) in '
              f'{checkpointer.directory} is intact. Lower optim.lr, raise optim.warmup_steps '
              'or set optim.grad_clip, then run again.')
        now = time.perf_counter()
        summary['steps_per_sec'] = (done - step_last) / max(now - t_last, 1e-9)
        t_last, step_last = now, done
        writer.write(done, summary)
        if bar is not None:
          bar.set_postfix(loss=f"{summary['loss']:.4g}", refresh=False)
      if done % tc.checkpoint_every == 0 or done == tc.steps:
        checkpointer.save(done, state, cfg_lib.to_json(config), force=done == tc.steps)
        last_ckpt = done
      if tc.eval_every and done % tc.eval_every == 0 and done != tc.steps:
        writer.write(done, evaluate_state(trainer, state))
      if tc.sample_every and done % tc.sample_every == 0 and done != tc.steps:
        write_samples(trainer, state, workdir, done)
    if bar is not None:
      bar.close()
      bar = None
    if start < tc.steps or not os.path.exists(os.path.join(workdir, 'samples')):
      results = evaluate_state(trainer, state)
      writer.write(int(state.step), results)
      if is_main:
        print('Evaluation: ' + ', '.join(f'{k}={v:.5g}' for k, v in results.items()), flush=True)
      path = write_samples(trainer, state, workdir, int(state.step))
      if is_main:
        print(f'Samples: {path}', flush=True)
  finally:
    if bar is not None:
      bar.close()
    checkpointer.close()
    writer.close()
  return state


class _LineProgress:
  """The progress bar's interface as plain lines at each log step (used without tqdm)."""

  def __init__(self, total: int, initial: int):
    self.total, self.n, self.t0, self.n0 = total, initial, time.perf_counter(), initial

  def update(self, k: int) -> None:
    self.n += k

  def set_postfix(self, refresh: bool = False, **values) -> None:
    del refresh
    rate = (self.n - self.n0) / max(time.perf_counter() - self.t0, 1e-9)
    extra = ''.join(f', {k} {v}' for k, v in values.items())
    print(f'step {self.n}/{self.total} ({rate:.1f} steps/s{extra})', flush=True)

  def close(self) -> None:
    pass


def _progress_bar(total: int, initial: int):
  """A tqdm bar (steps/s, ETA, loss), or progress lines where tqdm is not installed."""
  try:
    from tqdm import tqdm
  except ImportError:
    return _LineProgress(total, initial)
  return tqdm(total=total, initial=initial, unit='step', dynamic_ncols=True, mininterval=1.0)


def evaluate_state(trainer: Trainer, state: TrainState) -> dict:
  from jaxgen.runtime import evaluate as evaluate_lib

  params = state.ema_params if trainer.config.eval.use_ema else state.params
  return evaluate_lib.evaluate(trainer, params, jax.random.fold_in(state.rng, EVAL_SALT))


def write_samples(trainer: Trainer, state: TrainState, workdir: str, step: int,
                  sampling=None, name: Optional[str] = None) -> str:
  """Samples with the EMA parameters and writes samples/<name>.png and .npz; returns the PNG path."""
  from jaxgen.runtime import viz
  from jaxgen.runtime import evaluate as evaluate_lib

  sampling = sampling if sampling is not None else trainer.config.sampling
  params = state.ema_params if trainer.config.eval.use_ema else state.params
  rng = jax.random.fold_in(jax.random.fold_in(state.rng, SAMPLE_SALT), step)
  x, info = evaluate_lib.draw_samples(trainer, params, rng, sampling.num_samples, sampling)
  name = name or f'step_{step}'
  out_dir = os.path.join(workdir, 'samples')
  if jax.process_index() == 0:
    os.makedirs(out_dir, exist_ok=True)
    np.savez(os.path.join(out_dir, name + '.npz'), samples=x,
             **{k: np.asarray(v) for k, v in info.items()})
    png = os.path.join(out_dir, name + '.png')
    viz.save_samples(png, x, trainer.data.spec,
                     reference=trainer.data.eval_array(len(x)) if x.ndim == 2 else None,
                     title=f'{trainer.config.model.family} step {step}, NFE {int(info["nfe"])}')
    return png
  return ''



def load_run(workdir: str, overrides=None, step: Optional[int] = None):
  """Rebuilds the Trainer of a finished or running workdir and restores its newest state.

  `overrides` (``{'sampling.steps': '50'}``) may change only keys that do not alter the trained
  model (sampling.*, eval.*, train.num_devices).
  """
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    raise FileNotFoundError(f'{workdir} holds no run (no config.json); train one with '
                            'python -m launch.train --config FILE --workdir DIR')
  with open(path) as f:
    config = cfg_lib.from_json(f.read())
  if overrides:
    bad = [k for k in overrides if not k.startswith(('sampling.', 'eval.', 'train.num_devices'))]
    if bad:
      raise cfg_lib.ConfigError(f'only sampling.*, eval.* and train.num_devices can be overridden '
                                f'on a trained run, not {", ".join(bad)}')
    config = cfg_lib.validate(cfg_lib.override(config, overrides))
  trainer = Trainer(config)
  checkpointer = ckpt_lib.Checkpointer(workdir, keep=config.train.keep_checkpoints)
  try:
    state = checkpointer.restore(trainer.abstract_state(), step)
  finally:
    checkpointer.close()
  return trainer, state
