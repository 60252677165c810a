"""Intervals and the verdict rule of `jaxgen.metrics.intervals`.

Facts: on synthetic paired rows a difference inside the noise is 'not resolved' and a clear one
'agrees' or 'disagrees' with the claimed direction; the t interval covers the true mean of
Gaussian draws 95% of the time (2000 repeats of n = 5, within 3 binomial standard errors); the
percentile bootstrap of a mean has the analytic width 2 * 1.96 sd / sqrt(n) (10%); the normal
interval is mean +- 1.96 sd / sqrt(n); the Frechet-distance floor of two samples of one Gaussian
at n samples, drawn from a finite pool, has the Monte-Carlo mean of fresh independent pairs
(within 4 SE) inside its interval; and intervals print as ``mean ± half (95% t, n=5 keys)``.
"""

import numpy as np
import pytest
from scipy import stats

from jaxgen.metrics import frechet
from jaxgen.metrics import intervals as iv


def _rows(delta, seed=0, n=5, shared=1.0, own=0.05):
  """Paired rows: a per-key effect both rows share (sd ``shared``) plus own noise (sd ``own``);
  row A is row B plus ``delta``."""
  rng = np.random.default_rng(seed)
  common = shared * rng.normal(size=n)
  b = 10.0 + common + own * rng.normal(size=n)
  a = 10.0 + common + delta + own * rng.normal(size=n)
  return a, b


@pytest.mark.parametrize('delta,claim,expected', [
    (0.01, '<', 'not resolved'), (0.01, '>', 'not resolved'),
    (-0.5, '<', 'agrees'), (-0.5, '>', 'disagrees'),
    (0.5, '>', 'agrees'), (0.5, '<', 'disagrees')])
def test_verdict_on_synthetic_paired_rows(delta, claim, expected):
  a, b = _rows(delta)
  assert iv.verdict(iv.paired_difference(a, b, 'keys'), claim) == expected


def test_pairing_resolves_what_unpaired_draws_cannot():
  """A clear paired difference (0.5 against own noise 0.05) hides in the shared spread (sd 1)
  when the rows are treated as unpaired draws."""
  a, b = _rows(-0.5)
  assert iv.verdict(iv.paired_difference(a, b, 'keys'), '<') == 'agrees'
  assert iv.t_interval(a, 'keys').low < iv.t_interval(b, 'keys').high  # the intervals overlap


def test_t_interval_coverage():
  rng = np.random.default_rng(1)
  repeats, mu = 2000, 3.0
  hits = 0
  for _ in range(repeats):
    i = iv.t_interval(rng.normal(mu, 2.0, 5), 'keys')
    hits += i.low <= mu <= i.high
  se = np.sqrt(0.95 * 0.05 / repeats)
  assert abs(hits / repeats - 0.95) < 3 * se, hits / repeats


def test_bootstrap_of_a_mean_has_the_analytic_width():
  x = np.random.default_rng(2).normal(0.0, 2.0, 400)
  b = iv.bootstrap(np.mean, x, resamples=2000, seed=0)
  analytic = 2 * stats.norm.ppf(0.975) * 2.0 / np.sqrt(x.size)
  assert abs((b.high - b.low) / analytic - 1) < 0.1, (b.high - b.low, analytic)
  assert b.mean == pytest.approx(x.mean()) and b.low < b.mean < b.high
  assert iv.bootstrap(np.mean, x, resamples=50, seed=3) == iv.bootstrap(np.mean, x, resamples=50,
                                                                           seed=3)


def test_normal_interval_and_standard_error():
  x = np.random.default_rng(4).normal(1.0, 3.0, 1000)
  se = x.std(ddof=1) / np.sqrt(x.size)
  assert iv.standard_error(x) == pytest.approx(se)
  n = iv.normal_interval(x)
  assert (n.low, n.high) == pytest.approx((x.mean() - 1.959964 * se, x.mean() + 1.959964 * se))


def _fd(a, b):
  return frechet.frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0),
                                  np.cov(b, rowvar=False))


def test_frechet_floor_of_one_gaussian():
  """FD between two independent n-samples of N(0, I_4) (n = 200): the floor from disjoint
  subsets of a 4000-row pool has the Monte-Carlo mean of 2000 fresh pairs inside its interval
  and its mean within 4 SE of it."""
  d, n = 4, 200
  rng = np.random.default_rng(5)
  fresh = np.array([_fd(rng.normal(size=(n, d)), rng.normal(size=(n, d))) for _ in range(2000)])
  f = iv.floor(_fd, rng.normal(size=(20 * n, d)), n, resamples=200, seed=0)
  assert f.low < fresh.mean() < f.high
  assert abs(f.mean - fresh.mean()) < 4 * fresh.std() / np.sqrt(f.n), (f.mean, fresh.mean())


def test_format_and_refusals():
  assert str(iv.Interval(0.412, 0.381, 0.443, 5, 'keys', 't')) == '0.412 ± 0.031 (95% t, n=5 keys)'
  assert iv.Interval(0.19, 0.16, 0.232, 1000, 'reference resamples', 'bootstrap').format() == (
      '0.190 [0.160, 0.232] (95% bootstrap, n=1000 reference resamples)')
  with pytest.raises(ValueError, match='at least 2 draws'):
    iv.t_interval([1.0], 'training seeds')
  with pytest.raises(ValueError, match='one to one'):
    iv.paired_difference([1.0, 2.0], [1.0], 'keys')
  with pytest.raises(ValueError, match="'<' or '>'"):
    iv.verdict(iv.t_interval([1.0, 2.0], 'keys'), '<=')
  with pytest.raises(ValueError, match='pool of at least 400'):
    iv.floor(_fd, np.zeros((300, 2)), 200)
