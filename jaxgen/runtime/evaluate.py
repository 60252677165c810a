"""Evaluation of a trained state: the metrics named in ``config.eval.metrics``.

Metrics:
  loss               mean training loss over the evaluation split (full batches only), with
                     dropout off (``model.loss(..., train=False)``).
  nll                mean negative log-likelihood in nats per example (``model.log_prob``).
  bpd                mean bits/dim (`jaxgen.metrics.bpd`), averaged over ``eval.dequant_draws``
                     dequantization draws of every example.
  sliced_wasserstein SW_2 between ``eval.num_samples`` samples and as many evaluation examples.
Sample-based metrics also report the sampler's NFE as ``nfe``.

Family metrics: any other name ``m`` is looked up as ``model.extras['metric/' + m]``, a pure
``(params, rng, n, sampling) -> dict of scalars`` run (jit-compiled) on ``eval.num_samples`` draws
with ``config.sampling`` and reported as ``eval/<key>`` (e.g. rectified flow's ``straightness``).
"""

from __future__ import annotations

import jax
import numpy as np

from jaxgen.runtime import compile_options
from jaxgen.runtime import parallel
from jaxgen.metrics import bpd as bpd_lib
from jaxgen.metrics.sliced_wasserstein import sliced_wasserstein

METRICS = ('loss', 'nll', 'bpd', 'sliced_wasserstein')


def _cached(trainer, key, make):
  cache = trainer.__dict__.setdefault('_jit_cache', {})
  if key not in cache:
    cache[key] = make()
  return cache[key]


def draw_samples(trainer, params, rng, n: int, sampling):
  """``model.sample`` jit-compiled once per (n, sampling), sharded over the batch where it divides."""
  model, mesh = trainer.model, trainer.mesh
  key = ('sample', n, repr(sorted(sampling.to_dict().items())))
  out = parallel.batch_sharding(mesh) if n % mesh.devices.size == 0 else parallel.replicated(mesh)

  def make():
    return jax.jit(lambda p, r: model.sample(p, r, n, sampling),
                   out_shardings=(out, parallel.replicated(mesh)),
                   compiler_options=compile_options.for_sampling(sampling))

  x, info = _cached(trainer, key, make)(params, rng)
  return parallel.to_host(x), dict(parallel.to_host(info))  # all of x on every process


def _batches(trainer, draw=0):
  ec = trainer.config.eval
  bs = ec.batch_size - ec.batch_size % trainer.mesh.devices.size or trainer.mesh.devices.size
  for b in trainer.data.eval_batches(bs, ec.num_batches, draw):
    yield parallel.shard_batch(b, trainer.mesh)


def evaluate(trainer, params, rng) -> dict:
  """Computes every metric of ``config.eval.metrics`` (a dict of floats)."""
  config, model, mesh = trainer.config, trainer.model, trainer.mesh
  rep, bat = parallel.replicated(mesh), parallel.batch_sharding(mesh)
  results = {}
  family = [m for m in config.eval.metrics if m not in METRICS]
  unknown = [m for m in family if 'metric/' + m not in model.extras]
  if unknown:
    own = [k.split('/', 1)[1] for k in model.extras if k.startswith('metric/')]
    raise ValueError(f'config.eval.metrics: unknown {unknown}; available: '
                     f'{", ".join(METRICS + tuple(own))}')
  if 'loss' in config.eval.metrics:
    loss_fn = _cached(trainer, 'loss', lambda: jax.jit(
        lambda p, b, r: model.loss(p, b, r, train=False)[0], in_shardings=(rep, bat, rep)))
    losses = []
    for i, batch in enumerate(_batches(trainer)):
      mask = parallel.to_host(batch.pop('mask'))  # the global batch's, on every process
      if mask.all() or i == 0:
        losses.append(float(loss_fn(params, batch, jax.random.fold_in(rng, i))))
    results['eval/loss'] = float(np.mean(losses))
  if {'nll', 'bpd'} & set(config.eval.metrics):
    if model.log_prob is None:
      raise ValueError(f'{config.model.family} has no log_prob: remove nll/bpd from eval.metrics')
    # ODE likelihoods (families with a velocity) compile with the ODE-solve options.
    opts = compile_options.ode_solve() if model.velocity is not None else None
    logp_fn = _cached(trainer, 'log_prob', lambda: jax.jit(
        model.log_prob, in_shardings=(rep, bat, rep), out_shardings=bat, compiler_options=opts))
    nll, bpd = [], []
    for draw in range(config.eval.dequant_draws):
      for i, batch in enumerate(_batches(trainer, draw)):
        mask = parallel.to_host(batch.pop('mask'))
        r = jax.random.fold_in(jax.random.fold_in(rng, 1000 + draw), i)
        lp = parallel.to_host(logp_fn(params, batch, r))[mask]
        nll.append(-lp)
        bpd.append(bpd_lib.bits_per_dim(lp, trainer.data.spec, model.discrete))
    if 'nll' in config.eval.metrics:
      results['eval/nll'] = float(np.mean(np.concatenate(nll)))
    if 'bpd' in config.eval.metrics:
      results['eval/bpd'] = float(np.mean(np.concatenate(bpd)))
  if 'sliced_wasserstein' in config.eval.metrics:
    n = config.eval.num_samples
    x, info = draw_samples(trainer, params, jax.random.fold_in(rng, 2), n, config.sampling)
    ref = trainer.data.eval_array(n)
    m = min(len(x), len(ref))
    results['eval/sliced_wasserstein'] = float(
        sliced_wasserstein(jax.random.fold_in(rng, 3), x[:m], ref[:m]))
    results['eval/nfe'] = float(info['nfe'])
  for i, m in enumerate(family):
    n, fn = config.eval.num_samples, model.extras['metric/' + m]
    run = _cached(trainer, 'metric/' + m, lambda fn=fn, n=n: jax.jit(
        lambda p, r: fn(p, r, n, config.sampling),
        compiler_options=compile_options.for_sampling(config.sampling)))
    out = parallel.to_host(run(params, jax.random.fold_in(rng, 100 + i)))
    results.update({f'eval/{k}': float(v) for k, v in out.items()})
  return results
