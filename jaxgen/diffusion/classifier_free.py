"""Classifier-free guidance (Ho and Salimans 2022) on ``(t, x) -> f`` functions.

* Labels: a class-conditional network of ``K = num_classes`` classes takes int labels ``y`` in
  ``0..K-1`` and the **null label** ``y = K`` (no class: the unconditional model). One network is
  both, trained with label dropout (`drop_labels`: a label becomes ``K`` with probability
  ``p_uncond``).
* Guidance scale ``w``: the guided function is ``(1 + w) f(t, x | c) - w f(t, x | null)``, where
  ``f`` is a score, a noise prediction, a denoiser or a velocity (the combination is affine with
  weights summing to 1, so it commutes with every affine map between them: guiding the score,
  the noise ``eps = -sigma score`` or the PF-ODE velocity is the same thing). ``w = 0`` is plain
  conditional sampling (`classifier_free` then returns ``cond_fn`` itself: bitwise the same
  samples, no unconditional evaluations); ``w = -1`` is the unconditional model.
* Limited interval (Kynkaanniemi et al. 2024): with ``interval = (tmin, tmax)`` the scale is
  ``w`` only where ``tmin <= t <= tmax`` and 0 elsewhere, in the caller's time convention (score
  SDEs: t = 0 data, t = T noise; rectified flow: t = 0 noise, t = 1 data).

Guidance wraps the ``(t, x)`` function at the boundary, so it composes with every sampler that
takes one (`jaxgen.diffusion.sampler`, `jaxgen.ode.solvers`); a guided evaluation costs two
network evaluations (`nfe_factor`).
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp

Fn = Callable[[jax.Array, jax.Array], jax.Array]


def _bcast(v: jax.Array, x: jax.Array) -> jax.Array:
  v = jnp.asarray(v)
  return v if v.ndim == 0 else v.reshape(v.shape + (1,) * (x.ndim - v.ndim))


def scale_at(t: jax.Array, w: float, interval: Optional[tuple[float, float]] = None) -> jax.Array:
  """The guidance scale at time(s) ``t`` (0-d or ``[b]``): ``w`` inside ``interval`` (closed;
  None: everywhere), 0 outside; float32 of ``t``'s shape."""
  t = jnp.asarray(t, jnp.float32)
  if interval is None:
    return jnp.full(t.shape, w, jnp.float32)
  lo, hi = interval
  return jnp.where((t >= lo) & (t <= hi), jnp.float32(w), jnp.float32(0.0))


def combine(cond: jax.Array, uncond: jax.Array, w) -> jax.Array:
  """``(1 + w) cond - w uncond``, written ``cond + w (cond - uncond)`` (``w`` scalar or broadcast
  against ``cond``)."""
  return cond + w * (cond - uncond)


def classifier_free(cond_fn: Fn, uncond_fn: Fn, w: float,
                    interval: Optional[tuple[float, float]] = None) -> Fn:
  """The guided ``(t, x) -> (1 + w) cond_fn(t, x) - w uncond_fn(t, x)``, the scale applied only for
  ``t`` in ``interval`` (module docstring). ``w`` is a Python number (static); ``w == 0`` returns
  ``cond_fn`` unchanged. ``t`` may be 0-d (ODE solvers) or per example ``[b]`` (the diffusion
  samplers)."""
  w = float(w)
  if w == 0.0:
    return cond_fn

  def guided(t, x):
    c, u = cond_fn(t, x), uncond_fn(t, x)
    return combine(c, u, _bcast(scale_at(t, w, interval), c))

  return guided


def nfe_factor(w: float) -> int:
  """Network evaluations per guided evaluation: 2 with guidance, 1 without."""
  return 1 if float(w) == 0.0 else 2


def sample_labels(n: int, label: int, num_classes: int) -> jax.Array:
  """``int32[n]`` labels of ``n`` samples: ``label >= 0`` that class for all; ``label = -1`` all
  classes in turn, in blocks: sample i has class ``i // m``, ``m = ceil(n / num_classes)`` (so a
  grid of ``m`` columns has class k in row k; the last class gets the remainder, and with
  ``n < num_classes`` only the first n classes appear, one sample each)."""
  n, label, k = int(n), int(label), int(num_classes)
  if k < 1:
    raise ValueError(f'sample_labels needs num_classes >= 1, got {k}')
  if not -1 <= label < k:
    raise ValueError(f'label={label} must be -1 (all classes) or in 0..{k - 1}')
  if label >= 0:
    return jnp.full((n,), label, jnp.int32)
  per_class = max(1, math.ceil(n / k))
  return jnp.minimum(jnp.arange(n, dtype=jnp.int32) // per_class, k - 1).astype(jnp.int32)


def drop_labels(rng: jax.Array, labels: jax.Array, p_uncond: float, num_classes: int
                ) -> jax.Array:
  """Label dropout: each label independently becomes the null label ``num_classes`` with
  probability ``p_uncond`` (``u < p_uncond`` with ``u ~ U[0, 1)``: never for 0, always for 1)."""
  labels = jnp.asarray(labels, jnp.int32)
  if float(p_uncond) == 0.0:
    return labels
  drop = jax.random.uniform(rng, labels.shape) < p_uncond
  return jnp.where(drop, jnp.int32(num_classes), labels)
