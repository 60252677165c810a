"""Vector quantization (van den Oord, Vinyals & Kavukcuoglu 2017): the maths of a codebook layer.

Pure functions of arrays, no config keys. Vectors are the rows of ``z`` ``[n, d]`` (a VQ-VAE
flattens its ``[b, h, w, d]`` encoder map); the codebook ``e`` is ``[K, d]``.

* `nearest`: ``k(z) = argmin_i ||z - e_i||^2`` (ties: the lowest index, ``argmin``'s rule).
* `straight_through`: ``z + sg[e_k - z]``: forward value ``e_k``, gradient copied to ``z``
  unchanged (the decoder's gradient at the quantized vector passes to the encoder).
* `losses`: the codebook term ``||sg[z] - e_k||^2`` and the commitment term ``||z - sg[e_k]||^2``,
  each the mean over the n vectors and d coordinates (Sonnet's scaling); the VQ-VAE loss adds
  ``codebook + beta * commitment`` (beta 0.25 in the paper).
* `ema_update` (the paper's appendix A.1, with Laplace-smoothed counts as in Sonnet's
  ``VectorQuantizerEMA``): with n_i the batch's count of code i and s_i the sum of its vectors,

      N_i <- g N_i + (1 - g) n_i,     m_i <- g m_i + (1 - g) s_i,
      N~_i = (N_i + eps) / (sum_j N_j + K eps) * sum_j N_j,     e_i = m_i / N~_i.

* `restart_dead`: codes unused for ``after`` consecutive updates take a random vector of the
  batch (their EMA statistics restart at count 1, sum = that vector; their counter at 0).
* `usage` (the fraction of the K codes used at least once) and `perplexity`
  ``exp(-sum_i p_i log p_i)`` of the code frequencies p_i = n_i / n (K for uniform use, 1 for one
  code).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

EMA_EPS = 1e-5


def distances(z: jax.Array, codebook: jax.Array) -> jax.Array:
  """Squared Euclidean distances ``[n, K]`` between the rows of z ``[n, d]`` and the codes."""
  return (jnp.sum(z ** 2, -1, keepdims=True) - 2.0 * z @ codebook.T
          + jnp.sum(codebook ** 2, -1)[None, :])


def nearest(z: jax.Array, codebook: jax.Array) -> jax.Array:
  """Index int32 ``[n]`` of the nearest code of each row of z."""
  return jnp.argmin(distances(z, codebook), axis=-1).astype(jnp.int32)


def lookup(codes: jax.Array, codebook: jax.Array) -> jax.Array:
  """The code vectors ``[..., d]`` of integer codes ``[...]``."""
  return jnp.take(codebook, codes, axis=0)


def straight_through(z: jax.Array, quantized: jax.Array) -> jax.Array:
  """``quantized`` in the forward pass, the identity's gradient with respect to ``z``."""
  return z + jax.lax.stop_gradient(quantized - z)


def losses(z: jax.Array, quantized: jax.Array) -> tuple[jax.Array, jax.Array]:
  """``(codebook, commitment)``: mean ``(sg[z] - e)^2`` and mean ``(z - sg[e])^2``."""
  sg = jax.lax.stop_gradient
  return jnp.mean((sg(z) - quantized) ** 2), jnp.mean((z - sg(quantized)) ** 2)


def counts(codes: jax.Array, k: int) -> jax.Array:
  """n_i: how many of ``codes`` ``[n]`` are i, float32 ``[K]``."""
  return jnp.zeros((k,), jnp.float32).at[codes].add(1.0)


def sums(z: jax.Array, codes: jax.Array, k: int) -> jax.Array:
  """s_i: the sum of the rows of z assigned to code i, ``[K, d]``."""
  return jnp.zeros((k, z.shape[-1]), z.dtype).at[codes].add(z)


def ema_update(count: jax.Array, total: jax.Array, z: jax.Array, codes: jax.Array, decay: float,
               eps: float = EMA_EPS) -> tuple[jax.Array, jax.Array, jax.Array]:
  """``(N, m, e)`` after one EMA step on the batch ``z`` with assignments ``codes`` (module doc)."""
  k = count.shape[0]
  count = decay * count + (1.0 - decay) * counts(codes, k)
  total = decay * total + (1.0 - decay) * sums(z, codes, k)
  n = jnp.sum(count)
  smoothed = (count + eps) / (n + k * eps) * n
  return count, total, total / smoothed[:, None]


def idle_steps(idle: jax.Array, codes: jax.Array) -> jax.Array:
  """Per code, consecutive updates without use: 0 where the batch used it, else ``idle + 1``."""
  return jnp.where(counts(codes, idle.shape[0]) > 0, 0.0, idle + 1.0)


def restart_dead(key: jax.Array, codebook: jax.Array, idle: jax.Array, z: jax.Array, after: int,
                 count=None, total=None):
  """Codes idle for ``>= after`` updates re-initialised to random rows of z (one draw per code,
  uniform over the rows, from ``key``); returns ``(codebook, idle, count, total)`` with the
  restarted codes' idle counters at 0 and, where EMA statistics are given, count 1 and sum
  the new vector (else None)."""
  dead = idle >= after
  rows = z[jax.random.randint(key, (codebook.shape[0],), 0, z.shape[0])]
  codebook = jnp.where(dead[:, None], rows, codebook)
  idle = jnp.where(dead, 0.0, idle)
  if count is not None:
    count = jnp.where(dead, 1.0, count)
    total = jnp.where(dead[:, None], rows, total)
  return codebook, idle, count, total


def usage(codes: jax.Array, k: int) -> jax.Array:
  """The fraction of the K codes that occur in ``codes``."""
  return jnp.mean(counts(codes, k) > 0)


def perplexity(codes: jax.Array, k: int) -> jax.Array:
  """``exp(-sum_i p_i log p_i)`` of the frequencies of the codes in ``codes``."""
  p = counts(codes, k) / codes.shape[0]
  return jnp.exp(-jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0)))
