"""``bpd_vdeq``: bits/dim of the variational dequantization bound (Flow++, Ho et al. 2019;
`jaxgen.metrics.dequantization`), reported beside the uniform bound ``bpd``, never instead of it.

Opt-in (the families that name it in their ``METRICS``): ``(params, batch, rng) -> [b]`` nats,
``log p(x(k + u)) - log q(u | k)`` for one draw u ~ q of a trained dequantizer: coupling flows
with ``model.dequantizer.kind='variational'`` (q trained jointly, their
``extras['variational_log_prob']``), or, for a score-SDE, rectified-flow or cnf run opened from
its workdir, the q that ``python -m launch.train_deq`` trained after the model
(`jaxgen.runtime.trained_dequantizer`); a run without either is refused. The passes, keys and
units are ``bpd``'s
(`jaxgen.runtime.evaluators.likelihood`): ``eval.dequant_draws`` passes of the evaluation split,
each example's integer levels re-dequantized by q (the data's own u is discarded), bits/dim by
`jaxgen.metrics.bpd`. Reported: ``bpd_vdeq``, ``bpd_vdeq_std``, ``bpd_vdeq_draw_std`` (draws > 1),
``vdeq_seconds`` and ``vdeq_compile_seconds``. An upper bound on the discrete bits/dim, tighter
than ``bpd`` by the mean KL(q || p(u | k)) gap it closes; one draw of u per example and pass.
"""

from __future__ import annotations

import numpy as np

from jaxgen.metrics import bpd as bpd_lib
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import evaluators
from jaxgen.runtime.evaluators import likelihood

NAME = 'bpd_vdeq'
BOUND = ('variational dequantization bound (Flow++): E_q[log p(x(k + u)) - log q(u | k)], '
         'q a conditional flow trained on the training split')

DECLARATION = evaluators.Declaration(
    names=(NAME,), opt_in=True,
    build=lambda names, i: Evaluator(
        i.variational_log_prob_fn, i.batches, i.mesh, i.spec, int(i.eval_config.dequant_draws),
        bool(i.eval_config.dequantize), i.log_prob_options))


class Evaluator:

  def __init__(self, variational_fn, batches, mesh, spec, dequant_draws, dequantize_eval,
               compiler_options=None):
    """variational_fn: ``(params, batch, rng) -> [b]`` nats (module doc); the rest as the
    likelihood evaluator's (integer data, dequantized: ``bpd``'s rules)."""
    if variational_fn is None:
      raise cfg_lib.ConfigError(f"config.eval.metrics: '{NAME}' needs a trained variational "
                                'dequantizer, which this run lacks: train one with python -m '
                                f"launch.train_deq --workdir RUN, or leave '{NAME}' out")
    self._spec = likelihood.evaluated_spec(spec, False, (NAME,), dequantize_eval, NAME)

    def fn(params, batch, rng):
      lp = variational_fn(params, batch, rng)
      return lp, lp

    self._passes = likelihood.Passes(fn, batches, mesh, spec, self._spec, dequant_draws,
                                     compiler_options)
    self._draws = dequant_draws
    self._examples: dict = {}

  def identity(self) -> dict:
    """Which bound the row is, and the data's quantization."""
    s = self._spec
    return {NAME: f'{BOUND}; {s.num_levels} levels, data range [{s.low:g}, {s.high:g}], '
                  f'{self._draws} draw(s)'}

  def examples(self) -> dict:
    """``{'bpd_vdeq': [examples]}`` of the last `run` (each example averaged over the draws)."""
    return dict(self._examples)

  def run(self, params, rng) -> dict:
    lp, _, seconds, compile_s = self._passes(params, rng)
    out, self._examples[NAME] = likelihood.bits_summary(
        NAME, np.asarray(bpd_lib.bits_per_dim(lp, self._spec, False)))
    return {**out, 'eval/vdeq_seconds': float(seconds),
            'eval/vdeq_compile_seconds': float(compile_s)}
