"""Classifier guidance (Song et al. 2021, Sec. 5 and App. I; Dhariwal and Nichol 2021): the
conditional score ``grad_x log p_t(x | y) = grad_x log p_t(x) + grad_x log p_t(y | x)``, with a
scale ``s`` on the classifier term: ``score(t, x) + s * grad_x log p_t(y | x)``.

Conventions (`jaxgen.diffusion.sde`): t = 0 data, t = T = 1 noise; functions take ``(t, x)`` with
``t`` of shape ``[b]`` (a scalar is broadcast) and ``x: [b, ...]``. ``log_p_y_fn(t, x, y) -> [b]``
is a time-dependent classifier's log-posterior in nats, of the same SDE's marginals p_t. The
guided score is just another ``score_fn``, so it composes with every sampler of
`jaxgen.diffusion.sampler` (PC, PF-ODE, DDIM, DPM-Solver, EDM) and with the controllable ones.

``s = 1`` with the exact posterior samples the class-conditional law p(x | y) exactly (up to the
sampler's error); ``s > 1`` sharpens it towards p(x | y) p(y | x)^(s - 1); ``s = 0`` is
unconditional. The per-example gradient is the gradient of the batch sum (the examples of a batch
are independent in ``log_p_y_fn``).
"""

from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp

from jaxgen.diffusion import sampler as sampler_lib


def classifier_grad(log_p_y_fn: Callable, labels: jax.Array) -> Callable:
  """``(t, x) -> grad_x log p_t(labels | x)`` (like ``x``), per example, by the grad of the sum."""
  labels = jnp.asarray(labels, jnp.int32)

  def grad_fn(t, x):
    t = jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1])
    return jax.grad(lambda y: jnp.sum(log_p_y_fn(t, y, labels)))(x)

  return grad_fn


def guided_score(score_fn: Callable, log_p_y_fn: Callable, labels: jax.Array,
                 scale: float) -> Callable:
  """``(t, x) -> score_fn(t, x) + scale * grad_x log_p_y_fn(t, x, labels)`` (module docstring).
  ``labels``: int ``[b]`` (one class per example of the batch being sampled)."""
  grad_fn = classifier_grad(log_p_y_fn, labels)

  def score(t, x):
    return score_fn(t, x) + scale * grad_fn(t, x)

  return score


def sample_with_score(sde, score_p: Callable, data_shape, diffusion: Callable) -> Callable:
  """A score-SDE family's sampler with a hook on its score: ``(params, rng, n, settings,
  transform=None) -> (x, info)`` samples ``n`` examples of ``data_shape`` with
  ``sampler.sample(sde, transform(score), ...)`` where ``score(t, x) = score_p(params, t, x)``
  and ``diffusion(settings)`` is the `DiffusionSampling` of the family's typed settings.
  ``transform`` (None: identity) maps a ``score_fn(t, x)`` to another, e.g.
  ``lambda s: guided_score(s, log_p_y, labels, scale)``."""

  def sample(params, rng, n: int, settings, transform: Optional[Callable] = None):
    score = lambda t, x: score_p(params, t, x)
    if transform is not None:
      score = transform(score)
    return sampler_lib.sample(sde, score, rng, (n,) + tuple(data_shape), diffusion(settings))

  return sample
