"""Improved precision and recall (Kynkaanniemi et al. 2019) from k-NN manifolds of features.

The manifold of a set Phi is the union of the balls B(phi, r_k(phi)) over its points, r_k(phi)
the distance from phi to its k-th nearest neighbour in Phi (k = 3 by default). The k-th
neighbour is taken, as in the reference code (kynkaanniemi/improved-precision-and-recall-metric,
NVlabs stylegan2-ada ``kthvalue(dist, k + 1)``), as the (k+1)-th smallest distance from phi to
the set *including phi itself* (distance 0), so an exact duplicate counts as a neighbour. Then

    precision = fraction of generated points inside the manifold of the real points,
    recall    = fraction of real points inside the manifold of the generated points,

"inside" meaning ||x - phi|| <= r_k(phi) for at least one phi (ties count as inside).

Distances are Euclidean, computed in float32 on the default JAX device as ``|a|^2 + |b|^2 -
2 a.b`` clipped at 0, in blocks of ``chunk x chunk``, so the whole distance matrix is never held
at once. The k+1 smallest distances per row are merged block by block; each real-vs-generated
block is computed once and serves both precision (its rows) and recall (its columns). Arrays are
padded to whole blocks (padded columns at infinite distance), so each jitted kernel compiles
once per (chunk, d). No subsampling: the caller chooses the sets. Used by
`jaxgen.runtime.evaluators.classifier_features` (``precision``, ``recall``).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np


def _sqdist(a, b):
  aa = jnp.sum(a * a, axis=1)[:, None]
  bb = jnp.sum(b * b, axis=1)[None, :]
  return jnp.maximum(aa + bb - 2.0 * (a @ b.T), 0.0)


@partial(jax.jit, static_argnames='kk')
def _merge_smallest(best, a, b, b_valid, kk):
  """best [B, kk] running smallest squared distances; fold in the block a x b."""
  d = jnp.where(b_valid[None, :], _sqdist(a, b), jnp.inf)
  both = jnp.concatenate([best, d], axis=1)
  return -jax.lax.top_k(-both, kk)[0]


@jax.jit
def _cross_block(a, b, ra, rb, a_valid, b_valid):
  """For rows a (radii^2 ra) and columns b (radii^2 rb): which rows fall in a ball of b, which
  columns in a ball of a."""
  d = _sqdist(a, b)
  ok = a_valid[:, None] & b_valid[None, :]
  a_in = jnp.any(ok & (d <= rb[None, :]), axis=1)
  b_in = jnp.any(ok & (d <= ra[:, None]), axis=0)
  return a_in, b_in


def _blocks(x, chunk):
  """x [n, d] padded to whole chunks -> (list of [chunk, d] float32 blocks, list of valid masks)."""
  n = x.shape[0]
  nb = -(-n // chunk)
  xp = np.zeros((nb * chunk, x.shape[1]), np.float32)
  xp[:n] = x
  valid = np.arange(nb * chunk) < n
  return ([jnp.asarray(xp[i * chunk:(i + 1) * chunk]) for i in range(nb)],
          [jnp.asarray(valid[i * chunk:(i + 1) * chunk]) for i in range(nb)])


def _chunk_for(n_max, chunk):
  return max(1, min(chunk, n_max))


def knn_radii(features, k: int = 3, chunk: int = 8192) -> np.ndarray:
  """r_k [n] for features [n, d]: the (k+1)-th smallest distance to the set, itself included."""
  x = np.asarray(features, np.float32)
  if x.ndim != 2 or x.shape[0] < k + 1:
    raise ValueError(f'need features [n, d] with n > k = {k}, got {x.shape}')
  c = _chunk_for(x.shape[0], chunk)
  blocks, valid = _blocks(x, c)
  out = []
  for a in blocks:
    best = jnp.full((c, k + 1), jnp.inf, jnp.float32)
    for b, bv in zip(blocks, valid):
      best = _merge_smallest(best, a, b, bv, k + 1)
    out.append(np.asarray(best[:, k]))
  return np.sqrt(np.concatenate(out)[:x.shape[0]])


def precision_recall(real, fake, k: int = 3, chunk: int = 8192):
  """(precision, recall) of generated features `fake` [m, d] against `real` [n, d] (floats)."""
  real = np.asarray(real, np.float32)
  fake = np.asarray(fake, np.float32)
  if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
    raise ValueError(f'features must be [n, d] with one d, got {real.shape} and {fake.shape}')
  r_real = knn_radii(real, k, chunk) ** 2
  r_fake = knn_radii(fake, k, chunk) ** 2
  c = _chunk_for(max(real.shape[0], fake.shape[0]), chunk)
  fb, fv = _blocks(fake, c)
  rb, rv = _blocks(real, c)
  pad = lambda r, nb: np.pad(r, (0, nb * c - r.shape[0])).astype(np.float32)
  rf = pad(r_fake, len(fb))
  rr = pad(r_real, len(rb))
  fake_in = np.zeros(len(fb) * c, bool)
  real_in = np.zeros(len(rb) * c, bool)
  for i, (a, av) in enumerate(zip(fb, fv)):
    for j, (b, bv) in enumerate(zip(rb, rv)):
      a_in, b_in = _cross_block(a, b, jnp.asarray(rf[i * c:(i + 1) * c]),
                                jnp.asarray(rr[j * c:(j + 1) * c]), av, bv)
      fake_in[i * c:(i + 1) * c] |= np.asarray(a_in)
      real_in[j * c:(j + 1) * c] |= np.asarray(b_in)
  return (float(fake_in[:fake.shape[0]].mean()), float(real_in[:real.shape[0]].mean()))
