"""Likelihood metrics, over ``eval.dequant_draws`` passes of the evaluation split (each pass
dequantizes the data afresh; batch i of pass d uses ``fold_in(fold_in(rng, 1000 + d), i)``):

* ``nll``: mean negative log-likelihood, nats per example (a density for continuous families, a
  probability mass for discrete ones), over examples and draws.
* ``bpd``: mean bits/dim (`jaxgen.metrics.bpd`, the one definition: exact for discrete families,
  the dequantization bound for continuous ones), over examples and draws. Continuous families need
  dequantized integer data: ``data.dequantize=True`` (each draw is the data pipeline's fresh
  uniform noise), or ``eval.dequantize=True`` (the training data stay on the grid k / (K - 1);
  this evaluator re-dequantizes each evaluation batch, ``bpd.dequantize``, as score_sde's
  reference does). Non-dequantized or continuous (toy2d) data are refused when the evaluator is
  built, before a run writes anything. With ``bpd`` come ``bpd_std``: the standard deviation over
  evaluation examples of each example's bpd averaged over the draws, and ``bpd_draw_std``
  (draws > 1): the standard deviation over draws of the split's mean bpd (the dequantization
  noise of ``bpd``). `examples` returns the last run's per-example values (each example's mean
over the draws, in the split's order): what pairs two rows image by image.

Either metric also reports ``likelihood_seconds``: the wall time of all passes (host batches and
device solves, synchronised), *excluding compilation*, which is done ahead of time once per
evaluator and reported as ``likelihood_compile_seconds``. Families with an ODE likelihood (their
``extras['log_prob_stats']``, `jaxgen.ode.likelihood.per_example_stats`) add
``likelihood_nfe``: the mean over examples and draws of the solve's augmented function
evaluations (each one network forward pass carrying the divergence's tangents).
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.metrics import bpd as bpd_lib
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import evaluators
from jaxgen.runtime import parallel

DECLARATION = evaluators.Declaration(
    names=('nll', 'bpd'), likelihood=True,
    build=lambda names, i: Evaluator(
        names, i.log_prob_fn, i.log_prob_stats_fn, i.log_prob_options, i.batches, i.mesh, i.spec,
        i.discrete, int(i.eval_config.dequant_draws), bool(i.eval_config.dequantize)))


def evaluated_spec(spec, discrete: bool, names, dequantize: bool):
  """The `DataSpec` of the data the likelihood is evaluated on (marked dequantized when
  ``eval.dequantize`` re-dequantizes it), or ConfigError (one line naming the fix) where ``bpd``
  is undefined or ``eval.dequantize`` cannot apply."""
  if dequantize:
    if discrete or spec.num_levels is None or spec.dequantized:
      why = ('the family\'s likelihood is discrete (exact on the integers)' if discrete else
             f'{spec.name} is continuous data' if spec.num_levels is None else
             'data.dequantize=True already dequantizes every draw')
      raise cfg_lib.ConfigError(f'config.eval.dequantize=True does not apply: {why}; set '
                                '--config.eval.dequantize=False')
    spec = dataclasses.replace(spec, dequantized=True)
  if 'bpd' in names:
    why = bpd_lib.problem(spec, discrete)
    if why is not None and spec.num_levels is None:
      raise cfg_lib.ConfigError(f"config.eval.metrics: 'bpd' needs integer data; {why} "
                                "(remove 'bpd' from config.eval.metrics)")
    if why is not None:
      raise cfg_lib.ConfigError(
          f"config.eval.metrics: 'bpd' of a continuous density needs dequantized data; {why}: "
          'set --config.data.dequantize=True (or --config.eval.dequantize=True to dequantize '
          'only the evaluation batches)')
  return spec


class Evaluator:

  def __init__(self, names, log_prob_fn, log_prob_stats_fn, log_prob_options, batches, mesh,
               spec, discrete, dequant_draws, dequantize_eval):
    """log_prob_fn: ``(params, batch, rng) -> [b]`` nats;
    log_prob_stats_fn: ``(params, batch, rng) -> ([b], {'nfe': [b]})`` or None (no ODE solve);
    log_prob_options: its ``compiler_options``; spec, discrete: as `jaxgen.metrics.bpd` takes;
    dequantize_eval: ``eval.dequantize`` (see the module docstring)."""
    self._spec = evaluated_spec(spec, discrete, names, dequantize_eval)
    redequantize = self._spec is not spec
    rep, bat = parallel.replicated(mesh), parallel.batch_sharding(mesh)

    def fn(params, batch, rng):
      if redequantize:
        rng, key = jax.random.split(rng)
        batch = dict(batch, x=bpd_lib.dequantize(batch['x'], key, spec)[0])
      if log_prob_stats_fn is not None:
        lp, stats = log_prob_stats_fn(params, batch, rng)
        return lp, stats['nfe']
      lp = log_prob_fn(params, batch, rng)
      return lp, jnp.zeros_like(lp)

    self._names = names
    self._log_prob = jax.jit(fn, in_shardings=(rep, bat, rep), out_shardings=(bat, bat),
                             compiler_options=log_prob_options)
    self._compiled = set()
    self._batches, self._discrete = batches, discrete
    self._draws = dequant_draws
    self._has_nfe = log_prob_stats_fn is not None
    self._examples: dict = {}

  def identity(self) -> dict:
    """How the likelihood's data are quantized (what makes bits/dim comparable)."""
    s = self._spec
    what = ('exact discrete likelihood' if self._discrete else
            'uniformly dequantized (bound)' if s.dequantized else 'continuous density')
    return {'likelihood': f'{what}, {s.num_levels} levels, data range [{s.low:g}, {s.high:g}], '
                          f'{self._draws} draw(s)'}

  def examples(self) -> dict:
    """metric -> [examples] of the last `run` (each example averaged over the draws)."""
    return dict(self._examples)

  def _compile(self, params, batch, rng) -> float:
    """Compiles for this batch's shapes once (ahead of time; the jit cache keeps it); seconds."""
    key = tuple((k, v.shape, str(v.dtype)) for k, v in sorted(batch.items()))
    if key in self._compiled:
      return 0.0
    start = time.perf_counter()
    self._log_prob.lower(params, batch, rng).compile()
    self._compiled.add(key)
    return time.perf_counter() - start

  def run(self, params, rng) -> dict:
    lps, nfes = [], []
    compile_s, start = 0.0, time.perf_counter()
    for draw in range(self._draws):
      lp_d, nfe_d = [], []
      for i, batch in enumerate(self._batches(draw)):
        mask = parallel.to_host(batch.pop('mask'))
        r = jax.random.fold_in(jax.random.fold_in(rng, 1000 + draw), i)
        compile_s += self._compile(params, batch, r)
        lp, nfe = parallel.to_host(self._log_prob(params, batch, r))
        lp_d.append(lp[mask])
        nfe_d.append(nfe[mask])
      lps.append(np.concatenate(lp_d))
      nfes.append(np.concatenate(nfe_d))
    seconds = time.perf_counter() - start - compile_s
    lp = np.stack(lps)    # [draws, examples]: every pass walks the same examples in order
    out = {}
    self._examples = {}
    if 'nll' in self._names:
      out['eval/nll'] = float(np.mean(-lp))
      self._examples['nll'] = np.mean(-lp, axis=0)
    if 'bpd' in self._names:
      bpd = np.asarray(bpd_lib.bits_per_dim(lp, self._spec, self._discrete))
      self._examples['bpd'] = np.mean(bpd, axis=0)
      out['eval/bpd'] = float(np.mean(bpd))
      out['eval/bpd_std'] = float(np.std(np.mean(bpd, axis=0)))
      if self._draws > 1:
        out['eval/bpd_draw_std'] = float(np.std(np.mean(bpd, axis=1)))
    out['eval/likelihood_seconds'] = float(seconds)
    out['eval/likelihood_compile_seconds'] = float(compile_s)
    if self._has_nfe:
      out['eval/likelihood_nfe'] = float(np.mean(np.stack(nfes)))
    return out
