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
evaluations (each one network forward pass carrying the divergence's tangents), and their
identity says the likelihood is the probability-flow ODE's estimate. The passes (`Passes`) and
the bits/dim summary (`bits_summary`) serve the variational bound too (`evaluators.elbo`).
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


def evaluated_spec(spec, discrete: bool, names, dequantize: bool, metric: str = 'bpd'):
  """The `DataSpec` of the data the likelihood is evaluated on (marked dequantized when
  ``eval.dequantize`` re-dequantizes it), or ConfigError (one line naming the fix) where the
  bits/dim ``metric`` (if in ``names``) is undefined or ``eval.dequantize`` cannot apply."""
  if dequantize:
    if discrete or spec.num_levels is None or spec.dequantized:
      why = ('the family\'s likelihood is discrete (exact on the integers)' if discrete else
             f'{spec.name} is continuous data' if spec.num_levels is None else
             'data.dequantize=True already dequantizes every draw')
      raise cfg_lib.ConfigError(f'config.eval.dequantize=True does not apply: {why}; set '
                                '--config.eval.dequantize=False')
    spec = dataclasses.replace(spec, dequantized=True)
  if metric in names:
    why = bpd_lib.problem(spec, discrete)
    if why is not None and spec.num_levels is None:
      raise cfg_lib.ConfigError(f"config.eval.metrics: '{metric}' needs integer data; {why} "
                                f"(remove '{metric}' from config.eval.metrics)")
    if why is not None:
      raise cfg_lib.ConfigError(
          f"config.eval.metrics: '{metric}' of a continuous density needs dequantized data; "
          f'{why}: set --config.data.dequantize=True (or --config.eval.dequantize=True to '
          'dequantize only the evaluation batches)')
  return spec


def bits_summary(metric: str, bpd: np.ndarray) -> tuple[dict, np.ndarray]:
  """``({'eval/<metric>', 'eval/<metric>_std', 'eval/<metric>_draw_std' (draws > 1)}, each
  example's bits/dim averaged over the draws)`` of per-example bits/dim ``[draws, examples]``
  (module docstring)."""
  per_example = np.mean(bpd, axis=0)
  out = {f'eval/{metric}': float(np.mean(bpd)), f'eval/{metric}_std': float(np.std(per_example))}
  if bpd.shape[0] > 1:
    out[f'eval/{metric}_draw_std'] = float(np.std(np.mean(bpd, axis=1)))
  return out, per_example


class Passes:
  """``fn(params, batch, rng) -> ([b], [b])`` over the ``draws`` passes of the evaluation split
  (module docstring: the keys, the dequantization), jit-compiled ahead of time once per batch
  shape; where ``evaluated`` (`evaluated_spec`) is not the data's ``spec`` each batch is
  re-dequantized first (`jaxgen.metrics.bpd.dequantize`, with the first half of the batch key).
  ``(params, rng) -> (first [draws, examples], second [draws, examples], seconds excluding
  compilation, compile seconds)``, padding removed, every pass in the split's order."""

  def __init__(self, fn, batches, mesh, spec, evaluated, draws, compiler_options=None):
    redequantize = evaluated is not spec
    rep, bat = parallel.replicated(mesh), parallel.batch_sharding(mesh)

    def per_batch(params, batch, rng):
      if redequantize:
        rng, key = jax.random.split(rng)
        batch = dict(batch, x=bpd_lib.dequantize(batch['x'], key, spec)[0])
      return fn(params, batch, rng)

    self._fn = jax.jit(per_batch, in_shardings=(rep, bat, rep), out_shardings=(bat, bat),
                       compiler_options=compiler_options)
    self._compiled = set()
    self._batches, self._draws = batches, draws

  def _compile(self, params, batch, rng) -> float:
    """Compiles for this batch's shapes once (ahead of time; the jit cache keeps it); seconds."""
    key = tuple((k, v.shape, str(v.dtype)) for k, v in sorted(batch.items()))
    if key in self._compiled:
      return 0.0
    start = time.perf_counter()
    self._fn.lower(params, batch, rng).compile()
    self._compiled.add(key)
    return time.perf_counter() - start

  def __call__(self, params, rng):
    firsts, seconds_ = [], []
    compile_s, start = 0.0, time.perf_counter()
    for draw in range(self._draws):
      a_d, b_d = [], []
      for i, batch in enumerate(self._batches(draw)):
        mask = parallel.to_host(batch.pop('mask'))
        r = jax.random.fold_in(jax.random.fold_in(rng, 1000 + draw), i)
        compile_s += self._compile(params, batch, r)
        a, b = parallel.to_host(self._fn(params, batch, r))
        a_d.append(a[mask])
        b_d.append(b[mask])
      firsts.append(np.concatenate(a_d))
      seconds_.append(np.concatenate(b_d))
    wall = time.perf_counter() - start - compile_s
    return np.stack(firsts), np.stack(seconds_), wall, compile_s


class Evaluator:

  def __init__(self, names, log_prob_fn, log_prob_stats_fn, log_prob_options, batches, mesh,
               spec, discrete, dequant_draws, dequantize_eval):
    """log_prob_fn: ``(params, batch, rng) -> [b]`` nats;
    log_prob_stats_fn: ``(params, batch, rng) -> ([b], {'nfe': [b]})`` or None (no ODE solve);
    log_prob_options: its ``compiler_options``; spec, discrete: as `jaxgen.metrics.bpd` takes;
    dequantize_eval: ``eval.dequantize`` (see the module docstring)."""
    self._spec = evaluated_spec(spec, discrete, names, dequantize_eval)

    def fn(params, batch, rng):
      if log_prob_stats_fn is not None:
        lp, stats = log_prob_stats_fn(params, batch, rng)
        return lp, stats['nfe']
      lp = log_prob_fn(params, batch, rng)
      return lp, jnp.zeros_like(lp)

    self._names = names
    self._passes = Passes(fn, batches, mesh, spec, self._spec, dequant_draws, log_prob_options)
    self._discrete = discrete
    self._draws = dequant_draws
    self._has_nfe = log_prob_stats_fn is not None
    self._examples: dict = {}

  def identity(self) -> dict:
    """How the likelihood's data are quantized (what makes bits/dim comparable) and, for an ODE
    likelihood, that it is the probability-flow ODE's estimate."""
    s = self._spec
    what = ('exact discrete likelihood' if self._discrete else
            'uniformly dequantized (bound)' if s.dequantized else 'continuous density')
    how = ', probability-flow ODE estimate' if self._has_nfe else ''
    return {'likelihood': f'{what}, {s.num_levels} levels, data range [{s.low:g}, {s.high:g}], '
                          f'{self._draws} draw(s){how}'}

  def examples(self) -> dict:
    """metric -> [examples] of the last `run` (each example averaged over the draws)."""
    return dict(self._examples)

  def run(self, params, rng) -> dict:
    lp, nfe, seconds, compile_s = self._passes(params, rng)  # [draws, examples]
    out = {}
    self._examples = {}
    if 'nll' in self._names:
      out['eval/nll'] = float(np.mean(-lp))
      self._examples['nll'] = np.mean(-lp, axis=0)
    if 'bpd' in self._names:
      bits, self._examples['bpd'] = bits_summary(
          'bpd', np.asarray(bpd_lib.bits_per_dim(lp, self._spec, self._discrete)))
      out.update(bits)
    out['eval/likelihood_seconds'] = float(seconds)
    out['eval/likelihood_compile_seconds'] = float(compile_s)
    if self._has_nfe:
      out['eval/likelihood_nfe'] = float(np.mean(nfe))
    return out
