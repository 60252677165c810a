"""95% intervals of table cells and THE verdict rule for a claim (numpy / scipy, host side).

Every interval is an `Interval` value: the point estimate, its bounds, the number of draws and
their kind, the unit that was repeated ('training seeds', 'keys', 'test examples', ...), and
the method. Which method fits which repeats:

* ``t_interval``: mean of n independent draws (training seeds, sampling keys), Student t with
  n - 1 degrees of freedom: ``mean +- t_{0.975, n-1} sd / sqrt(n)`` (sd with divisor n - 1).
* ``paired_difference``: the t interval of ``a_i - b_i`` for draws paired by seed, key or test
  example (what a claim compares; pairing removes the variance the two rows share).
* ``normal_interval``: mean over many test examples, ``mean +- 1.96 SE`` with ``standard_error``
  = sd / sqrt(n) (the CLT; for n in the hundreds t and normal agree).
* ``bootstrap``: a statistic of whole samples that is not a mean (FD, KID against a reference
  set): the 2.5% and 97.5% percentiles of the statistic over ``resamples`` draws with
  replacement of every sample (seeded); the point is the statistic of the samples themselves.
  Resampling with replacement duplicates rows, which biases a distance between samples upward,
  so it states the spread due to the reference set, not the distance's expectation.
* ``floor``: the real-data floor of a two-sample distance at n samples, what a model that
  samples the data distribution itself would score: the distance between disjoint random
  n-subsets of a pool of real data (or an n-subset and the row's fixed reference), drawn without
  replacement; the point is the mean of the draws, the bounds their 2.5% and 97.5% percentiles
  (where a perfect model's single score falls).

The verdict rule, written once (`verdict`, `RULE`): a claim 'A < B' (or 'A > B') is judged on
the interval of the paired differences d = A - B: **agrees** when the interval excludes zero in
the claimed direction, **disagrees** when it excludes zero in the other direction, else
**not resolved**.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np
from scipy import stats

LEVEL = 0.95
RULE = ("A claim 'A < B' (or 'A > B') is judged on the 95% interval of the paired differences "
        "A - B: it agrees when the interval excludes zero in the claimed direction, disagrees "
        "when it excludes zero in the other direction, and is not resolved otherwise.")
VERDICTS = ('agrees', 'disagrees', 'not resolved')


@dataclasses.dataclass(frozen=True)
class Interval:
  """A point estimate with its 95% interval: ``n`` draws of ``kind`` ('keys', 'training seeds',
  'test examples', 'reference resamples', ...) by ``method`` ('t', 'normal', 'bootstrap')."""

  mean: float
  low: float
  high: float
  n: int
  kind: str
  method: str

  def format(self, digits: int = 3) -> str:
    """``0.412 ± 0.031 (95% t, n=5 keys)``; an asymmetric interval prints its bounds,
    ``0.190 [0.160, 0.232] (95% bootstrap, n=1000 reference resamples)``."""
    tail = f'({LEVEL:.0%} {self.method}, n={self.n} {self.kind})'
    half = (self.high - self.low) / 2
    if math.isclose(self.mean - self.low, self.high - self.mean, rel_tol=1e-6, abs_tol=1e-12):
      return f'{self.mean:.{digits}f} ± {half:.{digits}f} {tail}'
    return f'{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}] {tail}'

  __str__ = format


def _values(values, what: str, minimum: int) -> np.ndarray:
  v = np.asarray(values, np.float64).reshape(-1)
  if v.size < minimum:
    raise ValueError(f'{what} needs at least {minimum} draws, got {v.size}')
  if not np.isfinite(v).all():
    raise ValueError(f'{what}: the draws are not all finite')
  return v


def standard_error(values) -> float:
  """sd / sqrt(n) of the mean (sd with divisor n - 1)."""
  v = _values(values, 'standard_error', 2)
  return float(v.std(ddof=1) / math.sqrt(v.size))


def t_interval(values, kind: str) -> Interval:
  """Student-t 95% interval of the mean of independent draws (module docstring)."""
  v = _values(values, 't_interval', 2)
  half = stats.t.ppf(0.5 + LEVEL / 2, v.size - 1) * standard_error(v)
  m = float(v.mean())
  return Interval(m, m - half, m + half, v.size, kind, 't')


def paired_difference(a, b, kind: str) -> Interval:
  """t interval of ``a_i - b_i``, the draws paired index by index (same seed / key / example)."""
  a, b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
  if a.shape != b.shape:
    raise ValueError(f'paired draws must match one to one, got {a.size} and {b.size}')
  return t_interval(a - b, kind)


def normal_interval(values, kind: str = 'test examples') -> Interval:
  """``mean +- 1.96 SE`` over many examples."""
  v = _values(values, 'normal_interval', 2)
  half = stats.norm.ppf(0.5 + LEVEL / 2) * standard_error(v)
  m = float(v.mean())
  return Interval(m, m - half, m + half, v.size, kind, 'normal')


def bootstrap(statistic: Callable[..., float], *samples, resamples: int = 1000, seed: int = 0,
              kind: str = 'reference resamples') -> Interval:
  """Percentile interval of ``statistic(*samples)``: each sample (rows = draws) is resampled with
  replacement, independently, ``resamples`` times (``numpy.random.default_rng(seed)``)."""
  if not samples or resamples < 2:
    raise ValueError('bootstrap needs at least one sample and 2 resamples')
  samples = [np.asarray(s) for s in samples]
  rng = np.random.default_rng(seed)
  draws = np.array([statistic(*(s[rng.integers(0, len(s), len(s))] for s in samples))
                    for _ in range(resamples)], np.float64)
  low, high = np.percentile(draws, [50 * (1 - LEVEL), 50 * (1 + LEVEL)])
  return Interval(float(statistic(*samples)), float(low), float(high), resamples, kind,
                  'bootstrap')


def floor(distance: Callable[[np.ndarray, np.ndarray], float], pool, n: int, reference=None, *,
          resamples: int = 200, seed: int = 0, kind: str = 'pool subsets') -> Interval:
  """The floor of ``distance`` at ``n`` samples (module docstring): each draw takes ``n`` rows of
  ``pool`` without replacement and compares them with ``reference`` or, if None, with ``n``
  further rows of ``pool``."""
  pool = np.asarray(pool)
  need = n if reference is not None else 2 * n
  if len(pool) < need or resamples < 2:
    raise ValueError(f'the floor at n={n} needs a pool of at least {need} rows (got {len(pool)}) '
                     'and 2 resamples')
  rng = np.random.default_rng(seed)
  draws = []
  for _ in range(resamples):
    rows = pool[rng.choice(len(pool), need, replace=False)]
    draws.append(distance(rows[:n], rows[n:] if reference is None else reference))
  draws = np.asarray(draws, np.float64)
  low, high = np.percentile(draws, [50 * (1 - LEVEL), 50 * (1 + LEVEL)])
  return Interval(float(draws.mean()), float(low), float(high), resamples, kind, 'subsampling')


def verdict(difference: Interval, claim: str) -> str:
  """THE rule (`RULE`): ``difference`` is the interval of A - B, ``claim`` '<' (A < B) or '>'."""
  if claim not in ('<', '>'):
    raise ValueError(f"claim must be '<' or '>', got {claim!r}")
  below, above = difference.high < 0, difference.low > 0
  if not (below or above):
    return 'not resolved'
  return 'agrees' if below == (claim == '<') else 'disagrees'
