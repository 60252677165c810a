"""``fd``, ``is``, ``kid``, ``precision``, ``recall``, ``class_accuracy``: sample quality in the
feature space of the pinned evaluation classifier of the run's evaluation data
(`jaxgen.runtime.evaluators.classifier_asset`: ``digits``, ``fashion_mnist``; a reflow run on
``pairs:`` evaluates on its chain's root data, whose classifier it uses; other data is one ConfigError naming config.eval.metrics).

* Samples: ``eval.num_samples`` from the run's sampler with key ``fold_in(rng, 2)`` (the same
  draw as ``sliced_wasserstein``'s), mapped from the run's data range ``[spec.low, spec.high]``
  to the [-1, 1] the classifier was trained on (so 'unit' and 'levels' runs are measured alike)
  and clipped to it.
* Reference: the **whole evaluation split** (``eval.reference='train'``: up to 10,000 training
  examples instead), in the run's data transforms, mapped the same way; its features are
  computed once.
* ``eval/fd``: the Frechet distance between Gaussians fitted to the penultimate features
  (`jaxgen.metrics.frechet`, 'eigh'); like FID it is biased upwards for few samples.
* ``eval/is``: ``exp(E KL(p(y|x) || p(y)))`` of the classifier's softmax
  (`jaxgen.metrics.inception_score`) over ``max(1, min(10, n // 500))`` splits (each of at least
  500 samples where possible): at most the number of classes (10), 1 for a constant image. The
  spread over splits, ``eval/is_std``, only with the papers' 10 splits (n >= 5000): the sd of two
  or three splits states nothing (a table's interval over keys and seeds does).
* ``eval/kid`` (and ``eval/kid_std``): the unbiased cubic-kernel MMD^2 (`jaxgen.metrics.kid`) over
  100 subsets of ``min(1000, n, reference)`` samples, subset seed 0.
* ``eval/precision``, ``eval/recall``: improved precision and recall (`jaxgen.metrics.
  precision_recall`, k = 3 nearest neighbours) of the samples' features against the reference's:
  the fraction of samples inside the reference's k-NN manifold, and of reference examples inside
  the samples'.
* ``eval/class_accuracy``: the fraction of samples that the classifier puts in the class they
  were drawn for (``info['label']`` of a class-conditional sampler, e.g. ``model.num_classes``
  runs); a sampler without labels is a ConfigError naming config.eval.metrics.
With them comes ``eval/nfe``, the sampler's function evaluations per sample. `measured` says
what each value compares: its sample count and reference (``fd@1000 vs digits eval-297``).
The data must have the asset's number of levels (binarized images are refused: the classifier
never saw them).
"""

from __future__ import annotations

import jax
import numpy as np

from jaxgen.metrics import frechet
from jaxgen.metrics import inception_score as is_lib
from jaxgen.metrics import kid as kid_lib
from jaxgen.metrics import precision_recall as pr_lib
from jaxgen.runtime.evaluators import classifier_asset
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import evaluators

DECLARATION = evaluators.Declaration(
    names=('fd', 'is', 'kid', 'precision', 'recall', 'class_accuracy'), samples=True,
    build=lambda names, i: Evaluator(names, i.sample_fn, i.reference, i.spec,
                                     int(i.eval_config.num_samples), i.eval_data_name,
                                     i.reference_split))
KID_SUBSETS = 100
PR_NEIGHBOURS = 3

def is_splits(n: int) -> int:
  return max(1, min(10, n // 500))


def to_asset_range(x, low: float, high: float) -> np.ndarray:
  """Values of ``[low, high]`` mapped affinely to the classifier's [-1, 1] (and clipped)."""
  x = np.asarray(x, np.float32)
  return np.clip(2.0 * (x - low) / (high - low) - 1.0, -1.0, 1.0)


class Evaluator:

  def __init__(self, names, sample_fn, reference, spec, num_samples, eval_data_name,
               split: str = 'eval'):
    """sample_fn: ``(params, rng, n) -> (x, info)`` on the host; reference: ``n -> [n, ...]``
    reference examples (0: all); spec: the run's `DataSpec`; eval_data_name: the name of the
    data its evaluation split comes from; split: which split `reference` holds ('eval' or
    'train')."""
    wanted = '/'.join(names)
    if eval_data_name not in classifier_asset.names():
      raise cfg_lib.ConfigError(
          f'config.eval.metrics: {wanted} need a pinned evaluation classifier, which exists for '
          f'data {", ".join(classifier_asset.names())}, not {eval_data_name!r}: remove them '
          'from config.eval.metrics')
    self._asset = classifier_asset.load(eval_data_name)
    entry = self._asset.entry
    if spec.num_levels != entry['data']['num_levels'] or tuple(spec.shape) != tuple(
        entry['data']['shape']):
      raise cfg_lib.ConfigError(
          f'config.eval.metrics: {wanted}: the pinned {spec.name} classifier saw '
          f'{entry["data"]["num_levels"]}-level images of shape {tuple(entry["data"]["shape"])}, '
          f'this run\'s data has {spec.num_levels} levels, shape {tuple(spec.shape)} (binarized?): '
          'remove them from config.eval.metrics or set config.data.binarize=\'none\'')
    least = PR_NEIGHBOURS + 1 if {'precision', 'recall'} & set(names) else 2
    if num_samples < least:
      raise cfg_lib.ConfigError(f'config.eval.num_samples={num_samples}: {wanted} need at least '
                                f'{least} samples (e.g. 1000)')
    self._names, self._n, self._sample = tuple(names), int(num_samples), sample_fn
    self._low, self._high = float(spec.low), float(spec.high)
    ref = to_asset_range(reference(0), self._low, self._high)
    self._ref_feats, _ = self._asset.embed_all(ref)
    self._reference_name = f'{eval_data_name} {split}-{len(ref)}'
    self._ref_stats = frechet.stats_from_features(self._ref_feats)

  def scores(self, x, labels=None) -> dict:
    """The metrics of samples `x` (the run's data range) with their asked classes `labels`."""
    feats, logits = self._asset.embed_all(to_asset_range(x, self._low, self._high))
    out = {}
    if 'fd' in self._names:
      mu, sigma = frechet.stats_from_features(feats)
      out['eval/fd'] = frechet.frechet_distance(mu, sigma, *self._ref_stats)
    if 'is' in self._names:
      splits = is_splits(len(x))
      mean, std = is_lib.inception_score(logits=logits, num_splits=splits)
      out['eval/is'] = mean
      if splits == 10:
        out['eval/is_std'] = std
    if 'kid' in self._names:
      m = min(1000, len(feats), len(self._ref_feats))
      mean, std = kid_lib.kernel_inception_distance(self._ref_feats, feats, m, KID_SUBSETS)
      out['eval/kid'], out['eval/kid_std'] = mean, std
    if {'precision', 'recall'} & set(self._names):
      precision, recall = pr_lib.precision_recall(self._ref_feats, feats, PR_NEIGHBOURS)
      out.update({f'eval/{k}': v for k, v in (('precision', precision), ('recall', recall))
                  if k in self._names})
    if 'class_accuracy' in self._names:
      if labels is None:
        raise cfg_lib.ConfigError(
            "config.eval.metrics: class_accuracy needs class-conditional samples (the sampler's "
            "info['label']); this run's are unconditional: remove class_accuracy or train with "
            'model.num_classes')
      labels = np.asarray(labels).reshape(-1)[:len(x)]
      out['eval/class_accuracy'] = float(np.mean(np.argmax(logits, -1) == labels))
    return out

  def identity(self) -> dict:
    """What these numbers are measured with: the asset's file and SHA-256."""
    entry = self._asset.entry
    return {'features': f'{entry["file"]} (sha256 {entry["sha256"]})'}

  def measured(self) -> dict:
    """metric -> ``{'samples': n, 'reference': '<data> eval-<n>'}`` (class_accuracy has none)."""
    return {m: {'samples': self._n, 'reference': self._reference_name}
            for m in self._names if m != 'class_accuracy'}

  def run(self, params, rng) -> dict:
    x, info = self._sample(params, jax.random.fold_in(rng, 2), self._n)
    return {**self.scores(x, info.get('label')), 'eval/nfe': float(info['nfe'])}
