"""A run's post-hoc variational dequantizer (Flow++'s q(u | k), trained with the model frozen by
``python -m launch.train_deq``): where it is kept, how it is read back, and its bound.

Files: ``<run>/dequantizer/checkpoints/<step>`` through the checkpoint layer, each holding q's
training state ``{'step', 'params', 'opt_state'}`` and, as its stored config, the
`jaxgen.tools.train_deq.Settings` that trained it (q's size: ``couplings``, ``hidden``).

The bound of one draw u ~ q (`jaxgen.metrics.dequantization`), nats per example,

    log p(x(k + u)) - log q(u | k),   x(k + u) the run's data scaling of level k,

with the run's own log-density (`log_density`: the model's ``log_prob``; for an ODE likelihood,
the ``likelihood`` section, or a fixed-step solve while q trains). `variational_log_prob` makes
``launch.evaluate``'s ``bpd_vdeq`` (`jaxgen.runtime.evaluators.variational_dequantization`) read
the trained q of a run whose family has no dequantizer of its own.
"""

from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.metrics import dequantization
from jaxgen.nets import dequantizer
from jaxgen.runtime import parallel
from jaxgen.runtime.evaluators import likelihood as likelihood_eval
from jaxgen.store import checkpoint as ckpt_lib
from jaxgen.store import paths

FOLDER = 'dequantizer'


def folder(workdir: str) -> str:
  return paths.join(workdir, FOLDER)


def module(couplings: int, hidden: int, num_levels: int) -> dequantizer.Dequantizer:
  """q with ``couplings`` couplings of ``hidden`` channels for data of ``num_levels`` levels."""
  return dequantizer.build(ml_collections.ConfigDict(dict(steps=couplings, hidden=hidden)),
                           num_levels)


def log_density(run, solve: Optional[dict] = None) -> Callable:
  """``(model params, x, rng) -> [b]`` nats: the run's log-density; `solve` (``{'solver',
  'steps', 'probes'}``) replaces an ODE likelihood's ``likelihood`` section."""
  model = run.model
  if model.velocity is None:   # a closed-form density (coupling flows, NICE)
    return lambda p, x, r: model.log_prob(p, {'x': x}, r)
  return lambda p, x, r: model.log_prob(p, {'x': x}, r, likelihood=solve)


def bound(q: dequantizer.Dequantizer, params: dict, x, rng, density: Callable, spec):
  """[b] the bound of one draw (module doc); ``params = {'model': ..., 'q': ...}``; `spec` the
  data spec whose scaling maps levels to x."""
  k_u, k_p = jax.random.split(rng)
  return dequantization.variational_log_prob(
      lambda y: density(params['model'], y, k_p),
      lambda levels, r: dequantizer.draw(q, params['q'], levels, r), x, k_u, spec)


def variational_log_prob(run, workdir: str, spec, dequantize: bool) -> Optional[Callable]:
  """``(model params, batch, rng) -> [b]``: the bound with the q trained for `run` (the newest
  good checkpoint under ``<workdir>/dequantizer``) on evaluation batches of `spec` (re-dequantized
  by ``eval.dequantize``: `dequantize`); None when no q was trained there."""
  where = folder(workdir)
  if not paths.isdir(paths.join(where, 'checkpoints')):
    return None
  checkpointer = ckpt_lib.Checkpointer(where)
  try:
    if checkpointer.latest_step() is None:
      return None
    settings = checkpointer.stored_config()
    q = module(int(settings['couplings']), int(settings['hidden']), run.data.spec.num_levels)
    x = jnp.zeros((1, *run.data.spec.shape), jnp.float32)
    shapes = jax.eval_shape(lambda: dequantizer.init(q, jax.random.PRNGKey(0), x))
    target = {'step': jax.ShapeDtypeStruct((), jnp.int32), 'params': shapes}
    q_params = checkpointer.restore(ckpt_lib.abstract(target, parallel.replicated(run.mesh)),
                                    partial=True)['params']
  finally:
    checkpointer.close()
  density = log_density(run)
  evaluated = likelihood_eval.evaluated_spec(spec, False, (), dequantize)
  return lambda p, b, r: bound(q, {'model': p, 'q': q_params}, b['x'], r, density, evaluated)
