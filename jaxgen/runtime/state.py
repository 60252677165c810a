"""The trainer: the training state, the pure train step, the initial state, and `Trainer`, which
builds them (with the optimizer and its schedule, made once) for a Run. Only training uses it.

Determinism: step s uses the key ``fold_in(state.rng, s)`` (s < 2**30; `run.EVAL_SALT` and
`run.SAMPLE_SALT` are kept apart), so the state after N steps is a pure function of the config.
"""

from __future__ import annotations

from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgen.distributions import power_ema
from jaxgen.models import base as models_base
from jaxgen.runtime import compile_options
from jaxgen.runtime import optim
from jaxgen.runtime import parallel
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import sharding
from jaxgen.store import checkpoint as ckpt_lib


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


@flax.struct.dataclass
class PosthocTrainState(TrainState):
  """A `TrainState` that also tracks power-function EMAs of `params` (``optim.posthoc_ema``).

  Attributes:
    posthoc: one params tree per sigma_rel of ``optim.posthoc_ema``, in its order: the
      power-function EMA of `jaxgen.distributions.power_ema` (``beta(n)`` after update n).
  """

  posthoc: Any = ()


def make_train_step(model: models_base.Model, tx: optax.GradientTransformation, ema_rate: float,
                    schedule: Callable, ema_warmup: bool = False,
                    posthoc_ema: tuple = (), param_shardings: Any = None) -> Callable:
  """The pure step ``(state, batch) -> (state, metrics)``.

  EMA: ``ema <- r ema + (1 - r) params`` with ``r = ema_rate``, or with ``ema_warmup``
  ``r = min(ema_rate, (1 + n) / (10 + n))`` where ``n = state.step + 1`` counts the updates
  including this one.

  ``posthoc_ema`` (sigma_rels; the state a `PosthocTrainState`): each profile of exponent gamma
  is updated as ``p <- beta p + (1 - beta) params`` with ``beta = (1 - 1/n)^(gamma + 1)``.

  A family may give ``model.extras['after_update'](params_before, params_after, batch, rng) ->
  params``: updates no gradient makes (the VQ-VAE's codebook EMA), applied after the optimizer's.

  A step whose loss, gradient norm or update norm is not finite leaves the state unchanged
  (the batch is skipped) and reports ``nonfinite = 1``; the loop checks it before every save, so
  nothing after a bad step is ever checkpointed (`jaxgen.runtime.loop`).

  ``param_shardings`` (the parameters' shardings, `jaxgen.runtime.sharding`): the gradients are
  constrained to them, so under FSDP each device receives only its slice (a reduce-scatter).
  """

  gammas = [power_ema.sigma_rel_to_gamma(s) for s in posthoc_ema]

  def train_step(state: TrainState, batch: dict):
    rng = jax.random.fold_in(state.rng, state.step)
    (loss, aux), grads = jax.value_and_grad(model.loss, has_aux=True)(state.params, batch, rng)
    if param_shardings is not None:
      grads = jax.lax.with_sharding_constraint(grads, param_shardings)
    grad_norm = optax.global_norm(grads)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    if 'after_update' in model.extras:   # a family's non-gradient parameter updates (VQ-VAE EMA)
      params = model.extras['after_update'](state.params, params, batch, rng)
    if ema_rate:
      rate = ema_rate
      if ema_warmup:
        n = (state.step + 1).astype(jnp.float32)
        rate = jnp.minimum(ema_rate, (1 + n) / (10 + n))
      ema = jax.tree.map(lambda e, p: rate * e + (1 - rate) * p, state.ema_params, params)
    else:
      ema = params
    tracked = {}
    if posthoc_ema:
      n = (state.step + 1).astype(jnp.float32)
      tracked['posthoc'] = tuple(
          jax.tree.map(lambda e, p, b=power_ema.beta(n, g): b * e + (1 - b) * p, avg, params)
          for g, avg in zip(gammas, state.posthoc))
    # Finite loss and gradients can still overflow the parameters (a huge learning rate): a
    # finite norm of the updates (float32: every |u| < 1.8e19) keeps finite parameters finite.
    ok = jnp.isfinite(loss) & jnp.isfinite(grad_norm) & jnp.isfinite(optax.global_norm(updates))
    # One branch taken on the whole state (an elementwise select over params, EMA and optimizer
    # state cost 8% of the default experiment's CPU step; this costs ~1.5%, BENCHMARKS.md).
    new_state = jax.lax.cond(
        ok, lambda: state.replace(step=state.step + 1, params=params, ema_params=ema,
                                  opt_state=opt_state, **tracked),
        lambda: state.replace(step=state.step + 1))
    metrics = {'loss': loss, 'grad_norm': grad_norm, 'lr': schedule(state.step),
               'nonfinite': (~ok).astype(jnp.float32), **aux}
    return new_state, metrics

  return train_step


def initializer(model: models_base.Model, tx: optax.GradientTransformation, seed: int,
                posthoc: int = 0) -> Callable[[Any], TrainState]:
  """The pure ``x -> initial state``: ``PRNGKey(seed)`` is the base key, its ``fold_in(., 0)``
  initialises the parameters (on the batch ``x``); with ``posthoc`` profiles a
  `PosthocTrainState` (each profile starts at the parameters)."""

  def init(x):
    rng = jax.random.PRNGKey(seed)
    params = model.init(jax.random.fold_in(rng, 0), x)
    state = TrainState(step=jnp.zeros((), jnp.int32), params=params, ema_params=params,
                       opt_state=tx.init(params), rng=rng)
    if not posthoc:
      return state
    return PosthocTrainState(**vars(state), posthoc=(params,) * posthoc)

  return init


def init_state(model: models_base.Model, tx: optax.GradientTransformation, seed: int,
               example_x: np.ndarray, mesh, posthoc: int = 0, shardings: Any = None) -> TrainState:
  """The initial state of `initializer` on `example_x`, placed by `shardings` (default
  `sharding.tree_shardings` on `mesh`: replicated unless the mesh's 'fsdp' axis has size > 1)."""
  init = initializer(model, tx, seed, posthoc)
  if shardings is None:
    shardings = sharding.tree_shardings(jax.eval_shape(init, example_x), mesh)
  # Initialisation runs once: compiled with XLA's optimizations off (same values, less compile
  # time; see BENCHMARKS.md).
  with compile_options.fast_compile():
    return jax.jit(init, out_shardings=shardings)(example_x)


def start_from(state: TrainState, params) -> TrainState:
  """`state` with params and ema_params both set to (copies of) `params`, placed as
  ``state.params`` is (split over the 'fsdp' axis or replicated)."""
  shardings = jax.tree.map(lambda x: x.sharding, state.params)
  params = jax.jit(lambda p: p, out_shardings=shardings)(params)
  return state.replace(params=params, ema_params=jax.tree.map(jnp.copy, params))


class Trainer:
  """What training adds to a `run_lib.Run`: the optimizer ``tx`` and its ``schedule`` (made once,
  `optim.make_optimizer`), the jit-compiled data-parallel (and FSDP) ``train_step`` (state
  donated), the state's ``shardings`` on the run's mesh (`sharding.tree_shardings`) and the
  initial or abstract (restore target) `TrainState` with them: a checkpoint written on any mesh
  restores onto this one (Orbax reads each device's slice of every array)."""

  def __init__(self, run: run_lib.Run):
    self.run = run
    config = run.config
    self.tx, self.schedule = optim.make_optimizer(config.optim, config.train.steps)
    x = run.example_x()
    self._abstract = jax.eval_shape(
        initializer(run.model, self.tx, config.seed, len(config.optim.posthoc_ema)),
        jax.ShapeDtypeStruct(x.shape, x.dtype))
    self.shardings = sharding.tree_shardings(self._abstract, run.mesh)
    rep, bat = parallel.replicated(run.mesh), parallel.batch_sharding(run.mesh)
    self.train_step = jax.jit(
        make_train_step(run.model, self.tx, config.optim.ema_rate, self.schedule,
                        config.optim.ema_warmup, tuple(config.optim.posthoc_ema),
                        self.shardings.params),
        in_shardings=(self.shardings, bat), out_shardings=(self.shardings, rep),
        donate_argnums=0)

  def init(self) -> TrainState:
    return init_state(self.run.model, self.tx, self.run.config.seed, self.run.example_x(),
                      self.run.mesh, len(self.run.config.optim.posthoc_ema), self.shardings)

  def abstract_state(self) -> TrainState:
    return ckpt_lib.abstract(self._abstract, self.shardings)

  def show(self, state: TrainState) -> run_lib.Run:
    """The run with its ``params`` (`run_lib.eval_leaf`, replicated: `parallel.replicate`),
    ``step`` and ``rng`` set from `state` (what evaluation and sample files read)."""
    run = self.run
    run.params = parallel.replicate(getattr(state, run_lib.eval_leaf(run.config)), run.mesh)
    run.step, run.rng = int(state.step), state.rng
    return run
