"""Power-function EMA maths (`jaxgen.distributions.power_ema`): sigma_rel <-> gamma, the closed
form of the EMA of a linearly moving parameter, the profiles' inner products, and that the
least-squares reconstruction of a stored profile is that profile alone."""

import numpy as np
import pytest

from jaxgen.distributions import power_ema as pe


@pytest.mark.parametrize('sigma_rel', [0.01, 0.05, 0.1, 0.2, 0.28])
def test_gamma_inverts_sigma_rel(sigma_rel):
  g = pe.sigma_rel_to_gamma(sigma_rel)
  assert g > 0
  assert pe.gamma_to_sigma_rel(g) == pytest.approx(sigma_rel, rel=1e-12)


def test_gamma_of_edm2_profiles():
  """EDM2's sigma_rel = 0.10 is gamma = 6.94 (its App. C), and the profile's relative standard
  deviation is sigma_rel (measured on the density itself)."""
  assert pe.sigma_rel_to_gamma(0.10) == pytest.approx(6.94, abs=0.005)
  g, t = pe.sigma_rel_to_gamma(0.05), 1.0
  tau = np.linspace(0, t, 200001)
  p = (g + 1) * tau ** g / t ** (g + 1)
  mean = np.trapezoid(tau * p, tau)
  assert np.sqrt(np.trapezoid((tau - mean) ** 2 * p, tau)) / t == pytest.approx(0.05, rel=1e-4)


@pytest.mark.parametrize('bad', [0.0, -0.1, pe.SIGMA_REL_MAX, 0.5, True, 'x'])
def test_out_of_range_sigma_rel_is_refused(bad):
  assert not pe.valid_sigma_rel(bad)
  with pytest.raises(ValueError, match='sigma_rel'):
    pe.sigma_rel_to_gamma(bad)


@pytest.mark.parametrize('sigma_rel', [0.05, 0.1])
def test_ema_of_linear_parameter_matches_closed_form(sigma_rel):
  """theta_k = a + b k averaged with beta(n) = (1 - 1/n)^(gamma+1) is exactly
  a + b (n - sum_{k<n} (k/n)^(gamma+1)), which tends to a + b n (gamma+1)/(gamma+2)."""
  g, a, b = pe.sigma_rel_to_gamma(sigma_rel), 0.3, -2.0
  ema, checks = 0.0, {10, 1000, 100000}
  for n in range(1, 100001):
    beta = pe.beta(n, g)
    ema = beta * ema + (1 - beta) * (a + b * n)
    if n in checks:
      k = np.arange(n, dtype=np.float64)
      assert ema == pytest.approx(a + b * (n - np.sum((k / n) ** (g + 1))), rel=1e-9)
  assert ema == pytest.approx(a + b * 100000 * (g + 1) / (g + 2), rel=1e-3)


def test_inner_product_matches_numerical_integral():
  ga, gb = pe.sigma_rel_to_gamma(0.05), pe.sigma_rel_to_gamma(0.15)
  tau = np.linspace(0, 7, 700001)
  pa = np.where(tau <= 3, (ga + 1) * np.minimum(tau, 3) ** ga / 3 ** (ga + 1), 0)
  pb = (gb + 1) * tau ** gb / 7 ** (gb + 1)
  want = np.trapezoid(pa * pb, tau)
  assert pe.inner(3, ga, 7, gb) == pytest.approx(want, rel=1e-4)
  assert pe.inner(7, gb, 3, ga) == pytest.approx(pe.inner(3, ga, 7, gb), rel=1e-12)


def test_reconstructing_a_stored_profile_returns_it():
  sigmas = [0.05, 0.1]
  times = np.repeat([100.0, 200.0, 300.0, 400.0], 2)
  gammas = np.tile([pe.sigma_rel_to_gamma(s) for s in sigmas], 4)
  for i in range(len(times)):
    x = pe.coefficients(times, gammas, times[i], gammas[i])
    np.testing.assert_allclose(x, np.eye(len(times))[i], atol=1e-8)


def test_reconstruction_of_an_untracked_profile_is_close_to_it():
  """sigma_rel = 0.07 at the last snapshot from 8 snapshots of 0.05 and 0.1: the combined
  profile's L2 error is a small fraction of the profile's norm, and its weights sum to ~1."""
  sigmas, steps = [0.05, 0.1], np.arange(1, 9) * 1000.0
  times, gammas = np.repeat(steps, 2), np.tile([pe.sigma_rel_to_gamma(s) for s in sigmas], 8)
  g = pe.sigma_rel_to_gamma(0.07)
  x = pe.coefficients(times, gammas, 8000, g)
  a = pe.inner(times[:, None], gammas[:, None], times[None, :], gammas[None, :])
  b = pe.inner(times, gammas, 8000, g)
  err2 = x @ a @ x - 2 * x @ b + pe.inner(8000, g, 8000, g)
  assert err2 / pe.inner(8000, g, 8000, g) < 1e-3
  assert np.sum(x) == pytest.approx(1.0, abs=0.02)
