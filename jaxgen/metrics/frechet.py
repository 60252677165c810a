"""Frechet distance between Gaussians fitted to features (FID when the features are Inception
pool3 activations), and streaming Gaussian statistics.

    FD = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))        (Heusel et al. 2017)

Everything here is host-side numpy/scipy in float64: the covariances of 2048-d features are
ill-conditioned and float32 loses FID digits.

The matrix square root
----------------------
Only ``Tr (S1 S2)^(1/2)`` is needed. For symmetric PSD S1, S2 the eigenvalues of S1 S2 equal
those of the symmetric PSD matrix ``M = S1^(1/2) S2 S1^(1/2)`` (similar matrices), so

    Tr (S1 S2)^(1/2) = sum_i sqrt(lambda_i(M)).

``method='eigh'`` (the default) takes S1^(1/2) from `numpy.linalg.eigh` (negative round-off
eigenvalues clipped to 0), forms M, and sums the square roots of its clipped eigenvalues: real
arithmetic throughout, no imaginary parts, and a singular covariance (fewer samples than
dimensions, dead features) needs no special case. ``method='sqrtm'`` is pytorch-fid's
``calculate_frechet_distance`` step by step: ``scipy.linalg.sqrtm(S1 @ S2)``; if that is not
finite, retry with ``eps * I`` added to both covariances (eps = 1e-6); the imaginary part of
the result must be ~0 on the diagonal (atol 1e-3, else ValueError) and is then dropped. Both
compute the same number up to round-off on well-conditioned inputs (tests/metrics/test_frechet.py);
use 'sqrtm' to reproduce pytorch-fid's digits exactly.

Streaming statistics
--------------------
`GaussianStats` is an immutable accumulator (count, sum, sum of outer products, float64): ``stats
= gaussian_stats(d); stats = stats.update(chunk) ...; mu, sigma = stats.finalize()``. Memory is
O(d^2) whatever the number of samples, so 50k features never need to be held at once. Sigma is
the unbiased sample covariance (divisor n - 1), as ``np.cov(x, rowvar=False)`` in pytorch-fid.
To keep the one-pass formula ``(sum xx^T - n mu mu^T) / (n - 1)`` free of cancellation, the
accumulator sums ``x - shift`` with ``shift`` = the mean of the first chunk (covariance is shift
invariant; the mean adds it back).
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

EPS = 1e-6  # pytorch-fid's diagonal offset for a non-finite sqrtm


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
  """Symmetric square root of a symmetric PSD matrix (eigenvalues clipped at 0)."""
  w, v = np.linalg.eigh(s)
  return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def trace_sqrt_product(sigma1, sigma2, method: str = 'eigh', eps: float = EPS) -> float:
  """Tr (S1 S2)^(1/2) for symmetric PSD S1, S2 (see the module docstring for the two methods)."""
  s1 = np.atleast_2d(np.asarray(sigma1, np.float64))
  s2 = np.atleast_2d(np.asarray(sigma2, np.float64))
  if s1.shape != s2.shape or s1.shape[0] != s1.shape[1]:
    raise ValueError(f'covariances must be square and of one shape, got {s1.shape}, {s2.shape}')
  if method == 'eigh':
    r = _psd_sqrt((s1 + s1.T) / 2)
    m = r @ s2 @ r
    w = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sum(np.sqrt(np.clip(w, 0.0, None))))
  if method == 'sqrtm':
    from scipy import linalg
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
      offset = np.eye(s1.shape[0]) * eps
      covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
      if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
        raise ValueError(f'sqrtm(S1 S2) has an imaginary component '
                         f'{np.max(np.abs(covmean.imag)):.3g}: covariances not PSD?')
      covmean = covmean.real
    return float(np.trace(covmean))
  raise ValueError(f"method must be 'eigh' or 'sqrtm', got {method!r}")


def frechet_distance(mu1, sigma1, mu2, sigma2, method: str = 'eigh', eps: float = EPS) -> float:
  """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) in float64 (a Python float)."""
  mu1 = np.atleast_1d(np.asarray(mu1, np.float64))
  mu2 = np.atleast_1d(np.asarray(mu2, np.float64))
  s1 = np.atleast_2d(np.asarray(sigma1, np.float64))
  s2 = np.atleast_2d(np.asarray(sigma2, np.float64))
  if mu1.shape != mu2.shape or s1.shape != (mu1.shape[0],) * 2:
    raise ValueError(f'shapes do not match: mu {mu1.shape} {mu2.shape}, sigma {s1.shape} '
                     f'{s2.shape}')
  diff = mu1 - mu2
  tr = trace_sqrt_product(s1, s2, method=method, eps=eps)
  return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr)


class GaussianStats(NamedTuple):
  """Streaming first and second moments of d-dim features (float64; see the module docstring).

  Fields: ``count`` samples seen, ``shift`` [d] (the first chunk's mean, None before it),
  ``total`` [d] = sum (x - shift), ``outer`` [d, d] = sum (x - shift)(x - shift)^T.
  """
  count: int
  shift: Optional[np.ndarray]
  total: np.ndarray
  outer: np.ndarray

  @property
  def dim(self) -> int:
    return self.total.shape[0]

  def update(self, chunk) -> 'GaussianStats':
    """A new accumulator with the rows of `chunk` [n, d] (any float dtype; n may be 0) added."""
    x = np.asarray(chunk, np.float64)
    if x.ndim != 2 or x.shape[1] != self.dim:
      raise ValueError(f'feature chunk must be [n, {self.dim}], got {x.shape}')
    if x.shape[0] == 0:
      return self
    shift = x.mean(axis=0) if self.shift is None else self.shift
    xc = x - shift
    return GaussianStats(self.count + x.shape[0], shift, self.total + xc.sum(axis=0),
                         self.outer + xc.T @ xc)

  def merge(self, other: 'GaussianStats') -> 'GaussianStats':
    """The statistics of both sample sets together (e.g. per-host accumulators)."""
    if other.count == 0:
      return self
    if self.count == 0:
      return other
    # re-express other's sums about self.shift: x - s = (x - s') + (s' - s)
    delta = other.shift - self.shift
    total = other.total + other.count * delta
    outer = (other.outer + np.outer(other.total, delta) + np.outer(delta, other.total)
             + other.count * np.outer(delta, delta))
    return GaussianStats(self.count + other.count, self.shift, self.total + total,
                         self.outer + outer)

  def finalize(self):
    """(mu [d], Sigma [d, d]) with the unbiased covariance (divisor n - 1), float64."""
    if self.count < 2:
      raise ValueError(f'need at least 2 samples for a covariance, got {self.count}')
    n = self.count
    mean_c = self.total / n
    sigma = (self.outer - n * np.outer(mean_c, mean_c)) / (n - 1)
    return self.shift + mean_c, (sigma + sigma.T) / 2


def gaussian_stats(dim: int) -> GaussianStats:
  """An empty accumulator for `dim`-dimensional features."""
  return GaussianStats(0, None, np.zeros(dim), np.zeros((dim, dim)))


def stats_from_features(features) -> tuple:
  """(mu, Sigma) of features [n, d] (one shot; the same numbers as the streaming accumulator)."""
  x = np.asarray(features)
  return gaussian_stats(x.shape[1]).update(x).finalize()


def frechet_distance_from_features(a, b, method: str = 'eigh') -> float:
  """Frechet distance between Gaussians fitted to features a [n, d] and b [m, d]."""
  mu1, s1 = stats_from_features(a)
  mu2, s2 = stats_from_features(b)
  return frechet_distance(mu1, s1, mu2, s2, method=method)
