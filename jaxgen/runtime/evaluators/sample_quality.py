"""``sliced_wasserstein``: SW_2 between ``eval.num_samples`` samples (key ``fold_in(rng, 2)``)
and as many evaluation examples (projections from ``fold_in(rng, 3)``), in the data space of
``batch['x']``; also reports the sampler's ``nfe``. `measured`: its sample count and reference."""

from __future__ import annotations

import jax

from jaxgen.metrics.sliced_wasserstein import sliced_wasserstein
from jaxgen.runtime import evaluators

DECLARATION = evaluators.Declaration(
    names=('sliced_wasserstein',), samples=True,
    build=lambda names, i: Evaluator(i.sample_fn, i.reference, int(i.eval_config.num_samples),
                                     i.eval_data_name, i.reference_split))


class Evaluator:

  def __init__(self, sample_fn, reference, num_samples, eval_data_name='', split='eval'):
    """sample_fn: ``(params, rng, n) -> (x, info)`` on the host; reference: ``n -> [n, ...]``
    reference examples; eval_data_name: the data they come from; split: which split ('eval',
    'train')."""
    self._sample, self._n = sample_fn, num_samples
    self._reference = reference(num_samples)
    self._data, self._split = eval_data_name, split

  def measured(self) -> dict:
    """``{'sliced_wasserstein': {'samples': n, 'reference': '<data> <split>-<m>'}}``: both sides
    are cut to the smaller count m."""
    m = min(self._n, len(self._reference))
    return {'sliced_wasserstein': {'samples': m, 'reference': f'{self._data} {self._split}-{m}'}}

  def run(self, params, rng) -> dict:
    x, info = self._sample(params, jax.random.fold_in(rng, 2), self._n)
    ref = self._reference
    m = min(len(x), len(ref))
    sw = sliced_wasserstein(jax.random.fold_in(rng, 3), x[:m], ref[:m])
    return {'eval/sliced_wasserstein': float(sw), 'eval/nfe': float(info['nfe'])}
