"""A family's own metric ``m``: ``model.extras['metric/' + m]``, a pure ``(params, rng, n,
sampling) -> dict of scalars`` run jit-compiled on ``eval.num_samples`` draws with
``config.sampling`` and the key ``fold_in(rng, 100 + index)`` (index among the family metrics of
``eval.metrics``); reported as ``eval/<key>`` (e.g. rectified flow's ``straightness``)."""

from __future__ import annotations

import jax

from jaxgen.runtime import parallel


class Evaluator:

  def __init__(self, metric_fn, index, num_samples, sampling, sampling_options):
    self._index = index
    self._fn = jax.jit(lambda p, r: metric_fn(p, r, num_samples, sampling),
                       compiler_options=sampling_options)

  def run(self, params, rng) -> dict:
    out = parallel.to_host(self._fn(params, jax.random.fold_in(rng, 100 + self._index)))
    return {f'eval/{k}': float(v) for k, v in out.items()}
