"""Power-function EMA profiles and their post-hoc reconstruction (Karras et al. 2024, "Analyzing and
improving the training dynamics of diffusion models", Sec. 3 and App. C).

An EMA profile is a distribution over training time: the average at time ``t`` of a parameter
``theta(tau)`` is ``int p(tau) theta(tau) dtau``. The power-function profile of exponent
``gamma > 0`` at time ``t`` is the density

    p_{t, gamma}(tau) = (gamma + 1) tau^gamma / t^(gamma + 1)   on [0, t]

(a Beta(gamma + 1, 1) law scaled to [0, t]). Its width relative to ``t`` (standard deviation / t)
is ``sigma_rel = sqrt((gamma + 1) / ((gamma + 2)^2 (gamma + 3)))`` (App. C), decreasing in gamma:
``sigma_rel`` in ``(0, 1/sqrt(12))`` is ``gamma`` in ``(0, inf)``, the largest real root of
``gamma^3 + 7 gamma^2 + (16 - sigma_rel^-2) gamma + 12 - sigma_rel^-2``.

Tracking: after update ``n`` (``n = 1, 2, ...`` counts the updates including this one),
``ema_n = beta(n) ema_{n-1} + (1 - beta(n)) theta_n`` with ``beta(n) = (1 - 1/n)^(gamma + 1)``;
then ``ema_n = sum_k w_k theta_k`` with ``w_k = (k^(gamma+1) - (k-1)^(gamma+1)) / n^(gamma+1)``,
the mass of ``p_{n, gamma}`` on ``[k - 1, k]`` (time in updates; ``beta(1) = 0`` forgets the
initialisation). A parameter moving linearly, ``theta_k = a + b k``, has
``ema_n = a + b (n - sum_{k<n} (k/n)^(gamma+1))``, which tends to ``a + b n (gamma+1)/(gamma+2)``.

Reconstruction: snapshots ``i`` of profiles ``(t_i, gamma_i)`` combine into the profile
``(t, gamma)`` with the coefficients ``x`` minimising ``||sum_i x_i p_i - p||^2`` in L2 over time:
``A x = b`` with ``A_ij = <p_i, p_j>``, ``b_i = <p_i, p>`` in closed form (`inner`). Plain NumPy,
float64; ``beta`` also takes JAX arrays.
"""

from __future__ import annotations

import math

import numpy as np

SIGMA_REL_MAX = 1 / math.sqrt(12)  # gamma = 0: the uniform average over [0, t]


def gamma_to_sigma_rel(gamma: float) -> float:
  """The relative standard deviation of the profile of exponent `gamma`."""
  g = float(gamma)
  return math.sqrt((g + 1) / ((g + 2) ** 2 * (g + 3)))


def valid_sigma_rel(sigma_rel) -> bool:
  """Whether `sigma_rel` is a number in ``(0, SIGMA_REL_MAX)`` (a power profile with gamma > 0)."""
  return (isinstance(sigma_rel, (int, float)) and not isinstance(sigma_rel, bool)
          and 0 < sigma_rel < SIGMA_REL_MAX)


def sigma_rel_to_gamma(sigma_rel: float) -> float:
  """The exponent ``gamma > 0`` of the profile of width `sigma_rel` (ValueError outside
  ``(0, SIGMA_REL_MAX)``)."""
  if not valid_sigma_rel(sigma_rel):
    raise ValueError(f'sigma_rel={sigma_rel!r} must be in (0, {SIGMA_REL_MAX:.4f}) (1/sqrt(12): '
                     'the uniform average; EDM2 uses 0.05 to 0.15)')
  s = float(sigma_rel) ** -2
  roots = np.roots([1.0, 7.0, 16.0 - s, 12.0 - s])
  return float(max(r.real for r in roots if abs(r.imag) < 1e-9 * max(1.0, abs(r.real))))


def beta(n, gamma: float):
  """The averaging rate after update ``n >= 1``: ``(1 - 1/n)^(gamma + 1)`` (NumPy or JAX)."""
  return (1 - 1 / n) ** (gamma + 1)


def inner(t_a, gamma_a, t_b, gamma_b):
  """``<p_{t_a, gamma_a}, p_{t_b, gamma_b}>`` (the integral of the product of the densities):
  with ``t_a <= t_b``, ``(ga + 1)(gb + 1) / (ga + gb + 1) (t_a / t_b)^gb / t_b``; symmetric."""
  t_a, g_a, t_b, g_b = (np.asarray(v, np.float64) for v in (t_a, gamma_a, t_b, gamma_b))
  exp = np.where(t_a <= t_b, g_b, -g_a)
  return ((g_a + 1) * (g_b + 1) * (t_a / t_b) ** exp
          / ((g_a + g_b + 1) * np.maximum(t_a, t_b)))


def coefficients(times, gammas, t: float, gamma: float) -> np.ndarray:
  """float64 ``[len(times)]``: the least-squares combination of the snapshot profiles ``(times[i],
  gammas[i])`` (times in updates, > 0) closest to the profile ``(t, gamma)``."""
  times, gammas = np.asarray(times, np.float64), np.asarray(gammas, np.float64)
  a = inner(times[:, None], gammas[:, None], times[None, :], gammas[None, :])
  b = inner(times, gammas, float(t), float(gamma))
  try:
    return np.linalg.solve(a, b)
  except np.linalg.LinAlgError:  # the same profile stored twice: any split of it will do
    return np.linalg.lstsq(a, b, rcond=None)[0]
