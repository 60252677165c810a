"""``nll`` (mean negative log-likelihood, nats per example) and ``bpd`` (mean bits/dim,
`jaxgen.metrics.bpd`), over ``eval.dequant_draws`` passes of the evaluation split (each pass
dequantizes the data afresh; batch i of pass d uses ``fold_in(fold_in(rng, 1000 + d), i)``)."""

from __future__ import annotations

import jax
import numpy as np

from jaxgen.metrics import bpd as bpd_lib
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import parallel

NAMES = ('nll', 'bpd')


class Evaluator:

  def __init__(self, names, log_prob_fn, log_prob_options, batches, mesh, spec, discrete,
               dequant_draws):
    """log_prob_fn: ``(params, batch, rng) -> [b]`` nats, or None (the family has none);
    log_prob_options: its ``compiler_options``; spec, discrete: as `jaxgen.metrics.bpd` takes."""
    if log_prob_fn is None:
      raise cfg_lib.ConfigError(f'this family has no log_prob: remove {"/".join(names)} from '
                       'config.eval.metrics')
    rep, bat = parallel.replicated(mesh), parallel.batch_sharding(mesh)
    self._names = names
    self._log_prob = jax.jit(log_prob_fn, in_shardings=(rep, bat, rep), out_shardings=bat,
                             compiler_options=log_prob_options)
    self._batches, self._spec, self._discrete = batches, spec, discrete
    self._draws = dequant_draws

  def run(self, params, rng) -> dict:
    lps = []
    for draw in range(self._draws):
      for i, batch in enumerate(self._batches(draw)):
        mask = parallel.to_host(batch.pop('mask'))
        r = jax.random.fold_in(jax.random.fold_in(rng, 1000 + draw), i)
        lps.append(parallel.to_host(self._log_prob(params, batch, r))[mask])
    lp = np.concatenate(lps)
    out = {}
    if 'nll' in self._names:
      out['eval/nll'] = float(np.mean(-lp))
    if 'bpd' in self._names:
      out['eval/bpd'] = float(np.mean(bpd_lib.bits_per_dim(lp, self._spec, self._discrete)))
    return out
