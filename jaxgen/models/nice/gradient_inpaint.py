"""Inpainting by projected gradient ascent on an exact log-likelihood (NICE, section 5.2).

Given a per-example log-density ``log_prob_fn(x) -> [b]`` (nats), observed values ``x`` and a
boolean ``mask`` (True = observed), the hidden coordinates climb log p((x_O, x_H)) with the
observed ones held fixed:

    x_H <- clip( x_H + a_i * (d log p / d x_H + noise * eps_i),  low, high ),
    a_i = lr / (lr_offset + i),    eps_i ~ N(0, I),    i = 0 .. steps-1.

The gradient is per image (independent of the batch size): the paper's a_i = 10 / (100 + i) on
the mean log p of its 100 images is ``lr = 0.1`` per image. The clipping is the projection onto
the data box [low, high]; the loop is one `jax.lax.scan`. With ``noise = 0`` and a small enough
step log p never decreases, and the iterates reach a (local) maximiser of log p over x_H in the
box: the conditional *mode*, a point estimate, not a draw of p(x_H | x_O) (for a Gaussian density
the conditional mean; tests/models/test_nice_gradient_inpaint.py).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp


def inpaint(log_prob_fn: Callable[[jax.Array], jax.Array], x: jax.Array, mask: jax.Array,
            rng: jax.Array, *, steps: int = 1000, lr: float = 0.1, lr_offset: float = 100.0,
            noise: float = 0.0, low: float = 0.0, high: float = 1.0, init: str = 'uniform'
            ) -> tuple[jax.Array, dict]:
  """Fills ``x`` where ``mask`` is False by projected (noisy) gradient ascent on log p.

  Args:
    log_prob_fn: ``x[b, ...] -> [b]`` log-density in nats (differentiable in x).
    x: ``[b, ...]`` data; values where ``mask`` is False are ignored (unless ``init='given'``).
    mask: bool, broadcastable to ``x``; True marks observed coordinates (kept exactly).
    rng: key for the initial hidden values and the noise.
    steps, lr, lr_offset, noise: the schedule above.
    low, high: the data range; iterates are projected (clipped) onto it.
    init: ``'uniform'`` (hidden values ~ U(low, high), as in the released code), ``'mid'``
      ((low + high) / 2) or ``'given'`` (start from ``x`` itself).

  Returns:
    ``(x_filled, info)``; ``info['log_prob']`` is ``[steps + 1, b]``: log p of the iterate before
    each step and after the last one (so ``[0]`` is the initial and ``[-1]`` the final value).
  """
  mask = jnp.broadcast_to(jnp.asarray(mask, bool), x.shape)
  init_rng, noise_rng = jax.random.split(rng)
  if init == 'uniform':
    start = jax.random.uniform(init_rng, x.shape, x.dtype, low, high)
  elif init == 'mid':
    start = jnp.full_like(x, 0.5 * (low + high))
  elif init == 'given':
    start = x
  else:
    raise ValueError(f"init must be 'uniform', 'mid' or 'given', got {init!r}")
  x0 = jnp.where(mask, x, start)

  def total_log_prob(z):
    lp = log_prob_fn(z)
    return jnp.sum(lp), lp

  value_and_grad = jax.value_and_grad(total_log_prob, has_aux=True)

  def step(z, inputs):
    i, key = inputs
    (_, lp), g = value_and_grad(z)
    a = lr / (lr_offset + i)
    z_new = z + a * (g + noise * jax.random.normal(key, z.shape, z.dtype))
    z_new = jnp.where(mask, x, jnp.clip(z_new, low, high))
    return z_new, lp

  keys = jax.random.split(noise_rng, steps)
  x_final, lps = jax.lax.scan(step, x0, (jnp.arange(steps, dtype=x.dtype), keys))
  lps = jnp.concatenate([lps, log_prob_fn(x_final)[None]], axis=0)
  return x_final, {'log_prob': lps}


def inpaint_with_settings(log_prob_fn: Callable[[jax.Array], jax.Array], x: jax.Array,
                          mask: jax.Array, rng: jax.Array, settings, *, low: float, high: float,
                          **overrides) -> tuple[jax.Array, dict]:
  """`inpaint` with the schedule of a flow's typed sampling settings (the fields
  ``inpaint_steps``, ``inpaint_lr``, ``inpaint_lr_offset``, ``inpaint_noise`` of
  `jaxgen.models.nice.Sampling`); ``overrides``: `inpaint`'s keywords, over those."""
  kw = dict(steps=settings.inpaint_steps, lr=settings.inpaint_lr,
            lr_offset=settings.inpaint_lr_offset, noise=settings.inpaint_noise, low=low, high=high)
  kw.update(overrides)
  return inpaint(log_prob_fn, x, mask, rng, **kw)
