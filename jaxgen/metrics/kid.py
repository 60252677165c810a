"""Kernel Inception Distance (Binkowski et al. 2018): the unbiased MMD^2 between two feature
sets under the cubic polynomial kernel

    k(x, y) = (x . y / d + 1)^3        (d = feature dimension; sklearn's polynomial_kernel with
                                         gamma = 1/d, coef0 = 1, degree 3)

averaged over random subsets. For subsets X, Y of size m each (drawn without replacement):

    MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m-1)) + sum_{i != j} k(y_i, y_j) / (m (m-1))
              - 2 sum_{i, j} k(x_i, y_j) / m^2,

an unbiased estimate of E k(x, x') + E k(y, y') - 2 E k(x, y) (it can be negative). Defaults as in
the reference implementations (torch-fidelity's kid_subsets=100, kid_subset_size=1000; clean-fid
the same): 100 subsets of m = min(1000, n_x, n_y). Returns the mean and the standard deviation
(ddof 0) over subsets; subsets are drawn with `numpy.random.default_rng(seed)` (the reference
codes use numpy's global RandomState, so digits match them only in distribution).

Host numpy in float64; each subset costs three m x m kernel matrices (m = 1000, d = 2048: ~12
GFLOP per subset).
"""

from __future__ import annotations

import numpy as np


def polynomial_kernel(x, y, degree: int = 3, coef0: float = 1.0) -> np.ndarray:
  """(x y^T / d + coef0)^degree for x [n, d], y [m, d]."""
  return (x @ y.T / x.shape[1] + coef0) ** degree


def mmd2_unbiased(x, y, degree: int = 3, coef0: float = 1.0) -> float:
  """The unbiased MMD^2 of x [m, d] and y [m', d] under the polynomial kernel (the formula above,
  with m (m-1), m' (m'-1) and m m' normalisers for unequal sizes)."""
  x = np.asarray(x, np.float64)
  y = np.asarray(y, np.float64)
  m, n = x.shape[0], y.shape[0]
  if m < 2 or n < 2:
    raise ValueError(f'need at least 2 samples per set, got {m} and {n}')
  kxx = polynomial_kernel(x, x, degree, coef0)
  kyy = polynomial_kernel(y, y, degree, coef0)
  kxy = polynomial_kernel(x, y, degree, coef0)
  return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
               + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2.0 * kxy.sum() / (m * n))


def kid_subsets(real, fake, subset_size: int = 1000, num_subsets: int = 100,
                seed: int = 0) -> np.ndarray:
  """The per-subset unbiased MMD^2 values [num_subsets] of features real [n, d], fake [n', d]."""
  real = np.asarray(real)
  fake = np.asarray(fake)
  if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
    raise ValueError(f'features must be [n, d] with one d, got {real.shape} and {fake.shape}')
  m = min(subset_size, real.shape[0], fake.shape[0])
  rng = np.random.default_rng(seed)
  out = np.empty(num_subsets)
  for i in range(num_subsets):
    x = fake[rng.choice(fake.shape[0], m, replace=False)]
    y = real[rng.choice(real.shape[0], m, replace=False)]
    out[i] = mmd2_unbiased(x, y)
  return out


def kernel_inception_distance(real, fake, subset_size: int = 1000, num_subsets: int = 100,
                              seed: int = 0):
  """(mean, std) over subsets of the unbiased polynomial-kernel MMD^2 (KID; x1000 in papers'
  tables is the caller's business)."""
  vals = kid_subsets(real, fake, subset_size, num_subsets, seed)
  return float(vals.mean()), float(vals.std())
