"""Rectified flow's training-time laws (`jaxgen.ode.flow.sample_time`) match their densities.

Each check is a Kolmogorov-Smirnov distance between n sampled times and the CDF obtained by
integrating the density derived in `jaxgen.ode.flow` (change of variables; t = 0 noise), against the
DKW bound ``P(sup |F_n - F| > eps) <= 2 exp(-2 n eps^2)``, i.e. ``eps = sqrt(ln(2 / delta) / (2
n))`` with delta = 1e-6: a correct sampler fails with probability < 1e-6, while a wrong direction or
formula is far outside it (checked too).
"""

import math

import jax
import numpy as np
import pytest
from scipy import special

from jaxgen.ode import flow

N = 100_000
DELTA = 1e-6
BOUND = math.sqrt(math.log(2 / DELTA) / (2 * N))  # 0.0085 for n = 1e5


def _times(seed=0, **kw):
  return np.sort(np.asarray(flow.sample_time(jax.random.key(seed), N, flow.TimeSampling(**kw)),
                            np.float64))


def _ks(sorted_t, cdf):
  """sup |F_n - F| of sorted samples against a CDF (vectorized)."""
  f = cdf(sorted_t)
  i = np.arange(1, len(sorted_t) + 1)
  return max(np.max(i / len(sorted_t) - f), np.max(f - (i - 1) / len(sorted_t)))


def _cdf_of_density(density, lo=0.0, hi=1.0, points=200_001):
  """The CDF of a density on [lo, hi] by the trapezoid rule on a fine grid, and its total mass."""
  grid = np.linspace(lo, hi, points)
  p = density(grid)
  cum = np.concatenate([[0.0], np.cumsum(0.5 * (p[1:] + p[:-1]) * np.diff(grid))])
  return (lambda t: np.interp(t, grid, cum)), cum[-1]


def _mode_density(s):
  """p(t) = 1 / |dt/du| at u = t^{-1}(t), t(u) = u + s (cos^2(pi u / 2) - 1 + u) (ours)."""

  def t_of_u(u):
    return u + s * (np.cos(np.pi * u / 2) ** 2 - 1 + u)

  def density(t):
    lo, hi = np.zeros_like(t), np.ones_like(t)   # t(u) is increasing: bisection for u(t)
    for _ in range(60):
      mid = 0.5 * (lo + hi)
      below = t_of_u(mid) < t
      lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    u = 0.5 * (lo + hi)
    return 1.0 / np.abs(1 + s * (1 - np.pi / 2 * np.sin(np.pi * u)))

  return density


@pytest.mark.parametrize('s', [1.29, -0.5])
def test_mode_sampling_matches_its_change_of_variables_density(s):
  cdf, mass = _cdf_of_density(_mode_density(s))
  assert abs(mass - 1) < 1e-4          # the derived density is normalised
  t = _times(kind='mode', mode_scale=s)
  assert _ks(t, cdf) < BOUND
  assert _ks(t, lambda x: x) > 5 * BOUND  # and differs from uniform


def test_mode_scale_zero_is_uniform_and_mode_is_symmetric_in_direction():
  t = _times(kind='mode', mode_scale=0.0)
  assert _ks(t, lambda x: x) < BOUND
  # SD3's f(u; s) = 1 - t(u): the reversed times have the same law (t(1 - u) = 1 - t(u)).
  u = np.linspace(0, 1, 101)
  t_u = np.asarray(flow.mode_time(u, 1.29))
  np.testing.assert_allclose(t_u[::-1], 1 - t_u, atol=1e-6)
  sd3 = 1 - u - 1.29 * (np.cos(np.pi * u / 2) ** 2 - 1 + u)   # SD3's formula as written
  np.testing.assert_allclose(t_u, 1 - sd3, atol=1e-6)


def _shifted_uniform_density(alpha, eps=1e-3):
  """p'(y) = p(a y / (1 + (a - 1) y)) a / (1 + (a - 1) y)^2, p = U(eps, 1)."""

  def density(y):
    t = alpha * y / (1 + (alpha - 1) * y)
    return np.where(t >= eps, 1 / (1 - eps), 0.0) * alpha / (1 + (alpha - 1) * y) ** 2

  return density


@pytest.mark.parametrize('alpha', [3.0, 0.5])
def test_training_shift_matches_its_density_and_runs_towards_the_noise(alpha):
  cdf, mass = _cdf_of_density(_shifted_uniform_density(alpha))
  assert abs(mass - 1) < 1e-4
  t = _times(shift=alpha)
  assert _ks(t, cdf) < BOUND
  # SD3's map applied to OUR t without the conversion gives the mirrored law: far outside.
  assert _ks(np.sort(1 - t), cdf) > 10 * BOUND
  # alpha > 1 moves mass to the noise end (t = 0 here; t = 1 in SD3's direction).
  assert (np.median(t) < 0.5) == (alpha > 1)


def test_shift_one_is_the_identity():
  key = jax.random.key(3)
  for kind in ('uniform', 'logit_normal', 'mode'):
    a = flow.sample_time(key, 1000, flow.TimeSampling(kind=kind, shift=1.0))
    u = jax.random.uniform(key, (1000,))
    base = {'uniform': u * (1 - 1e-3) + 1e-3, 'mode': flow.mode_time(u, 1.29),
            'logit_normal': jax.nn.sigmoid(jax.random.normal(key, (1000,)))}[kind]
    np.testing.assert_allclose(a, base, rtol=1e-6)
  t = np.linspace(0, 1, 11)
  np.testing.assert_allclose(flow.shift_time(t, 1.0), t)
  # The training shift is the sampler's 'shift' grid's map: both send t = 1/2 to 1/(1 + alpha).
  np.testing.assert_allclose(flow.shift_time(0.5, 3.0), 0.25, rtol=1e-6)


def test_logit_normal_still_matches():
  m, sd = 0.3, 0.8
  t = _times(kind='logit_normal', logit_mean=m, logit_std=sd)
  cdf = lambda x: special.ndtr((special.logit(np.clip(x, 1e-12, 1 - 1e-12)) - m) / sd)
  assert _ks(t, cdf) < BOUND
