"""jaxgen.metrics.frechet: the Frechet distance against closed forms (commuting covariances, 1-D,
an independent scipy sqrtm), its invariances, and the streaming statistics against np.cov."""

import numpy as np
import pytest
from scipy import linalg

from jaxgen.metrics import frechet


def _random_spd(rng, d, cond=10.0):
  q, _ = np.linalg.qr(rng.normal(size=(d, d)))
  return (q * np.linspace(1.0, cond, d)) @ q.T, q


@pytest.mark.parametrize('method', ['eigh', 'sqrtm'])
def test_commuting_diagonal_covariances_closed_form(method):
  """Diagonal S1 = diag(a), S2 = diag(b) commute: (S1 S2)^(1/2) = diag(sqrt(ab)), so
  FD = ||dmu||^2 + sum (sqrt(a) - sqrt(b))^2."""
  rng = np.random.default_rng(0)
  a, b = rng.uniform(0.1, 3.0, 16), rng.uniform(0.1, 3.0, 16)
  mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
  want = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
  got = frechet.frechet_distance(mu1, np.diag(a), mu2, np.diag(b), method=method)
  np.testing.assert_allclose(got, want, rtol=1e-10)


def test_one_dimensional_formula():
  """In 1-D, FD = (m1 - m2)^2 + (s1 - s2)^2 with standard deviations s1, s2."""
  got = frechet.frechet_distance([1.5], [[4.0]], [-0.5], [[0.25]])
  np.testing.assert_allclose(got, 2.0 ** 2 + (2.0 - 0.5) ** 2, rtol=1e-12)


def test_non_commuting_case_against_independent_sqrtm():
  """Two generic SPD covariances (non-commuting): the eigh trace equals the trace of
  scipy.linalg.sqrtm(S1 S2) computed here independently, and 'sqrtm' mode gives the same."""
  rng = np.random.default_rng(1)
  s1, _ = _random_spd(rng, 12, cond=50.0)
  s2, _ = _random_spd(rng, 12, cond=20.0)
  assert not np.allclose(s1 @ s2, s2 @ s1)
  mu1, mu2 = rng.normal(size=12), rng.normal(size=12)
  ref_tr = np.trace(linalg.sqrtm(s1 @ s2)).real
  want = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * ref_tr
  for method in ('eigh', 'sqrtm'):
    np.testing.assert_allclose(frechet.frechet_distance(mu1, s1, mu2, s2, method=method), want,
                               rtol=1e-9)


def test_zero_for_identical_and_invariant_under_common_rotation():
  """FD(N, N) = 0; FD is unchanged when both Gaussians are rotated by the same orthogonal Q
  (mu -> Q mu, S -> Q S Q^T) and translated by the same vector."""
  rng = np.random.default_rng(2)
  s1, _ = _random_spd(rng, 10)
  s2, _ = _random_spd(rng, 10)
  mu1, mu2 = rng.normal(size=10), rng.normal(size=10)
  assert abs(frechet.frechet_distance(mu1, s1, mu1, s1)) < 1e-9
  q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
  t = rng.normal(size=10)
  base = frechet.frechet_distance(mu1, s1, mu2, s2)
  rot = frechet.frechet_distance(q @ mu1 + t, q @ s1 @ q.T, q @ mu2 + t, q @ s2 @ q.T)
  np.testing.assert_allclose(rot, base, rtol=1e-9)
  assert base > 0


def test_singular_covariances_fewer_samples_than_dimensions():
  """Rank-deficient covariances (n = 5 samples in d = 20): 'eigh' needs no offset and agrees with
  pytorch-fid's 'sqrtm' path (which may add eps I) to ~sqrt(eps); FD(x, x) is ~0."""
  rng = np.random.default_rng(3)
  x, y = rng.normal(size=(5, 20)), rng.normal(size=(5, 20)) + 0.5
  e = frechet.frechet_distance_from_features(x, y, method='eigh')
  s = frechet.frechet_distance_from_features(x, y, method='sqrtm')
  assert np.isfinite(e) and e > 0
  np.testing.assert_allclose(e, s, rtol=1e-3)
  assert abs(frechet.frechet_distance_from_features(x, x)) < 1e-6


def test_streaming_statistics_equal_one_shot_mean_and_cov():
  """Chunks of any size (empty ones included), and merged accumulators, give np.mean and
  np.cov(rowvar=False) of the concatenation; features far from 0 (mean 1e3) keep their digits."""
  rng = np.random.default_rng(4)
  x = (rng.normal(size=(257, 7)) @ rng.normal(size=(7, 7)) + 1e3).astype(np.float32)
  stats = frechet.gaussian_stats(7)
  for lo, hi in [(0, 1), (1, 1), (1, 100), (100, 257)]:
    stats = stats.update(x[lo:hi])
  mu, sigma = stats.finalize()
  x64 = x.astype(np.float64)
  np.testing.assert_allclose(mu, x64.mean(0), rtol=1e-12)
  np.testing.assert_allclose(sigma, np.cov(x64, rowvar=False), rtol=1e-9, atol=1e-9)
  a = frechet.gaussian_stats(7).update(x[:50])
  b = frechet.gaussian_stats(7).update(x[50:120]).update(x[120:])
  mu2, sigma2 = a.merge(b).finalize()
  np.testing.assert_allclose(mu2, mu, rtol=1e-12)
  np.testing.assert_allclose(sigma2, sigma, rtol=1e-9, atol=1e-9)
  assert stats.count == 257


def test_errors_name_the_problem():
  with pytest.raises(ValueError, match=r'\[n, 3\]'):
    frechet.gaussian_stats(3).update(np.zeros((4, 2)))
  with pytest.raises(ValueError, match='at least 2'):
    frechet.gaussian_stats(3).update(np.zeros((1, 3))).finalize()
  with pytest.raises(ValueError, match='method'):
    frechet.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2), method='x')
