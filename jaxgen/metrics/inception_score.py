"""Inception Score (Salimans et al. 2016): IS = exp(E_x KL(p(y|x) || p(y))).

The samples are cut into ``num_splits`` contiguous parts (default 10, of 5k each for 50k
samples), rows ``[i N // s, (i + 1) N // s)`` as in the reference code (openai/improved-gan,
torch-fidelity); in each part p(y) is the part's mean prediction and the part scores
``exp(mean_x sum_y p(y|x) (log p(y|x) - log p(y)))``; the result is the mean and the standard
deviation (numpy's default ddof=0, as the reference) of the part scores.

The per-part sums are all that is needed, since
``mean_x KL = mean_x sum_y p log p - sum_y p(y) log p(y)``: `ISStats` accumulates per part the
count, sum_x p(y|x) [K] and sum_x sum_y p log p, streaming over chunks in O(splits * K) memory
(the total number of samples is fixed up front so the rows fall in the same parts as in the
one-shot computation). Host numpy, float64; ``p log p`` is 0 at p = 0.

Inputs are classifier logits (softmax taken here, in float64) or probabilities. For the TF
Inception graph the reference IS takes the 1008 logits of pool3 times the softmax weights
*without* the bias (`jaxgen.nets.inception` returns them as 'logits_unbiased').
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def log_probs(logits=None, probs=None) -> np.ndarray:
  """log p(y|x) [n, K] in float64 from exactly one of logits or probabilities."""
  if (logits is None) == (probs is None):
    raise ValueError('pass exactly one of logits= or probs=')
  if logits is not None:
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
  p = np.asarray(probs, np.float64)
  with np.errstate(divide='ignore'):
    return np.log(p)


def _xlogy_rows(logp):
  """sum_y p log p per row, with 0 log 0 = 0."""
  p = np.exp(logp)
  with np.errstate(invalid='ignore'):
    return np.sum(np.where(p > 0, p * logp, 0.0), axis=-1)


class ISStats(NamedTuple):
  """Per-split sums for the Inception Score over `total` samples (see the module docstring)."""
  total: int
  seen: int
  count: np.ndarray        # [s]
  sum_p: np.ndarray        # [s, K]
  sum_plogp: np.ndarray    # [s]

  @property
  def bounds(self) -> np.ndarray:
    s = self.count.shape[0]
    return np.array([i * self.total // s for i in range(s + 1)])

  def update(self, logits=None, probs=None) -> 'ISStats':
    """Add the next rows (in sample order) given as logits or probabilities [n, K]."""
    logp = log_probs(logits, probs)
    n, k = logp.shape
    if k != self.sum_p.shape[1]:
      raise ValueError(f'expected {self.sum_p.shape[1]} classes, got {k}')
    if self.seen + n > self.total:
      raise ValueError(f'ISStats was set up for {self.total} samples; {self.seen + n} given')
    part = np.searchsorted(self.bounds, self.seen + np.arange(n), side='right') - 1
    s = self.count.shape[0]
    count = self.count + np.bincount(part, minlength=s)
    sum_plogp = self.sum_plogp + np.bincount(part, weights=_xlogy_rows(logp), minlength=s)
    sum_p = self.sum_p.copy()
    p = np.exp(logp)
    for j in np.unique(part):  # rows of one part are contiguous
      sum_p[j] += p[part == j].sum(axis=0)
    return ISStats(self.total, self.seen + n, count, sum_p, sum_plogp)

  def split_scores(self) -> np.ndarray:
    if self.seen != self.total:
      raise ValueError(f'ISStats expects {self.total} samples, has {self.seen}')
    py = self.sum_p / self.count[:, None]
    with np.errstate(divide='ignore', invalid='ignore'):
      ent_py = np.sum(np.where(py > 0, py * np.log(py), 0.0), axis=1)
    return np.exp(self.sum_plogp / self.count - ent_py)

  def finalize(self):
    """(mean, std) of the per-split scores."""
    scores = self.split_scores()
    return float(np.mean(scores)), float(np.std(scores))


def inception_score_stats(num_classes: int, total: int, num_splits: int = 10) -> ISStats:
  """An empty accumulator for `total` samples of `num_classes`-way predictions."""
  if not 1 <= num_splits <= total:
    raise ValueError(f'need 1 <= num_splits <= number of samples, got {num_splits} and {total}')
  return ISStats(total, 0, np.zeros(num_splits, np.int64), np.zeros((num_splits, num_classes)),
                 np.zeros(num_splits))


def inception_score(logits=None, probs=None, num_splits: int = 10):
  """(mean, std) of the Inception Score of predictions [n, K] (logits or probabilities)."""
  logp = log_probs(logits, probs)
  stats = inception_score_stats(logp.shape[1], logp.shape[0], num_splits)
  return stats.update(logits=logp).finalize()
