"""Exact minimum-cost pairing of two equal-size point sets under the squared-Euclidean cost.

`pairing(x, z)` returns the permutation ``perm`` minimising ``sum_i ||x[i] - z[perm[i]]||^2``
over all permutations of ``0..n-1``: row i of ``z[perm]`` is the point the assignment gives to
``x[i]`` (``x`` keeps its order; the permutation is applied to ``z``). With ``labels`` (one per
row, shared by both sets' positions) the minimum is taken over the permutations that never move a
row to another label, ``labels[perm] == labels``: one assignment per label.

How: scipy's ``linear_sum_assignment`` (a shortest-augmenting-path Hungarian method, exact, O(n^3))
on the host, in float64, rather than an exact auction (whose exactness needs integer costs and an
epsilon schedule) or Sinkhorn (entropic: a regularised, not a deterministic, coupling). The cost
``|x|^2 + |z|^2 - 2 x.z`` is computed in float64 by numpy; equal inputs give the same permutation,
so every host of a run that solves the same batch gets the same pairing (on identical hosts: the
float64 products are then rounded alike). Ties are broken by scipy's fixed order.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from scipy import optimize


def squared_distances(x: np.ndarray, z: np.ndarray) -> np.ndarray:
  """``[n, m]`` float64 ``||x[i] - z[j]||^2`` of ``[n, ...]`` and ``[m, ...]`` (flattened rows)."""
  a = np.asarray(x, np.float64).reshape(len(x), -1)
  b = np.asarray(z, np.float64).reshape(len(z), -1)
  d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
  return np.maximum(d, 0.0)


def _assign(cost: np.ndarray) -> np.ndarray:
  rows, cols = optimize.linear_sum_assignment(cost)
  perm = np.empty(len(cost), np.int64)
  perm[rows] = cols
  return perm


def pairing(x: np.ndarray, z: np.ndarray, labels: Optional[np.ndarray] = None) -> np.ndarray:
  """The permutation ``perm`` (int64 ``[n]``) with ``z[perm][i]`` paired to ``x[i]`` at minimum
  total squared distance (within each label when ``labels`` is given; see the module docstring)."""
  if len(x) != len(z):
    raise ValueError(f'pairing needs two sets of one size, not {len(x)} and {len(z)}')
  cost = squared_distances(x, z)
  if labels is None:
    return _assign(cost)
  labels = np.asarray(labels).reshape(-1)
  perm = np.empty(len(x), np.int64)
  for c in np.unique(labels):
    idx = np.flatnonzero(labels == c)
    perm[idx] = idx[_assign(cost[np.ix_(idx, idx)])]
  return perm

