"""jaxgen.metrics.kid: the unbiased polynomial-kernel MMD^2 has mean 0 for one distribution
(within a bound from the spread of independent estimates), and matches the closed-form MMD^2 of
two Gaussians (cubic-kernel moments of Gaussians are polynomial in mu, Sigma)."""

import numpy as np
import pytest

from jaxgen.metrics import kid


def expected_kernel(mu1, s1, mu2, s2):
  """E (x.y/d + 1)^3 for independent x ~ N(mu1, S1), y ~ N(mu2, S2).

  With s = x.y: given y, s ~ N(mu1.y, y^T S1 y), and averaging over y gives
    E s   = mu1.mu2 =: c
    E s^2 = c^2 + mu1^T S2 mu1 + mu2^T S1 mu2 + tr(S1 S2) =: c^2 + q
    E s^3 = c^3 + 3 c q + 6 mu1^T S2 S1 mu2;
  then E (s/d + 1)^3 = E s^3 / d^3 + 3 E s^2 / d^2 + 3 E s / d + 1.
  """
  d = mu1.shape[0]
  c = mu1 @ mu2
  q = mu1 @ s2 @ mu1 + mu2 @ s1 @ mu2 + np.trace(s1 @ s2)
  es1, es2, es3 = c, c * c + q, c ** 3 + 3 * c * q + 6 * mu1 @ s2 @ s1 @ mu2
  return es3 / d ** 3 + 3 * es2 / d ** 2 + 3 * es1 / d + 1


def test_expected_kernel_formula_against_monte_carlo():
  """The closed form above vs a 400k-pair Monte Carlo mean (MC standard error ~0.3%)."""
  rng = np.random.default_rng(0)
  d = 3
  mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
  a, b = rng.normal(size=(d, d)), rng.normal(size=(d, d))
  s1, s2 = a @ a.T / d, b @ b.T / d
  x = rng.multivariate_normal(mu1, s1, 400_000)
  y = rng.multivariate_normal(mu2, s2, 400_000)
  mc = ((np.sum(x * y, 1) / d + 1) ** 3)
  se = mc.std() / np.sqrt(mc.size)
  assert abs(mc.mean() - expected_kernel(mu1, s1, mu2, s2)) < 4 * se


def test_unbiased_mean_zero_for_one_distribution():
  """40 independent pairs (X, Y) of 60 samples from one Gaussian: the unbiased MMD^2 averages to 0
  within 4 standard errors (the spread of the 40 independent estimates / sqrt(40)); the biased
  V-statistic (diagonals kept, / m^2) is positive by far more than that bound."""
  rng = np.random.default_rng(1)
  d, m, reps = 8, 60, 40
  unb, biased = [], []
  for _ in range(reps):
    x, y = rng.normal(size=(m, d)), rng.normal(size=(m, d))
    unb.append(kid.mmd2_unbiased(x, y))
    k = kid.polynomial_kernel
    biased.append((k(x, x).sum() + k(y, y).sum() - 2 * k(x, y).sum()) / m ** 2)
  unb = np.array(unb)
  bound = 4 * unb.std(ddof=1) / np.sqrt(reps)
  assert abs(unb.mean()) < bound
  assert np.mean(biased) > 5 * bound


def test_kid_subsets_mean_zero_within_reported_std():
  """KID of two pools from one distribution: the mean over 100 subsets is 0 within 4 x the reported
  std / sqrt(100). Subsets are m = 50 of a pool of 5000, so two subsets share ~0.5 samples on
  average and are close to independent: std / sqrt(num_subsets) is an honest standard error."""
  rng = np.random.default_rng(2)
  real, fake = rng.normal(size=(5000, 6)), rng.normal(size=(5000, 6))
  mean, std = kid.kernel_inception_distance(real, fake, subset_size=50, num_subsets=100)
  assert std > 0
  assert abs(mean) < 4 * std / np.sqrt(100)


def test_kid_of_two_gaussians_matches_closed_form_mmd2():
  """N(0, I) vs N(mu, S) in d = 4: KID's mean over subsets equals
  E k(x,x') + E k(y,y') - 2 E k(x,y) (closed form) within 4 reported standard errors, and is
  clearly positive."""
  rng = np.random.default_rng(3)
  d = 4
  mu = np.full(d, 0.6)
  s = np.diag([0.5, 1.0, 1.5, 2.0])
  eye, zero = np.eye(d), np.zeros(d)
  want = (expected_kernel(zero, eye, zero, eye) + expected_kernel(mu, s, mu, s)
          - 2 * expected_kernel(zero, eye, mu, s))
  real = rng.normal(size=(20000, d))
  fake = rng.multivariate_normal(mu, s, 20000)
  mean, std = kid.kernel_inception_distance(real, fake, subset_size=200, num_subsets=100, seed=1)
  assert want > 10 * std / np.sqrt(100)
  assert abs(mean - want) < 4 * std / np.sqrt(100)


def test_subset_size_capped_and_errors():
  rng = np.random.default_rng(4)
  x, y = rng.normal(size=(30, 3)), rng.normal(size=(20, 3))
  vals = kid.kid_subsets(x, y, subset_size=1000, num_subsets=3)
  # m = 20 = all of y: every subset of y is y itself (in some order)
  assert vals.shape == (3,)
  with pytest.raises(ValueError, match='one d'):
    kid.kid_subsets(x, np.zeros((20, 4)))
